/**
 * Phases, batches and lanes (SPEC section 3, "Execution order"): a phase (node) starts
 * when the previous one finished on all its hosts; inside it, `serial` batches run one
 * after the other and every host of a batch runs in its own lane, `forks` at a time. A
 * host that failed leaves every later batch and phase (per-host isolation: pyinfra
 * `fail_hosts`, Ansible); when failures in a batch exceed `max_fail`, later batches and
 * phases do not start.
 */
import pLimit from 'p-limit';
import type { MaxFail, Plan } from '../model/plan.js';
import type { EngineEvent } from './events.js';

/** What the lanes need from the run. */
export interface LaneHooks {
  /** True once the host failed or was unreachable. */
  isFailed(host: string): boolean;
  /** Runs one host's steps of phase `phase`; failures are recorded through the run, never thrown. */
  runLane(phase: number, host: string): Promise<void>;
  emit(e: EngineEvent): void;
  /** A reason when the run was interrupted: no further batch or phase starts. */
  interrupted(): string | undefined;
}

/** max_fail: true when failures in a batch exceed the allowance. */
export function exceeds(failed: number, batchSize: number, mf: MaxFail): boolean {
  const allowed = 'count' in mf ? mf.count : (batchSize * mf.percent) / 100;
  return failed > allowed;
}

/**
 * Runs every phase of `plan` in order through `hooks.runLane`, `forks` lanes at a time.
 * Resolves with why later batches and phases did not start (max_fail), if so.
 */
export async function runPhases(plan: Plan, forks: number, hooks: LaneHooks): Promise<{ aborted?: string }> {
  const limit = pLimit(Math.max(1, forks));
  let aborted: string | undefined;
  for (let pi = 0; pi < plan.phases.length && !aborted && !hooks.interrupted(); pi++) {
    const phase = plan.phases[pi]!;
    const active = phase.hosts.filter((h) => !hooks.isFailed(h));
    hooks.emit({ type: 'phase-start', phase: pi, node: phase.node, hosts: active });
    for (let bi = 0; bi < phase.batches.length && !aborted && !hooks.interrupted(); bi++) {
      const batch = phase.batches[bi]!.filter((h) => !hooks.isFailed(h));
      if (!batch.length) continue;
      hooks.emit({ type: 'batch-start', phase: pi, node: phase.node, batch: bi, hosts: batch });
      await Promise.all(batch.map((h) => limit(() => (hooks.interrupted() ? Promise.resolve() : hooks.runLane(pi, h)))));
      const failed = batch.filter((h) => hooks.isFailed(h)).length;
      if (phase.maxFail && exceeds(failed, batch.length, phase.maxFail)) {
        aborted = `node ${phase.node || '(root)'}: ${failed} of ${batch.length} hosts failed in batch ${bi + 1}, more than max_fail ${'count' in phase.maxFail ? phase.maxFail.count : `${phase.maxFail.percent}%`}; later batches and nodes were not started`;
        hooks.emit({ type: 'aborted', reason: aborted });
      }
    }
    hooks.emit({ type: 'phase-end', phase: pi, node: phase.node });
  }
  return aborted !== undefined ? { aborted } : {};
}
