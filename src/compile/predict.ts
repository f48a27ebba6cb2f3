/**
 * Predicts what each step would do on each host from the facts read in one round trip
 * (terraform plan; Ansible check mode). Pure: facts in, statuses out. Each task's kind
 * predicts it (`StepKind.predict`, src/steps/): nothing here knows a kind.
 */
import type { Facts, Plan, PlanStep, PredictedStatus, Probe } from '../steps/plan.js';
import { badSha, EARLIER_CHANGE, factKey } from '../steps/common.js';
import { changesAlone, noteTask, predictTask, refuseTask, runsOnHost } from '../steps/index.js';

export type { Facts };
export { badSha, factKey };

/** The label of `step` on `host`: the task's own when it differs (rendered per host), else the step's. */
export function stepLabel(step: PlanStep, host: string): string {
  return step.tasks[host]?.label ?? step.name;
}

/** Every probe a host's tasks need, deduplicated, in first-use order. */
export function probesForHost(plan: Plan, host: string): Probe[] {
  const seen = new Map<string, Probe>();
  for (const phase of plan.phases) {
    for (const step of phase.steps) {
      const t = step.tasks[host];
      if (!t) continue;
      for (const p of t.probes) if (!seen.has(factKey(p))) seen.set(factKey(p), p);
    }
  }
  return [...seen.values()];
}

/**
 * Predicted status per phase index -> step index -> status, for one host. `reason`:
 * why a step predicted `failed` will fail (its kind's `refuse`, from the facts). `note`:
 * what else the plan says about the step (its kind's `note`, e.g. a cleanup).
 */
export type HostPrediction = { phase: number; step: number; name: string; node: string; status: PredictedStatus; reason?: string; note?: string }[];

/**
 * Predicts one host's steps in execution order, updating a copy of the facts as each
 * predicted change would (so `symlink` after a new `install` predicts `changed`).
 * `facts` undefined = offline: every step is `maybe` (except kinds with no host work).
 * `name` is the step's label on this host. A step its kind refuses from the facts
 * (`StepKind.refuse`) is `failed` with the reason; the host's later steps are then
 * `skipped` (apply stops the host there).
 */
export function predictHost(plan: Plan, host: string, facts: Facts | undefined): HostPrediction {
  const f: Facts | undefined = facts ? new Map(facts) : undefined;
  const out: HostPrediction = [];
  let refused = false;
  plan.phases.forEach((phase, pi) => {
    let nodeChanged: 'no' | 'yes' | 'maybe' = 'no';
    for (const step of phase.steps) {
      const task = step.tasks[host];
      if (!task) continue;
      let status: PredictedStatus;
      let reason: string | undefined;
      const note = f && !refused ? noteTask(f, task) : undefined;
      if (refused) status = 'skipped';
      else if (step.when === 'changed' && nodeChanged === 'no' && !changesAlone(f, task)) status = 'skipped';
      else if (!runsOnHost(task)) status = 'ok';
      else if (!f) status = 'maybe';
      else if ((reason = refuseTask(f, task)) !== undefined) {
        status = 'failed';
        refused = true;
      } else {
        const alone = changesAlone(f, task); // before predictTask, which updates the facts
        status = predictTask(f, task);
        if (step.when === 'changed' && nodeChanged === 'maybe' && status === 'changed' && !alone) status = 'maybe';
      }
      if ((status === 'changed' || status === 'maybe') && f) f.set(EARLIER_CHANGE, '1');
      if (status === 'changed') nodeChanged = 'yes';
      else if (status === 'maybe' && nodeChanged === 'no') nodeChanged = 'maybe';
      const item: HostPrediction[number] = { phase: pi, step: step.index, name: stepLabel(step, host), node: phase.node, status };
      if (reason !== undefined) item.reason = reason;
      if (note !== undefined) item.note = note;
      out.push(item);
    }
  });
  return out;
}
