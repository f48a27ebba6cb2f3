/**
 * Releases with a real app (test/fixtures/apps/health-app: python3 http.server with
 * /health) under the `daemon` service manager on 3 sshd test hosts (issue 11): the app's
 * output lands in <root>/shared/log/web.log, `orch logs` shows each host's last lines
 * prefixed by host, a restart leaves exactly one app process, and a release failing its
 * healthcheck on one host puts that host back on the old release, serving, exit 4.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

const APP = new URL('../fixtures/apps/health-app/app.py', import.meta.url).pathname;

describe.skipIf(!canRunFleet())('releases with a real app under the daemon manager', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let pb: string;
  const onHost = (h: TestHost, p: string): string => join(h.dir, p);
  const hostNamed = (n: string): TestHost => fleet.hosts.find((h) => h.name === n)!;
  const writeApp = (version: string, extra: Record<string, string> = {}): void => {
    rmSync(join(work, 'app'), { recursive: true, force: true });
    mkdirSync(join(work, 'app'), { recursive: true });
    copyFileSync(APP, join(work, 'app', 'app.py'));
    writeFileSync(join(work, 'app', 'VERSION'), `${version}\n`);
    for (const [f, t] of Object.entries(extra)) writeFileSync(join(work, 'app', f), t);
  };
  const get = async (h: TestHost, path: string): Promise<string> =>
    (await fleet.hostExec(h, `curl -s -o - -w ' %{http_code}' http://127.0.0.1:8000${path} || true`)).stdout.replace(/\s+/g, ' ').trim();
  /**
   * Pids of app.py processes of this host: the fleet shares one pid namespace, so the
   * host's processes are those in its network namespace.
   */
  const appPids = async (h: TestHost): Promise<string[]> => {
    const script = 'me=$(readlink /proc/self/ns/net); for d in /proc/[0-9]*; do c=$(tr "\\0" " " < "$d/cmdline" 2>/dev/null) || continue; case "$c" in "python3 app.py 8000"*) [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$me" ] && echo "${d#/proc/}";; esac; done; true';
    return (await fleet.hostExec(h, script)).stdout.split('\n').filter(Boolean);
  };

  beforeAll(async () => {
    fleet = await startFleet({ count: 3 });
    ({ dir: work, env } = makeWork('releases'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: web, root: /srv/web }
bundles:
  web: { source: app }
steps:
  - install: { bundle: web }
  - symlink: {}
  - service: { name: web, manager: daemon, command: "exec python3 app.py 8000", startsecs: 0.5 }
  - healthcheck: { http: "http://127.0.0.1:8000/health", retries: 4, interval: 1 }
`);
  }, 60_000);

  afterAll(async () => {
    for (const h of fleet?.hosts ?? []) await fleet.hostExec(h, 'p=$(cat /srv/web/shared/pids/web.pid 2>/dev/null) && kill -KILL -- "-$p"; true').catch(() => undefined);
    await fleet?.teardown();
  });

  it('starts the app on every host; its output is in shared/log/web.log; orch logs prints each host\'s lines', async () => {
    writeApp('1.0.0');
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of fleet.hosts) {
      expect(await get(h, '/')).toBe('hello 1.0.0 hits=1 200');
      const log = readFileSync(onHost(h, 'srv/web/shared/log/web.log'), 'utf8');
      expect(log).toMatch(/serving 1\.0\.0 on 8000 pid \d+/);
      expect(log).toMatch(/"GET \/health HTTP\/1\.1" 200/);
      expect(await appPids(h)).toHaveLength(1);
    }
    const logs = await orch(['logs', pb, '-n', '3'], env);
    expect(logs.code, logs.stderr).toBe(0);
    const lines = logs.stdout.trimEnd().split('\n');
    for (const h of ['h1', 'h2', 'h3']) {
      const mine = lines.filter((l) => l.startsWith(`${h} | `));
      expect(mine).toHaveLength(3);
      expect(mine.at(-1)).toMatch(/"GET \/ HTTP\/1\.1" 200/);
    }
    expect(lines.every((l) => /^h[123] \| /.test(l))).toBe(true);
  }, 180_000);

  it('a new release restarts the app: exactly one app process, serving the new version', async () => {
    writeApp('1.1.0');
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of fleet.hosts) {
      expect(await get(h, '/health')).toBe('ok 1.1.0 200');
      expect(await appPids(h)).toHaveLength(1);
    }
  }, 180_000);

  it('a release failing its healthcheck on one of 3 hosts: that host back on the old release and serving; exit 4, recorded bad', async () => {
    writeApp('1.2.0');
    // Only h2's copy of the release is unhealthy: a host-specific failure.
    writeFileSync(join(work, 'playbook.yml'), readFileSync(pb, 'utf8').replace('  - symlink: {}', '  - run: { cmd: "[ {{host.name}} != h2 ] || touch {{root}}/versions/1.2.0/UNHEALTHY" }\n  - symlink: {}'));
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    const h2 = hostNamed('h2');
    expect(readlinkSync(onHost(h2, 'srv/web/current'))).toBe('versions/1.1.0');
    expect(await get(h2, '/health')).toBe('ok 1.1.0 200');
    expect(await appPids(h2)).toHaveLength(1);
    const state = JSON.parse(readFileSync(onHost(h2, 'srv/web/.orch/state.json'), 'utf8'));
    expect(Object.keys(state.bad ?? {})).toEqual(['1.2.0']);
    for (const n of ['h1', 'h3']) expect(await get(hostNamed(n), '/health')).toBe('ok 1.2.0 200');
    expect(existsSync(onHost(hostNamed('h1'), 'srv/web/versions/1.2.0/UNHEALTHY'))).toBe(false);
  }, 180_000);

  it('re-applying the bad release: exit 4, the reason printed for that host, nothing changes there', async () => {
    const h2 = hostNamed('h2');
    const before = readFileSync(onHost(h2, 'srv/web/.orch/state.json'), 'utf8');
    const plan = await orch(['plan', pb], env);
    expect(plan.code, 'plan exits 4 for a refused host, as apply will').toBe(4);
    // h2's steps are not listed: the whole host is refused (apply fails it).
    const refusedLine = /^h2 [^\n]*\n  ! 1\.2\.0 failed its healthcheck on h2 at \S+; not deployed again; one version is one release: give a new build a new version; apply fails this host\nh3 /m;
    expect(plan.stdout).toMatch(refusedLine);
    const json = JSON.parse((await orch(['plan', pb, '--json'], env)).stdout) as { hosts: { host: string; refused?: string; steps: { status: string }[] }[]; pending: number };
    const pendingOf = (hs: typeof json.hosts): number => hs.flatMap((h) => h.steps).filter((st) => st.status === 'changed' || st.status === 'maybe').length;
    expect(pendingOf(json.hosts.filter((h) => h.host === 'h2')), 'h2 has steps that would change').toBeGreaterThan(0);
    expect(json.pending, "a refused host's steps are not pending").toBe(pendingOf(json.hosts.filter((h) => h.host !== 'h2')));
    expect(json.hosts.map((h) => [h.host, h.refused?.replace(/ at \S+;/, ' at T;')])).toEqual([
      ['h1', undefined], ['h2', '1.2.0 failed its healthcheck on h2 at T; not deployed again; one version is one release: give a new build a new version'], ['h3', undefined],
    ]);
    expect(plan.stdout).not.toMatch(/^h1 [^\n]*\n  !/m);
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout + r.stderr).toMatch(/h2[\s\S]*1\.2\.0 failed its healthcheck on h2 at \d{4}-\d\d-\d\dT[\d:.]+Z; not deployed again/);
    expect(r.stdout).toMatch(refusedLine); // the plan apply shows first says it too
    expect(r.stdout).toMatch(/^ {2}h2 +failed .*1\.2\.0 failed its healthcheck on h2 at \S+; not deployed again/m); // and the summary
    expect(readlinkSync(onHost(h2, 'srv/web/current'))).toBe('versions/1.1.0');
    expect(readFileSync(onHost(h2, 'srv/web/.orch/state.json'), 'utf8')).toBe(before);
  }, 180_000);

  it('a release whose restart fails, serial: 1 over 3 hosts: the first host back on its release and serving, the others never switched, exit 4, recorded bad', async () => {
    writeApp('1.3.0', { BROKEN: 'yes\n' });
    writeFileSync(pb, readFileSync(pb, 'utf8').replace(/  - run: .*\n/, '').replace('steps:\n', 'serial: 1\nsteps:\n'));
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toMatch(/^ {2}aborted: node \(root\): 1 of 1 hosts failed in batch 1, more than max_fail 0; later batches and nodes were not started \(h2, h3: installed, not switched; they keep the release they run\)$/m);
    expect(r.stdout).toMatch(/^ {2}h1 +failed .*service restart web: exit 1: .*cannot start 1\.3\.0: BROKEN; rolled back to 1\.2\.0 \(1\.3\.0 recorded as bad\)/m);
    expect(r.stdout).not.toMatch(/serving 1\.1\.0/); // the failure shows this start's output, not earlier runs'
    const [h1, h2, h3] = ['h1', 'h2', 'h3'].map(hostNamed) as [TestHost, TestHost, TestHost];
    expect(readlinkSync(onHost(h1, 'srv/web/current'))).toBe('versions/1.2.0');
    expect(await get(h1, '/health')).toBe('ok 1.2.0 200');
    expect(await appPids(h1)).toHaveLength(1);
    const st = JSON.parse(readFileSync(onHost(h1, 'srv/web/.orch/state.json'), 'utf8'));
    expect(Object.keys(st.bad)).toEqual(['1.3.0']);
    expect(st.history.at(-1)).toMatchObject({ action: 'bad', version: '1.3.0', reason: 'service' });
    expect(readlinkSync(onHost(h2, 'srv/web/current'))).toBe('versions/1.1.0');
    expect(readlinkSync(onHost(h3, 'srv/web/current'))).toBe('versions/1.2.0');
    // Staged (installed) before the first batch switched, never switched to.
    expect(existsSync(onHost(h3, 'srv/web/versions/1.3.0/.orch-installed'))).toBe(true);
    expect(await get(h3, '/health')).toBe('ok 1.2.0 200');
  }, 180_000);

  it('orch rollback after the automatic rollback skips the bad release and runs the healthcheck; an unhealthy rollback exits 4', async () => {
    const r = await orch(['rollback', pb, '--yes'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // h1: current 1.2.0, previous link = 1.3.0 (bad) -> 1.1.0; h2: 1.1.0 (1.2.0 bad) -> 1.0.0; h3: 1.2.0 -> 1.1.0
    const want: Record<string, string> = { h1: '1.1.0', h2: '1.0.0', h3: '1.1.0' };
    for (const [n, v] of Object.entries(want)) {
      const h = hostNamed(n);
      expect(readlinkSync(onHost(h, 'srv/web/current')), n).toBe(`versions/${v}`);
      expect(await get(h, '/health')).toBe(`ok ${v} 200`);
      expect(await appPids(h)).toHaveLength(1);
    }
    // The plan names each host's target; the healthcheck ran on every host.
    for (const [n, v] of Object.entries(want)) expect(r.stdout).toMatch(new RegExp(`^${n}: rollback current -> ${v.replaceAll('.', '\\.')}: changed$`, 'm'));
    expect(r.stdout.match(/^h[123]: healthcheck http:\/\/127\.0\.0\.1:8000\/health: ok$/gm)).toHaveLength(3);
    // h1's next good release (1.0.0) is unhealthy there: the rollback fails the host and
    // puts it back on the release it ran before (1.1.0), restarted and serving.
    const h1 = hostNamed('h1');
    writeFileSync(onHost(h1, 'srv/web/versions/1.0.0/UNHEALTHY'), '');
    const bad = await orch(['rollback', pb, '--yes', '--limit', 'h1'], env);
    expect(bad.code, bad.stdout + bad.stderr).toBe(4);
    expect(bad.stdout + bad.stderr).toMatch(/h1 +failed .*healthcheck http:\/\/127\.0\.0\.1:8000\/health: exit 3: unhealthy after 5 attempts: HTTP status 500, expected 200; rolled back to 1\.1\.0$/m);
    expect(readlinkSync(onHost(h1, 'srv/web/current'))).toBe('versions/1.1.0');
    expect(await get(h1, '/health')).toBe('ok 1.1.0 200');
    expect(await appPids(h1)).toHaveLength(1);
  }, 180_000);

  it('rollback --to a version recorded bad: the plan says so and the host is refused; with --force it is tried and a failing healthcheck puts the host back', async () => {
    // h2 runs 1.0.0 and records 1.2.0 bad (its copy still has UNHEALTHY).
    const h2 = hostNamed('h2');
    expect(readlinkSync(onHost(h2, 'srv/web/current'))).toBe('versions/1.0.0');
    const before = readFileSync(onHost(h2, 'srv/web/.orch/state.json'), 'utf8');
    const refused = await orch(['rollback', pb, '--to', '1.2.0', '--limit', 'h2', '--yes'], env);
    expect(refused.code, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stdout).toMatch(/^h2 \([^\n]*\n {2}! 1\.2\.0 failed its healthcheck on h2 at \d{4}-\d\d-\d\dT[\d:.]+Z; rollback --to 1\.2\.0 refused \(--force switches to it anyway\); apply fails this host\n\n/m);
    expect(refused.stdout).toMatch(/^ {2}h2 +failed .*1\.2\.0 failed its healthcheck on h2 at \S+; rollback --to 1\.2\.0 refused \(--force switches to it anyway\)$/m);
    expect(readlinkSync(onHost(h2, 'srv/web/current'))).toBe('versions/1.0.0');
    expect(readFileSync(onHost(h2, 'srv/web/.orch/state.json'), 'utf8')).toBe(before);
    // --force without --to is a command-line error.
    const noTo = await orch(['rollback', pb, '--force', '--yes'], env);
    expect(noTo.code).toBe(1);
    expect(noTo.stderr).toContain('--force: goes with --to VERSION (rollback without --to never picks a release recorded bad)');

    const forced = await orch(['rollback', pb, '--to', '1.2.0', '--force', '--limit', 'h2', '--yes'], env);
    expect(forced.code, forced.stdout + forced.stderr).toBe(4);
    // The plan warns, then lists the steps that will run.
    expect(forced.stdout).toMatch(/^h2 \([^\n]*\n {2}! 1\.2\.0 failed its healthcheck on h2 at \S+; rolling back to it anyway \(--force\)\n {2}~ rollback current -> 1\.2\.0 {2}will change\n/m);
    expect(forced.stdout + forced.stderr).toMatch(/h2 +failed .*healthcheck http:\/\/127\.0\.0\.1:8000\/health: exit 3: unhealthy after 5 attempts: HTTP status 500, expected 200; rolled back to 1\.0\.0$/m);
    expect(readlinkSync(onHost(h2, 'srv/web/current'))).toBe('versions/1.0.0');
    expect(await get(h2, '/health')).toBe('ok 1.0.0 200');
    expect(await appPids(h2)).toHaveLength(1);
    const st = JSON.parse(readFileSync(onHost(h2, 'srv/web/.orch/state.json'), 'utf8'));
    expect(st.current).toBe('1.0.0');
    expect(st.history.slice(-2).map((e: { action: string; version: string }) => `${e.action} ${e.version}`)).toEqual(['rollback 1.2.0', 'rollback 1.0.0']);
  }, 180_000);
});
