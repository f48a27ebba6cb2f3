/**
 * Canary stages: the bake of a rolling batch. Ansible's `serial: [1, "10%", "100%"]`
 * makes the stages (batches are compiled: src/compile/compile-plan.ts `makeBatches`);
 * `bake: DURATION` on the node makes each batch prove itself before the next starts:
 * after the batch ran its steps (switched, restarted, healthy), the engine waits the
 * bake time, then runs the node's healthchecks again on the batch's hosts. A failure
 * there is a failed release exactly as during the batch (the healthcheck's rollback puts
 * the host back on the release before and records the new one bad), and counts against
 * `max_fail` with the batch's other failures, so later batches never start.
 * (Argo Rollouts' `pause: {duration}` between canary steps, Spinnaker's bake stage.)
 */
import type { PlanPhase } from '../steps/plan.js';
import type { EngineEvent } from './events.js';

/** What a bake needs from the run. */
export interface BakeHooks {
  isFailed(host: string): boolean;
  /** Runs the node's healthcheck steps of phase `phase` again on `host`; failures are recorded, never thrown. */
  recheck(phase: number, host: string): Promise<void>;
  /** Runs `fn` within the run's lane limit (`forks`). */
  limit<T>(fn: () => Promise<T>): Promise<T>;
  emit(e: EngineEvent): void;
  interrupted(): string | undefined;
  /** Waits `ms` (tests pass a fake clock); default: a timer. */
  sleep?(ms: number): Promise<void>;
}

/** How often an interrupt is noticed during a bake, ms. */
const BAKE_POLL_MS = 200;

const timer = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Bakes batch `batch` of phase `pi`: waits `phase.bake` ms (an interrupt ends the wait
 * early: nothing is re-checked then), then re-runs the healthchecks on every host of the
 * batch still healthy, `forks` at a time. Emits `bake-start` and `bake-end` (with the
 * hosts that failed their re-check). Resolves when done; a phase without `bake`, or a
 * batch with no healthy host, resolves at once.
 */
export async function bakeBatch(pi: number, phase: PlanPhase, batch: number, hosts: string[], hooks: BakeHooks): Promise<void> {
  const ms = phase.bake ?? 0;
  const healthy = hosts.filter((h) => !hooks.isFailed(h));
  if (ms <= 0 || !healthy.length || hooks.interrupted()) return;
  hooks.emit({ type: 'bake-start', phase: pi, node: phase.node, batch, hosts: healthy, ms });
  const sleep = hooks.sleep ?? timer;
  const until = Date.now() + ms;
  // Bounded: at most ms / BAKE_POLL_MS + 1 waits (the fake clock of tests returns at once).
  for (let left = ms, n = 0; left > 0 && !hooks.interrupted() && n <= ms / BAKE_POLL_MS + 1; n++) {
    await sleep(Math.min(left, BAKE_POLL_MS));
    left = hooks.sleep ? left - BAKE_POLL_MS : until - Date.now();
  }
  if (hooks.interrupted()) return;
  await Promise.all(healthy.map((h) => hooks.limit(() => (hooks.interrupted() ? Promise.resolve() : hooks.recheck(pi, h)))));
  hooks.emit({ type: 'bake-end', phase: pi, node: phase.node, batch, hosts: healthy, failed: healthy.filter((h) => hooks.isFailed(h)) });
}
