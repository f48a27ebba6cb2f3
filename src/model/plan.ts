/**
 * The Plan: the only thing that decides what `apply` does (terraform's rule).
 * JSON-serialisable, `planVersion: 1`, schema in `schema/plan.schema.json`.
 * Produced by `compilePlan` (pure), checked (bash -n, facts), then applied.
 */
import type { HostKeyPolicy } from './inventory.js';
import type { StepCheck, StepKindName } from '../steps/index.js';
import type { PlanBundle, TaskOf } from './task.js';

export type { Facts, PayloadRef, PlanBundle, PredictedStatus, Probe, ServiceRef, StateEffect, StepStatus, TaskOf } from './task.js';
export type { StepCheck } from '../steps/index.js';

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

/** One host's part of one step; `check` is one of the registry's kinds (src/steps/index.ts). */
export type Task = TaskOf<StepCheck>;

/** One step of a node, compiled for every host that runs it. */
export interface PlanStep {
  /** Index in the node's `steps` list. */
  index: number;
  /** `name` (rendered) or the kind's label (`describe`), for the first host; per host: `stepLabel`. */
  name: string;
  kind: StepKindName;
  /** `changed`: run only if an earlier step of this node changed the host (service default). */
  when: 'always' | 'changed';
  /** Host name -> task, hosts sorted by name. */
  tasks: Record<string, Task>;
  /** Source position `file:line:col` of the step, for messages. */
  at: string;
}

/** `max_fail` as written, resolved against each batch's size by the engine. */
export type MaxFail = { count: number } | { percent: number };

/** One node = one phase: starts when the previous phase finished on all its hosts. */
export interface PlanPhase {
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
  steps: PlanStep[];
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

export interface Plan {
  planVersion: 1;
  inputs: PlanInputs;
  /** Targeted hosts and their bastions, by name. */
  hosts: Record<string, PlanHost>;
  /** Hosts selected by --limit and the playbook's roles, sorted. */
  targets: string[];
  bundles: Record<string, PlanBundle>;
  phases: PlanPhase[];
}
