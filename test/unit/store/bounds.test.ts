/**
 * Bounded reads and store credentials against a hostile store on loopback
 * (test/harness/hostile-store.ts): the control machine's reads (src/store/transfer.ts)
 * and the hosts' download library (src/host/fetch.sh) under real bash, curl and wget.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FETCH_SH, PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { DownloadMismatchError, downloadFile, readUrl } from '../../../src/store/transfer.js';
import { startHostileStore, type HostileStore } from '../../harness/hostile-store.js';
import { makeTempDir } from '../bundle/helpers.js';

const MIB = 1024 * 1024;
const USER = 'deploy';
const PASSWORD = 'S3cret "pa55" \\word';
const BODY = Buffer.from('release bytes\n'.repeat(4000));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** bash with the prelude and fetch.sh, asynchronously (the store answers in this process). */
function bash(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/bash', ['-c', [PRELUDE_SH, FETCH_SH, script].join('\n')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bounded reads and credentials against a hostile store', () => {
  let store: HostileStore;
  let dir: string;
  let wrap: string;
  let argvLog: string;
  beforeAll(async () => {
    store = await startHostileStore({ user: USER, password: PASSWORD, body: BODY });
    dir = makeTempDir('orch-bounds-');
    // curl and wget wrappers that record their command line, then run the real program.
    wrap = join(dir, 'wrap');
    mkdirSync(wrap);
    argvLog = join(dir, 'argv.log');
    for (const c of ['curl', 'wget']) {
      writeFileSync(join(wrap, c), `#!/bin/bash\nprintf '%s %s\\n' ${c} "$*" >> ${argvLog}\nexec /usr/bin/${c} "$@"\n`);
      chmodSync(join(wrap, c), 0o755);
    }
    // A PATH with the wget wrapper and the tools fetch.sh uses, but no curl.
    mkdirSync(join(dir, 'only-wget'));
    for (const t of ['mkdir', 'dirname', 'wc', 'tr', 'sha256sum', 'cut', 'mv', 'rm', 'cat', 'sleep', 'head', 'mktemp', 'ls']) symlinkSync(`/usr/bin/${t}`, join(dir, 'only-wget', t));
    symlinkSync(join(wrap, 'wget'), join(dir, 'only-wget/wget'));
  });
  afterAll(async () => {
    await store?.close();
  });
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: `${wrap}:${process.env.PATH}`, HOME: dir, ORCH_FETCH_ATTEMPTS: '1', ...extra });

  it('control machine: a 300 MiB channel answer is refused at 64 KiB while streaming, the store sends only a few MiB', async () => {
    await expect(readUrl(new URL('endless/stable.json', store.base), { maxBytes: 64 * 1024, attempts: 1 }))
      .rejects.toThrow(`GET ${store.base}endless/stable.json: refused: larger than 65536 bytes`);
    expect(await store.finished('/endless/stable.json')).toBeLessThan(32 * MIB);
    await expect(readUrl(new URL('declared/stable.json', store.base), { maxBytes: 64 * 1024, attempts: 1 })).rejects.toThrow('refused: larger than 65536 bytes');
    expect(await store.finished('/declared/stable.json')).toBeLessThan(32 * MIB);
  });

  it('control machine: a tarball longer than the manifest\'s size is aborted, the temp file removed', async () => {
    const d = join(dir, 'cm');
    await expect(downloadFile(new URL('endless/app-1.0.0-any.tar.gz?mib=200', store.base), join(d, 'x.tar.gz'), { sha256: sha(BODY), size: 1000 }, { attempts: 1 }))
      .rejects.toThrow(new DownloadMismatchError(`${store.base}endless/app-1.0.0-any.tar.gz?mib=200: refused: the store sends more than the 1000 bytes the manifest names (download stopped)`));
    expect(await store.finished('/endless/app-1.0.0-any.tar.gz')).toBeLessThan(32 * MIB);
    expect(readdirSync(d)).toEqual([]);
    await expect(downloadFile(new URL('declared/app-1.0.0-any.tar.gz?mib=200', store.base), join(d, 'x.tar.gz'), { sha256: sha(BODY), size: 1000 }, { attempts: 1 }))
      .rejects.toThrow('refused: the store announces 209715200 bytes, the manifest names 1000');
    expect(readdirSync(d)).toEqual([]);
  });

  it.each(['curl', 'wget'])('host (%s): a body longer than the size stops at size+1 bytes; exit 5, nothing left', async (client) => {
    const d = join(dir, `host-${client}`);
    const path = client === 'curl' ? `${wrap}:${process.env.PATH}` : join(dir, 'only-wget');
    const url = `${store.base}endless/${client}.tar.gz?mib=200`;
    const r = await bash(`orch_fetch '${url}' ${join(d, 'x.tar.gz')} ${sha(BODY)} 1000 || echo "rc=$?"; ls -A ${d}`, { ...env(), PATH: path });
    expect(r.stderr).toContain(`fetch ${url}: refused: the store sends more than the 1000 bytes the manifest names (download stopped at 1001)`);
    expect(r.stdout).toBe('rc=5\n');
    expect(await store.finished(`/endless/${client}.tar.gz`)).toBeLessThan(32 * MIB);
    // An announced length over the size: curl does not even start (--max-filesize).
    const r2 = await bash(`orch_fetch '${store.base}declared/${client}.tar.gz?mib=200' ${join(d, 'x.tar.gz')} ${sha(BODY)} 1000 || echo "rc=$?"; ls -A ${d}`, { ...env(), PATH: path });
    expect(r2.stdout).toBe('rc=5\n');
    expect(await store.finished(`/declared/${client}.tar.gz`)).toBeLessThan(32 * MIB);
    expect(readFileSync(argvLog, 'utf8')).toContain(`${client} `);
  });

  it.each(['curl', 'wget'])('host (%s): store credentials reach the store, never the command line', async (client) => {
    writeFileSync(argvLog, '');
    const d = join(dir, `auth-${client}`);
    const path = client === 'curl' ? `${wrap}:${process.env.PATH}` : join(dir, 'only-wget');
    const before = store.auth.length;
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const r = await bash(`ORCH_FETCH_AUTH=${q(`${USER}:${PASSWORD}`)}\norch_fetch '${store.base}private/app-1.0.0-any.tar.gz' ${join(d, 'x.tar.gz')} ${sha(BODY)} ${BODY.length} && echo rc=0`, { ...env(), PATH: path });
    expect([r.stdout, r.stderr]).toEqual(['rc=0\n', '']);
    expect(readFileSync(join(d, 'x.tar.gz')).equals(BODY)).toBe(true);
    expect(store.auth.slice(before)).toContain(`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
    const argv = readFileSync(argvLog, 'utf8');
    expect(argv).toContain(`${client} `);
    expect(argv).toContain(`${store.base}private/app-1.0.0-any.tar.gz`);
    expect(argv).not.toContain('pa55');
    expect(argv).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
    // No config file with the password is left behind (wget's is a mktemp file, removed).
    expect(readdirSync(dir).filter((f) => f.startsWith('tmp.'))).toEqual([]);
  });
});

describe('a presigned URL on a host (src/host/fetch.sh, ORCH_FETCH_QUERY)', () => {
  let store: HostileStore;
  let dir: string;
  let wrap: string;
  let argvLog: string;
  beforeAll(async () => {
    store = await startHostileStore({ user: USER, password: PASSWORD, body: BODY });
    dir = makeTempDir('orch-presigned-');
    wrap = join(dir, 'wrap');
    mkdirSync(wrap);
    argvLog = join(dir, 'argv.log');
    for (const c of ['curl', 'wget']) {
      writeFileSync(join(wrap, c), `#!/bin/bash\nprintf '%s %s\\n' ${c} "$*" >> ${argvLog}\nexec /usr/bin/${c} "$@"\n`);
      chmodSync(join(wrap, c), 0o755);
    }
    mkdirSync(join(dir, 'only-wget'));
    for (const t of ['mkdir', 'dirname', 'wc', 'tr', 'sha256sum', 'cut', 'mv', 'rm', 'cat', 'sleep', 'head', 'mktemp', 'ls']) symlinkSync(`/usr/bin/${t}`, join(dir, 'only-wget', t));
    symlinkSync(join(wrap, 'wget'), join(dir, 'only-wget/wget'));
  });
  afterAll(async () => {
    await store?.close();
  });
  const QUERY = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261206%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=3600&X-Amz-Signature=good';

  it.each([['curl', 'size'], ['curl', 'no size'], ['wget', 'size'], ['wget', 'no size']])('%s (%s): the URL and its query reach the store on stdin, never on the command line', async (client, sized) => {
    writeFileSync(argvLog, '');
    const d = join(dir, `${client}-${sized.replace(' ', '-')}`);
    const before = store.queries.length;
    const path = client === 'curl' ? `${wrap}:${process.env.PATH}` : join(dir, 'only-wget');
    const r = await bash(`ORCH_FETCH_QUERY='${QUERY}'\norch_fetch '${store.base}signed/app-1.0.0-any.tar.gz' ${join(d, 'x.tar.gz')} ${sha(BODY)} ${sized === 'size' ? BODY.length : "''"} && echo rc=0`, { PATH: path, HOME: dir, ORCH_FETCH_ATTEMPTS: '1' });
    expect([r.stdout, r.stderr]).toEqual(['rc=0\n', '']);
    expect(readFileSync(join(d, 'x.tar.gz')).equals(BODY)).toBe(true);
    expect(store.queries.slice(before)).toEqual([`?${QUERY}`]);
    const argv = readFileSync(argvLog, 'utf8');
    expect(argv.startsWith(`${client} `)).toBe(true);
    expect(argv).not.toContain('X-Amz');
    expect(argv).not.toContain('signed/');
  });

  it('a refused signature (expired URL): the download fails after its attempts, the message shows the URL without its query', async () => {
    const r = await bash(`ORCH_FETCH_QUERY='X-Amz-Signature=expired'\norch_fetch '${store.base}signed/app-1.0.0-any.tar.gz' ${join(dir, 'bad', 'x.tar.gz')} ${sha(BODY)} ${BODY.length} || echo "rc=$?"; [ -e ${join(dir, 'bad', 'x.tar.gz')} ] || echo 'no x.tar.gz'`, { PATH: `${wrap}:${process.env.PATH}`, HOME: dir, ORCH_FETCH_ATTEMPTS: '1' });
    expect(r.stdout).toBe('rc=4\nno x.tar.gz\n');
    expect(r.stderr).toContain(`fetch ${store.base}signed/app-1.0.0-any.tar.gz: curl failed (exit 22) after 1 attempts`);
    expect(r.stderr).not.toContain('expired');
  });
});
