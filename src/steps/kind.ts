/**
 * The shape of a step kind: everything orch knows about one kind in one definition
 * object (pyinfra's operations, kamal's command builders). The registry
 * (`src/steps/index.ts`) keys them by name; compile, predict, describe, the engine's
 * payload decision and the playbook schema all derive from it.
 */
import type { Host } from '../model/inventory.js';
import type { Facts, PayloadRef, PlanBundle, PredictedStatus, Probe, TaskOf } from '../model/task.js';

/**
 * A step's role in the release lifecycle (Capistrano's named stages, see
 * https://capistranorb.com/documentation/getting-started/flow/): `stage` puts a release
 * on the host beside the running one, `switch` makes it current, `start` (re)starts what
 * runs it, `verify` judges it (and may roll back). src/compile/lifecycle.ts derives the
 * staging boundary, the rollback plan, bad-release refusal and the services' re-run
 * after a rollback from these roles, never from kind names.
 */
export type LifecycleRole = 'stage' | 'switch' | 'start' | 'verify';

/** The `--diff` of one step on one host (ansible --check --diff, terraform plan), as `plan --json` prints it. */
export type StepDiff =
  | {
      kind: 'put';
      path: string;
      /** Unified diff hunks (`@@ ... @@` and `+`/`-`/` ` lines), absent when the contents are equal or not shown. */
      unified?: string;
      /** Why no unified diff is shown although the contents differ. */
      contents?: 'new file' | 'binary differs' | 'too large to diff' | 'hidden: uses a secret' | 'hidden: private on the host';
      /** With `contents: 'hidden: private on the host'`: the host file's mode (octal, e.g. `600`). */
      hostMode?: string;
      mode?: { from: string; to: string };
      owner?: { from: string; to: string };
    }
  | { kind: 'symlink'; current: { from: string | null; to: string } }
  | {
      kind: 'install';
      /** The version `current` runs now (null: none), and the one installed. */
      from: string | null;
      to: string;
      /** Files of the new release against the current one (from both releases' info.json `files`, by sha256). */
      added: string[];
      removed: string[];
      changed: string[];
      /** Size of the bundle tarball, bytes. */
      bytes: number;
    };

/**
 * How `--diff` text is styled and sizes are written; src/ui gives its colour palette
 * (src/ui/color.ts) and `formatBytes` (src/ui/units.ts).
 */
export interface DiffStyle {
  /** `+` added (diff lines, new files). */
  add(s: string): string;
  /** `-` removed. */
  remove(s: string): string;
  /** `~` changed. */
  change(s: string): string;
  /** Hunk headers. */
  dim(s: string): string;
  /** A size in bytes as text (`1.2 MiB`). */
  bytes(n: number): string;
}

/** What a kind's `diff` hook may use besides the task and the facts (src/ui/diff.ts provides it). */
export interface DiffContext {
  /** Masks every secret value in a text. */
  mask(text: string): string;
  /** `--diff-private`: also show the old contents of files not world-readable on the host. */
  showPrivate: boolean;
  /** The `files` map (path -> sha256) of a bundle's info.json, read on the control machine; undefined when it has none. */
  bundleFiles(bundle: string): Record<string, string> | undefined;
  /** The bytes a task would upload (inline content or its local file); undefined when it has none or they cannot be read. */
  payloadBytes(payload: PayloadRef): Buffer | undefined;
}

/** A JSON Schema fragment (draft 2020-12), as plain data. */
export type SchemaFragment = Record<string, unknown>;

/** Data a step builder works from. Errors go through `fail` (collected as diagnostics). */
export interface StepContext<A = Record<string, unknown>> {
  host: Host;
  /** Dotted node path (`` = root). */
  nodePath: string;
  /** The kind key's value as written (schema-valid); `{ bundle: NAME }` for `bundle: NAME`. */
  args: A;
  /** Renders a string arg of the step: `shell` quotes every `{{x}}`; undefined on error (already reported). */
  render(field: string, mode: 'shell' | 'text'): string | undefined;
  /**
   * Renders a template text in text mode; undefined on error. With `file` (the template
   * file's path) an error is reported at its own line and column in that file.
   */
  renderText(text: string, field: string, file?: string): string | undefined;
  /** A var of the effective scope (rendered); undefined when unset. */
  getVar(name: string): unknown;
  /** The bundle the node's install step names, or the playbook's only bundle. */
  bundle?: PlanBundle;
  /** Bundles by name. */
  bundles: Record<string, PlanBundle>;
  /** Reads a local file relative to the playbook's folder; undefined on error (reported). */
  readLocalFile(path: string, field: string): { bytes: Buffer; absPath: string } | undefined;
  /** Reports a problem at the step (or at one of its fields). */
  fail(field: string | undefined, message: string): void;
  /**
   * Per-compile memo of built scripts by their text: hosts whose step has the same
   * inputs share one script string (10,000 hosts x a 6 KiB install script would
   * otherwise be 60 MB of copies).
   */
  memo: Map<string, string>;
  /** The node's `rollback` key (false: its service/healthcheck failures do not roll back unless the step says so). */
  nodeRollback: boolean;
  /** The node's `shared` paths (checked by compile; an install step adds its own). */
  nodeShared: readonly string[];
  /** True when a `service` step follows this step in the node (restart-pending bookkeeping). */
  restartFollows: boolean;
  /** sha256 hex of bytes (injected: compile has no crypto of its own). */
  sha256(bytes: Buffer): string;
}

/** What `describe` may use: the args and a renderer that never reports (labels only). */
export interface DescribeContext<A = Record<string, unknown>> {
  args: A;
  /** Renders a string arg in text mode for a label; the raw text when it cannot be rendered (compile reports that). */
  label(field: string): string | undefined;
  /** The bundle the node's install step names, or the playbook's only bundle. */
  bundle?: PlanBundle;
  bundles: Record<string, PlanBundle>;
  /** This host (its address may be in the label); absent for a step described as written (`describeAsWritten`). */
  host?: Host;
}

/**
 * One step kind. `A` = its argument type (what the schema admits), `C` = its check
 * data (the plan's `task.check`, `kind` = the kind's name).
 */
export interface StepKind<A = Record<string, unknown>, C extends { kind: string } = { kind: string }> {
  readonly name: C['kind'];
  /**
   * JSON Schema of the kind key's value; `scripts/gen-schema.mjs` assembles
   * schema/playbook.schema.json from these. The common step keys (name, on, once,
   * when) are added to `properties` unless the fragment defines them.
   */
  readonly schema: SchemaFragment;
  /** The fragment goes inline under `step.properties` instead of `$defs/<name>` (a scalar value like `bundle: NAME`). */
  readonly schemaInline?: boolean;
  /** The kind's role in the release lifecycle, if it has one (see LifecycleRole). */
  readonly lifecycle?: LifecycleRole;
  /** `changed`: run only if an earlier step of this node changed the host; else every time. */
  readonly defaultWhen: 'always' | 'changed';
  /** The step's own `when` when its args carry one (service's `when`). */
  whenOf?(args: A): 'always' | 'changed' | undefined;
  /** The rendered label shown in plans, progress, JSON events and `orch tree`: never a raw `{{template}}`. */
  describe(ctx: DescribeContext<A>): string;
  /** Pure: the task for one host, or undefined after reporting through `ctx.fail`. */
  build(ctx: StepContext<A>): TaskOf<C> | undefined;
  /**
   * Predicts the task's status from the host's facts (pure apart from `facts`, which it
   * updates as the change would, so later steps predict against the new state).
   */
  predict(facts: Facts, task: TaskOf<C>): PredictedStatus;
  /**
   * Why apply must fail this task whatever it does, read from the facts alone (a
   * conflict such as a version installed from another bundle): the plan shows the task
   * `failed` with this reason, and apply sends it no payload. Undefined when nothing is
   * in the way (and for kinds without conflicts).
   */
  refuse?(facts: Facts, task: TaskOf<C>): string | undefined;
  /**
   * Something the plan should say about the task besides its status, read from the
   * facts (e.g. `cleanup: 3 leftovers of an interrupted run`); shown under the host.
   */
  note?(facts: Facts, task: TaskOf<C>): string | undefined;
  /**
   * True when the task has a change of its own to make, read from the facts (a
   * service's unit file that differs): it runs even when `when: changed` finds no
   * earlier change in its node.
   */
  changesAlone?(facts: Facts, task: TaskOf<C>): boolean;
  /** True when the host already holds the task's payload (the engine then does not send it). */
  hasPayload?(facts: Facts, task: TaskOf<C>): boolean;
  /** `--diff`: probes read with the facts only to show the change (the current contents of the file a `put` replaces). */
  diffProbes?(task: TaskOf<C>): Probe[];
  /** `--diff`: what the task would change on the host, from its facts (read with `diffProbes`); undefined when there is nothing to show. */
  diff?(task: TaskOf<C>, facts: Facts | undefined, ctx: DiffContext): StepDiff | undefined;
  /** `--diff` as text: the lines (unindented) that show this kind's own `diff` result under its plan line. */
  formatDiff?(d: StepDiff, style: DiffStyle): string[];
  /** False for kinds done on the control machine (`bundle`): `ok` without facts, nothing runs on the host. */
  readonly hostWork?: false;
  /** A check, not a change (`healthcheck`): predicted `ok`, yet still run by apply. */
  readonly runsWhenOk?: true;
}
