import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectArtifact, MemberChecker } from '../../../src/bundle/artifact.js';
import { BundleError } from '../../../src/bundle/bundle-error.js';
import { OrchError } from '../../../src/model/errors.js';
import { remoteTarCheckScript } from '../../../src/bundle/remote-check.js';
import { MAKE_HOSTILE, makeTempDir, runBash, snapshotTree } from './helpers.js';

const TOP = 'evil-1.0-any';
let work: string;
let checkScript: string;

beforeAll(() => {
  work = makeTempDir();
  checkScript = join(work, 'check.sh');
  writeFileSync(checkScript, remoteTarCheckScript());
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Builds CASE with python's tarfile; returns the tarball path. */
function makeCase(name: string, arg = ''): string {
  const out = join(work, `${name}.tar.gz`);
  execFileSync('python3', [MAKE_HOSTILE, out, name, TOP, ...(arg ? [arg] : [])]);
  return out;
}

/**
 * Runs the host check and, only when it passes, the install step's unpack — in a
 * sandbox whose content is compared before and after.
 */
function checkThenUnpack(tarball: string) {
  const sandbox = join(work, `sandbox-${Math.random().toString(16).slice(2)}`);
  const dest = join(sandbox, 'a', 'b', 'dest');
  mkdirSync(dest, { recursive: true });
  const before = snapshotTree(sandbox);
  const r = runBash(`set -euo pipefail; source "$1"; orch_check_tar "$2" "$3" && tar -xzf "$2" --no-same-owner -C "$4"`, [
    checkScript,
    tarball,
    TOP,
    dest,
  ]);
  return { ...r, before, after: snapshotTree(sandbox), dest };
}

describe('hostile artifacts: refused by inspectArtifact and by orch_check_tar, same words', () => {
  const cases: [string, string, string][] = [
    ['dotdot', `${TOP}/../evil`, 'parent directory segment (..)'],
    ['absolute', '@ABS@', 'absolute path'],
    ['symlink-escape', `${TOP}/data/link`, 'symlink target "../../" leaves the bundle folder'],
    ['symlink-absolute', `${TOP}/data/etc`, 'symlink target "/etc" leaves the bundle folder'],
    ['through-symlink', `${TOP}/data/link/file`, `path goes through symlink ${TOP}/data/link`],
    ['symlink-chain', `${TOP}/data/esc`, `symlink target "d/up/../../../x" passes through symlink ${TOP}/data/d/up`],
    ['late-symlink', `${TOP}/data/x/file`, `path goes through symlink ${TOP}/data/x`],
    ['hardlink', `${TOP}/data/shadow`, 'hard link'],
    ['fifo', `${TOP}/data/pipe`, 'fifo'],
    ['chardev', `${TOP}/data/null`, 'character device'],
    ['blockdev', `${TOP}/data/disk`, 'block device'],
    ['setuid', `${TOP}/data/su`, 'setuid/setgid bit'],
    ['setgid', `${TOP}/data/sg`, 'setuid/setgid bit'],
    ['duplicate', `${TOP}/data/hello.txt`, 'duplicate member'],
    ['second-top', 'other/file', `outside the top folder ${TOP}/`],
    ['declared-2gib', `${TOP}/data/huge`, 'total size exceeds 1 GiB'],
  ];

  it.each(cases)('%s', async (name, member0, reason) => {
    const abs = join(work, `abs-target-${name}`);
    const member = member0 === '@ABS@' ? abs : member0;
    const tarball = makeCase(name, abs);
    const expected = `unsafe bundle member: ${member}: ${reason}`;

    const err = await inspectArtifact(tarball).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect(err).toBeInstanceOf(OrchError);
    expect((err as Error).message).toBe(`${tarball}: ${expected}`);

    const r = checkThenUnpack(tarball);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${expected}\n`);
    expect(r.after).toEqual(r.before); // nothing unpacked, nothing written anywhere in the sandbox
    expect(existsSync(abs)).toBe(false);
    expect(existsSync(join(work, 'evil'))).toBe(false);
  });

  it('a 1.1 GB-of-zeros gzip bomb is refused at its header (TS) and by the listing (bash)', async () => {
    const tarball = makeCase('gzip-bomb');
    const expected = `unsafe bundle member: ${TOP}/data/zeros: total size exceeds 1 GiB`;
    await expect(inspectArtifact(tarball)).rejects.toThrow(`${tarball}: ${expected}`);
    // It stops at the header and does not inflate 1.1 GB: the bomb's first 4 KiB (its tar
    // header and a few MB of zeros) are refused for the size, not for the missing rest.
    const head = join(work, 'bomb-head.tar.gz');
    writeFileSync(head, readFileSync(tarball).subarray(0, 4096));
    expect(statSync(tarball).size).toBeGreaterThan(100 * 4096);
    await expect(inspectArtifact(head)).rejects.toThrow(`${head}: ${expected}`);
    const r = checkThenUnpack(tarball);
    expect(r.stderr).toBe(`${expected}\n`);
    expect(r.code).toBe(1);
    expect(readdirSync(r.dest)).toEqual([]);
  }, 30_000);
});

describe('layout', () => {
  it('a good bundle passes both checks, reports its metadata and unpacks', async () => {
    const tarball = makeCase('good');
    const info = await inspectArtifact(tarball);
    const sha = execFileSync('sha256sum', [tarball], { encoding: 'utf8' }).split(' ')[0];
    expect(info).toEqual({
      package: 'evil',
      version: '1.0',
      platform: 'any',
      sha256: sha,
      size: statSync(tarball).size,
      path: tarball,
      dir: TOP,
    });
    const r = checkThenUnpack(tarball);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(snapshotTree(r.dest)).toContain(`l ${TOP}/data/link`);
  });

  it('a missing layout file is named, by both checks', async () => {
    const tarball = makeCase('no-layout');
    await expect(inspectArtifact(tarball)).rejects.toThrow(`${tarball}: bundle layout incomplete: missing ${TOP}/PACKAGE (a file)`);
    const r = checkThenUnpack(tarball);
    expect(r.stderr).toBe(`bundle layout incomplete: missing ${TOP}/PACKAGE (a file)\n`);
  });

  it('a top folder that disagrees with PACKAGE-VERSION-PLATFORM is refused', async () => {
    const out = join(work, 'mismatch.tar.gz');
    execFileSync('python3', [MAKE_HOSTILE, out, 'good', 'evil-1.0-any']);
    // same layout under a renamed top folder: rebuild it by hand with GNU tar
    const dir = join(work, 'mm');
    mkdirSync(dir);
    execFileSync('tar', ['-xzf', out, '-C', dir]);
    execFileSync('mv', [join(dir, TOP), join(dir, 'other-2.0-any')]);
    execFileSync('tar', ['-czf', out, '-C', dir, 'other-2.0-any']);
    await expect(inspectArtifact(out)).rejects.toThrow(
      `${out}: top folder "other-2.0-any" does not match PACKAGE-VERSION-PLATFORM "evil-1.0-any"`,
    );
  });

  it('a file that is not a tarball is reported as such', async () => {
    const out = join(work, 'junk.tar.gz');
    writeFileSync(out, 'not gzip at all');
    await expect(inspectArtifact(out)).rejects.toThrow(`${out}: not a readable tar.gz: incorrect header check`);
    const r = checkThenUnpack(out);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `cannot list ${out}: gzip: stdin: not in gzip format; tar: Child returned status 1; tar: Error is not recoverable: exiting now\n`,
    );
  });

  it('an install.sh without execute bit is refused by both checks', async () => {
    const good = makeCase('good');
    const dir = join(work, 'noexec');
    mkdirSync(dir);
    execFileSync('tar', ['-xzf', good, '-C', dir]);
    execFileSync('chmod', ['644', join(dir, TOP, 'install.sh')]);
    const out = join(work, 'noexec.tar.gz');
    execFileSync('tar', ['-czf', out, '-C', dir, TOP]);
    await expect(inspectArtifact(out)).rejects.toThrow(`${out}: bundle layout incomplete: ${TOP}/install.sh is not executable`);
    expect(checkThenUnpack(out).stderr).toBe(`bundle layout incomplete: ${TOP}/install.sh is not executable\n`);
  });
});

describe('MemberChecker', () => {
  it.each([
    ['top/sub/l', '../x', undefined],
    ['top/sub/l', '../../x', 'unsafe bundle member: top/sub/l: symlink target "../../x" leaves the bundle folder'],
    ['top/l', '.', undefined],
    ['top/l', '..', 'unsafe bundle member: top/l: symlink target ".." leaves the bundle folder'],
    ['top/a/l', 'b/../../../top/x', undefined], // out and back in: lexically top/x
    ['top/a/l', 'b/../../../other/x', 'unsafe bundle member: top/a/l: symlink target "b/../../../other/x" leaves the bundle folder'],
    ['top/a/l', 'b/../../c', undefined],
  ])('symlink %s -> %s', (path, linkpath, message) => {
    const c = new MemberChecker();
    c.check({ path: 'top/', type: 'd', mode: 0o755, size: 0 });
    const run = () => c.check({ path, type: 'l', mode: 0o777, size: 0, linkpath });
    if (message) expect(run).toThrow(message);
    else expect(run()).toBe(path);
  });

  it('refuses member number 100001', () => {
    const c = new MemberChecker();
    c.check({ path: 'top/', type: 'd', mode: 0o755, size: 0 });
    for (let i = 1; i < 100_000; i++) c.check({ path: `top/f${i}`, type: '-', mode: 0o644, size: 0 });
    expect(() => c.check({ path: 'top/last', type: '-', mode: 0o644, size: 0 })).toThrow(
      'unsafe bundle member: top/last: more than 100000 members',
    );
  });
});

describe('orch_norm_path (the lexical resolver of the host check)', () => {
  it.each([
    ['top/sub/../x', 'top/x'],
    ['top/./a//b/', 'top/a/b'],
    ['top/..', ''],
    ['top/../..', '..'],
    ['top/a/b/../../../top/x', 'top/x'],
    ['a b/c', 'a b/c'],
    ['top/*', 'top/*'],
  ])('%s -> %s', (input, expected) => {
    const r = runBash(`source "$1" && orch_norm_path "$2"`, [checkScript, input]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${expected}\n`);
  });
});
