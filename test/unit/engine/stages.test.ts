/**
 * Canary stages (src/engine/stages.ts): `bake` waits after each batch, then re-runs the
 * node's healthchecks on it; a failure there counts against max_fail with the batch, so
 * later batches never start. Fake lanes with a fake clock: the order of calls is the proof.
 */
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../src/engine/events.js';
import { runPhases } from '../../../src/engine/lanes.js';
import type { Plan, PlanPhase, PlanStep } from '../../../src/steps/plan.js';

const hosts = ['h1', 'h2', 'h3', 'h4', 'h5'];
const kinds: PlanStep['kind'][] = ['install', 'symlink', 'service', 'healthcheck'];
const phase = (over: Partial<PlanPhase> = {}): PlanPhase => ({
  node: 'web',
  hosts,
  batches: [['h1'], ['h2', 'h3'], ['h4', 'h5']],
  maxFail: { count: 0 },
  bake: 5000,
  steps: kinds.map((kind, i) => ({ index: i, name: kind, kind, when: 'always', at: 'pb.yml:1:1', tasks: Object.fromEntries(hosts.map((h) => [h, { script: '', probes: [], check: { kind } as never }])) })),
  ...over,
});
const planOf = (ph: PlanPhase): Plan => ({ planVersion: 1, inputs: { files: {}, bundles: {}, playbook: '', inventories: [], extraVars: {} }, hosts: {}, targets: hosts, bundles: {}, phases: [ph] });

/** Runs the phase on fake lanes; `sick(h)`: the host fails its re-check after the bake. */
async function run(ph: PlanPhase, sick: (h: string) => boolean, interruptAfterSleeps = Infinity) {
  const failed = new Set<string>();
  const calls: string[] = [];
  const events: EngineEvent[] = [];
  let slept = 0;
  let sleeps = 0;
  const r = await runPhases(planOf(ph), 10, {
    isFailed: (h) => failed.has(h),
    interrupted: () => (sleeps >= interruptAfterSleeps ? 'interrupted' : undefined),
    emit: (e) => events.push(e),
    runLane: async (pi, h, from = 0, to = ph.steps.length) => {
      calls.push(`lane ${h} ${from}-${to}`);
    },
    recheck: async (pi, h) => {
      calls.push(`recheck ${h} after ${slept} ms`);
      if (sick(h)) failed.add(h);
    },
    sleep: async (ms) => {
      slept += ms;
      sleeps++;
    },
  });
  return { r, calls, events, slept };
}

describe('bake', () => {
  it('waits the bake time after every batch, then re-checks that batch before the next starts', async () => {
    const { r, calls, events, slept } = await run(phase(), () => false);
    expect(r).toEqual({});
    expect(calls).toEqual([
      'lane h1 0-1', 'lane h2 0-1', 'lane h3 0-1', 'lane h4 0-1', 'lane h5 0-1',
      'lane h1 1-4', 'recheck h1 after 5000 ms',
      'lane h2 1-4', 'lane h3 1-4', 'recheck h2 after 10000 ms', 'recheck h3 after 10000 ms',
      'lane h4 1-4', 'lane h5 1-4', 'recheck h4 after 15000 ms', 'recheck h5 after 15000 ms',
    ]);
    expect(slept).toBe(15000);
    expect(events.filter((e) => e.type === 'bake-start')).toEqual([
      { type: 'bake-start', phase: 0, node: 'web', batch: 0, hosts: ['h1'], ms: 5000 },
      { type: 'bake-start', phase: 0, node: 'web', batch: 1, hosts: ['h2', 'h3'], ms: 5000 },
      { type: 'bake-start', phase: 0, node: 'web', batch: 2, hosts: ['h4', 'h5'], ms: 5000 },
    ]);
  });

  it('a host failing its re-check in the canary batch stops the rollout: later batches never start', async () => {
    const { r, calls, events } = await run(phase(), (h) => h === 'h1');
    expect(calls.slice(5)).toEqual(['lane h1 1-4', 'recheck h1 after 5000 ms']);
    expect(r.aborted).toBe('node web: 1 of 1 hosts failed in batch 1, more than max_fail 0; later batches and nodes were not started (h2, h3, h4, h5: installed, not switched; they keep the release they run)');
    expect(events.find((e) => e.type === 'bake-end')).toEqual({ type: 'bake-end', phase: 0, node: 'web', batch: 0, hosts: ['h1'], failed: ['h1'] });
    expect(events.filter((e) => e.type === 'batch-start')).toHaveLength(1);
  });

  it('re-check failures count against max_fail_percentage like failures during the batch', async () => {
    const { r, calls } = await run(phase({ maxFail: { percent: 50 } }), (h) => h === 'h2');
    expect(r).toEqual({});
    expect(calls.filter((c) => c.startsWith('lane h4 1'))).toHaveLength(1);
    const over = await run(phase({ maxFail: { percent: 49 } }), (h) => h === 'h2');
    expect(over.r.aborted).toMatch(/^node web: 1 of 2 hosts failed in batch 2, more than max_fail 49%/);
    expect(over.calls.some((c) => c.startsWith('lane h4 1'))).toBe(false);
  });

  it('no bake, no wait and no re-check; an interrupt during the bake re-checks nothing and starts no batch', async () => {
    const plain = await run(phase({ bake: undefined } as never), () => true);
    expect(plain.slept).toBe(0);
    expect(plain.calls.some((c) => c.startsWith('recheck'))).toBe(false);
    const cut = await run(phase(), () => false, 3);
    expect(cut.slept).toBe(600);
    expect(cut.calls.filter((c) => !c.endsWith('0-1'))).toEqual(['lane h1 1-4']);
  });
});
