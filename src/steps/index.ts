/**
 * The registry of step kinds: one line per kind, in the order docs/reference/steps.md lists them. A kind
 * is one module (`src/steps/<kind>.ts`, see `StepKind`); compile (dispatch and
 * labels), predict, the engine's payload decision, the playbook's step keys and
 * schema/playbook.schema.json (scripts/gen-schema.mjs) all derive from this object.
 * `satisfies` makes every member a complete `StepKind`: a kind without `predict`
 * does not compile. How to add a kind: docs/how-it-works.md, "Architecture".
 */
import type { Facts, PredictedStatus, TaskOf } from '../model/task.js';
import { bundle } from './bundle.js';
import { directory } from './directory.js';
import { group } from './group.js';
import { healthcheck } from './healthcheck.js';
import { install } from './install.js';
import type { StepKind } from './kind.js';
import { prune } from './prune.js';
import { pkg } from './package.js';
import { put } from './put.js';
import { remove, type RemoveCheck } from './remove.js';
import { rollback, type RollbackCheck } from './rollback.js';
import { run } from './run.js';
import { service } from './service.js';
import { symlink } from './symlink.js';
import { user } from './user.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKind = StepKind<any, any>;

const REGISTRY = {
  bundle,
  put,
  install,
  symlink,
  service,
  run,
  healthcheck,
  prune,
  directory,
  package: pkg,
  group,
  user,
} satisfies Record<string, AnyKind>;

/** The step kind keys of a playbook (`put`, `install`, ...). */
export type StepKindName = keyof typeof REGISTRY;

/** Every step kind by name. */
export const STEP_KINDS: Readonly<Record<StepKindName, AnyKind>> = REGISTRY;

/** The step kind names, in registry order. */
export const STEP_KIND_NAMES = Object.keys(REGISTRY) as StepKindName[];

/** The check data of a kind (`task.check`). */
type CheckOf<K> = K extends StepKind<unknown, infer C> ? C : never;

/** Check data of every task: the union over the registry, plus the internal `rollback` and `remove` kinds. */
export type StepCheck = { [K in StepKindName]: CheckOf<(typeof REGISTRY)[K]> }[StepKindName] | RollbackCheck | RemoveCheck;

/**
 * Common step keys (name, on, once, when) a kind's schema fragment defines as its own
 * (not as a `$ref` to the common definition): service's `name` and `when`.
 */
export function ownStepKeys(kind: StepKindName): Set<string> {
  const props = (REGISTRY[kind].schema.properties ?? {}) as Record<string, { $ref?: string }>;
  return new Set(COMMON_STEP_KEYS.filter((k) => props[k] !== undefined && props[k].$ref !== commonKeyRef(k)));
}

/** The schema definition of a common step key: `#/$defs/stepName`, `#/$defs/on`, ... */
export function commonKeyRef(key: (typeof COMMON_STEP_KEYS)[number]): string {
  return `#/$defs/${key === 'name' ? 'stepName' : key}`;
}

/** Keys every step may carry besides its kind key (also accepted inside the kind's map). */
export const COMMON_STEP_KEYS = ['name', 'on', 'once', 'when'] as const;

/**
 * A step's label from its args as written, for listings made before compile (`orch
 * shell`'s `ls`): its kind's `describe` with templates left unrendered and no host;
 * the kind name alone when the args do not fit it.
 */
export function describeAsWritten(kind: string, args: Record<string, unknown>): string {
  if (!isStepKind(kind)) return kind;
  const label = (field: string): string | undefined => (args?.[field] === undefined ? undefined : String(args[field]));
  try {
    return (REGISTRY[kind] as AnyKind).describe({ args, bundles: {}, label });
  } catch {
    return kind;
  }
}

/** True for a playbook step kind key. */
export const isStepKind = (k: string): k is StepKindName => Object.hasOwn(REGISTRY, k);

/** The definition a task's check belongs to (undefined for the internal `rollback` and `remove`). */
export function kindOfTask(task: TaskOf<StepCheck>): AnyKind | undefined {
  return isStepKind(task.check.kind) ? REGISTRY[task.check.kind] : undefined;
}

/** Predicts one task from the host's facts: the task's kind decides (see `StepKind.predict`). */
export function predictTask(facts: Facts, task: TaskOf<StepCheck>): PredictedStatus {
  if (task.check.kind === 'rollback') return rollback.predict(facts, task as TaskOf<RollbackCheck>);
  if (task.check.kind === 'remove') return remove.predict(facts, task as TaskOf<RemoveCheck>);
  return (REGISTRY[task.check.kind] as AnyKind).predict(facts, task);
}

/** Why apply would fail the task from the facts alone (the kind's `refuse`), else undefined. */
export function refuseTask(facts: Facts, task: TaskOf<StepCheck>): string | undefined {
  return kindOfTask(task)?.refuse?.(facts, task);
}

/** What the plan should say about the task besides its status (the kind's `note`), from the facts. */
export function noteTask(facts: Facts, task: TaskOf<StepCheck>): string | undefined {
  return kindOfTask(task)?.note?.(facts, task);
}

/** Whether the task has a change of its own to make (the kind's `changesAlone`); false without facts. */
export function changesAlone(facts: Facts | undefined, task: TaskOf<StepCheck>): boolean {
  return facts !== undefined && (kindOfTask(task)?.changesAlone?.(facts, task) ?? false);
}

/** Whether the host already holds the task's payload (the kind's `hasPayload`; false without one). */
export function hostHasPayload(facts: Facts | undefined, task: TaskOf<StepCheck>): boolean {
  if (!facts || !task.payload) return false;
  return kindOfTask(task)?.hasPayload?.(facts, task) ?? false;
}

/** False for tasks done on the control machine (`bundle`): `ok` without running anything on the host. */
export const runsOnHost = (task: TaskOf<StepCheck>): boolean => kindOfTask(task)?.hostWork !== false;

/** True for checks (`healthcheck`) that apply runs even when the plan predicted `ok`. */
export const runsWhenOk = (task: TaskOf<StepCheck>): boolean => kindOfTask(task)?.runsWhenOk === true;
