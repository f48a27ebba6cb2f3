/**
 * Fleet-wide revocation (src/store/revoke.ts) on 3 sshd test hosts: h1 and h2 take a
 * release from a signed channel pushed by `orch apply` (`serial: [1, "100%"]`,
 * `bake: 5s`); h3 pulls the same channel with its own `orch converge`, run inside the
 * host. A release that turns unhealthy 3 s after start fails the canary's bake on h1;
 * apply (with `--revoke-key`) appends it to the channel's signed revocation list, whose
 * signature OpenSSH's `ssh-keygen -Y verify` accepts. Then: plan refuses the channel, the
 * pull-mode host's converge does not install the release, and h2, switched to it by
 * hand, goes back to its last good release at its next converge. Run `npm run build` first.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';
import { hostVisibleOrch } from './host-orch.js';

// A CI clone under /tmp is invisible inside the hosts: their converge runs a copy (./host-orch.ts).
const [HOST_ORCH, removeHostOrch] = hostVisibleOrch();

const APP = new URL('../fixtures/apps/health-app/app.py', import.meta.url).pathname;

describe.skipIf(!canRunFleet())('revocation: a release failing the canary is revoked for every host and run', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let key: string;
  let shared: string; // under /var/tmp: the store, seen by the control machine and every host
  let channel: string;
  let pb: string;
  const sha: Record<string, string> = {};
  const tarball: Record<string, string> = {};
  const host = (n: string): TestHost => fleet.hosts.find((h) => h.name === n)!;
  const current = (h: TestHost, root: string): string | undefined => (existsSync(join(h.dir, root, 'current')) ? readlinkSync(join(h.dir, root, 'current')) : undefined);
  const pull = (h: TestHost) => fleet.hostExec(h, `cd /root && env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin ${JSON.stringify(process.execPath)} ${JSON.stringify(HOST_ORCH)} converge /srv/orch/app.yml --detailed-exitcodes; echo "exit=$?"`);

  beforeAll(async () => {
    fleet = await startFleet({ count: 3 });
    ({ dir: work, env } = makeWork('revoke'));
    shared = mkdtempSync('/var/tmp/orch-revoke-');
    key = join(work, 'release_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', key]);
    const [type, b64] = readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
    const signers = `ci@example.com namespaces="orch-release" ${type} ${b64}\n`;
    writeFileSync(join(work, 'allowed_signers'), signers);
    for (const [v, sick] of [['1.0.0', undefined], ['2.0.0', 3]] as const) {
      const src = join(work, v, 'web');
      mkdirSync(src, { recursive: true });
      copyFileSync(APP, join(src, 'app.py'));
      writeFileSync(join(src, 'VERSION'), `${v}\n`);
      if (sick !== undefined) writeFileSync(join(src, 'UNHEALTHY_AFTER'), `${sick}\n`);
      const r = await orch(['bundle', src, '--out', join(work, 'dist'), '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      ({ path: tarball[v], sha256: sha[v] } = JSON.parse(r.stdout) as { path: string; sha256: string });
    }
    channel = join(shared, 'store', 'web', 'stable.json');
    const inv = fleet.inventoryYaml({ roles: { web: ['h1', 'h2'] } });
    writeFileSync(join(work, 'inventory.yml'), inv);
    pb = join(work, 'playbook.yml');
    // h3 is a pull-mode host: its own playbook, inventory "self", and the same channel.
    const cfg = join(host('h3').dir, 'srv/orch');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, 'allowed_signers'), signers);
    writeFileSync(join(cfg, 'inventory.yml'), 'hosts:\n  self: { transport: local }\n');
    writeFileSync(join(cfg, 'app.yml'), `inventory: inventory.yml
vars: { app: pulled, root: /srv/pulled }
bundles:
  web: { channel: ${JSON.stringify(channel)}, allowed_signers: /srv/orch/allowed_signers, fetch: control }
steps:
  - install: { bundle: web }
  - symlink: {}
`);
  }, 120_000);

  afterAll(async () => {
    removeHostOrch();
    for (const h of fleet?.hosts ?? []) await fleet.hostExec(h, 'p=$(cat /srv/web/shared/pids/web.pid 2>/dev/null) && kill -KILL -- "-$p"; true').catch(() => undefined);
    await fleet?.teardown();
    if (shared) rmSync(shared, { recursive: true, force: true });
  });

  const publish = async (v: string): Promise<void> => {
    const r = await orch(['publish', tarball[v]!, '--to', join(shared, 'store'), '--channel', 'stable', '--sign', key], env);
    expect(r.code, r.stderr).toBe(0);
  };

  it('a release failing the canary\'s bake is revoked by apply; the signed list verifies with ssh-keygen; plan refuses it', async () => {
    writeFileSync(pb, `inventory: inventory.yml
vars: { app: web, root: /srv/web }
bundles:
  web: { channel: ${JSON.stringify(channel)}, allowed_signers: ${JSON.stringify(join(work, 'allowed_signers'))}, fetch: control }
nodes:
  web:
    roles: { host: web }
    serial: [1, "100%"]
    bake: 5s
    steps:
      - install: { bundle: web }
      - symlink: {}
      - service: { name: web, manager: daemon, command: "exec python3 app.py 8000", startsecs: 0.3 }
      - healthcheck: { http: "http://127.0.0.1:8000/health", retries: 2, interval: 500ms }
`);
    await publish('1.0.0');
    const first = await orch(['apply', pb, '--yes'], env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const pulled = await pull(host('h3'));
    expect(pulled.stdout, pulled.stderr).toMatch(/exit=2/);
    expect(current(host('h3'), 'srv/pulled')).toBe('versions/1.0.0');

    await publish('2.0.0');
    const r = await orch(['apply', pb, '--yes', '--revoke-key', key], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`orch: revoked web 2\\.0\\.0 \\(sha256 ${sha['2.0.0']}\\) in .*/stable\\.revoked: healthcheck failed on h1`));
    expect(current(host('h1'), 'srv/web')).toBe('versions/1.0.0');
    expect(current(host('h2'), 'srv/web')).toBe('versions/1.0.0');
    const list = join(shared, 'store', 'web', 'stable.revoked');
    const parsed = JSON.parse(readFileSync(list, 'utf8')) as { channel: string; package: string; revoked: { sha256: string; version: string }[] };
    expect(parsed).toMatchObject({ channel: 'stable', package: 'web', revoked: [{ sha256: sha['2.0.0'], version: '2.0.0' }] });
    // OpenSSH itself accepts the signature (namespace orch-release, the channel's key).
    execFileSync('ssh-keygen', ['-Y', 'verify', '-f', join(work, 'allowed_signers'), '-I', 'ci@example.com', '-n', 'orch-release', '-s', `${list}.sig`], { input: readFileSync(list) });
    const plan = await orch(['plan', pb], env);
    expect(plan.code).toBe(1);
    expect(plan.stdout + plan.stderr).toMatch(/revoked release refused: web 2\.0\.0 \(sha256 [0-9a-f]{64}\) was revoked at .* \(healthcheck failed on h1\)/);
  }, 300_000);

  it('a pull-mode host converging from the channel does not install the revoked release', async () => {
    const r = await pull(host('h3'));
    expect(r.stdout, r.stderr).toMatch(/exit=0/);
    expect(current(host('h3'), 'srv/pulled')).toBe('versions/1.0.0');
    expect(existsSync(join(host('h3').dir, 'srv/pulled/versions/2.0.0'))).toBe(false);
  }, 120_000);

  it('a host switched to the revoked release by hand rolls back at its next converge; the others are left alone', async () => {
    const h2 = host('h2');
    // By hand: current -> the staged 2.0.0, and state.json says so.
    await fleet.hostExec(h2, `cd /srv/web && ln -sfn versions/2.0.0 current.new && mv -T current.new current && python3 -c "
import json; p='.orch/state.json'; s=json.load(open(p)); s['current']='2.0.0'; json.dump(s, open(p, 'w'))"`);
    expect(current(h2, 'srv/web')).toBe('versions/2.0.0');
    const r = await orch(['converge', pb, '--detailed-exitcodes'], env);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toMatch(/web 2\.0\.0 \(sha256 [0-9a-f]{64}\) is revoked \(healthcheck failed on h1\): not installed; hosts running it roll back/);
    expect(current(h2, 'srv/web')).toBe('versions/1.0.0');
    expect(current(host('h1'), 'srv/web')).toBe('versions/1.0.0');
    const again = await orch(['converge', pb, '--detailed-exitcodes'], env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    // orch rollback still plans, but never goes back to a revoked release.
    const back = await orch(['rollback', pb, '--to', '2.0.0', '--yes'], env);
    expect(back.code).toBe(1);
    expect(back.stderr).toMatch(/rollback refused: web 2\.0\.0 is revoked in its channel \(healthcheck failed on h1\); pick another --to VERSION/);
  }, 180_000);
});
