/**
 * The store's trust rules through the built CLI, without a fleet: a hostile store on
 * loopback (test/harness/hostile-store.ts) and a `transport: local` host, so the host
 * side (src/host/install.sh, src/host/fetch.sh with real curl) runs on this machine.
 * - a 300 MiB channel answer: refused, orch's peak RSS measured with /usr/bin/time;
 * - a password in the store URL: in no plan file, output, converge log or curl command
 *   line (a wrapper on PATH records curl's argv). Run `npm run build` first.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostileStore, type HostileStore } from '../harness/hostile-store.js';
import { makeWork, ORCH, orch } from './cli.js';

const PASSWORD = 'S3cret-pa55word';
const MIB = 1024 * 1024;

describe.skipIf(!existsSync('/usr/bin/time') || !existsSync('/usr/bin/curl'))('store trust through the CLI (loopback store, local host)', () => {
  let store: HostileStore;
  let work: string;
  let env: Record<string, string>;
  let argvLog: string;
  let authed: string;
  beforeAll(async () => {
    store = await startHostileStore({ user: 'deploy', password: PASSWORD, body: Buffer.alloc(0) });
    ({ dir: work, env } = makeWork('trust'));
    const wrap = join(work, 'wrap');
    mkdirSync(wrap);
    argvLog = join(work, 'curl-argv.log');
    writeFileSync(join(wrap, 'curl'), `#!/bin/bash\nprintf 'curl %s\\n' "$*" >> ${argvLog}\nexec /usr/bin/curl "$@"\n`);
    chmodSync(join(wrap, 'curl'), 0o755);
    env = { ...env, PATH: `${wrap}:${process.env.PATH}` };
    // A signed release in a folder, then served under /private/ (Basic auth).
    const key = join(work, 'release_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', key]);
    const [type, b64] = readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
    writeFileSync(join(work, 'allowed_signers'), `ci@example.com namespaces="orch-release" ${type} ${b64}\n`);
    const src = join(work, 'src/app');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'VERSION'), '1.0.0\n');
    writeFileSync(join(src, 'hello.txt'), 'hello\n');
    const p = await orch(['publish', src, '--out', join(work, 'dist'), '--to', join(work, 'store'), '--channel', 'stable', '--sign', key, '--base-url', `${store.base}private/`], env);
    expect(p.code, p.stderr).toBe(0);
    for (const f of ['app/stable.json', 'app/stable.json.sig', 'app/app-1.0.0-any.tar.gz']) store.files[f] = readFileSync(join(work, 'store', f));
    authed = `http://deploy:${PASSWORD}@${store.base.slice('http://'.length)}`;
    writeFileSync(join(work, 'inventory.yml'), 'hosts:\n  self: { transport: local }\n');
  }, 120_000);
  afterAll(async () => {
    await store?.close();
  });

  it('a 300 MiB channel answer is refused while streaming; orch\'s peak RSS stays under 200 MiB', async () => {
    const pb = join(work, 'huge.yml');
    writeFileSync(pb, `inventory: inventory.yml
bundles:
  app: { channel: ${authed}endless/app/stable.json, allowed_signers: allowed_signers }
nodes:
  app:
    vars: { app: app, root: ${join(work, 'srv/huge')} }
    steps:
      - install: { bundle: app }
`);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, ORCH, 'plan', pb], { env: { LANG: 'C.UTF-8', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.stderr).toContain(`GET ${store.base}endless/app/stable.json: refused: larger than 65536 bytes`);
    expect(r.stderr).not.toContain(PASSWORD);
    expect(r.code).toBe(1);
    const rss = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1]);
    console.log(`orch plan against a 300 MiB channel answer: peak RSS ${(rss / 1024).toFixed(1)} MiB, store sent ${((store.sent.get('/endless/app/stable.json') ?? NaN) / MIB).toFixed(1)} MiB`);
    expect(rss).toBeGreaterThan(10 * 1024);
    expect(rss).toBeLessThan(200 * 1024);
    expect(await store.finished('/endless/app/stable.json')).toBeLessThan(64 * MIB);
  }, 120_000);

  it('a password in the store URL is in no plan file, output, converge log or host command line; the host fetches with it', async () => {
    const root = join(work, 'srv/app');
    const pb = join(work, 'site.yml');
    writeFileSync(pb, `inventory: inventory.yml
bundles:
  app: { channel: ${authed}private/app/stable.json, allowed_signers: allowed_signers, fetch: host }
nodes:
  app:
    vars: { app: app, root: ${root} }
    steps:
      - install: { bundle: app }
      - symlink: {}
`);
    writeFileSync(argvLog, '');
    const before = store.auth.length;
    const plan = await orch(['plan', pb, '-o', join(work, 'plan.json')], env);
    expect(plan.code, plan.stderr).toBe(0);
    const saved = readFileSync(join(work, 'plan.json'), 'utf8');
    expect(statSync(join(work, 'plan.json')).mode & 0o777).toBe(0o600);
    expect(saved).toContain('"auth": "deploy:***"');
    expect(saved).toContain(`"url": "${store.base}private/app/app-1.0.0-any.tar.gz"`);
    const apply = await orch(['apply', join(work, 'plan.json'), '--yes', '--verbose'], env);
    expect(apply.code, apply.stderr + apply.stdout).toBe(0);
    expect(readlinkSync(join(root, 'current'))).toBe('versions/1.0.0');
    const log = join(work, 'converge.log');
    const conv = await orch(['converge', pb, '--log', log, '--verbose'], env);
    expect(conv.code, conv.stderr + conv.stdout).toBe(0);
    // The host's curl got the credentials (the store answered 200 only with them) ...
    expect(store.auth.slice(before)).toContain(`Basic ${Buffer.from(`deploy:${PASSWORD}`).toString('base64')}`);
    const argv = readFileSync(argvLog, 'utf8');
    expect(argv).toContain(`-- ${store.base}private/app/app-1.0.0-any.tar.gz`);
    // ... on its stdin, never on a command line; and nothing printed or kept shows the password.
    for (const [what, text] of [['curl argv', argv], ['plan file', saved], ['plan output', plan.stdout + plan.stderr], ['apply output', apply.stdout + apply.stderr],
      ['converge output', conv.stdout + conv.stderr], ['converge log', readFileSync(log, 'utf8')], ['host state', readdirSync(join(root, '.orch')).map((f) => (statSync(join(root, '.orch', f)).isFile() ? readFileSync(join(root, '.orch', f), 'utf8') : '')).join('')]] as const) {
      expect(text.includes(PASSWORD), `${what} shows the password`).toBe(false);
      expect(text.includes(Buffer.from(`deploy:${PASSWORD}`).toString('base64')), `${what} shows the Basic credentials`).toBe(false);
    }
  }, 180_000);
});
