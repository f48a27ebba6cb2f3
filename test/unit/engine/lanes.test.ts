/**
 * The engine's lanes: batches run one after the other, max_fail stops later batches and
 * phases, a failed host never stops another (per-host isolation). First on fake lanes
 * (order and limits), then end to end on the local transport: real bash, real host
 * agents (src/host/agent.sh) under one machine lock, in a private HOME.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Session } from '../../../src/engine/apply-plan.js';
import type { EngineEvent } from '../../../src/engine/events.js';
import { exceeds, runPhases, stageSteps } from '../../../src/engine/lanes.js';
import { PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import type { MaxFail, Plan, PlanHost, PlanPhase, PlanStep, Task } from '../../../src/steps/plan.js';
import { Masker } from '../../../src/shell/mask.js';
import { quote } from '../../../src/shell/quote.js';
import { LocalTransport } from '../../../src/transport/local.js';

const host = (name: string): PlanHost => ({ name, address: name, addressExplicit: false, transport: 'local', hostKeyPolicy: 'strict', jump: [] });
const task = (body: string): Task => ({ script: `${PRELUDE_SH}${body}\norch_status changed\n`, probes: [], check: { kind: 'run', hasUnless: false } });

/** A plan over local hosts: `phases[i]` maps host -> step bodies; batches and max_fail per phase. */
function makePlan(phases: { node: string; steps: Record<string, string>[]; batches?: string[][]; maxFail?: MaxFail; kinds?: PlanStep['kind'][]; when?: ('always' | 'changed')[] }[]): Plan {
  const names = [...new Set(phases.flatMap((p) => p.steps.flatMap((s) => Object.keys(s))))].sort();
  return {
    planVersion: 1,
    inputs: { files: {}, bundles: {}, playbook: '', inventories: [], extraVars: {} },
    hosts: Object.fromEntries(names.map((n) => [n, host(n)])),
    targets: names,
    bundles: {},
    phases: phases.map((p): PlanPhase => {
      const hosts = [...new Set(p.steps.flatMap((s) => Object.keys(s)))].sort();
      return {
        node: p.node, hosts, batches: p.batches ?? [hosts], ...(p.maxFail && { maxFail: p.maxFail }),
        steps: p.steps.map((s, i) => ({ index: i, name: `step ${i + 1}`, kind: p.kinds?.[i] ?? 'run', when: p.when?.[i] ?? 'always', at: 'pb.yml:1:1', tasks: Object.fromEntries(Object.entries(s).map(([h, b]) => [h, task(b)])) })),
      };
    }),
  };
}

/** Runs a plan through every stage on the local transport; returns events, summary and the log file's lines. */
async function apply(plan: Plan, log: string, forks = 10): Promise<{ events: EngineEvent[]; summary: ReturnType<Session['summary']>; lines: string[] }> {
  const home = mkdtempSync(path.join(tmpdir(), 'orch-lanes-home-'));
  const events: EngineEvent[] = [];
  const session = new Session(plan, {
    forks, transportFor: () => new LocalTransport(), connect: { hosts: plan.hosts, env: { ...process.env, HOME: home } },
    emit: (e) => events.push(e), masker: new Masker(), now: () => new Date('2026-01-01T00:00:00Z'), by: 'test@ctl',
    lock: { waitSeconds: 0 }, sameMachine: () => true,
  });
  try {
    const facts = await session.gatherFacts();
    await session.execute(session.predict(facts));
  } finally {
    await session.close();
  }
  let lines: string[] = [];
  try {
    lines = readFileSync(log, 'utf8').trim().split('\n');
  } catch {
    /* nothing ran */
  }
  return { events, summary: session.summary(), lines };
}

const scratch = (): string => path.join(mkdtempSync(path.join(tmpdir(), 'orch-lanes-')), 'log');
const mark = (log: string, what: string): string => `echo ${quote(what)} >> ${quote(log)}`;

describe('max_fail', () => {
  it.each([
    [0, 3, { count: 0 }, false],
    [1, 3, { count: 0 }, true],
    [1, 3, { count: 1 }, false],
    [2, 4, { percent: 50 }, false],
    [3, 4, { percent: 50 }, true],
  ] as const)('%i of %i failed, max_fail %j: exceeded %s', (failed, size, mf, want) => {
    expect(exceeds(failed, size, mf)).toBe(want);
  });
});

describe('runPhases on fake lanes', () => {
  it('runs batches in order, at most `forks` lanes at once, and skips failed hosts later', async () => {
    const plan = makePlan([
      { node: 'a', steps: [{ h1: '', h2: '', h3: '', h4: '' }], batches: [['h1', 'h2'], ['h3', 'h4']] },
      { node: 'b', steps: [{ h1: '', h2: '', h3: '', h4: '' }] },
    ]);
    const failed = new Set<string>();
    const order: string[] = [];
    let live = 0;
    let peak = 0;
    const r = await runPhases(plan, 1, {
      isFailed: (h) => failed.has(h),
      interrupted: () => undefined,
      emit: () => undefined,
      runLane: async (pi, h) => {
        live++;
        peak = Math.max(peak, live);
        order.push(`${pi}:${h}`);
        await new Promise((res) => setTimeout(res, 5));
        if (pi === 0 && h === 'h2') failed.add(h);
        live--;
      },
    });
    expect(r).toEqual({});
    expect(peak).toBe(1);
    expect(order).toEqual(['0:h1', '0:h2', '0:h3', '0:h4', '1:h1', '1:h3', '1:h4']);
  });

  it('starts nothing more once interrupted', async () => {
    const plan = makePlan([{ node: 'a', steps: [{ h1: '', h2: '' }], batches: [['h1'], ['h2']] }, { node: 'b', steps: [{ h1: '' }] }]);
    const ran: string[] = [];
    let stop: string | undefined;
    await runPhases(plan, 5, { isFailed: () => false, emit: () => undefined, interrupted: () => stop, runLane: async (pi, h) => { ran.push(`${pi}:${h}`); stop = 'interrupted'; } });
    expect(ran).toEqual(['0:h1']);
  });
});

describe('stage, then switch', () => {
  const steps5 = (hosts: string[]): Record<string, string>[] => Array.from({ length: 5 }, () => Object.fromEntries(hosts.map((h) => [h, ''])));
  const kinds: PlanStep['kind'][] = ['put', 'install', 'run', 'symlink', 'service'];

  it('stages up to the last install before the first symlink, only in a rolling phase', () => {
    const hs = ['h1', 'h2'];
    const phase = (k: PlanStep['kind'][], batches: string[][]) => makePlan([{ node: 'a', steps: steps5(hs), kinds: k, batches }]).phases[0]!;
    expect(stageSteps(phase(kinds, [['h1'], ['h2']]))).toBe(2);
    expect(stageSteps(phase(['install', 'install', 'symlink', 'install', 'service'], [['h1'], ['h2']]))).toBe(2);
    expect(stageSteps(phase(kinds, [hs]))).toBe(0); // no serial: nothing to stage ahead
    expect(stageSteps(phase(['put', 'install', 'run', 'run', 'service'], [['h1'], ['h2']]))).toBe(0); // no switch
    expect(stageSteps(phase(['put', 'symlink', 'install', 'run', 'service'], [['h1'], ['h2']]))).toBe(0); // switch before install
  });

  const fake = (plan: Plan, forks: number, fail: (pi: number, h: string, from: number) => boolean) => {
    const failed = new Set<string>();
    const calls: string[] = [];
    const events: EngineEvent[] = [];
    let live = 0;
    let peak = 0;
    const run = runPhases(plan, forks, {
      isFailed: (h) => failed.has(h),
      interrupted: () => undefined,
      emit: (e) => events.push(e),
      runLane: async (pi, h, from = 0, to = plan.phases[pi]!.steps.length) => {
        live++;
        peak = Math.max(peak, live);
        calls.push(`${pi}:${h}:${from}-${to}`);
        await new Promise((res) => setTimeout(res, 5));
        if (fail(pi, h, from)) failed.add(h);
        live--;
      },
    });
    return run.then((r) => ({ r, calls, events, peak }));
  };

  it('every host stages (forks at a time) before the first batch switches; then batch by batch', async () => {
    const hs = ['h1', 'h2', 'h3'];
    const plan = makePlan([{ node: 'web', steps: steps5(hs), kinds, batches: [['h1'], ['h2'], ['h3']], maxFail: { count: 0 } }]);
    const { r, calls, events, peak } = await fake(plan, 2, () => false);
    expect(r).toEqual({});
    expect(peak).toBe(2);
    expect(calls).toEqual(['0:h1:0-2', '0:h2:0-2', '0:h3:0-2', '0:h1:2-5', '0:h2:2-5', '0:h3:2-5']);
    expect(events.map((e) => e.type)).toEqual(['phase-start', 'stage-start', 'batch-start', 'batch-start', 'batch-start', 'phase-end']);
  });

  it('a failing batch after staging names the hosts that keep their release', async () => {
    const hs = ['h1', 'h2', 'h3'];
    const plan = makePlan([{ node: 'web', steps: steps5(hs), kinds, batches: [['h1'], ['h2'], ['h3']], maxFail: { count: 0 } }]);
    const { r, calls } = await fake(plan, 5, (pi, h, from) => h === 'h1' && from === 2);
    expect(calls).toEqual(['0:h1:0-2', '0:h2:0-2', '0:h3:0-2', '0:h1:2-5']);
    expect(r.aborted).toBe('node web: 1 of 1 hosts failed in batch 1, more than max_fail 0; later batches and nodes were not started (h2, h3: installed, not switched; they keep the release they run)');
  });

  it('a host that fails staging never switches; with max_fail 0 no host switches and the run says why', async () => {
    const hs = ['h1', 'h2', 'h3'];
    const plan = makePlan([
      { node: 'web', steps: steps5(hs), kinds, batches: [['h1'], ['h2'], ['h3']], maxFail: { count: 0 } },
      { node: 'next', steps: [{ h1: '' }] },
    ]);
    const { r, calls } = await fake(plan, 5, (pi, h, from) => h === 'h2' && from === 0);
    expect(calls).toEqual(['0:h1:0-2', '0:h2:0-2', '0:h3:0-2']);
    expect(r.aborted).toBe('node web: 1 of 3 hosts failed staging the release (before any switch), more than max_fail 0; no host was switched and later nodes were not started');
    const allowed = await fake(makePlan([{ node: 'web', steps: steps5(hs), kinds, batches: [['h1'], ['h2'], ['h3']], maxFail: { count: 1 } }]), 5, (pi, h, from) => h === 'h2' && from === 0);
    expect(allowed.r).toEqual({});
    expect(allowed.calls).toEqual(['0:h1:0-2', '0:h2:0-2', '0:h3:0-2', '0:h1:2-5', '0:h3:2-5']);
  });
});

describe('lanes on the local transport (real bash agents)', () => {
  it('stage, then switch: every host installs before the first switch; `when: changed` after the stage still sees the stage\'s change', async () => {
    const log = scratch();
    const step = (what: string) => ({ h1: mark(log, `${what} h1`), h2: mark(log, `${what} h2`), h3: mark(log, `${what} h3`) });
    const plan = makePlan([{
      node: 'web', steps: [step('install'), step('switch'), step('restart')], kinds: ['install', 'symlink', 'service'],
      when: ['always', 'always', 'changed'], batches: [['h1'], ['h2'], ['h3']], maxFail: { count: 0 },
    }]);
    const { summary, lines } = await apply(plan, log);
    expect(lines.slice(0, 3).sort()).toEqual(['install h1', 'install h2', 'install h3']);
    expect(lines.slice(3)).toEqual(['switch h1', 'restart h1', 'switch h2', 'restart h2', 'switch h3', 'restart h3']);
    expect(summary.hosts.map((h) => `${h.host} ${h.status} ${h.counts.changed}`)).toEqual(['h1 changed 3', 'h2 changed 3', 'h3 changed 3']);
  });

  it('serial batches: one batch at a time, in order, never interleaved', async () => {
    const log = scratch();
    const body = (h: string): string => `${mark(log, `start ${h}`)}; sleep 0.2; ${mark(log, `end ${h}`)}`;
    const plan = makePlan([{ node: 'web', steps: [{ h1: body('h1'), h2: body('h2'), h3: body('h3') }], batches: [['h1'], ['h2'], ['h3']] }]);
    const { summary, lines, events } = await apply(plan, log);
    expect(lines).toEqual(['start h1', 'end h1', 'start h2', 'end h2', 'start h3', 'end h3']);
    expect(summary.hosts.map((h) => `${h.host} ${h.status}`)).toEqual(['h1 changed', 'h2 changed', 'h3 changed']);
    expect(events.filter((e) => e.type === 'batch-start').map((e) => (e as { hosts: string[] }).hosts)).toEqual([['h1'], ['h2'], ['h3']]);
  });

  it('max_fail 0: a failing batch stops the later batches and phases, and the run says why', async () => {
    const log = scratch();
    const plan = makePlan([
      { node: 'web', steps: [{ h1: `${mark(log, 'h1')}; exit 3`, h2: mark(log, 'h2'), h3: mark(log, 'h3') }], batches: [['h1'], ['h2', 'h3']], maxFail: { count: 0 } },
      { node: 'db', steps: [{ h2: mark(log, 'db h2') }] },
    ]);
    const { summary, lines } = await apply(plan, log);
    expect(lines).toEqual(['h1']);
    expect(summary.aborted).toBe('node web: 1 of 1 hosts failed in batch 1, more than max_fail 0; later batches and nodes were not started');
    // h2 and h3 never started: skipped (shown as "not started"), not ok.
    expect(summary.hosts.map((h) => `${h.host} ${h.status}`)).toEqual(['h1 failed', 'h2 skipped', 'h3 skipped']);
    expect(summary.hosts[0]!.error).toBe('web: step 1: exit 3');
  });

  it('per-host isolation: a failed host stops only itself; it leaves later phases', async () => {
    const log = scratch();
    const plan = makePlan([
      { node: 'app', steps: [
        { h1: mark(log, '1 h1'), h2: `${mark(log, '1 h2')}; echo boom >&2; exit 5`, h3: mark(log, '1 h3') },
        { h1: mark(log, '2 h1'), h2: mark(log, '2 h2'), h3: mark(log, '2 h3') },
      ] },
      { node: 'after', steps: [{ h1: mark(log, '3 h1'), h2: mark(log, '3 h2'), h3: mark(log, '3 h3') }] },
    ]);
    const { summary, lines } = await apply(plan, log, 3);
    expect([...lines].sort()).toEqual(['1 h1', '1 h2', '1 h3', '2 h1', '2 h3', '3 h1', '3 h3']);
    expect(summary.hosts.map((h) => `${h.host} ${h.status} ${h.counts.changed}/${h.counts.failed}`)).toEqual(['h1 changed 3/0', 'h2 failed 0/1', 'h3 changed 3/0']);
    expect(summary.hosts[1]!.error).toBe('app: step 1: exit 5: boom');
  });
});
