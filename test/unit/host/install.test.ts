/** Behaviour of src/host/install.sh (`orch_install`) under real bash and GNU tar. */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_SH, DELTA_SH, INSTALL_SH, PRELUDE_SH, TAR_CHECK_SH } from '../../../src/host/embedded.generated.js';
import { sameVersionMessage } from '../../../src/steps/install.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, COMMAND_SH, TAR_CHECK_SH, DELTA_SH, INSTALL_SH];
const TOP = 'shop-1.0-any';

/** A platter bundle whose install.sh copies data/ into TARGET; returns its bytes and sha256. */
function bundle(installBody = 'cp -R "$(dirname "$0")/data/." "$1"'): { bytes: Buffer; sha: string } {
  const d = mkdtempSync(path.join(tmpdir(), 'orch-bundle-'));
  const top = path.join(d, TOP);
  mkdirSync(path.join(top, 'data'), { recursive: true });
  for (const [f, t] of [['PACKAGE', 'shop'], ['VERSION', '1.0'], ['PLATFORM', 'any'], ['info.json', '{}'], ['data/app.txt', 'app']]) writeFileSync(path.join(top, f!), `${t}\n`);
  writeFileSync(path.join(top, 'install.sh'), `#!/bin/sh\nset -e\nmkdir -p "$1"\n${installBody}\n`);
  chmodSync(path.join(top, 'install.sh'), 0o755);
  const bytes = execFileSync('tar', ['-czf', '-', '-C', d, TOP]);
  return { bytes, sha: createHash('sha256').update(bytes).digest('hex') };
}
const call = (root: string, sha: string, payload: string | number, extra = '', before = '', after = '') =>
  `${extra}\norch_install ${payload} "$2" "$3" "$4" "$1" 1.0 ${sha} ${TOP} '${before}' '${after}'`;

describe('install.sh', () => {
  it('installs from stdin: version folder, metadata, marker last, state and registry written; again: ok without the payload', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-inst-'));
    const reg = path.join(root, 'registry.json');
    const { bytes, sha } = bundle();
    const r = runBash(LIBS, call(root, sha, 1), [root, '{"state":1}', '{"apps":{}}', reg], { stdin: bytes });
    expect(r).toEqual({ code: 0, stdout: '::orch:: status=changed\n', stderr: '' });
    const v = path.join(root, 'versions/1.0');
    expect(readdirSync(v).sort()).toEqual(['.orch-installed', '.orch-manifest', 'PACKAGE', 'PLATFORM', 'VERSION', 'app.txt', 'info.json']);
    expect(readFileSync(path.join(v, '.orch-installed'), 'utf8')).toBe(`${sha}\n`);
    expect(readFileSync(path.join(root, '.orch/state.json'), 'utf8')).toBe('{"state":1}\n');
    expect(readFileSync(reg, 'utf8')).toBe('{"apps":{}}\n');
    expect(existsSync(path.join(root, `.orch/bundles/${sha}.tar.gz`))).toBe(true);
    expect(readdirSync(path.join(root, '.orch')).sort()).toEqual(['bundles', 'objects', 'state.json', 'trees']);
    // Delta releases: the bundle folder kept as the next delta's base, its files as objects.
    expect(readdirSync(path.join(root, '.orch/trees'))).toEqual(['1.0']);
    expect(runBash(LIBS, call(root, sha, 0), [root, '', '', reg]).stdout).toBe('::orch:: status=ok\n');
  });
  it('asks for the payload (99) when the bundle file is missing; installs from the kept file otherwise', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-inst-'));
    const { bytes, sha } = bundle();
    expect(runBash(LIBS, call(root, sha, 0), [root, '', '', '']).code).toBe(99);
    mkdirSync(path.join(root, '.orch/bundles'), { recursive: true });
    writeFileSync(path.join(root, `.orch/bundles/${sha}.tar.gz`), bytes);
    expect(runBash(LIBS, call(root, sha, 0), [root, '', '', '']).stdout).toBe('::orch:: status=changed\n');
  });
  it('runs before and after around the install; a failing after leaves no incomplete version', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-inst-'));
    const { bytes, sha } = bundle();
    const fns = `orch_before() { :\necho before >> ${root}/log\n}\norch_after() { :\necho after >> ${root}/log; false\n}`;
    const r = runBash(LIBS, call(root, sha, 1, fns, 'orch_before', 'orch_after'), [root, '', '', ''], { stdin: bytes });
    expect([r.code, r.stderr]).toEqual([1, 'after command failed (exit 1)\n']);
    expect(readFileSync(path.join(root, 'log'), 'utf8')).toBe('before\nafter\n');
    expect(existsSync(path.join(root, 'versions/1.0'))).toBe(false);
  });
  it('with FETCH the host fetches the bundle (orch_fetch_bundle MODE URL DEST SHA SIZE) instead of asking for it', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-inst-'));
    const { bytes, sha } = bundle();
    // A stand-in for src/host/fetch.sh's download: logs its arguments, writes the bytes.
    const stub = `orch_fetch_bundle() { echo "$*" > "$ROOT_LOG"; cp -- "$BUNDLE" "$3"; }`;
    const src = path.join(root, 'b.tgz');
    writeFileSync(src, bytes);
    const r = runBash(LIBS, `${stub}\norch_install 0 "" "" "" "$1" 1.0 ${sha} ${TOP} '' '' auto http://store/b.tgz 123`, [root], { env: { ...process.env, ROOT_LOG: path.join(root, 'log'), BUNDLE: src } });
    expect(r).toEqual({ code: 0, stdout: '::orch:: status=changed\n', stderr: '' });
    expect(readFileSync(path.join(root, 'log'), 'utf8')).toBe(`auto http://store/b.tgz ${root}/.orch/bundles/${sha}.tar.gz ${sha} 123\n`);
  });
  it('refuses another bundle for an installed version', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-inst-'));
    mkdirSync(path.join(root, 'versions/1.0'), { recursive: true });
    writeFileSync(path.join(root, 'versions/1.0/.orch-installed'), `${'b'.repeat(64)}\n`);
    const r = runBash(LIBS, call(root, 'a'.repeat(64), 0), [root, '', '', '']);
    expect(r.stderr).toBe(`version 1.0 is already installed in ${root}/versions/1.0 from another bundle (sha256 ${'b'.repeat(12)}…, this bundle ${'a'.repeat(12)}…); one version is one release: give a new build a new version (bump VERSION, or version: git | timestamp)\n`);
  });
  it.each(['1.0.0+g1a2b3c4.dirty', '1.0.0+20261201120000', '2.0'])('refuses %s installed from another bundle in the words plan uses (sameVersionMessage), reading no payload', (v) => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-inst-'));
    mkdirSync(path.join(root, 'versions', v), { recursive: true });
    writeFileSync(path.join(root, 'versions', v, '.orch-installed'), `${'b'.repeat(64)}\n`);
    // PAYLOAD 1 with bytes on stdin: the refusal comes before any of them is read or stored.
    const r = runBash(LIBS, `orch_install 1 "" "" "" "$1" "$2" ${'a'.repeat(64)} x '' ''`, [root, v], { stdin: 'not a tarball' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${sameVersionMessage(root, v, 'b'.repeat(64), 'a'.repeat(64))}\n`);
    expect(existsSync(path.join(root, '.orch', 'bundles'))).toBe(false);
  });
  it('refuses a payload with the wrong sha256 and a failing install.sh', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-inst-'));
    const { bytes } = bundle();
    expect(runBash(LIBS, call(root, 'c'.repeat(64), 1), [root, '', '', ''], { stdin: bytes }).stderr).toMatch(/^checksum mismatch uploading bundle: got [0-9a-f]{64}, want c{64}\n$/);
    const bad = bundle('exit 5');
    const r = runBash(LIBS, call(root, bad.sha, 1), [root, '', '', ''], { stdin: bad.bytes });
    expect([r.code, r.stderr]).toEqual([1, `install.sh ${root}/versions/1.0 failed (exit 5)\n`]);
    expect(readdirSync(path.join(root, 'versions'))).toEqual([]);
  });
});
