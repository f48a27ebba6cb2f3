/**
 * Stage, then switch (issue 11 item 1) on 3 sshd test hosts with a real app
 * (test/fixtures/apps/health-app under the daemon manager): with `serial: 1`, every host
 * uploads and installs first, in parallel; then the batches switch one after the other.
 * Measured from the hosts' state.json history timestamps: every install starts before
 * the first switch, and the first-to-last switch span is shorter than one install
 * (an install's `after:` sleeps 4 s; unstaged, the span would be at least 2 installs).
 * A host whose install fails never switches, nor (max_fail 0) does any other. A node
 * with `rollback: false` keeps a release that fails its healthcheck.
 */
import { copyFileSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

const APP = new URL('../fixtures/apps/health-app/app.py', import.meta.url).pathname;

interface Entry { action: string; version: string; at: string }

describe.skipIf(!canRunFleet())('stage, then switch (serial: 1 over 3 hosts)', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let pb: string;
  const onHost = (h: TestHost, p: string): string => join(h.dir, p);
  const history = (h: TestHost): Entry[] => (JSON.parse(readFileSync(onHost(h, 'srv/web/.orch/state.json'), 'utf8')) as { history: Entry[] }).history;
  const writeApp = (version: string): void => {
    rmSync(join(work, 'app'), { recursive: true, force: true });
    mkdirSync(join(work, 'app'), { recursive: true });
    copyFileSync(APP, join(work, 'app', 'app.py'));
    writeFileSync(join(work, 'app', 'VERSION'), `${version}\n`);
  };
  const get = async (h: TestHost): Promise<string> =>
    (await fleet.hostExec(h, 'curl -s -o - -w " %{http_code}" http://127.0.0.1:8000/health || true')).stdout.replace(/\s+/g, ' ').trim();
  const playbook = (after: string): string => `
inventory: inventory.yml
vars: { app: web, root: /srv/web }
bundles:
  web: { source: app }
serial: 1
steps:
  - install: { bundle: web, after: ${JSON.stringify(after)} }
  - symlink: {}
  - service: { name: web, manager: daemon, command: "exec python3 app.py 8000", startsecs: 0.3 }
  - healthcheck: { http: "http://127.0.0.1:8000/health", retries: 4, interval: 500ms }
`;

  beforeAll(async () => {
    fleet = await startFleet({ count: 3 });
    ({ dir: work, env } = makeWork('stage-switch'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    pb = join(work, 'playbook.yml');
  }, 60_000);

  afterAll(async () => {
    for (const h of fleet?.hosts ?? []) await fleet.hostExec(h, 'p=$(cat /srv/web/shared/pids/web.pid 2>/dev/null) && kill -KILL -- "-$p"; true').catch(() => undefined);
    await fleet?.teardown();
  });

  it('every host installs before the first switch; first to last switch takes less than one install', async () => {
    writeFileSync(pb, playbook('sleep 4')); // ≥ 3 s, with margin on a loaded machine
    writeApp('1.0.0');
    const r = await orch(['apply', pb, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; name?: string; ms?: number; host?: string; status?: string });
    expect(events.filter((e) => e.type === 'stage-start')).toHaveLength(1);
    const installMs = events.filter((e) => e.type === 'step-end' && e.name?.startsWith('install') && e.status === 'changed').map((e) => e.ms!);
    expect(installMs).toHaveLength(3);
    expect(Math.min(...installMs)).toBeGreaterThanOrEqual(4000);
    const at = (action: string): number[] => fleet.hosts.map((h) => Date.parse(history(h).find((e) => e.action === action && e.version === '1.0.0')!.at));
    const installs = at('install');
    const switches = at('switch');
    const span = Math.max(...switches) - Math.min(...switches);
    console.log(`stage-then-switch: install ${Math.min(...installMs)}-${Math.max(...installMs)} ms; installs started within ${Math.max(...installs) - Math.min(...installs)} ms; first to last switch ${span} ms`);
    expect(Math.max(...installs)).toBeLessThan(Math.min(...switches));
    expect(span).toBeLessThan(Math.min(...installMs));
    // Still one batch at a time: h1 switched first, h3 last.
    expect([...switches].sort((a, b) => a - b)).toEqual(switches);
    for (const h of fleet.hosts) expect(await get(h)).toBe('ok 1.0.0 200');
  }, 180_000);

  it('a host whose install fails never switches; with max_fail 0 no host does; exit 4 and the summary says why', async () => {
    writeFileSync(pb, playbook('[ {{host.name}} != h2 ]'));
    writeApp('1.1.0');
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout + r.stderr).toMatch(/1 of 3 hosts failed staging the release \(before any switch\), more than max_fail 0; no host was switched/);
    for (const h of fleet.hosts) {
      expect(readlinkSync(onHost(h, 'srv/web/current')), h.name).toBe('versions/1.0.0');
      expect(await get(h)).toBe('ok 1.0.0 200');
    }
    // The others did stage it: the next apply only switches.
    for (const n of ['h1', 'h3']) expect(history(fleet.hosts.find((h) => h.name === n)!).at(-1)).toMatchObject({ action: 'install', version: '1.1.0' });
  }, 180_000);

  it('a node with rollback: false keeps a release that fails its healthcheck (the host fails, nothing is recorded bad)', async () => {
    writeFileSync(pb, playbook('[ {{host.name}} != h2 ] || touch {{release.dir}}/UNHEALTHY').replace('serial: 1\n', 'rollback: false\n'));
    writeApp('1.2.0');
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout + r.stderr).not.toMatch(/rolled back/);
    const h2 = fleet.hosts.find((h) => h.name === 'h2')!;
    expect(readlinkSync(onHost(h2, 'srv/web/current'))).toBe('versions/1.2.0');
    expect(await get(h2)).toBe('unhealthy 1.2.0 500');
    expect(JSON.parse(readFileSync(onHost(h2, 'srv/web/.orch/state.json'), 'utf8')).bad ?? {}).toEqual({});
    for (const n of ['h1', 'h3']) expect(await get(fleet.hosts.find((h) => h.name === n)!)).toBe('ok 1.2.0 200');
  }, 180_000);

  it('a healthcheck failing on a run that switched nothing fails the host without a rollback (only a switch is undone)', async () => {
    writeFileSync(pb, playbook('true'));
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toMatch(/^ {2}h2 +failed .*healthcheck http:\/\/127\.0\.0\.1:8000\/health: exit 3: unhealthy after 5 attempts: HTTP status 500, expected 200$/m);
    const h2 = fleet.hosts.find((h) => h.name === 'h2')!;
    expect(readlinkSync(onHost(h2, 'srv/web/current'))).toBe('versions/1.2.0');
    expect(JSON.parse(readFileSync(onHost(h2, 'srv/web/.orch/state.json'), 'utf8')).bad ?? {}).toEqual({});
  }, 180_000);
});
