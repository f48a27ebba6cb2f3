import { mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { checkPlanSyntax } from '../../../src/engine/check.js';
import type { Plan } from '../../../src/steps/plan.js';

/** A plan of one phase whose step `s` has `scripts` (host -> script). */
function planOf(scripts: Record<string, string>): Plan {
  const tasks = Object.fromEntries(Object.entries(scripts).map(([h, script]) => [h, { script }]));
  return { phases: [{ node: 'app', steps: [{ at: 'pb.yml:3:7', name: 's', tasks }] }] } as unknown as Plan;
}


describe('checkPlanSyntax (bash -n on the control machine)', () => {
  it('passes good scripts and names the host and line of a bad one; leaves no file with the scripts behind', async () => {
    // A temp folder of this test's own: whatever the check leaves there is its.
    const tmp = mkdtempSync(join(tmpdir(), 'orch-check-test-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    const big = Array.from({ length: 3000 }, (_, i) => `echo line${i} 'TOPSECRET-value'`).join('\n');
    expect(await checkPlanSyntax(planOf({ h1: big, h2: 'true' }))).toEqual([]);
    const problems = await checkPlanSyntax(planOf({ h1: big, h2: 'echo ok\nif then fi\n' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ at: 'pb.yml:3:7', node: 'app', step: 's', hosts: ['h2'] });
    expect(problems[0]!.message).toMatch(/^script line 2: syntax error near unexpected token `then'/);
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('lists every host of a bad script per step, in order, also past a step\'s first 8 distinct scripts', async () => {
    const bad = 'if then fi\n';
    // Step a: 12 distinct good scripts first (the per-step shortlist holds 8), then the bad one on 3 hosts.
    const a: Record<string, { script: string }> = {};
    for (let i = 0; i < 12; i++) a[`g${i}`] = { script: `echo ${i}\n` };
    for (const h of ['b1', 'b2', 'b3']) a[h] = { script: bad };
    a.g99 = { script: 'echo 0\n' };
    // Step b: the same bad script on 2 hosts, shared with a good one.
    const b = { b1: { script: bad }, ok: { script: 'true' }, b4: { script: bad } };
    const plan = { phases: [{ node: '', steps: [{ at: 'pb.yml:3:7', name: 'a', tasks: a }, { at: 'pb.yml:4:7', name: 'b', tasks: b }] }] } as unknown as Plan;
    const problems = await checkPlanSyntax(plan);
    expect(problems.map((p) => ({ at: p.at, node: p.node, step: p.step, hosts: p.hosts }))).toEqual([
      { at: 'pb.yml:3:7', node: '(root)', step: 'a', hosts: ['b1', 'b2', 'b3'] },
      { at: 'pb.yml:4:7', node: '(root)', step: 'b', hosts: ['b1', 'b4'] },
    ]);
  });
});
