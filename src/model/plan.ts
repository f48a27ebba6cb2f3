/**
 * The Plan: the only thing that decides what `apply` does (terraform's rule).
 * JSON-serialisable, `planVersion: 1`, schema in `schema/plan.schema.json`.
 * Produced by `compilePlan` (pure), checked (bash -n, facts), then applied.
 */
import type { HostKeyPolicy } from './inventory.js';
import type { StepKind } from './playbook.js';

/** Per host step outcome. `maybe` only in plans that could not read the host (--offline). */
export type StepStatus = 'ok' | 'changed' | 'skipped' | 'failed';
export type PredictedStatus = StepStatus | 'maybe';

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
}

/** A bundle resolved on the control machine (built or prebuilt artifact). */
export interface PlanBundle {
  name: string;
  package: string;
  version: string;
  platform: string;
  /** sha256 (hex) of the tarball. */
  sha256: string;
  /** Size of the tarball in bytes. */
  size: number;
  /** Absolute local path of the tarball. */
  path: string;
  /** Name of the single top folder inside the tarball: `<package>-<version>-<platform>`. */
  dir: string;
  /**
   * A bundle from an artifact store (SPEC section 7): hosts fetch `url` themselves
   * unless `fetch` is `control`. `path` is `''` with `fetch: host` (the control machine
   * holds no copy); `size` is 0 when unknown (a `url` bundle fetched by hosts only).
   */
  store?: {
    url: string;
    fetch: 'host' | 'control' | 'auto';
    /** Channel bundles: the manifest URL and the principal whose signature was verified. */
    channel?: string;
    signer?: string;
  };
}

/**
 * What a step's script is fed on stdin. `content` is base64 (small files, rendered
 * templates); `file` a local path; `bundle` a bundle name. The engine skips sending
 * it when facts show the host already has `sha256` at `dest` (then runs the script
 * with `$1` = 0; the script exits 99 if it needs the payload after all).
 */
export type PayloadRef =
  | { kind: 'content'; base64: string; sha256: string; size: number }
  | { kind: 'file'; path: string; sha256: string; size: number }
  | { kind: 'bundle'; bundle: string; sha256: string; size: number; /** the host first tries to fetch it from a store; the script exits 99 when it could not */ lazy?: boolean };

/** What the plan needs to know from a host to predict a step (one facts round trip per host). */
export type Probe =
  | { kind: 'sha256'; path: string }
  | { kind: 'link'; path: string }
  | { kind: 'read'; path: string }
  | { kind: 'exists'; path: string }
  /**
   * `--diff` only: `MODE USER:GROUP SIZE` (`stat -c '%a %U:%G %s'`), a newline, then the
   * file's bytes when SIZE <= CONTENT_LIMIT (engine/facts.ts); absent when not a readable regular file.
   */
  | { kind: 'content'; path: string };

/** Data the predictor of each step kind needs (pure: facts in, status out). */
export type StepCheck =
  | {
      kind: 'put';
      dest: string;
      sha256: string;
      /** mode/owner/group are managed too (not in facts: always run) */
      meta: boolean;
      /** The wanted mode (octal text as written), owner and group, when given (shown by `--diff`). */
      mode?: string;
      owner?: string;
      group?: string;
    }
  | { kind: 'install'; root: string; version: string; sha256: string; bundleFile: string }
  | { kind: 'symlink'; root: string; version: string; /** bundle sha256 of that version when known ('' otherwise) */ sha256?: string }
  | { kind: 'service' }
  | { kind: 'run'; creates?: string; hasUnless: boolean }
  | { kind: 'bundle' }
  | { kind: 'healthcheck' }
  | { kind: 'prune'; root: string; keep: number }
  | { kind: 'rollback'; root: string; /** --to VERSION; absent = the previous link */ version?: string };

/** Host-state bookkeeping the engine does after a step changed a host (SPEC section 6). */
export interface StateEffect {
  action: 'install' | 'switch' | 'rollback' | 'prune';
  app: string;
  root: string;
  version: string;
  sha256: string;
}

/** One host's part of one step. */
export interface Task {
  /** This host's rendered step label (e.g. `service restart shop`); absent = the step's `name`. */
  label?: string;
  /**
   * Bash script run as `bash -c SCRIPT orch PAYLOAD_SENT STATE_JSON REGISTRY_JSON`.
   * Prints `::orch:: status=<ok|changed|skipped>` on stdout; exit 0 = success,
   * 99 = "send me the payload", anything else = failed.
   */
  script: string;
  payload?: PayloadRef;
  /** Remote path where the payload ends up (content-addressed or the put dest). */
  payloadDest?: string;
  probes: Probe[];
  check: StepCheck;
  state?: StateEffect;
  /**
   * healthcheck with `rollback: true`: on failure the engine runs `script` (switch
   * `current` back to `previous`), records `version`/`sha256` as bad, re-runs the node's
   * service steps and fails the host.
   */
  rollback?: { script: string; root: string; app: string; version: string; sha256: string };
}

/** One step of a node, compiled for every host that runs it. */
export interface PlanStep {
  /** Index in the node's `steps` list. */
  index: number;
  /** `name` or a generated `kind: summary`. */
  name: string;
  kind: StepKind;
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
