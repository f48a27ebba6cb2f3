/**
 * src/host/fetch.sh under real bash with file:// URLs and real coreutils (the HTTP
 * paths — curl, wget, resume, unreachable store — run against a real nginx in
 * test/integration/store.test.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FETCH_SH, PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';
import { makeTempDir } from '../bundle/helpers.js';

const LIBS = [PRELUDE_SH, FETCH_SH];
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('fetch.sh', () => {
  let dir: string;
  let src: string;
  let body: Buffer;
  let noClientPath: string;
  beforeAll(() => {
    dir = makeTempDir('orch-fetch-');
    body = Buffer.from('release bytes\n'.repeat(1000));
    src = join(dir, 'shop-1.0.0-any.tar.gz');
    writeFileSync(src, body);
    // A PATH with the tools fetch.sh uses, but neither curl nor wget.
    noClientPath = join(dir, 'bin');
    mkdirSync(noClientPath);
    for (const t of ['mkdir', 'dirname', 'wc', 'tr', 'sha256sum', 'cut', 'mv', 'rm', 'cat', 'sleep', 'head']) symlinkSync(`/usr/bin/${t}`, join(noClientPath, t));
  });
  // HOME without a .bashrc: bash reads ~/.bashrc when its stdin is a socket (node's pipes are).
  // `path` replaces PATH inside the script (bash itself is found on the normal PATH).
  const run = (body: string, env: NodeJS.ProcessEnv = {}, path?: string) =>
    runBash(LIBS, `${path ? `PATH=${path}\n` : ''}${body}`, [], { env: { PATH: process.env.PATH, HOME: dir, ORCH_FETCH_ATTEMPTS: '1', ...env } });

  it('fetches a file:// URL into DEST through DEST.part after checking size and sha256', () => {
    const dest = join(dir, 'ok/x.tar.gz');
    const r = run(`orch_fetch file://${src} ${dest} ${sha(body)} ${body.length} && echo rc=0`);
    expect([r.stdout, r.stderr]).toEqual(['rc=0\n', '']);
    expect(readFileSync(dest).equals(body)).toBe(true);
    expect(readdirSync(join(dir, 'ok'))).toEqual(['x.tar.gz']);
  });

  it('keeps a DEST that already has the right bytes (no download)', () => {
    const dest = join(dir, 'have/x.tar.gz');
    mkdirSync(join(dir, 'have'));
    writeFileSync(dest, body);
    const r = run(`orch_fetch file://${join(dir, 'nope')} ${dest} ${sha(body)} ${body.length} && echo rc=0`);
    expect([r.stdout, r.stderr]).toEqual(['rc=0\n', '']);
  });

  it.each([
    ['sha256', (d: string) => `orch_fetch file://${src} ${d} ${'0'.repeat(64)} ${body.length}`, `sha256 mismatch: got ${createHash('sha256').update(Buffer.from('release bytes\n'.repeat(1000))).digest('hex')}, want ${'0'.repeat(64)}`],
    ['size', (d: string) => `orch_fetch file://${src} ${d} ${createHash('sha256').update(Buffer.from('release bytes\n'.repeat(1000))).digest('hex')} 20000`, 'size mismatch: got 14000 bytes, want 20000 (truncated or replaced download)'],
    ['too long', (d: string) => `orch_fetch file://${src} ${d} ${createHash('sha256').update(Buffer.from('release bytes\n'.repeat(1000))).digest('hex')} 99`, 'refused: the store sends more than the 99 bytes the manifest names (download stopped at 100)'],
  ])('refuses a %s mismatch: exit 5, nothing at DEST, no partial file', (what, cmd, msg) => {
    const d = join(dir, `bad-${what.replace(' ', '-')}`);
    const r = run(`${cmd(join(d, 'x.tar.gz'))} || echo "rc=$?"`);
    expect(r.stdout).toBe('rc=5\n');
    expect(r.stderr).toBe(`fetch file://${src}: ${msg}\n`);
    expect(readdirSync(d)).toEqual([]);
  });

  it('a source it cannot read: exit 4 after the attempts', () => {
    const r = run(`orch_fetch file://${join(dir, 'missing.tar.gz')} ${join(dir, 'm/x.tar.gz')} ${sha(body)} || echo "rc=$?"`, { ORCH_FETCH_ATTEMPTS: '2' });
    expect(r.stdout).toBe('rc=4\n');
    expect(r.stderr).toBe(`cannot read ${join(dir, 'missing.tar.gz')}\ncannot read ${join(dir, 'missing.tar.gz')}\nfetch file://${join(dir, 'missing.tar.gz')}: file failed (exit 1) after 2 attempts\n`);
  });

  it('no curl and no wget: exit 3; the install step then exits 99 (auto: push) or fails (host)', () => {
    const env = {};
    const url = 'http://10.0.0.1/shop-1.0.0-any.tar.gz';
    const r = run(`orch_fetch_client || echo none; orch_fetch ${url} ${join(dir, 'n/x.tar.gz')} ${sha(body)} || echo "rc=$?"`, env, noClientPath);
    expect([r.stdout, r.stderr]).toEqual(['none\nrc=3\n', `fetch ${url}: neither curl nor wget on this host\n`]);
    const auto = run(`orch_fetch_bundle auto ${url} ${join(dir, 'n/x.tar.gz')} ${sha(body)} 0`, env, noClientPath);
    expect([auto.code, auto.stderr]).toEqual([99, `fetch ${url}: neither curl nor wget on this host\nfetch failed (exit 3): the control machine pushes the bundle instead\n`]);
    const host = run(`orch_fetch_bundle host ${url} ${join(dir, 'n/x.tar.gz')} ${sha(body)} 0`, env, noClientPath);
    expect([host.code, host.stderr]).toEqual([1, `fetch ${url}: neither curl nor wget on this host\nbundle not installed: the host could not fetch it from the store (fetch: host)\n`]);
    expect(existsSync(join(dir, 'n'))).toBe(false);
  });

  it('wrong bytes fail the step even with fetch: auto (no push over a corrupt store)', () => {
    const r = run(`orch_fetch_bundle auto file://${src} ${join(dir, 'w/x.tar.gz')} ${'1'.repeat(64)} ${body.length}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sha256 mismatch');
    expect(r.stderr).toContain('bundle not installed: the host could not fetch it from the store (fetch: auto)');
  });

  it('prefers curl, then wget; a non-executable file named curl does not count', () => {
    const bin = join(dir, 'bin2');
    mkdirSync(bin);
    writeFileSync(join(bin, 'curl'), '', { mode: 0o644 });
    symlinkSync('/usr/bin/wget', join(bin, 'wget'));
    expect(run('orch_fetch_client', {}, bin).stdout).toBe('wget\n');
    expect(run('orch_fetch_client').stdout).toBe('curl\n');
  });
});
