/**
 * The Plan: the only thing that decides what `apply` does (terraform's rule).
 * JSON-serialisable, `planVersion: 1`, schema in `schema/plan.schema.json`.
 * Produced by `compilePlan` (pure), checked (bash -n, facts), then applied.
 *
 * Generic over the step data, as terraform's `internal/plans` knows no resource type:
 * `C` is a task's check data (`{ kind, ... }`), `K` a step's kind name. The model
 * imports nothing from src/steps; src/steps/plan.ts closes these types over the step
 * kind registry (`Plan`, `PlanPhase`, `PlanStep`, `Task`), and code above the steps
 * layer imports them from there.
 */
import type { HostKeyPolicy } from './inventory.js';
import type { PlanBundle, TaskOf } from './task.js';

export type { Facts, PayloadRef, PlanBundle, PredictedStatus, Probe, ServiceRef, StepStatus, TaskOf } from './task.js';

/** The least every task's check data has: the name of the kind that made it. */
export interface CheckBase {
  kind: string;
}

/** Connection settings of a host the plan touches (targeted hosts and their bastions). */
export interface PlanHost {
  name: string;
  address: string;
  addressExplicit: boolean;
  transport: 'ssh' | 'local';
  user?: string;
  port?: number;
  identity?: string;
  knownHosts?: string;
  hostKeyPolicy: HostKeyPolicy;
  /** Bastion chain, outermost first (names of PlanHosts). */
  jump: string[];
  /** Inventory `give_up`, seconds (the agent's dead-man's switch); undefined = 30 s. `--give-up` wins. */
  giveUpSeconds?: number;
  /** Inventory `become`: every command on the host runs through `sudo -n -u` this user (src/transport/become.ts). */
  become?: string;
}

/** One step of a node, compiled for every host that runs it; `C` its tasks' check data, `K` its kind name. */
export interface PlanStepOf<C extends CheckBase, K extends string = C['kind']> {
  /** Index in the node's `steps` list. */
  index: number;
  /** `name` (rendered) or the kind's label (`describe`), for the first host; per host: `stepLabel`. */
  name: string;
  kind: K;
  /** `changed`: run only if an earlier step of this node changed the host (service default). */
  when: 'always' | 'changed';
  /** Host name -> task, hosts sorted by name. */
  tasks: Record<string, TaskOf<C>>;
  /** Source position `file:line:col` of the step, for messages. */
  at: string;
}

/** `max_fail` as written, resolved against each batch's size by the engine. */
export type MaxFail = { count: number } | { percent: number };

/** One node = one phase: starts when the previous phase finished on all its hosts. */
export interface PlanPhaseOf<C extends CheckBase, K extends string = C['kind']> {
  /** Dotted node path; `` (empty) for the root node. */
  node: string;
  /** Every host of the node (after --limit), sorted. */
  hosts: string[];
  /** Rolling batches over `hosts` (one batch without `serial`). */
  batches: string[][];
  maxFail?: MaxFail;
  /**
   * `bake`, milliseconds: after each batch ran its steps, wait this long, then run the
   * node's healthchecks again on the batch's hosts (a failure is a failed release there).
   */
  bake?: number;
  steps: PlanStepOf<C, K>[];
  /**
   * `drain:`/`undrain:` of the node, per batch (same order as `batches`): the positions in
   * `steps` (`[from, to)`) of the steps run before the batch switches and after it is
   * healthy. Those steps run only on `aroundHosts` (another role's hosts, in no batch).
   */
  around?: BatchAround[];
  /** The hosts drain/undrain steps run on (sorted); never in `hosts` or `batches`. */
  aroundHosts?: string[];
}

/** Positions in a phase's `steps` of one batch's drain and undrain steps, `[from, to)`. */
export interface BatchAround {
  drain: [number, number];
  undrain: [number, number];
}

/** The inputs a saved plan was made from; `apply PLAN.json` refuses if they changed. */
export interface PlanInputs {
  /** Absolute path -> sha256 of every file read: playbook, imports, inventories, put sources. */
  files: Record<string, string>;
  /** Bundle name -> tarball sha256. */
  bundles: Record<string, string>;
  playbook: string;
  inventories: string[];
  limit?: string;
  node?: string;
  /** `-e` values, masked where secret. */
  extraVars: Record<string, string>;
}

/** A whole plan; `C` and `K` as in `PlanStepOf`. */
export interface PlanOf<C extends CheckBase, K extends string = C['kind']> {
  planVersion: 1;
  inputs: PlanInputs;
  /** Targeted hosts and their bastions, by name. */
  hosts: Record<string, PlanHost>;
  /** Hosts selected by --limit and the playbook's roles, sorted. */
  targets: string[];
  bundles: Record<string, PlanBundle>;
  phases: PlanPhaseOf<C, K>[];
}
