/** Drain and undrain around each batch (src/engine/drain.ts), on fake lanes: order, and a failure stops the rollout. */
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../src/engine/events.js';
import { runPhases } from '../../../src/engine/lanes.js';
import type { Plan, PlanStep } from '../../../src/steps/plan.js';

const step = (index: number, name: string, hosts: string[]): PlanStep => ({
  index, name, kind: 'run', when: 'always', at: 'pb.yml:1:1',
  tasks: Object.fromEntries(hosts.map((h) => [h, { script: 'true', probes: [], check: { kind: 'run', hasUnless: false } }])),
});

/** Node `app` over h1..h3 in batches of 1, one app step, drain + undrain on lb1 per batch. */
function plan(): Plan {
  const hosts = ['h1', 'h2', 'h3'];
  const steps = [step(0, 'deploy', hosts)];
  const around = hosts.map((h, bi) => {
    steps.push(step(steps.length, `drain batch ${bi + 1}/3`, ['lb1']), step(steps.length + 1, `undrain batch ${bi + 1}/3`, ['lb1']));
    return { drain: [steps.length - 2, steps.length - 1] as [number, number], undrain: [steps.length - 1, steps.length] as [number, number] };
  });
  return {
    planVersion: 1, inputs: { files: {}, bundles: {}, playbook: '', inventories: [], extraVars: {} }, hosts: {}, targets: ['h1', 'h2', 'h3', 'lb1'], bundles: {},
    phases: [
      { node: 'app', hosts, batches: hosts.map((h) => [h]), maxFail: { count: 0 }, steps, around, aroundHosts: ['lb1'] },
      { node: 'after', hosts, batches: [hosts], steps: [step(0, 'after', hosts)] },
    ],
  };
}

/** Runs the plan on fake lanes; `fail` names `pi:host:from` lanes that fail their host. Returns the lanes run, in order. */
async function run(fail: string[], bake?: { ms: number; unhealthy?: string }): Promise<{ order: string[]; aborted?: string; events: EngineEvent[] }> {
  const p = plan();
  if (bake) p.phases[0]!.bake = bake.ms;
  const failed = new Set<string>();
  const order: string[] = [];
  const events: EngineEvent[] = [];
  const r = await runPhases(p, 5, {
    isFailed: (h) => failed.has(h),
    interrupted: () => undefined,
    emit: (e) => events.push(e),
    ...(bake && {
      sleep: () => Promise.resolve(),
      recheck: async (pi: number, h: string) => {
        order.push(`${h}: bake recheck`);
        if (h === bake.unhealthy) failed.add(h);
      },
    }),
    runLane: async (pi, h, from = 0, to) => {
      // The app hosts' lanes run every step from the staged ones on: they hold tasks only in the app's.
      const names = p.phases[pi]!.steps.slice(from, to).filter((s) => s.tasks[h]).map((s) => s.name);
      if (!names.length) return;
      order.push(`${h}: ${names.join(', ')}`);
      await new Promise((res) => setTimeout(res, 2));
      if (fail.includes(`${pi}:${h}:${from}`)) failed.add(h);
    },
  });
  return { order, events, ...(r.aborted !== undefined && { aborted: r.aborted }) };
}

describe('drain and undrain around each batch', () => {
  it('drain runs before each batch, undrain after it, on the lb host only', async () => {
    const r = await run([]);
    expect(r.aborted).toBeUndefined();
    expect(r.order).toEqual([
      'lb1: drain batch 1/3', 'h1: deploy', 'lb1: undrain batch 1/3',
      'lb1: drain batch 2/3', 'h2: deploy', 'lb1: undrain batch 2/3',
      'lb1: drain batch 3/3', 'h3: deploy', 'lb1: undrain batch 3/3',
      'h1: after', 'h2: after', 'h3: after',
    ]);
  });

  it('a failed drain stops the rollout before its batch switches', async () => {
    const r = await run(['0:lb1:3']);
    expect(r.order).toEqual(['lb1: drain batch 1/3', 'h1: deploy', 'lb1: undrain batch 1/3', 'lb1: drain batch 2/3']);
    expect(r.aborted).toBe('node app: drain of batch 2 (h2) failed on lb1; the batch was not switched and later batches and nodes were not started');
    expect(r.events).toContainEqual({ type: 'aborted', reason: r.aborted });
  });

  it('a failed undrain stops the rollout too', async () => {
    const r = await run(['0:lb1:2']);
    expect(r.order).toEqual(['lb1: drain batch 1/3', 'h1: deploy', 'lb1: undrain batch 1/3']);
    expect(r.aborted).toMatch(/^node app: undrain of batch 1 \(h1\) failed on lb1; the batch runs the new release but may still be drained/);
  });

  it('a batch that failed is not undrained (its hosts stay out of the load balancer) and the rollout stops', async () => {
    const r = await run(['0:h1:0']);
    expect(r.order).toEqual(['lb1: drain batch 1/3', 'h1: deploy']);
    expect(r.aborted).toMatch(/^node app: 1 of 1 hosts failed in batch 1, more than max_fail 0/);
  });

  it("with bake, undrain waits for the batch's bake; a batch that turns unhealthy in its bake stays drained", async () => {
    const ok = await run([], { ms: 1000 });
    expect(ok.order.slice(0, 4)).toEqual(['lb1: drain batch 1/3', 'h1: deploy', 'h1: bake recheck', 'lb1: undrain batch 1/3']);
    const bad = await run([], { ms: 1000, unhealthy: 'h1' });
    expect(bad.order).toEqual(['lb1: drain batch 1/3', 'h1: deploy', 'h1: bake recheck']);
    expect(bad.aborted).toMatch(/^node app: 1 of 1 hosts failed in batch 1/);
  });
});
