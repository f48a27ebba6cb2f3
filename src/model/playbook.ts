/**
 * The playbook model: a root node plus header keys (docs/reference/playbook.md), as loaded and
 * schema-validated by `loadPlaybook`. Templates and `extends` are NOT resolved here;
 * compile does that. Every spec keeps `src` so compile can report file:line:col.
 */
import type { DocPath } from './diagnostics.js';
import type { Vars } from './inventory.js';

/** Where a spec came from: file and path inside it (resolved by a SourceIndex). */
export interface SrcRef {
  file: string;
  path: DocPath;
}

/**
 * One step as written: exactly one kind key, plus the common keys. `kind` is a name of
 * the step kind registry (src/steps/index.ts), checked by `loadPlaybook`; the model
 * itself knows no kind (`isStepKind` narrows it to `StepKindName`).
 */
export interface StepSpec {
  kind: string;
  /** The kind key's value (for `bundle: NAME` it is `{ bundle: NAME }`). */
  args: Record<string, unknown>;
  name?: string;
  on?: string;
  once?: boolean;
  /** Common `when`; for `service` also the kind's own `when` ("changed" | "always"). */
  when?: string;
  src: SrcRef;
}

/** `serial: N | "P%" | [N | "P%", ...]` as written. */
export type SerialSpec = number | string | (number | string)[];

/** One node as written (root, child or template). */
export interface NodeSpec {
  extends?: string;
  /** `{ childRole: parentRole | [parentRoles] | "*" }` */
  roles?: Record<string, string | string[]>;
  vars?: Vars;
  required?: string[];
  steps?: StepSpec[];
  /** Children, in file order. */
  nodes?: [string, NodeSpec][];
  serial?: SerialSpec;
  max_fail?: number | string;
  /** Ansible's `max_fail_percentage: P` (0-100): the same as `max_fail: "P%"`. */
  max_fail_percentage?: number | string;
  /** `bake: DURATION`: after each batch is healthy, wait this long and run the node's healthchecks again on it. */
  bake?: number | string;
  /** `rollback: false`: a failed start of a new release keeps it in place (default: roll back). */
  rollback?: boolean;
  /** `shared: [instance/, config.py]`: linked into every release of this node's install steps. */
  shared?: string[];
  on?: string;
  /**
   * `actions:` named step lists, in file order, never part of apply; run one with
   * `orch run PLAYBOOK NODE.ACTION` (Capistrano/Fabric tasks; python-deployer's node actions).
   */
  actions?: [string, StepSpec[]][];
  /**
   * `drain:` / `undrain:` step lists run before each batch switches and after it is
   * healthy, on the hosts of each step's `on:` role, with `batch` in scope (Ansible's
   * rolling update pre_tasks/post_tasks around haproxy; src/engine/drain.ts).
   */
  drain?: StepSpec[];
  undrain?: StepSpec[];
  /** `maintenance: {on, off}`: the step lists of `orch maintenance on|off` (Kamal's `app maintenance`). */
  maintenance?: { on: StepSpec[]; off: StepSpec[] };
  /** Double-underscore override keys as written: `a__b__name` -> value. */
  overrides: Record<string, unknown>;
  src: SrcRef;
}

/** A `bundles:` entry; paths absolute (resolved against the playbook's folder). */
export interface BundleSpec {
  name: string;
  source?: string;
  artifact?: string;
  builder?: 'python' | 'node' | 'dir';
  python?: string;
  requirements?: string;
  pip_options?: string[];
  prebuild_script?: string;
  postbuild_script?: string;
  build_on?: string;
  /** Artifact store (docs/store.md): a tarball URL (or absolute path), pinned by `sha256`. */
  url?: string;
  sha256?: string;
  /** Artifact store: a channel manifest URL (or absolute path), verified against `allowed_signers` (absolute path). */
  channel?: string;
  allowed_signers?: string;
  /** `pin:` of a channel bundle: the version its manifest must name (an older one is then accepted). */
  pin?: string;
  /** Who downloads a store bundle (default auto). */
  fetch?: 'host' | 'control' | 'auto';
  /** `package:`: the bundle's package name (default: the package metadata, else the bundle's key). */
  package?: string;
  /** `version:`: how the release id is made (`file` default, `git`, `timestamp`; see src/bundle/version.ts). */
  version?: 'file' | 'git' | 'timestamp';
  src: SrcRef;
}

/** A loaded playbook. */
export interface Playbook {
  /** Absolute path of the playbook file. */
  file: string;
  /** Absolute path of the `inventory:` key, if any. */
  inventory?: string;
  /** Absolute paths of imported files (their `templates:` are merged into `templates`). */
  imports: string[];
  vars: Vars;
  /** Var names whose values are masked as *** everywhere. */
  secret: string[];
  /** `vars_files:` entries, absolute paths in order, with where each is written. */
  varsFiles?: { file: string; src: SrcRef }[];
  /** `secret_commands:` in file order: var name, shell command, where it is written. */
  secretCommands?: { name: string; command: string; src: SrcRef }[];
  bundles: Map<string, BundleSpec>;
  /** Playbook's own templates plus imported ones (own win). */
  templates: Map<string, NodeSpec>;
  /** The root node (the playbook itself). */
  root: NodeSpec;
  /** `hooks:` commands on the control machine around apply (src/library/notify.ts). */
  hooks?: Hooks;
  /** `notify:` webhooks told of the run's events (src/library/notify.ts). */
  notify?: Webhook[];
  /** `become: true` (with `become_user`, default root): the user every command on the hosts runs as through `sudo -n`, unless the inventory sets become for a host. */
  become?: string;
}

/** `hooks:` (Kamal's hooks): shell commands run on the control machine, in the playbook's folder. */
export interface Hooks {
  pre_apply?: string;
  post_apply?: string;
  on_failure?: string;
  on_rollback?: string;
}

/** One `notify:` entry: a URL POSTed each run event, with a per-POST timeout in seconds. */
export interface Webhook {
  webhook: string;
  timeoutSeconds: number;
  src: SrcRef;
}
