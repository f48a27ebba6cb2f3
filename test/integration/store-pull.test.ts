/**
 * Pull mode with an artifact store, end to end: three sshd test hosts each run
 * `orch converge` of their own playbook (inventory: the host itself, transport local)
 * from the crontab line `orch cron install` wrote, run the way cron runs it (`/bin/sh -c`
 * from HOME with a bare environment), inside the host's own namespaces. Publishing a
 * signed release to the nginx store is the whole deployment; unsigned, tampered and
 * wrong-key releases are refused by each host's orch. Run `npm run build` first.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { canRunStore, startStore, type TestStore } from '../harness/store.js';
import { makeWork, orch } from './cli.js';
import { hostVisibleOrch } from './host-orch.js';

const [HOST_ORCH, removeHostOrch] = hostVisibleOrch();

describe.skipIf(!canRunFleet() || !canRunStore())('pull mode: hosts converge from cron against a signed channel', () => {
  let fleet: Fleet;
  let store: TestStore;
  let work: string;
  let env: Record<string, string>;
  let key: string;
  let wrongKey: string;
  const tarballs: Record<string, string> = {};
  const jobs = new Map<string, string>();
  const current = (h: TestHost): string | undefined => (existsSync(join(h.dir, 'srv/app/current')) ? readlinkSync(join(h.dir, 'srv/app/current')) : undefined);

  /** Runs each host's crontab job as cron would, all hosts at once; exit code and output per host. */
  const runCron = (extra = '') => Promise.all(fleet.hosts.map(async (h) => {
    const job = jobs.get(h.name)!.replaceAll('\\%', '%').replace(' converge ', ` converge ${extra}`);
    const r = await fleet.hostExec(h, `cd /root && exec env -i HOME=/root PATH=/usr/bin:/bin SHELL=/bin/sh LOGNAME=root /bin/sh -c ${JSON.stringify(job).replaceAll('$', '\\$')}`);
    return { host: h.name, ...r };
  }));
  const publish = (version: string, ...more: string[]) => orch(['publish', tarballs[version]!, '--to', store.baseUrl, '--channel', 'stable', ...more], env);

  beforeAll(async () => {
    fleet = await startFleet({ count: 3, name: 'orchpl' });
    store = await startStore(fleet);
    ({ dir: work, env } = makeWork('pull'));
    key = join(work, 'release_key');
    wrongKey = join(work, 'wrong_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', key]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'wrong', '-f', wrongKey]);
    const [type, b64] = readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
    for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0', 'admin']) {
      const src = join(work, v, v === 'admin' ? 'admin' : 'app');
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, 'VERSION'), `${v === 'admin' ? '9.0.0' : v}\n`);
      writeFileSync(join(src, 'hello.txt'), `hello ${v}\n`);
      const r = await orch(['bundle', src, '--out', join(work, 'dist'), '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      tarballs[v] = (JSON.parse(r.stdout) as { path: string }).path;
    }
    // Each host: /etc-like config in /srv/orch, a crontab program keeping the table in
    // /root (private to the host), and `orch cron install` run on the host itself.
    for (const h of fleet.hosts) {
      const cfg = join(h.dir, 'srv/orch');
      mkdirSync(cfg, { recursive: true });
      writeFileSync(join(cfg, 'allowed_signers'), `ci@example.com namespaces="orch-release" ${type} ${b64}\n`);
      writeFileSync(join(cfg, 'inventory.yml'), 'hosts:\n  self: { transport: local }\n');
      writeFileSync(join(cfg, 'app.yml'), `inventory: inventory.yml
vars: { app: app, root: /srv/app }
bundles:
  app: { channel: ${store.baseUrl}app/stable.json, allowed_signers: allowed_signers, fetch: host }
nodes:
  app:
    steps:
      - install: { bundle: app }
      - symlink: {}
      - prune: { keep: 2 }
`);
      mkdirSync(join(h.dir, 'root/bin'), { recursive: true });
      writeFileSync(join(h.dir, 'root/bin/crontab'), '#!/bin/sh\nT=/root/crontab.txt\ncase "$1" in\n  -l) [ -f "$T" ] && cat "$T" || { echo "no crontab for root" >&2; exit 1; } ;;\n  -) cat > "$T" ;;\n  *) exit 2 ;;\nesac\n', { mode: 0o755 });
      const r = await fleet.hostExec(h, `HOME=/root PATH=/root/bin:/usr/bin:/bin ${JSON.stringify(process.execPath)} ${JSON.stringify(HOST_ORCH)} cron install /srv/orch/app.yml --every 15m`);
      expect(r.code, r.stderr).toBe(0);
      const table = readFileSync(join(h.dir, 'root/crontab.txt'), 'utf8').split('\n');
      const job = table[table.indexOf('# orch:/srv/orch/app.yml') + 1]!;
      expect(job).toMatch(/^\d+-59\/15 \* \* \* \* |^\*\/15 \* \* \* \* /);
      jobs.set(h.name, job.replace(/^(\S+ ){5}/, ''));
    }
  }, 120_000);

  afterAll(async () => {
    removeHostOrch();
    await store?.teardown();
    await fleet?.teardown();
  });

  it('publishing a signed release is the deployment: every host picks it up on its next cron run; then nothing to do', async () => {
    expect((await publish('1.0.0', '--sign', key)).code).toBe(0);
    for (const r of await runCron()) expect(r.code, `${r.host}: ${r.stderr}${r.stdout}`).toBe(2);
    for (const h of fleet.hosts) expect(current(h)).toBe('versions/1.0.0');
    for (const r of await runCron()) expect(r.code, `${r.host}: ${r.stderr}${r.stdout}`).toBe(0);

    expect((await publish('1.1.0', '--sign', key)).code).toBe(0);
    for (const r of await runCron()) expect(r.code, `${r.host}: ${r.stderr}${r.stdout}`).toBe(2);
    for (const h of fleet.hosts) {
      expect(current(h)).toBe('versions/1.1.0');
      expect(readFileSync(join(h.dir, 'srv/app/current/hello.txt'), 'utf8')).toBe('hello 1.1.0\n');
      const log = readFileSync(join(h.dir, 'root/.orch/converge-app.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { exit: number });
      expect(log.map((l) => l.exit)).toEqual([2, 0, 2]);
    }
  }, 180_000);

  it.each([
    ['unsigned', async () => {
      expect((await publish('1.2.0')).code).toBe(0);
      execFileSync('rm', ['-f', join(store.root, 'app/stable.json.sig')]);
    }, 'unsigned channel refused'],
    ['signed by a key not in allowed_signers', async () => {
      expect((await publish('1.2.0', '--sign', wrongKey)).code).toBe(0);
    }, 'signature refused: not made by a key in /srv/orch/allowed_signers'],
    ['tampered after signing', async () => {
      expect((await publish('1.2.0', '--sign', key)).code).toBe(0);
      const f = join(store.root, 'app/stable.json');
      // Any change to the signed bytes (here: the publication time) breaks the signature.
      const m = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
      writeFileSync(f, `${JSON.stringify({ ...m, published_at: new Date(0).toISOString() })}\n`);
    }, 'signature refused: the manifest does not match its signature by ci@example.com'],
  ])('a release that is %s is refused by every host: exit 1, current unchanged', async (_what, spoil, message) => {
    await spoil();
    for (const r of await runCron()) {
      expect(r.code, `${r.host}: ${r.stderr}${r.stdout}`).toBe(1);
      expect(r.stderr).toContain(message);
    }
    for (const h of fleet.hosts) {
      expect(current(h)).toBe('versions/1.1.0');
      expect(existsSync(join(h.dir, 'srv/app/versions/1.2.0'))).toBe(false);
    }
  }, 180_000);

  it('a properly signed release goes out on the next run, and orch query audits the fleet from the control machine', async () => {
    expect((await publish('1.2.0', '--sign', key)).code).toBe(0);
    for (const r of await runCron()) expect(r.code, `${r.host}: ${r.stderr}${r.stdout}`).toBe(2);
    writeFileSync(join(work, 'fleet.yml'), fleet.inventoryYaml());
    const q = await orch(['query', '-i', join(work, 'fleet.yml'), '--json'], env);
    expect(q.code, q.stderr).toBe(0);
    const rows = JSON.parse(q.stdout) as { host: string; app: string; current: string; versions: string[] }[];
    expect(rows.map((r) => `${r.host} ${r.app} ${r.current} ${r.versions.join(',')}`)).toEqual(['h1 app 1.2.0 1.1.0,1.2.0', 'h2 app 1.2.0 1.1.0,1.2.0', 'h3 app 1.2.0 1.1.0,1.2.0']);
  }, 180_000);

  /** Every host's cron run: exit code and a message in stderr; current release afterwards. */
  const expectRun = async (code: number, message: string | undefined, version: string, extra = '') => {
    for (const r of await runCron(extra)) {
      expect(r.code, `${r.host}: ${r.stderr}${r.stdout}`).toBe(code);
      if (message !== undefined) expect(r.stderr).toContain(message);
    }
    for (const h of fleet.hosts) expect(current(h)).toBe(`versions/${version}`);
  };
  const ch = (name: string) => join(store.root, `app/${name}`);
  const copyChannel = (from: string, to: string) => {
    for (const x of ['.json', '.json.sig']) writeFileSync(ch(`${to}${x}`), readFileSync(join(store.root, `${from}${x}`)));
  };

  it('a signed beta manifest copied over stable (channel swap) and another package\'s signed manifest (package swap) are refused by every host', async () => {
    expect((await orch(['publish', tarballs['1.3.0']!, '--to', store.baseUrl, '--channel', 'beta', '--sign', key], env)).code).toBe(0);
    const saved = { m: readFileSync(ch('stable.json')), sig: readFileSync(ch('stable.json.sig')) };
    copyChannel('app/beta', 'stable');
    await expectRun(1, 'channel mismatch refused: the signed manifest is for channel beta, but it was read as channel stable', '1.2.0');
    expect(existsSync(join(fleet.hosts[0]!.dir, 'srv/app/versions/1.3.0'))).toBe(false);

    const a = await orch(['publish', tarballs.admin!, '--to', store.baseUrl, '--channel', 'stable', '--sign', key], env);
    expect(a.code, a.stderr).toBe(0);
    copyChannel('admin/stable', 'stable');
    await expectRun(1, 'package mismatch refused: the signed manifest names package admin, but the channel is <store>/app/<channel>.json', '1.2.0');
    writeFileSync(ch('stable.json'), saved.m);
    writeFileSync(ch('stable.json.sig'), saved.sig);
    await expectRun(0, undefined, '1.2.0');
  }, 180_000);

  it('an expired manifest (freeze) is refused by every host', async () => {
    const saved = { m: readFileSync(ch('stable.json')), sig: readFileSync(ch('stable.json.sig')) };
    expect((await publish('1.3.0', '--sign', key, '--expires', '1ms')).code).toBe(0);
    await expectRun(1, 'expired manifest refused: app 1.3.0 expired at', '1.2.0');
    writeFileSync(ch('stable.json'), saved.m);
    writeFileSync(ch('stable.json.sig'), saved.sig);
  }, 120_000);

  it('a replayed older signed manifest (downgrade) is refused by each host; --allow-downgrade or a pinned version goes back on purpose', async () => {
    const old = { m: readFileSync(ch('stable.json')), sig: readFileSync(ch('stable.json.sig')) };
    const replay = () => {
      writeFileSync(ch('stable.json'), old.m);
      writeFileSync(ch('stable.json.sig'), old.sig);
    };
    expect((await publish('1.3.0', '--sign', key)).code).toBe(0);
    await expectRun(2, undefined, '1.3.0');
    replay();
    await expectRun(1, 'downgrade refused: the manifest names app 1.2.0 published', '1.3.0');
    await expectRun(2, undefined, '1.2.0', '--allow-downgrade ');
    // Each host's own cache keeps the newest it accepted: going back did not lower it.
    await expectRun(1, 'downgrade refused', '1.2.0');

    expect((await publish('1.3.0', '--sign', key)).code).toBe(0);
    await expectRun(2, undefined, '1.3.0');
    replay();
    await expectRun(1, 'downgrade refused', '1.3.0');
    for (const h of fleet.hosts) {
      const f = join(h.dir, 'srv/orch/app.yml');
      writeFileSync(f, readFileSync(f, 'utf8').replace('fetch: host }', 'fetch: host, pin: 1.2.0 }'));
    }
    await expectRun(2, undefined, '1.2.0');
  }, 300_000);
});
