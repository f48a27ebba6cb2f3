/**
 * A `run` step guarded by `unless` plans exactly (local transport, real bash): the plan
 * runs `unless` once, as a read-only probe in the facts round trip, so a converged host
 * gives `plan --detailed-exitcodes` exit 0 (a drift gate in CI), and a host where
 * `unless` fails plans the step as a change (exit 2).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeWork, orch } from './cli.js';

describe('run with unless: an exact plan', () => {
  let work: string;
  let env: Record<string, string>;
  let pb: string;

  beforeAll(() => {
    ({ dir: work, env } = makeWork('unless'));
    writeFileSync(join(work, 'inventory.yml'), 'hosts:\n  l1: { transport: local }\n');
    pb = join(work, 'playbook.yml');
    // The unless check counts its own runs, so the test sees how often the plan ran it.
    writeFileSync(pb, `
inventory: inventory.yml
steps:
  - run:
      cmd: "echo configured > ${work}/done"
      unless: "echo probe >> ${work}/unless-runs; grep -qx configured ${work}/done"
`);
  });

  const runs = (): number => (existsSync(join(work, 'unless-runs')) ? readFileSync(join(work, 'unless-runs'), 'utf8').split('\n').filter(Boolean).length : 0);

  it('before the first apply: the step will change (exit 2); unless ran once', async () => {
    const p = await orch(['plan', pb, '--detailed-exitcodes'], env);
    expect(p.code, p.stdout + p.stderr).toBe(2);
    expect(p.stdout).toContain(`  ~ run echo configured > ${work}/done  will change\n`);
    expect(p.stdout).toContain('Plan: 1 host, 1 step to change.');
    expect(runs()).toBe(1);
  });

  it('after apply the host is converged: plan --detailed-exitcodes exits 0, the step planned skipped', async () => {
    const a = await orch(['apply', pb, '--yes'], env);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(readFileSync(join(work, 'done'), 'utf8')).toBe('configured\n');
    const before = runs();
    const p = await orch(['plan', pb, '--detailed-exitcodes'], env);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    expect(p.stdout).toContain(`  - run echo configured > ${work}/done  skipped\n`);
    expect(p.stdout).toContain('Plan: 1 host, 0 steps to change.');
    expect(runs() - before, 'one probe in the facts round trip').toBe(1);
    // An apply on the converged host changes nothing.
    const again = await orch(['apply', pb, '--yes', '--detailed-exitcodes'], env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });
});
