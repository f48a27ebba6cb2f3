/** The plan text of a rolling node (`serial`): its batches listed in order, as apply runs them. */
import { describe, expect, it } from 'vitest';
import type { Plan, PlanStep, Task } from '../../../src/steps/plan.js';
import { formatPlan } from '../../../src/ui/plan-text.js';

const run: Task = { script: '', probes: [], check: { kind: 'run', hasUnless: false } as never };
const names = ['h1', 'h2', 'h3'];
const step = (tasks: Record<string, Task>): PlanStep => ({ index: 0, name: 'restart', kind: 'run', when: 'always', tasks, at: 'pb.yml:1:1' });
const plan = {
  planVersion: 1, bundles: {}, inputs: {} as never, targets: names,
  hosts: Object.fromEntries(names.map((n) => [n, { name: n, address: n, transport: 'ssh', jump: [] }])),
  phases: [
    { node: 'db', hosts: ['h1'], batches: [['h1']], steps: [step({ h1: run })] },
    { node: 'web', hosts: names, batches: [['h1'], ['h2', 'h3']], steps: [step(Object.fromEntries(names.map((n) => [n, run])))] },
  ],
} as unknown as Plan;

describe('formatPlan: serial batches', () => {
  it('lists the batches of a node run in more than one, none for a single batch', () => {
    const p = (phase: number, node: string) => ({ phase, step: 0, node, name: 'restart', status: 'changed' as const });
    const predictions = new Map([['h1', [p(0, 'db'), p(1, 'web')]], ['h2', [p(1, 'web')]], ['h3', [p(1, 'web')]]]);
    expect(formatPlan(plan, predictions, new Map(), false)).toBe([
      'h1 (h1)',
      '  ~ db: restart  will change',
      '  ~ web: restart  will change',
      'h2 (h2)',
      '  ~ web: restart  will change',
      'h3 (h3)',
      '  ~ web: restart  will change',
      '',
      'Node web runs in 2 batches (serial): 1) h1  2) h2, h3',
      'Plan: 3 hosts, 4 steps to change.',
      '',
    ].join('\n'));
  });

  it('prints a step\'s note (the cleanup a switch will do) under its line', () => {
    const predictions = new Map([['h1', [{ phase: 0, step: 0, node: 'db', name: 'restart', status: 'changed' as const, note: 'cleanup: 3 leftovers of an interrupted run' }]]]);
    const single = { ...plan, targets: ['h1'], phases: [plan.phases[0]!] } as Plan;
    expect(formatPlan(single, predictions, new Map(), false).split('\n').slice(0, 3)).toEqual([
      'h1 (h1)',
      '  ~ db: restart  will change',
      '    - cleanup: 3 leftovers of an interrupted run',
    ]);
  });

  it('prints each host\'s own label and status of a step (lines shared by hosts alike are still per host)', () => {
    const labelled = { ...plan, phases: [{ ...plan.phases[1]!, steps: [step({ h1: run, h2: { ...run, label: 'restart h2' }, h3: run })] }] } as Plan;
    const p = (status: 'changed' | 'ok' | 'maybe', name = 'restart') => [{ phase: 0, step: 0, node: 'web', name, status }];
    const predictions = new Map([['h1', p('changed')], ['h2', p('changed', 'restart h2')], ['h3', p('ok')]]);
    expect(formatPlan(labelled, predictions, new Map(), false).split('\n').slice(0, 6)).toEqual([
      'h1 (h1)',
      '  ~ web: restart  will change',
      'h2 (h2)',
      '  ~ web: restart h2  will change',
      'h3 (h3)',
      '    web: restart  ok',
    ]);
  });
});
