/**
 * Canary stages with bake time on 5 sshd test hosts with a real app
 * (test/fixtures/apps/health-app under the daemon manager): `serial: [1, "50%", "100%"]`
 * runs batches of 1, 2 and 2 (50 % of 5 is 2.5, truncated as ansible-core does), each
 * baked 5 s and then healthchecked again. A release that turns unhealthy 3 s after it
 * starts passes the batch's healthcheck, is caught by the canary's bake, and rolled back
 * there: the other 4 hosts never switch to it.
 */
import { copyFileSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

const APP = new URL('../fixtures/apps/health-app/app.py', import.meta.url).pathname;

interface Entry { action: string; version: string; at: string }
interface Ev { type: string; batch?: number; hosts?: string[]; ms?: number; failed?: string[]; host?: string; name?: string; status?: string; aborted?: string }

describe.skipIf(!canRunFleet())('canary stages: serial [1, "50%", "100%"] with bake 5s over 5 hosts', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let pb: string;
  const onHost = (h: TestHost, p: string): string => join(h.dir, p);
  const history = (h: TestHost): Entry[] => (JSON.parse(readFileSync(onHost(h, 'srv/web/.orch/state.json'), 'utf8')) as { history: Entry[] }).history;
  const writeApp = (version: string, sickAfter?: number): void => {
    rmSync(join(work, 'app'), { recursive: true, force: true });
    mkdirSync(join(work, 'app'), { recursive: true });
    copyFileSync(APP, join(work, 'app', 'app.py'));
    writeFileSync(join(work, 'app', 'VERSION'), `${version}\n`);
    if (sickAfter !== undefined) writeFileSync(join(work, 'app', 'UNHEALTHY_AFTER'), `${sickAfter}\n`);
  };
  const get = async (h: TestHost): Promise<string> =>
    (await fleet.hostExec(h, 'curl -s -o - -w " %{http_code}" http://127.0.0.1:8000/health || true')).stdout.replace(/\s+/g, ' ').trim();
  const events = (stdout: string): Ev[] => stdout.trim().split('\n').map((l) => JSON.parse(l) as Ev);
  const PLAYBOOK = `
inventory: inventory.yml
vars: { app: web, root: /srv/web }
bundles:
  web: { source: app }
serial: [1, "50%", "100%"]
bake: 5s
steps:
  - install: { bundle: web }
  - symlink: {}
  - service: { name: web, manager: daemon, command: "exec python3 app.py 8000", startsecs: 0.3 }
  - healthcheck: { http: "http://127.0.0.1:8000/health", retries: 2, interval: 500ms }
`;

  beforeAll(async () => {
    fleet = await startFleet({ count: 5 });
    ({ dir: work, env } = makeWork('stages'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, PLAYBOOK);
  }, 90_000);

  afterAll(async () => {
    for (const h of fleet?.hosts ?? []) await fleet.hostExec(h, 'p=$(cat /srv/web/shared/pids/web.pid 2>/dev/null) && kill -KILL -- "-$p"; true').catch(() => undefined);
    await fleet?.teardown();
  });

  it('the plan shows the stages and the bake; apply runs batches of 1, 2, 2, each baked 5 s then healthchecked again', async () => {
    writeApp('1.0.0');
    const plan = await orch(['plan', pb], env);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toContain('Node (root) runs in 3 batches (serial), each baked 5s then healthchecked again: 1) h1  2) h2, h3  3) h4, h5');
    const t0 = Date.now();
    const r = await orch(['apply', pb, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const ev = events(r.stdout);
    expect(ev.filter((e) => e.type === 'batch-start').map((e) => e.hosts)).toEqual([['h1'], ['h2', 'h3'], ['h4', 'h5']]);
    expect(ev.filter((e) => e.type === 'bake-start').map((e) => [e.batch, e.hosts, e.ms])).toEqual([[0, ['h1'], 5000], [1, ['h2', 'h3'], 5000], [2, ['h4', 'h5'], 5000]]);
    expect(ev.filter((e) => e.type === 'bake-end').map((e) => e.failed)).toEqual([[], [], []]);
    // Each host's healthcheck ran twice: in its batch, and after the bake.
    for (const h of fleet.hosts) expect(ev.filter((e) => e.type === 'step-end' && e.host === h.name && e.name?.startsWith('healthcheck') && e.status === 'ok'), h.name).toHaveLength(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15_000);
    for (const h of fleet.hosts) expect(await get(h)).toBe('ok 1.0.0 200');
  }, 240_000);

  it('a release that turns unhealthy 3 s after start is caught in the canary\'s bake and rolled back there; 4 hosts never switch', async () => {
    writeApp('2.0.0', 3);
    const r = await orch(['apply', pb, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    const ev = events(r.stdout);
    expect(ev.filter((e) => e.type === 'batch-start').map((e) => e.hosts)).toEqual([['h1']]);
    expect(ev.find((e) => e.type === 'bake-end')).toMatchObject({ batch: 0, hosts: ['h1'], failed: ['h1'] });
    // The batch's own healthcheck passed (the app was young); the one after the bake failed.
    expect(ev.filter((e) => e.type === 'step-end' && e.host === 'h1' && e.name?.startsWith('healthcheck')).map((e) => e.status)).toEqual(['ok', 'failed']);
    const summary = ev.at(-1)!;
    expect(summary.type).toBe('summary');
    expect(summary.aborted).toMatch(/^node \(root\): 1 of 1 hosts failed in batch 1, more than max_fail 0; later batches and nodes were not started \(h2, h3, h4, h5: installed, not switched; they keep the release they run\)$/);
    const [h1, ...rest] = fleet.hosts;
    expect(readlinkSync(onHost(h1!, 'srv/web/current'))).toBe('versions/1.0.0');
    expect(history(h1!).filter((e) => e.version === '2.0.0').map((e) => e.action)).toEqual(['install', 'switch', 'bad']);
    expect(history(h1!).at(-2)).toMatchObject({ action: 'rollback', version: '1.0.0' });
    expect(JSON.parse(readFileSync(onHost(h1!, 'srv/web/.orch/state.json'), 'utf8')).bad).toHaveProperty(['2.0.0']);
    expect(await get(h1!)).toBe('ok 1.0.0 200');
    for (const h of rest) {
      expect(readlinkSync(onHost(h, 'srv/web/current')), h.name).toBe('versions/1.0.0');
      expect(history(h).some((e) => e.action === 'switch' && e.version === '2.0.0'), h.name).toBe(false);
      expect(await get(h)).toBe('ok 1.0.0 200');
    }
  }, 240_000);
});
