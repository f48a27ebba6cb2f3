/**
 * Release lifecycle on real sshd hosts: prune, query, rollback, healthcheck with
 * rollback and bad-version memory, host locks (incl. a SIGKILLed holder), converge.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch, startOrch, summaryOf } from './cli.js';

const ROOT = '/srv/app';

describe.skipIf(!canRunFleet())('release lifecycle over SSH', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let inv: string;
  const host = (name: string): TestHost => fleet.hosts.find((h) => h.name === name)!;
  const onHost = (name: string, p: string): string => join(host(name).dir, p);

  /** Writes the app at `version`; `healthy` decides whether its healthcheck file exists. */
  const writeApp = (version: string, healthy = true): void => {
    const app = join(work, 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'VERSION'), `${version}\n`);
    writeFileSync(join(app, 'health'), healthy ? 'good\n' : 'bad\n');
  };
  const playbook = (name: string, extraSteps = '', nodeExtra = ''): string => {
    const p = join(work, name);
    writeFileSync(p, `
inventory: inventory.yml
vars: { app: app, root: ${ROOT} }
bundles:
  app: { source: app }
nodes:
  app:
    ${nodeExtra}
    steps:
      - install: { bundle: app }
      - symlink: {}
      - service: { manager: command, command: "echo restart >> {{root}}/restarts" }
${extraSteps}
`);
    return p;
  };

  beforeAll(async () => {
    fleet = await startFleet({ count: 3 });
    ({ dir: work, env } = makeWork('life'));
    inv = join(work, 'inventory.yml');
    writeFileSync(inv, fleet.inventoryYaml());
  }, 60_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('after three deploys and prune keep 2, query lists current, previous and versions; the oldest is gone', async () => {
    const pb = playbook('prune.yml', '      - prune: { keep: 2 }');
    for (const v of ['1.0.0', '2.0.0', '3.0.0']) {
      writeApp(v);
      const r = await orch(['apply', pb, '--json'], env);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const q = await orch(['query', '-i', inv, '--json'], env);
    expect(q.code, q.stderr).toBe(0);
    const rows = JSON.parse(q.stdout);
    expect(rows.map((r: { host: string }) => r.host)).toEqual(['h1', 'h2', 'h3']);
    for (const row of rows) {
      expect(row).toMatchObject({ app: 'app', root: ROOT, current: '3.0.0', previous: '2.0.0', versions: ['2.0.0', '3.0.0'], deployed_by: expect.stringContaining('@') });
      expect(Object.keys(row).sort()).toEqual(['app', 'current', 'deployed_at', 'deployed_by', 'host', 'previous', 'root', 'sha256', 'versions']);
      expect(row.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(existsSync(onHost(row.host, `${ROOT}/versions/1.0.0`))).toBe(false);
      expect(existsSync(onHost(row.host, `${ROOT}/.orch/bundles/${row.sha256}.tar.gz`))).toBe(true);
    }
    const state = JSON.parse(readFileSync(onHost('h1', `${ROOT}/.orch/state.json`), 'utf8'));
    expect(state.history.filter((e: { action: string }) => e.action === 'prune').map((e: { version: string }) => e.version)).toEqual(['1.0.0']);
    const table = await orch(['query', '-i', inv], env);
    expect(table.stdout.split('\n')[0]).toMatch(/^HOST\s+APP\s+CURRENT\s+PREVIOUS\s+VERSIONS\s+DEPLOYED\s+BY$/);
    expect(table.stdout).toMatch(/h2\s+app\s+3\.0\.0\s+2\.0\.0\s+2\.0\.0,3\.0\.0/);
  }, 180_000);

  it('rollback switches every host to the previous version and restarts; --to a version one host lacks is refused', async () => {
    const pb = playbook('plain.yml');
    const before = readFileSync(onHost('h1', `${ROOT}/restarts`), 'utf8').split('\n').length;
    const r = await orch(['rollback', pb, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of ['h1', 'h2', 'h3']) {
      expect(readlinkSync(onHost(h, `${ROOT}/current`))).toBe('versions/2.0.0');
      expect(JSON.parse(readFileSync(onHost(h, `${ROOT}/.orch/state.json`), 'utf8'))).toMatchObject({ current: '2.0.0', previous: '3.0.0' });
    }
    expect(readFileSync(onHost('h1', `${ROOT}/restarts`), 'utf8').split('\n').length).toBe(before + 1);
    // 1.0.0 was pruned everywhere; put it back on h1 and h2 only: h3 lacks it.
    for (const h of ['h1', 'h2']) {
      await fleet.hostExec(host(h), `mkdir -p ${ROOT}/versions/1.0.0 && echo 1.0.0 > ${ROOT}/versions/1.0.0/VERSION && echo ${'b'.repeat(64)} > ${ROOT}/versions/1.0.0/.orch-installed`);
    }
    const refused = await orch(['rollback', pb, '--to', '1.0.0'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('rollback refused: version 1.0.0 is not installed and complete on h3 (/srv/app); nothing was changed');
    for (const h of ['h1', 'h2', 'h3']) expect(readlinkSync(onHost(h, `${ROOT}/current`))).toBe('versions/2.0.0');
    // back to 3.0.0 for the next tests
    expect((await orch(['rollback', pb, '--to', '3.0.0', '--json'], env)).code).toBe(0);
  }, 180_000);

  it('a failing healthcheck rolls back to the previous version, exits 4, records the bad version; converge then skips it', async () => {
    const pb = playbook('health.yml', '      - healthcheck: { cmd: "grep -q good {{root}}/current/health", retries: 1, interval: 0.2 }');
    writeApp('4.0.0', false);
    const r = await orch(['apply', pb, '--json', '--limit', 'h1'], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    const s = summaryOf(r.stdout);
    expect(s.hosts[0]!.error).toMatch(/unhealthy after 2 attempts.*rolled back to 3\.0\.0 \(4\.0\.0 recorded as bad\)/);
    expect(readlinkSync(onHost('h1', `${ROOT}/current`))).toBe('versions/3.0.0');
    const state = JSON.parse(readFileSync(onHost('h1', `${ROOT}/.orch/state.json`), 'utf8'));
    expect(state).toMatchObject({ current: '3.0.0', previous: '4.0.0' });
    expect(Object.keys(state.bad)).toEqual(['4.0.0']);
    const c = await orch(['converge', pb, '--limit', 'h1'], env);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(readlinkSync(onHost('h1', `${ROOT}/current`))).toBe('versions/3.0.0');
    const q = JSON.parse((await orch(['query', '-i', inv, '--json', '--limit', 'h1'], env)).stdout);
    expect(q[0].current).toBe('3.0.0');
  }, 180_000);

  it('converge exits 2 then 0, writes one JSON line per run, and exits 3 while another converge of the same playbook runs', async () => {
    writeApp('5.0.0');
    const pb = playbook('converge.yml');
    const log = join(work, 'converge.log');
    const first = await orch(['converge', pb, '--log', log], env);
    expect(first.code, first.stdout + first.stderr).toBe(2);
    expect(first.stdout).toContain('changed');
    const second = await orch(['converge', pb, '--log', log], env);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toBe('');
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.exit, l.status])).toEqual([[2, 'changed'], [0, 'ok']]);
    expect(lines[0].hosts.map((h: { host: string; changed_steps: string[] }) => [h.host, h.changed_steps.length > 0])).toEqual([['h1', true], ['h2', true], ['h3', true]]);

    const slow = playbook('slow.yml', '      - run: { cmd: "sleep 4" }');
    const a = orch(['converge', slow, '--log', log], env);
    const locks = join(env.XDG_CACHE_HOME!, 'orch', 'locks');
    for (let i = 0; i < 100 && !(existsSync(locks) && readdirSync(locks).some((f) => f.endsWith('.lock'))); i++) await new Promise((r) => setTimeout(r, 100));
    const b = await orch(['converge', slow, '--log', log], env);
    expect(b.code).toBe(3);
    expect((await a).code).toBe(2);
  }, 180_000);

  /** Polls until the host lock on `name` is held (`want` = '1') or free ('0'); returns the last answer. */
  const lockState = async (name: string, want: '0' | '1'): Promise<string> => {
    let got = '';
    for (let i = 0; i < 100 && got !== want; i++) {
      got = (await fleet.hostExec(host(name), 'flock -n /root/.orch/lock true; echo $?')).stdout.trim();
      if (got !== want) await new Promise((r) => setTimeout(r, 150));
    }
    return got;
  };

  it('a second apply against a locked host fails that host naming the holder; --lock-wait waits; a SIGKILLed holder frees the lock', async () => {
    const slow = playbook('locked.yml', '      - run: { cmd: "sleep 5" }');
    const holder = orch(['apply', slow, '--limit', 'h2', '--json'], env);
    expect(await lockState('h2', '1')).toBe('1');
    const second = await orch(['apply', slow, '--limit', 'h2', '--json'], env);
    expect(second.code, second.stdout + second.stderr).toBe(4);
    expect(summaryOf(second.stdout).hosts[0]!.error).toMatch(/locked by .+@.+ pid \d+ since \d{4}-\d\d-\d\dT/);
    const waiting = await orch(['apply', slow, '--limit', 'h2', '--json', '--lock-wait', '30'], env);
    expect(waiting.code, waiting.stdout + waiting.stderr).toBe(0);
    expect((await holder).code).toBe(0);

    // SIGKILL a holder mid-run: the lock must free itself.
    const { child, done } = startOrch(['apply', slow, '--limit', 'h3', '--json'], env);
    expect(await lockState('h3', '1')).toBe('1');
    child.kill('SIGKILL');
    await done;
    expect(await lockState('h3', '0')).toBe('0');
    const after = await orch(['apply', slow, '--limit', 'h3', '--json'], env);
    expect(after.code, after.stdout + after.stderr).toBe(0);
  }, 180_000);
});
