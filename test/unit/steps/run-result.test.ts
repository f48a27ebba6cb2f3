/**
 * `run` with `changed_when` / `failed_when` (issue 17): the compiled task script run under
 * real bash decides ok / changed / failed from the command's exit code and stdout; and
 * healthcheck durations with units.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import { predictHost } from '../../../src/compile/predict.js';
import { compileYaml } from '../compile/helpers.js';

const INVENTORY = 'hosts:\n  h1: { transport: local }\n';

async function runTask(runYaml: string): Promise<{ script: string; judged: boolean }> {
  const res = await compileYaml({ inventory: INVENTORY, playbook: `inventory: inventory.yml\nsteps:\n  - run: ${runYaml}\n` });
  expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
  const task = res.plan!.phases[0]!.steps[0]!.tasks.h1!;
  return { script: task.script, judged: task.check.kind === 'run' && task.check.judged === true };
}

/** Runs a task script as the segment runner does: `bash FILE PAYLOAD STATE REGISTRY`; returns exit code, status line and the rest. */
function exec(script: string): { code: number | null; status: string | undefined; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', script, 'orch', '0', '', ''], { encoding: 'utf8', input: '' });
  const status = /^::orch:: status=(\w+)$/m.exec(r.stdout)?.[1];
  return { code: r.status, status, stdout: r.stdout.replace(/^::orch:: .*\n/gm, ''), stderr: r.stderr };
}

describe('run: changed_when / failed_when decide on the host', () => {
  it.each<[string, number | null, string | undefined]>([
    // default: 0 = changed, else failed
    ['{ cmd: "true" }', 0, 'changed'],
    ['{ cmd: "exit 3" }', 3, undefined],
    // changed_when: false = never a change; failures still fail
    ['{ cmd: "echo hi", changed_when: false }', 0, 'ok'],
    ['{ cmd: "exit 1", changed_when: false }', 1, undefined],
    ['{ cmd: "true", changed_when: true }', 0, 'changed'],
    // exit codes: Puppet-style detailed codes. 0 = ok, 2 = changed, anything else failed
    ['{ cmd: "exit 0", changed_when: { exit: [2] } }', 0, 'ok'],
    ['{ cmd: "exit 2", changed_when: { exit: [2] } }', 0, 'changed'],
    ['{ cmd: "exit 1", changed_when: { exit: [2] } }', 1, undefined],
    ['{ cmd: "exit 4", changed_when: { exit: 2 } }', 4, undefined],
    ['{ cmd: "exit 0", changed_when: { exit: [0, 2] } }', 0, 'changed'],
    ['{ cmd: "exit 2", changed_when: { exit: [0, 2] } }', 0, 'changed'],
    ['{ cmd: "exit 3", changed_when: { exit: [0, 2] } }', 3, undefined],
    // stdout
    ['{ cmd: "echo Applied 3 migrations", changed_when: { stdout_contains: Applied } }', 0, 'changed'],
    ['{ cmd: "echo nothing to do", changed_when: { stdout_contains: Applied } }', 0, 'ok'],
    ['{ cmd: "echo Applied; exit 1", changed_when: { stdout_contains: Applied } }', 1, undefined],
    ['{ cmd: "echo Applied; exit 2", changed_when: { exit: [2], stdout_contains: Applied } }', 0, 'changed'],
    ['{ cmd: "echo Applied", changed_when: { exit: [2], stdout_contains: Applied } }', 0, 'ok'],
    // failed_when
    ['{ cmd: "exit 5", failed_when: false }', 0, 'changed'],
    ['{ cmd: "exit 5", failed_when: false, changed_when: false }', 0, 'ok'],
    ['{ cmd: "echo ERROR: boom", failed_when: { stdout_contains: "ERROR" } }', 1, undefined],
    ['{ cmd: "echo fine; exit 1", failed_when: { stdout_contains: "ERROR" } }', 0, 'changed'],
    ['{ cmd: "exit 3", failed_when: { exit: [3] } }', 3, undefined],
    ['{ cmd: "exit 4", failed_when: { exit: [3] }, changed_when: { exit: [2] } }', 0, 'ok'],
    ['{ cmd: "true", failed_when: true }', 1, undefined],
  ])('%s -> exit %s, %s', async (yaml, code, status) => {
    const { script, judged } = await runTask(yaml);
    const r = exec(script);
    expect({ code: r.code, status: r.code === 0 ? r.status : undefined }).toEqual({ code, status });
    expect(judged).toBe(/changed_when|failed_when/.test(yaml));
  });

  it('keeps the command running with errexit, passes its stdout through, and says why it failed', async () => {
    const errexit = exec((await runTask('{ cmd: "false; echo after", changed_when: false }')).script);
    expect({ code: errexit.code, stdout: errexit.stdout }).toEqual({ code: 1, stdout: '' });
    const out = exec((await runTask('{ cmd: "echo one; echo two", changed_when: false }')).script);
    expect(out.stdout).toBe('one\ntwo\n');
    const why = exec((await runTask('{ cmd: "echo ERROR here", failed_when: { stdout_contains: ERROR } }')).script);
    expect(why.stderr).toBe('failed_when {"stdout_contains":"ERROR"} holds (exit 0)\n');
    const codes = exec((await runTask('{ cmd: "exit 7", changed_when: { exit: [2, 3] } }')).script);
    expect({ code: codes.code, stderr: codes.stderr }).toEqual({ code: 7, stderr: 'exit code not one of 0, 2, 3 (changed_when exit codes) (exit 7)\n' });
  });

  it('still honours creates and unless first', async () => {
    const r = exec((await runTask('{ cmd: "exit 9", unless: "true", changed_when: { exit: [2] } }')).script);
    expect({ code: r.code, status: r.status }).toEqual({ code: 0, status: 'skipped' });
  });

  it('leaves the plain run script as it was (no result tests)', async () => {
    const { script } = await runTask('{ cmd: "echo hi" }');
    expect(script.split('\n').slice(-2)).toEqual(["orch_run '' '' orch_cmd", '']);
    expect(script).not.toContain('orch_run_judged()');
    const judged = (await runTask('{ cmd: "echo hi", changed_when: { exit: [2], stdout_contains: "it\'s done" } }')).script;
    expect(judged.split('\n').slice(-2)).toEqual([`orch_run '' '' orch_cmd test 2 '=it'\\''s done' not-exit 0,2 '' 'exit code not one of 0, 2 (changed_when exit codes)'`, '']);
  });

  it('is predicted maybe (it must run to know), plain run steps changed', async () => {
    const res = await compileYaml({
      inventory: INVENTORY,
      playbook: 'inventory: inventory.yml\nsteps:\n  - run: { cmd: a, changed_when: false }\n  - run: { cmd: b, changed_when: { exit: [2] } }\n  - run: { cmd: c }\n',
    });
    expect(predictHost(res.plan!, 'h1', new Map()).map((p) => p.status)).toEqual(['maybe', 'maybe', 'changed']);
  });

  it.each<[string, string]>([
    ['changed_when: maybe', 'steps[0].run.changed_when: must be true, false, or a test like { exit: [0, 2] } or { stdout_contains: "Applied" } (keys: exit, stdout_contains)'],
    ['changed_when: { exits: [2] }', 'steps[0].run.changed_when: must be true, false, or a test like { exit: [0, 2] } or { stdout_contains: "Applied" } (keys: exit, stdout_contains)'],
    ['failed_when: { exit: [300] }', 'steps[0].run.failed_when: must be true, false, or a test like { exit: [0, 2] } or { stdout_contains: "Applied" } (keys: exit, stdout_contains)'],
    ['changed_when: {}', 'steps[0].run.changed_when: must be true, false, or a test like { exit: [0, 2] } or { stdout_contains: "Applied" } (keys: exit, stdout_contains)'],
  ])('refuses %s', async (extra, message) => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: `inventory: inventory.yml\nsteps:\n  - run: { cmd: x, ${extra} }\n` });
    expect(res.diagnostics.map((d) => `${d.path}: ${d.message}`)).toEqual([message]);
  });
});

describe('healthcheck durations', () => {
  it.each<[string, string]>([
    ['interval: 500ms, timeout: 2s', 'orch_healthcheck 5 0.5 orch_probe_cmd 2 true'],
    ['interval: 1m, timeout: 1.5', 'orch_healthcheck 5 60 orch_probe_cmd 1.5 true'],
    ['interval: 0.2s', 'orch_healthcheck 5 0.2 orch_probe_cmd 10 true'],
    ['interval: 1h, timeout: 100ms', 'orch_healthcheck 5 3600 orch_probe_cmd 0.1 true'],
  ])('%s', async (keys, call) => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: `inventory: inventory.yml\nsteps:\n  - healthcheck: { cmd: "true", rollback: false, ${keys} }\n` });
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    const script = res.plan!.phases[0]!.steps[0]!.tasks.h1!.script;
    expect(script.split('\n').slice(-2)).toEqual([call, '']);
  });

  it('refuses a timeout under 100ms', async () => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: 'inventory: inventory.yml\nsteps:\n  - healthcheck: { cmd: "true", rollback: false, timeout: 50ms }\n' });
    expect(res.diagnostics.map((d) => `${d.path}: ${d.message}`)).toEqual(['steps[0].healthcheck.timeout: timeout must be at least 100ms (got "50ms")']);
  });
});
