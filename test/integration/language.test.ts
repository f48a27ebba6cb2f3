/**
 * Issue 17 through the CLI: durations with units (playbook and flags) and `run` steps
 * whose `changed_when` / `failed_when` decide what they report — on the local transport
 * and on a real sshd host (test/harness/fleet.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { makeWork, orch, summaryOf } from './cli.js';

/** step-end events of a `--json` run: `name -> status`. */
function stepStatuses(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of stdout.trim().split('\n')) {
    const e = JSON.parse(l) as { type: string; name?: string; host?: string; status?: string };
    if (e.type === 'step-end') out[`${e.host}: ${e.name}`] = e.status!;
  }
  return out;
}

/**
 * A playbook whose only non-idempotent step is `date >> log` with `changed_when: false`,
 * plus a migration-like command that exits 2 when it applied something (once), 0 after.
 */
const PLAYBOOK = (dir: string): string => `
inventory: inventory.yml
steps:
  - put: { dest: "${dir}/conf", content: "x\\n" }
  - run: { cmd: "date >> ${dir}/log", changed_when: false }
    name: log
  - run: { cmd: "test -e ${dir}/migrated && exit 0; touch ${dir}/migrated; echo Applied; exit 2", changed_when: { exit: [2] } }
    name: migrate
  - healthcheck: { cmd: "test -e ${dir}/migrated", interval: 500ms, timeout: 2s, rollback: false }
    name: health
`;

describe('local transport', () => {
  let work: string;
  let env: Record<string, string>;
  let pb: string;
  let out: string;

  beforeEach(() => {
    ({ dir: work, env } = makeWork('lang'));
    out = join(work, 'out');
    mkdirSync(out);
    writeFileSync(join(work, 'inventory.yml'), 'hosts:\n  l1: { transport: local }\n');
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, PLAYBOOK(out));
  });

  it('converges: changed (exit 2) on the first run, exit 0 on the second although the logging step ran', async () => {
    const plan = await orch(['plan', pb], env);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/\? log {2}may change/);
    expect(plan.stdout).toMatch(/\? migrate {2}may change/);

    const first = await orch(['converge', pb], env);
    expect(first.code, first.stderr + first.stdout).toBe(2);
    expect(first.stdout).toContain('l1: log: ok');
    expect(first.stdout).toContain('l1: migrate: changed');
    const second = await orch(['converge', pb], env);
    expect(second.code, second.stderr + second.stdout).toBe(0);
    // it did run both times
    expect(readFileSync(join(out, 'log'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('changed_when: {exit: [2]} reports changed only when the command exits 2 (JSON and summary)', async () => {
    const first = await orch(['apply', pb, '--json', '--detailed-exitcodes'], env);
    expect(first.code, first.stderr).toBe(2);
    expect(stepStatuses(first.stdout)).toEqual({ [`l1: put ${join(out, 'conf')}`]: 'changed', 'l1: log': 'ok', 'l1: migrate': 'changed', 'l1: health': 'ok' });
    expect(summaryOf(first.stdout).hosts[0]!.changedSteps).toEqual([`(root): put ${join(out, 'conf')}`, '(root): migrate']);
    const second = await orch(['apply', pb, '--json', '--detailed-exitcodes'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(stepStatuses(second.stdout)).toMatchObject({ 'l1: log': 'ok', 'l1: migrate': 'ok' });
    expect(summaryOf(second.stdout).hosts[0]).toMatchObject({ status: 'ok', changedSteps: [] });
  });

  it('another exit code fails the host (exit 4) and says why', async () => {
    writeFileSync(pb, `inventory: inventory.yml\nsteps:\n  - run: { cmd: "echo partial; exit 3", changed_when: { exit: [2] } }\n    name: migrate\n`);
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout).toBe(4);
    expect(r.stdout).toContain('l1: migrate: failed');
    expect(r.stdout).toContain('exit code not one of 0, 2 (changed_when exit codes) (exit 3)');
  });

  it('failed_when: {stdout_contains} fails a command that exits 0', async () => {
    writeFileSync(pb, `inventory: inventory.yml\nsteps:\n  - run: { cmd: "echo ERROR: no table", failed_when: { stdout_contains: "ERROR" } }\n    name: check\n`);
    const r = await orch(['apply', pb, '--json'], env);
    expect(r.code).toBe(4);
    expect(stepStatuses(r.stdout)).toEqual({ 'l1: check': 'failed' });
  });

  it('node actions take changed_when too (orch run --detailed-exitcodes)', async () => {
    writeFileSync(pb, `inventory: inventory.yml\nactions:\n  migrate:\n    - run: { cmd: "echo {{msg}}", changed_when: { stdout_contains: Applied } }\n      name: migrate\n`);
    const applied = await orch(['run', pb, 'migrate', '-e', 'msg=Applied 2', '--detailed-exitcodes'], env);
    expect(applied.code, applied.stderr).toBe(2);
    expect(applied.stdout).toContain('l1: migrate: changed');
    const nothing = await orch(['run', pb, 'migrate', '-e', 'msg=No migrations to apply', '--detailed-exitcodes'], env);
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stdout).toContain('l1: migrate: ok');
  });

  it('refuses "2 sec" in the playbook at file:line:col, and in flags, running nothing', async () => {
    const text = PLAYBOOK(out).replace('interval: 500ms', 'interval: 2 sec');
    writeFileSync(pb, text);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('interval:'));
    const col = lines[line]!.indexOf('interval:') + 1;
    expect(line + 1).toBe(9);
    const r = await orch(['apply', pb], env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${pb}:9:${col}: steps[3].healthcheck.interval: "2 sec": expected a number of seconds or 500ms / 2s / 1m / 1h`);
    expect(existsSync(join(out, 'conf'))).toBe(false);
    writeFileSync(pb, PLAYBOOK(out));
    for (const flag of ['--lock-wait', '--timeout']) {
      const f = await orch(['apply', pb, flag, '2 sec'], env);
      expect({ code: f.code, stderr: f.stderr.trim() }).toEqual({ code: 1, stderr: `<command line>:1:1: ${flag}: "2 sec": expected a number of seconds or 500ms / 2s / 1m / 1h` });
    }
    const s = await orch(['converge', pb, '--splay', '1d'], env);
    expect({ code: s.code, stderr: s.stderr.trim() }).toEqual({ code: 1, stderr: '<command line>:1:1: --splay: "1d": expected a number of seconds or 500ms / 2s / 1m / 1h' });
    expect(existsSync(join(out, 'conf'))).toBe(false);
  });

  it('--lock-wait 1m waits for a held host lock; --timeout 500ms stops a slow step', async () => {
    mkdirSync(join(env.HOME!, '.orch'), { recursive: true });
    const holder = spawn('flock', [join(env.HOME!, '.orch', 'lock'), 'sleep', '2'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const busy = await orch(['apply', pb], env);
      expect(busy.code).toBe(4);
      expect(busy.stdout).toContain('locked by');
      const waited = await orch(['apply', pb, '--lock-wait', '1m'], env);
      expect(waited.code, waited.stdout + waited.stderr).toBe(0);
    } finally {
      holder.kill();
    }
    writeFileSync(pb, 'inventory: inventory.yml\nsteps:\n  - run: { cmd: "sleep 5" }\n');
    const slow = await orch(['apply', pb, '--timeout', '500ms'], env);
    expect(slow.code).toBe(4);
    expect(slow.ms).toBeLessThan(4500);
  });
});

describe.skipIf(!canRunFleet())('over SSH (1 sshd host)', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let pb: string;

  beforeAll(async () => {
    fleet = await startFleet({ count: 1 });
    ({ dir: work, env } = makeWork('lang-ssh'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, PLAYBOOK('/srv/lang'));
    const mk = await fleet.hostExec(fleet.hosts[0]!, 'mkdir -p /srv/lang');
    expect(mk.code).toBe(0);
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  it('changed_when decides on the host: exit 2 = changed once, then converge exits 0; failed_when fails it', async () => {
    const first = await orch(['apply', pb, '--json', '--detailed-exitcodes', '--lock-wait', '1m'], env);
    expect(first.code, first.stderr).toBe(2);
    expect(stepStatuses(first.stdout)).toMatchObject({ 'h1: log': 'ok', 'h1: migrate': 'changed', 'h1: health': 'ok' });
    const second = await orch(['converge', pb], env);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    const log = await fleet.hostExec(fleet.hosts[0]!, 'wc -l < /srv/lang/log');
    expect(log.stdout.trim()).toBe('2');

    writeFileSync(pb, 'inventory: inventory.yml\nsteps:\n  - run: { cmd: "echo ERROR; exit 0", failed_when: { stdout_contains: ERROR } }\n    name: check\n');
    const failed = await orch(['apply', pb, '--json'], env);
    expect(failed.code).toBe(4);
    expect(stepStatuses(failed.stdout)).toEqual({ 'h1: check': 'failed' });
  });
});
