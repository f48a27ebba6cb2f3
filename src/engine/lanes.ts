/**
 * Phases, batches and lanes (docs/reference/playbook.md "Execution order"): a phase (node) starts
 * when the previous one finished on all its hosts; inside it, `serial` batches run one
 * after the other and every host of a batch runs in its own lane, `forks` at a time. A
 * host that failed leaves every later batch and phase (per-host isolation: pyinfra
 * `fail_hosts`, Ansible); when failures in a batch exceed `max_fail`, later batches and
 * phases do not start. With `bake`, a batch's hosts run the node's healthchecks again
 * after the bake time before its failures are counted (src/engine/stages.ts).
 *
 * Stage, then switch (Capistrano's deploy:updating before deploy:publishing, Kamal):
 * in a rolling phase (more than one batch) whose steps install a release and then
 * switch to it, every host first runs the steps up to the last `install` before the
 * first `symlink` (upload + install, `forks` at a time, nothing switched); only then do
 * the batches run the rest (switch -> services -> healthchecks). A host that failed
 * staging never switches; failures in staging count like a batch of all the phase's
 * hosts against `max_fail` (with `serial` it defaults to 0: no host switches at all).
 */
import pLimit from 'p-limit';
import { stageSteps } from '../compile/lifecycle.js';
import type { MaxFail, Plan } from '../steps/plan.js';
import { runAround } from './drain.js';
import type { EngineEvent } from './events.js';
import { bakeBatch } from './stages.js';

/** What the lanes need from the run. */
export interface LaneHooks {
  /** True once the host failed or was unreachable. */
  isFailed(host: string): boolean;
  /**
   * Runs one host's steps of phase `phase` (those at positions `from` to `to` - 1 of
   * `phase.steps`, default all); failures are recorded through the run, never thrown.
   */
  runLane(phase: number, host: string, from?: number, to?: number): Promise<void>;
  emit(e: EngineEvent): void;
  /** A reason when the run was interrupted: no further batch or phase starts. */
  interrupted(): string | undefined;
  /** Runs the phase's healthchecks again on a host after the bake time (`bake`: stages.ts); needed when a phase has `bake`. */
  recheck?(phase: number, host: string): Promise<void>;
  /** The bake's wait (tests); default a timer. */
  sleep?(ms: number): Promise<void>;
}

/** max_fail: true when failures in a batch exceed the allowance. */
export function exceeds(failed: number, batchSize: number, mf: MaxFail): boolean {
  const allowed = 'count' in mf ? mf.count : (batchSize * mf.percent) / 100;
  return failed > allowed;
}

/** How many leading steps of a phase are staged on every host before its batches (src/compile/lifecycle.ts). */
export { stageSteps };

const maxFailText = (mf: MaxFail): string => ('count' in mf ? String(mf.count) : `${mf.percent}%`);

/** `h2, h3` (at most 5 names, then `and N more`). */
const hostList = (hosts: string[]): string => (hosts.length > 5 ? `${hosts.slice(0, 5).join(', ')} and ${hosts.length - 5} more` : hosts.join(', '));

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
    const staged = active.length ? stageSteps(phase) : 0;
    if (staged > 0) {
      hooks.emit({ type: 'stage-start', phase: pi, node: phase.node, hosts: active, steps: staged });
      await Promise.all(active.map((h) => limit(() => (hooks.interrupted() ? Promise.resolve() : hooks.runLane(pi, h, 0, staged)))));
      const failed = active.filter((h) => hooks.isFailed(h)).length;
      if (phase.maxFail && exceeds(failed, active.length, phase.maxFail)) {
        aborted = `node ${phase.node || '(root)'}: ${failed} of ${active.length} hosts failed staging the release (before any switch), more than max_fail ${maxFailText(phase.maxFail)}; no host was switched and later nodes were not started`;
        hooks.emit({ type: 'aborted', reason: aborted });
      }
    }
    for (let bi = 0; bi < phase.batches.length && !aborted && !hooks.interrupted(); bi++) {
      const batch = phase.batches[bi]!.filter((h) => !hooks.isFailed(h));
      if (!batch.length) continue;
      hooks.emit({ type: 'batch-start', phase: pi, node: phase.node, batch: bi, hosts: batch });
      if ((aborted = await runAround(phase, pi, bi, 'drain', hooks))) {
        hooks.emit({ type: 'aborted', reason: aborted });
        break;
      }
      await Promise.all(batch.map((h) => limit(() => (hooks.interrupted() ? Promise.resolve() : hooks.runLane(pi, h, staged, phase.steps.length)))));
      if (phase.bake && hooks.recheck) await bakeBatch(pi, phase, bi, batch, { ...hooks, recheck: hooks.recheck, limit });
      const failed = batch.filter((h) => hooks.isFailed(h)).length;
      if (phase.maxFail && exceeds(failed, batch.length, phase.maxFail)) {
        // Staged hosts of later batches have the new release installed, not switched to: say so.
        const kept = staged > 0 ? phase.batches.slice(bi + 1).flat().filter((h) => !hooks.isFailed(h)) : [];
        aborted = `node ${phase.node || '(root)'}: ${failed} of ${batch.length} hosts failed in batch ${bi + 1}, more than max_fail ${maxFailText(phase.maxFail)}; later batches and nodes were not started${kept.length ? ` (${hostList(kept)}: installed, not switched; they keep the release they run)` : ''}`;
        hooks.emit({ type: 'aborted', reason: aborted });
      } else if ((aborted = await runAround(phase, pi, bi, 'undrain', hooks))) hooks.emit({ type: 'aborted', reason: aborted });
    }
    hooks.emit({ type: 'phase-end', phase: pi, node: phase.node });
  }
  return aborted !== undefined ? { aborted } : {};
}
