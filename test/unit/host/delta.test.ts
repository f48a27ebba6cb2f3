/**
 * Behaviour of src/host/delta.sh under real bash, GNU tar and coreutils, against the
 * control machine's side (src/bundle/manifest.ts, src/bundle/delta.ts): the manifest
 * both sides compute is the same text, a delta rebuilds exactly the bundle, a wrong
 * object is detected and removed (exit 99), unsafe streams and manifests are refused,
 * and prune keeps exactly the objects kept releases use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { describe, expect, it } from 'vitest';
import { buildDeltaStream, GZIP_MIN_SAVING, missingObjects } from '../../../src/bundle/delta.js';
import { createTarball } from '../../../src/bundle/tarball.js';
import { formatManifest, manifestSha256, parseManifest, readBundleManifest } from '../../../src/bundle/manifest.js';
import { DELTA_SH, PRELUDE_SH, TAR_CHECK_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const TOP = 'app-1.0.0-linux-x86_64';

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'orch-delta-'));
}

/** A platter-layout bundle folder with `files` (relative to data/) and its tarball. */
async function makeBundle(files: Record<string, string | Buffer>, opts: { exec?: string[]; links?: Record<string, string>; top?: Record<string, string> } = {}): Promise<{ tarball: string; base: string }> {
  const base = tmp();
  const top = path.join(base, TOP);
  mkdirSync(path.join(top, 'data'), { recursive: true });
  writeFileSync(path.join(top, 'PACKAGE'), 'app\n');
  writeFileSync(path.join(top, 'VERSION'), '1.0.0\n');
  writeFileSync(path.join(top, 'PLATFORM'), 'linux-x86_64\n');
  writeFileSync(path.join(top, 'install.sh'), '#!/bin/bash\nset -e\nHERE="$(cd "$(dirname "$0")" && pwd)"\nmkdir -p "$1"\ncp -a "$HERE/data/." "$1/"\n');
  chmodSync(path.join(top, 'install.sh'), 0o755);
  for (const [rel, text] of Object.entries(files)) {
    if (text === undefined) continue;
    mkdirSync(path.dirname(path.join(top, 'data', rel)), { recursive: true });
    writeFileSync(path.join(top, 'data', rel), text);
  }
  for (const rel of opts.exec ?? []) chmodSync(path.join(top, 'data', rel), 0o755);
  for (const [rel, text] of Object.entries(opts.top ?? {})) writeFileSync(path.join(top, rel), text);
  for (const [rel, target] of Object.entries(opts.links ?? {})) symlinkSync(target, path.join(top, 'data', rel));
  const tarball = path.join(base, 'bundle.tar.gz');
  await createTarball(base, TOP, tarball);
  return { tarball, base };
}

function sh(body: string, args: string[] = []) {
  return runBash([PRELUDE_SH, TAR_CHECK_SH, DELTA_SH], body, args);
}

/** A host root with release 1.0.0 of `tarball` unpacked and recorded. */
function installFull(tarball: string, version = '1.0.0'): string {
  const root = tmp();
  const r = sh(`root=$1; s=$(mktemp -d); (cd "$s" && tar -xzf "$2" --no-same-owner); "$s/$3/install.sh" "$root/versions/$4"; orch_delta_record "$root" "$root/versions/$4" "$s/$3"; orch_delta_keep_tree "$root" "$4" "$s/$3"; rm -rf "$s"`, [root, tarball, TOP, version]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return root;
}

function hostObjects(root: string): Set<string> {
  const r = sh('orch_delta_objects "$1"', [root]);
  expect(r.code).toBe(0);
  return new Set(r.stdout.split('\n').filter(Boolean));
}

const many = (n: number, tag = ''): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`pkg/m${i}.py`, `# module ${i}\nVALUE = ${i * 7919}\n${tag}`]));

describe('delta.sh manifest', () => {
  it('the host computes from the unpacked tarball the manifest the control machine computes from the tarball', async () => {
    const { tarball } = await makeBundle({ 'a.py': 'print(1)\n', 'bin/run': '#!/bin/sh\n', 'sub dir/x y.txt': 'spaces\n', empty: '' }, { exec: ['bin/run'], links: { 'link': 'a.py', 'bin/up': '../a.py' } });
    const m = await readBundleManifest(tarball);
    expect(m.top).toBe(TOP);
    const text = formatManifest(m);
    expect(text).toContain(`data/a.py\tf\t644\t9\t${createHash('sha256').update('print(1)\n').digest('hex')}\n`);
    expect(text).toContain('data/bin/run\tf\t755\t10\t');
    expect(text).toContain('data/link\tl\t-\t-\ta.py\n');
    expect(text).toContain('data\td\t755\t-\t-\n');
    expect(parseManifest(text, TOP)).toEqual(m);
    const r = sh('s=$(mktemp -d); (cd "$s" && tar -xzf "$1" --no-same-owner); orch_delta_manifest "$s/$2"; rm -rf "$s"', [tarball, TOP]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(text);
  });

  it('orch_delta_check_manifest refuses what SPEC section 4 refuses, naming the member', () => {
    const ok = 'PACKAGE\tf\t644\t4\tx\nPLATFORM\tf\t644\t4\tx\nVERSION\tf\t644\t4\tx\ndata\td\t755\t-\t-\ninstall.sh\tf\t755\t9\tx\n';
    const cases: Array<[string, string]> = [
      ['', ''],
      ['/etc/passwd\tf\t644\t1\tx\n', 'unsafe bundle member: /etc/passwd: absolute path'],
      ['data/../../x\tf\t644\t1\tx\n', 'unsafe bundle member: data/../../x: parent directory segment (..)'],
      ['data/s\tf\t4755\t1\tx\n', 'unsafe bundle member: data/s: setuid/setgid bit'],
      ['data/p\tp\t644\t-\t-\n', 'unsafe bundle member: data/p: unsupported member type'],
      ['data/up\tl\t-\t-\t../../etc\n', 'unsafe bundle member: data/up: symlink target "../../etc" leaves the bundle folder'],
      ['data/abs\tl\t-\t-\t/etc\n', 'unsafe bundle member: data/abs: symlink target "/etc" leaves the bundle folder'],
      ['data/l\tl\t-\t-\t.\ndata/l/x\tf\t644\t1\tx\n', 'unsafe bundle member: data/l/x: path goes through symlink data/l'],
      // The outermost symlink on the way is named.
      ['data/a\tl\t-\t-\tb\ndata/a/c\tl\t-\t-\t.\ndata/a/c/x\tf\t644\t1\tx\n', 'unsafe bundle member: data/a/c: path goes through symlink data/a'],
      ['data/./x\tf\t644\t1\tx\n', 'unsafe bundle member: data/./x: parent directory segment (..)'],
      ['data//x\tf\t644\t1\tx\n', 'unsafe bundle member: data//x: parent directory segment (..)'],
      ['data/g\td\t2755\t-\t-\n', 'unsafe bundle member: data/g: setuid/setgid bit'],
      // Allowed: the sticky bit; links that stay inside, from a nested folder or the top.
      ['data/t\td\t1777\t-\t-\n', ''],
      ['data/a\td\t755\t-\t-\ndata/a/l\tl\t-\t-\t../b/../VERSION\n', ''],
      ['top-link\tl\t-\t-\tdata\n', ''],
      ['data/a\td\t755\t-\t-\ndata/a/up\tl\t-\t-\t../../..\n', 'unsafe bundle member: data/a/up: symlink target "../../.." leaves the bundle folder'],
    ];
    for (const [extra, err] of cases) {
      const d = tmp();
      writeFileSync(path.join(d, 'm'), ok + extra);
      const r = sh('orch_delta_check_manifest "$1"', [path.join(d, 'm')]);
      expect(r.stderr.trim()).toBe(err);
      expect(r.code).toBe(err ? 1 : 0);
    }
    const d = tmp();
    writeFileSync(path.join(d, 'm'), ok.replace('install.sh\tf\t755', 'install.sh\tf\t644'));
    expect(sh('orch_delta_check_manifest "$1"', [path.join(d, 'm')]).stderr).toBe('bundle layout incomplete: install.sh is not executable\n');
    writeFileSync(path.join(d, 'm'), ok.replace('data\td', 'data\tf'));
    expect(sh('orch_delta_check_manifest "$1"', [path.join(d, 'm')]).stderr).toBe('bundle layout incomplete: missing data\n');
  });
});

describe('delta.sh rebuild', () => {
  it.each([
    ['from the base tree of 1.0.0', true],
    ['without a base tree (every member listed)', false],
  ])('an upgrade with one changed file sends only that file and rebuilds the exact bundle, %s', async (_label, withBase) => {
    const files: Record<string, string> = { ...many(200), 'app.py': 'x'.repeat(10_000) };
    const v1 = await makeBundle(files);
    const root = installFull(v1.tarball);
    const m1 = await readBundleManifest(v1.tarball);
    expect(readFileSync(path.join(root, 'versions/1.0.0/.orch-manifest'), 'utf8')).toBe(formatManifest(m1));
    const have = hostObjects(root);
    expect(have.size).toBe(205); // 201 data files + PACKAGE VERSION PLATFORM install.sh
    expect(sh('orch_delta_trees "$1"', [root]).stdout).toBe('1.0.0\n');

    const v2 = await makeBundle({ ...files, 'app.py': 'y'.repeat(10_000), 'pkg/m9.py': undefined as unknown as string });
    const content = new Map<string, Buffer>();
    const m2 = await readBundleManifest(v2.tarball, content);
    expect(missingObjects(m2, have)).toHaveLength(1);
    const delta = buildDeltaStream(m2, have, content, withBase ? { version: '1.0.0', manifest: m1 } : undefined);
    expect(delta.sent).toHaveLength(1);
    expect(delta.contentBytes).toBe(10_000);
    // 10,000 random-free bytes gzip to almost nothing: the stream is the object plus headers.
    if (withBase) expect(delta.stream.length).toBeLessThan(400);
    const streamFile = path.join(root, 'stream.tgz');
    writeFileSync(streamFile, delta.stream);

    const r = sh('orch_delta_rebuild "$1" "$2" "$3" "$4" "$5" && "$1/.orch/unpack.delta/$2/install.sh" "$1/versions/1.0.1" && orch_delta_record "$1" "$1/versions/1.0.1" "$1/.orch/unpack.delta/$2" "$1/.orch/unpack.delta/.orch-manifest" && orch_delta_keep_tree "$1" 1.0.1 "$1/.orch/unpack.delta/$2"',
      [root, TOP, manifestSha256(m2), streamFile, withBase ? '1.0.0' : '']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(root, 'versions/1.0.1/app.py'), 'utf8')).toBe('y'.repeat(10_000));
    expect(readFileSync(path.join(root, 'versions/1.0.1/pkg/m7.py'), 'utf8')).toBe(files['pkg/m7.py']);
    expect(existsSync(path.join(root, 'versions/1.0.1/pkg/m9.py'))).toBe(false);
    expect(readFileSync(path.join(root, 'versions/1.0.1/.orch-manifest'), 'utf8')).toBe(formatManifest(m2));
    expect(readFileSync(path.join(root, 'versions/1.0.0/app.py'), 'utf8')).toBe('x'.repeat(10_000));
    expect(hostObjects(root).size).toBe(206);
    expect(sh('orch_delta_trees "$1" | sort', [root]).stdout).toBe('1.0.0\n1.0.1\n');
  });

  it('info.json travels as a line patch over the base\'s copy (the host sent it with the facts); a wrong base gives exit 99', async () => {
    const files = many(50);
    const info = (v: string, changed: string) => `{\n  "version": "${v}",\n  "files": {\n${Array.from({ length: 2000 }, (_, i) => `    "f${i}": "${createHash('sha256').update(i === 7 ? changed : String(i)).digest('hex')}",\n`).join('')}    "end": "-"\n  }\n}\n`;
    const info1 = info('1.0.0', 'a');
    const info2 = info('1.0.1', 'b');
    const v1 = await makeBundle(files, { top: { 'info.json': info1 } });
    const root = installFull(v1.tarball);
    const have = hostObjects(root);
    const m1 = await readBundleManifest(v1.tarball);
    const v2 = await makeBundle({ ...files, 'new.py': 'new\n' }, { top: { 'info.json': info2 } });
    const content = new Map<string, Buffer>();
    const m2 = await readBundleManifest(v2.tarball, content);
    const whole = buildDeltaStream(m2, have, content, { version: '1.0.0', manifest: m1 });
    // The facts' copy is used only when it is the base's info.json (its sha256 is in the base manifest).
    expect(buildDeltaStream(m2, have, content, { version: '1.0.0', manifest: m1, infoJson: Buffer.from(info2) }).stream.length).toBe(whole.stream.length);
    const delta = buildDeltaStream(m2, have, content, { version: '1.0.0', manifest: m1, infoJson: Buffer.from(info1) });
    expect(whole.stream.length).toBeGreaterThan(50_000);
    expect(delta.stream.length).toBeLessThan(1000);
    const streamFile = path.join(root, 'stream.tgz');
    writeFileSync(streamFile, delta.stream);
    const r = sh('orch_delta_rebuild "$@" && orch_delta_record "$1" "$1/versions/1.0.0" "$1/.orch/unpack.delta/$2" "$1/.orch/unpack.delta/.orch-manifest" && cat "$1/.orch/unpack.delta/$2/info.json"', [root, TOP, manifestSha256(m2), streamFile, '1.0.0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(info2);
    // The base tree's copy (a hard link to its object) is untouched; the new one is an object too.
    expect(readFileSync(path.join(root, '.orch/trees/1.0.0/info.json'), 'utf8')).toBe(info1);
    expect(readFileSync(path.join(root, '.orch/objects', createHash('sha256').update(info2).digest('hex')), 'utf8')).toBe(info2);

    // A base info.json that differs (in a line the patch copies) from what the patch was
    // made against: exit 99, nothing left.
    const root2 = installFull(v1.tarball);
    const obj = path.join(root2, '.orch/objects', createHash('sha256').update(info1).digest('hex'));
    writeFileSync(obj, info1.replace('"f100": "', '"f100": "0'));
    const streamFile2 = path.join(root2, 'stream.tgz');
    writeFileSync(streamFile2, delta.stream);
    const bad = sh('orch_delta_rebuild "$@"', [root2, TOP, manifestSha256(m2), streamFile2, '1.0.0']);
    expect(bad.code).toBe(99);
    expect(existsSync(path.join(root2, '.orch/unpack.delta'))).toBe(false);
    // A malformed patch: exit 99 too.
    const p = tmp();
    writeFileSync(path.join(p, 'base'), 'a\nb\n');
    for (const [patch, want] of [['= 1\n+ 1\nc\n= 1\n', 'a\nc\nb\n'], ['= 3\n', undefined], ['+ 2\nx\n', undefined], ['? 1\n', undefined]] as const) {
      writeFileSync(path.join(p, 'patch'), patch);
      const x = sh('_orch_delta_patch "$1/base" "$1/patch" "$1/out" && cat "$1/out"', [p]);
      expect(x.code === 0 ? x.stdout : undefined).toBe(want);
    }
  });

  it('a corrupted object is detected: exit 99, the object is removed, nothing is left rebuilt', async () => {
    const files = many(20);
    const v1 = await makeBundle(files);
    const root = installFull(v1.tarball);
    const have = hostObjects(root);
    const m1 = await readBundleManifest(v1.tarball);
    const victim = m1.entries.find((e) => e.path === 'data/pkg/m3.py');
    if (victim?.type !== 'f') throw new Error('fixture');
    writeFileSync(path.join(root, '.orch/objects', victim.sha256), 'tampered\n');

    const v2 = await makeBundle({ ...files, 'new.py': 'new\n' });
    const content = new Map<string, Buffer>();
    const m2 = await readBundleManifest(v2.tarball, content);
    const streamFile = path.join(root, 'stream.tgz');
    writeFileSync(streamFile, buildDeltaStream(m2, have, content, { version: '1.0.0', manifest: m1 }).stream);
    const r = sh('orch_delta_rebuild "$@"', [root, TOP, manifestSha256(m2), streamFile, '1.0.0']);
    expect(r.code).toBe(99);
    expect(existsSync(path.join(root, '.orch/trees/1.0.0'))).toBe(false);
    expect(r.stderr).toMatch(/^delta: rebuilt release does not match its manifest \(sha256 [0-9a-f]{64}, want [0-9a-f]{64}; 1 corrupted objects removed\)\n$/);
    expect(existsSync(path.join(root, '.orch/objects', victim.sha256))).toBe(false);
    expect(existsSync(path.join(root, '.orch/unpack.delta'))).toBe(false);
  });

  it('an object the host no longer holds gives exit 99 (the full tarball is sent instead)', async () => {
    const v1 = await makeBundle(many(5));
    const root = installFull(v1.tarball);
    const have = hostObjects(root);
    spawnSync('rm', ['-rf', path.join(root, '.orch/objects')]);
    const content = new Map<string, Buffer>();
    const m = await readBundleManifest(v1.tarball, content);
    const streamFile = path.join(root, 'stream.tgz');
    writeFileSync(streamFile, buildDeltaStream(m, have, content).stream);
    const r = sh('orch_delta_rebuild "$@"', [root, TOP, manifestSha256(m), streamFile]);
    expect(r).toEqual({ code: 99, stdout: '', stderr: 'delta: cannot rebuild from the objects held (missing object)\n' });
    expect(existsSync(path.join(root, '.orch/unpack.delta'))).toBe(false);
  });

  it.each([
    ['a hard link out of the store', { path: `unpack.delta/${TOP}/data/x`, type: 'Link' as const, linkpath: '/etc/passwd' }, `unsafe delta member: unpack.delta/${TOP}/data/x: hard link outside the object store`],
    ['a member outside unpack.delta', { path: 'state.json', type: 'File' as const }, 'unsafe delta member: state.json: not part of a delta stream'],
    ['a .. segment', { path: `unpack.delta/${TOP}/../../x`, type: 'Directory' as const }, `unsafe delta member: unpack.delta/${TOP}/../../x: parent directory segment (..)`],
    ['a badly named object', { path: 'objects/abc', type: 'File' as const }, 'unsafe delta member: objects/abc: not part of a delta stream'],
  ])('refuses a stream with %s before unpacking anything', (_label, data, err) => {
    const root = tmp();
    const block = Buffer.alloc(512);
    new Header({ mode: 0o644, size: 0, uid: 0, gid: 0, mtime: new Date(0), ...data }).encode(block, 0);
    const streamFile = path.join(root, 'stream.tgz');
    writeFileSync(streamFile, gzipSync(Buffer.concat([block, Buffer.alloc(1024)])));
    const r = sh('orch_delta_rebuild "$@"', [root, TOP, '0'.repeat(64), streamFile]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `${err}\n` });
    expect(readdirSync(path.join(root, '.orch')).sort()).toEqual(['objects']);
    expect(readdirSync(path.join(root, '.orch/objects'))).toEqual([]);
  });

  it.each([
    ['a symlink leaving the bundle folder', { links: { up: '../../../etc' } }, /^unsafe bundle member: data\/up: symlink target "..\/..\/..\/etc" leaves the bundle folder\n$/],
    ['a setuid member', { setuid: 'app.py' }, /^unsafe delta member: unpack\.delta\/.*\/data\/app\.py: setuid\/setgid bit\n$/],
  ])('SPEC section 4 on the rebuilt folder: a delta of a bundle with %s is refused (exit 1) as its tarball is, nothing is installed', async (_label, bad, err) => {
    const files = many(5);
    const v1 = await makeBundle(files);
    const root = installFull(v1.tarball);
    const have = hostObjects(root);
    const m1 = await readBundleManifest(v1.tarball);
    const v2 = await makeBundle({ ...files, 'app.py': 'print(2)\n' }, { ...('links' in bad && { links: bad.links }) });
    if ('setuid' in bad) {
      // A hostile tarball (orch's own createTarball drops the bit): GNU tar keeps it.
      chmodSync(path.join(v2.base, TOP, 'data', bad.setuid), 0o4755);
      expect(spawnSync('tar', ['-czf', v2.tarball, '-C', v2.base, TOP]).status).toBe(0);
    }
    // The tarball path refuses it (src/host/tar-check.sh) ...
    const tarCheck = runBash([PRELUDE_SH, TAR_CHECK_SH], 'orch_check_tar "$1" "$2"', [v2.tarball, TOP]);
    expect(tarCheck.code).toBe(1);
    expect(tarCheck.stderr).toMatch(/unsafe bundle member/);
    // ... and so does the rebuild from a delta stream, before install.sh could run.
    const content = new Map<string, Buffer>();
    const m2 = await readBundleManifest(v2.tarball, content);
    const streamFile = path.join(root, 'stream.tgz');
    writeFileSync(streamFile, buildDeltaStream(m2, have, content, { version: '1.0.0', manifest: m1 }).stream);
    const r = sh('orch_delta_rebuild "$@"', [root, TOP, manifestSha256(m2), streamFile, '1.0.0']);
    expect(r.stderr).toMatch(err);
    expect(r.code).toBe(1);
    expect(existsSync(path.join(root, '.orch/unpack.delta'))).toBe(false);
    expect(readdirSync(path.join(root, 'versions'))).toEqual(['1.0.0']);
  });

  it('refuses a stream whose member goes through one of its symlinks', () => {
    const root = tmp();
    const blocks: Buffer[] = [];
    for (const data of [
      { path: `unpack.delta/${TOP}/data/esc`, type: 'SymbolicLink' as const, linkpath: '/tmp' },
      { path: `unpack.delta/${TOP}/data/esc/evil`, type: 'Link' as const, linkpath: `objects/${'a'.repeat(64)}` },
    ]) {
      const b = Buffer.alloc(512);
      new Header({ mode: 0o644, size: 0, uid: 0, gid: 0, mtime: new Date(0), ...data }).encode(b, 0);
      blocks.push(b);
    }
    const streamFile = path.join(root, 'stream.tgz');
    writeFileSync(streamFile, gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)])));
    const r = sh('orch_delta_rebuild "$@"', [root, TOP, '0'.repeat(64), streamFile]);
    expect(r.stderr).toBe(`unsafe delta member: unpack.delta/${TOP}/data/esc/evil: path goes through symlink unpack.delta/${TOP}/data/esc\n`);
    expect(r.code).toBe(1);
  });
});

describe('delta.sh rebuild: plain and gzip\'d streams, removals', () => {
  const isGzip = (b: Buffer): boolean => b[0] === 0x1f && b[1] === 0x8b;

  it('buildDeltaStream gzips a stream only when that saves at least GZIP_MIN_SAVING of its bytes', async () => {
    const files = many(20);
    const v1 = await makeBundle(files);
    const m1 = await readBundleManifest(v1.tarball);
    const have = hostObjects(installFull(v1.tarball));
    for (const [label, body, zipped] of [['compressible', Buffer.alloc(20_000, 'z'), true], ['incompressible', randomBytes(200_000), false]] as const) {
      const v2 = await makeBundle({ ...files, 'blob.bin': body });
      const content = new Map<string, Buffer>();
      const m2 = await readBundleManifest(v2.tarball, content);
      const d = buildDeltaStream(m2, have, content, { version: '1.0.0', manifest: m1 });
      expect(isGzip(d.stream), label).toBe(zipped);
      const plain = zipped ? gunzipSync(d.stream) : d.stream;
      if (zipped) expect(plain.length - d.stream.length).toBeGreaterThanOrEqual(plain.length * GZIP_MIN_SAVING);
      else expect(plain.length - gzipSync(plain, { level: 9 }).length).toBeLessThan(plain.length * GZIP_MIN_SAVING);
    }
  });

  it.each([['plain', false], ['gzip\'d', true]] as const)('a %s stream rebuilds the exact bundle; its unzipped copy is left only for a gzip\'d one, for the caller', async (_label, zipped) => {
    const files = { ...many(30), 'app.py': 'x'.repeat(5000) };
    const v1 = await makeBundle(files);
    const root = installFull(v1.tarball);
    const m1 = await readBundleManifest(v1.tarball);
    const have = hostObjects(root);
    const v2 = await makeBundle({ ...files, 'app.py': 'y'.repeat(5000), 'pkg/m3.py': undefined as unknown as string });
    const content = new Map<string, Buffer>();
    const m2 = await readBundleManifest(v2.tarball, content);
    const d = buildDeltaStream(m2, have, content, { version: '1.0.0', manifest: m1 });
    const plain = isGzip(d.stream) ? gunzipSync(d.stream) : d.stream;
    const streamFile = path.join(root, 'stream');
    writeFileSync(streamFile, zipped ? gzipSync(plain) : plain);
    const r = sh('orch_delta_rebuild "$@"', [root, TOP, manifestSha256(m2), streamFile, '1.0.0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(root, '.orch/unpack.delta/.orch-manifest'), 'utf8')).toBe(formatManifest(m2));
    expect(readFileSync(path.join(root, `.orch/unpack.delta/${TOP}/data/app.py`), 'utf8')).toBe('y'.repeat(5000));
    expect(existsSync(path.join(root, `.orch/unpack.delta/${TOP}/data/pkg/m3.py`))).toBe(false);
    expect(readdirSync(path.join(root, '.orch')).sort()).toEqual(['objects', 'trees', 'unpack.delta', ...(zipped ? ['unpack.delta.tar'] : [])]);
    // A stream gzip cannot read is refused like one tar cannot list; nothing is left.
    writeFileSync(streamFile, Buffer.concat([gzipSync(plain).subarray(0, 40)]));
    const bad = sh('orch_delta_rebuild "$@"', [root, TOP, manifestSha256(m2), streamFile, '1.0.0']);
    expect(bad.code).toBe(1);
    expect(readdirSync(path.join(root, '.orch')).sort()).toEqual(['objects', 'trees']);
  });

  it('_orch_delta_remove removes the listed paths in one rm with the outcome of one rm per path in order', () => {
    const t = tmp();
    const tree = path.join(t, 'top');
    mkdirSync(path.join(tree, 'a/b'), { recursive: true });
    mkdirSync(path.join(tree, 'keep'));
    writeFileSync(path.join(tree, 'a/b/f'), 'x');
    writeFileSync(path.join(tree, 'f'), 'x');
    writeFileSync(path.join(tree, 'keep/k'), 'x');
    symlinkSync('keep', path.join(tree, 'l'));
    const rm = (list: string[]) => spawnSync('bash', ['-c', `${DELTA_SH}
_orch_delta_remove "$1"`, 'x', tree], { input: list.map((p) => `${p}\0`).join(''), encoding: 'utf8' });
    // l/k goes through the symlink l: refused while l is there ...
    expect(rm(['l/k'])).toMatchObject({ status: 1, stderr: 'unsafe delta member: unpack.delta.remove: path l/k goes through a symlink\n' });
    expect(rm(['x/../f']).status).toBe(1);
    // ... but after l itself is removed it is simply gone, as a/b/f is once a is.
    const r = rm(['a', 'a/b/f', 'l', 'l/k', 'f', 'nothing/here']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(readdirSync(tree).sort()).toEqual(['keep']);
    expect(readFileSync(path.join(tree, 'keep/k'), 'utf8')).toBe('x');
    // LAST: a regular file the list leaves goes in the same rm (ORCH_DELTA_UNLINKED=1);
    // one the list names, or a symlink, is not LAST's to remove.
    writeFileSync(path.join(tree, 'info.json'), '{}');
    symlinkSync('keep/k', path.join(tree, 'ln.json'));
    const last = (list: string[], name: string) => spawnSync('bash', ['-c', `${DELTA_SH}\nORCH_DELTA_UNLINKED=; _orch_delta_remove "$1" "$2"; echo "rc=$? unlinked=$ORCH_DELTA_UNLINKED"`, 'x', tree, name], { input: list.map((p) => `${p}\0`).join(''), encoding: 'utf8' }).stdout;
    expect(last(['ln.json'], 'info.json')).toBe('rc=0 unlinked=1\n');
    expect(readdirSync(tree).sort()).toEqual(['keep']);
    writeFileSync(path.join(tree, 'info.json'), '{}');
    expect(last(['info.json'], 'info.json')).toBe('rc=0 unlinked=\n');
    symlinkSync('keep/k', path.join(tree, 'info.json'));
    expect(last([], 'info.json')).toBe('rc=0 unlinked=\n');
    expect(readdirSync(tree).sort()).toEqual(['info.json', 'keep']);
  });
});

describe('delta.sh prune', () => {
  it('removes exactly the objects no kept release uses', async () => {
    const v1 = await makeBundle({ 'a.py': 'one\n', 'same.py': 'same\n' });
    const root = installFull(v1.tarball, '1.0.0');
    const v2 = await makeBundle({ 'a.py': 'two\n', 'same.py': 'same\n' });
    const s = sh('s=$(mktemp -d); (cd "$s" && tar -xzf "$2" --no-same-owner); "$s/$3/install.sh" "$1/versions/1.0.1"; orch_delta_record "$1" "$1/versions/1.0.1" "$s/$3"; orch_delta_keep_tree "$1" 1.0.1 "$s/$3"; rm -rf "$s"', [root, v2.tarball, TOP]);
    expect(s.code).toBe(0);
    const m1 = await readBundleManifest(v1.tarball);
    const m2 = await readBundleManifest(v2.tarball);
    const sha = (m: typeof m1, p: string) => { const e = m.entries.find((x) => x.path === p); return e?.type === 'f' ? e.sha256 : ''; };
    expect(hostObjects(root).has(sha(m1, 'data/a.py'))).toBe(true);
    expect(sh('orch_delta_prune "$1"', [root]).stdout).toBe('pruned 0 objects\n');
    spawnSync('rm', ['-rf', path.join(root, 'versions/1.0.0')]);
    const r = sh('orch_delta_prune "$1"', [root]);
    expect(r).toEqual({ code: 0, stdout: 'pruned 1 objects\n', stderr: '' });
    const left = hostObjects(root);
    expect(left.has(sha(m1, 'data/a.py'))).toBe(false);
    expect(left.has(sha(m2, 'data/a.py'))).toBe(true);
    expect(left.has(sha(m2, 'data/same.py'))).toBe(true);
    expect(left.size).toBe(m2.entries.filter((e) => e.type === 'f').length);
    expect(sh('orch_delta_trees "$1"', [root]).stdout).toBe('1.0.1\n');
  });
});
