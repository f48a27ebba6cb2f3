/**
 * The release lifecycle in one place: stage -> switch -> start -> verify (Capistrano's
 * flow, https://capistranorb.com/documentation/getting-started/flow/), with rollback as
 * the inverse of switch. Step kinds declare their role in it (`StepKind.lifecycle`,
 * src/steps/kind.ts); everything that depends on a step's place in a release — the
 * staging boundary of a rolling phase, the rollback plan, the bad-release refusal, the
 * services started again after a rollback, the bundle a node installs — asks this module,
 * never a kind name.
 */
import type { PlanPhase } from '../steps/plan.js';
import { STEP_KIND_NAMES, STEP_KINDS, type StepCheck, type StepKindName } from '../steps/index.js';
import type { LifecycleRole } from '../steps/kind.js';
import type { InstallCheck } from '../steps/install.js';
import type { SymlinkCheck } from '../steps/symlink.js';

export type { LifecycleRole } from '../steps/kind.js';

/** The lifecycle role of a step kind (`check.kind` or a step's `kind`); undefined for kinds outside it (and `rollback`). */
export function roleOf(kind: string): LifecycleRole | undefined {
  return Object.hasOwn(STEP_KINDS, kind) ? STEP_KINDS[kind as StepKindName].lifecycle : undefined;
}

/** The kinds that play `role`, in registry order (`verify`: the checks a release must pass). */
export function kindsWithRole(role: LifecycleRole): StepKindName[] {
  return STEP_KIND_NAMES.filter((k) => STEP_KINDS[k].lifecycle === role);
}

/** True when the step (a plan step, a playbook step or a task's check) plays `role`. */
export function hasRole(step: { kind: string }, role: LifecycleRole): boolean {
  return roleOf(step.kind) === role;
}

/** The check of a step that stages a release (root, version, sha256 of its bundle), or undefined. */
export function stageCheck(check: StepCheck | undefined): InstallCheck | undefined {
  return check && hasRole(check, 'stage') ? (check as InstallCheck) : undefined;
}

/** The check of a step that switches `current` to a release (root, version), or undefined. */
export function switchCheck(check: StepCheck | undefined): SymlinkCheck | undefined {
  return check && hasRole(check, 'switch') ? (check as SymlinkCheck) : undefined;
}

/** True when a step after index `from` of `steps` (re)starts the release: a switch then leaves a restart pending. */
export function startFollows(steps: readonly { kind: string }[], from = -1): boolean {
  return steps.slice(from + 1).some((s) => hasRole(s, 'start'));
}

/**
 * How many leading steps of `phase` are staged on every host before its batches: up to
 * and including the last `stage` step before the first `switch` step; 0 when the phase
 * has a single batch, or no stage followed by a switch.
 */
export function stageSteps(phase: PlanPhase): number {
  if (phase.batches.length < 2) return 0;
  const sw = phase.steps.findIndex((s) => hasRole(s, 'switch'));
  if (sw < 0) return 0;
  let last = -1;
  for (let i = 0; i < sw; i++) if (hasRole(phase.steps[i]!, 'stage')) last = i;
  return last + 1;
}
