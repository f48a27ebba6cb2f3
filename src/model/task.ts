/**
 * What a step kind's builder produces and its predictor consumes: probes, payloads,
 * state effects, facts and the task itself. Types only. `model/plan.ts` re-exports
 * these and closes `Task` over the registry's `StepCheck` union; step kinds
 * (`src/steps/*`) import from here, never from `plan.ts`, so no import cycle exists.
 */

/** Per host step outcome. `maybe` only in plans that could not read the host (--offline). */
export type StepStatus = 'ok' | 'changed' | 'skipped' | 'failed';
export type PredictedStatus = StepStatus | 'maybe';

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
   * A bundle from an artifact store (docs/store.md): hosts fetch `url` themselves
   * unless `fetch` is `control`. `path` is `''` with `fetch: host` (the control machine
   * holds no copy); `size` is 0 when unknown (a `url` bundle fetched by hosts only).
   */
  store?: {
    url: string;
    fetch: 'host' | 'control' | 'auto';
    /** `user:password` for the store (from the URL); the password is a secret of the run (masked in saved plans). */
    auth?: string;
    /** An S3 tarball: the query of this run's presigned GET URL for `url` (without `?`); a secret of the run (masked). */
    query?: string;
    /** Channel bundles: the manifest URL and the principal whose signature was verified. */
    channel?: string;
    signer?: string;
    /** converge only: the channel's signed revocation list names this release (src/store/revoke.ts); it is never installed. */
    revoked?: { at: string; reason: string };
    /**
     * Channel bundles fetched by hosts: what each host checks again before it downloads
     * (src/host/fetch.sh orch_check_manifest): the channel and package the manifest was
     * read as, its text and signature, the allowed_signers text, and whether an older
     * manifest than the host's newest is accepted (a pin or --allow-downgrade).
     */
    verify?: { channel: string; package: string; manifest: string; signature: string; allowed_signers: string; allow_older: boolean };
  };
}

/**
 * What a step's script is fed on stdin. `content` is base64 (small files, rendered
 * templates); `file` a local path; `bundle` a bundle name. The engine skips sending
 * it when facts show the host already has it (the kind's `hasPayload`; then runs the
 * script with `$1` = 0; the script exits 99 if it needs the payload after all).
 */
export type PayloadRef =
  | { kind: 'content'; base64: string; sha256: string; size: number }
  | { kind: 'file'; path: string; sha256: string; size: number }
  | { kind: 'bundle'; bundle: string; sha256: string; size: number; /** the host first tries to fetch it from a store; the script asks for it (`EXIT.NEED_PAYLOAD`, src/host/protocol.ts) when it could not */ lazy?: boolean };

/**
 * What the plan needs to know from a host to predict a step (one facts round trip per
 * host; src/host/facts.sh reads them). Values in `Facts`, `null` = absent:
 * - `sha256`: hex sha256 of a regular file;
 * - `link`: a symlink's target text;
 * - `read`: a regular file's text (first 1 MiB);
 * - `exists`: `1` when anything is there;
 * - `stat`: `KIND MODE USER GROUP UID GID` following symlinks, KIND `d` (folder),
 *   `f` (regular file) or `o` (other), MODE octal without leading zeros (`stat -c %a`),
 *   e.g. `d 755 root root 0 0`;
 * - `versions`: the complete versions under the root `path` (folders of `versions/`
 *   holding `.orch-installed`), newest install first, one per line (`''` = none).
 */
export type Probe =
  | { kind: 'sha256'; path: string }
  | { kind: 'link'; path: string }
  | { kind: 'read'; path: string }
  | { kind: 'exists'; path: string }
  | { kind: 'stat'; path: string }
  | { kind: 'versions'; path: string }
  /** How many things runs that died left under the root `path` (src/host/versions.sh orch_leftovers). */
  | { kind: 'leftovers'; path: string }
  /**
   * Delta releases (docs/how-it-works.md): `path` is an app's root. Lines `O <sha256>` (objects
   * held), then, when `current`'s bundle folder is kept, `B <version>` and that
   * release's `.orch-manifest` (src/host/facts.sh `orch_fact_delta`); absent when the
   * host holds no object store.
   */
  | { kind: 'delta'; path: string }
  | { kind: 'content'; path: string }
  /**
   * A `run` step's `unless` command (`path` holds the command text): its exit status,
   * `0` or another number, run once in the facts round trip as the step would run it
   * (src/host/facts.sh `orch_fact_unless`). `unless` is a read-only check by contract.
   */
  | { kind: 'unless'; path: string }
  /**
   * Operating-system facts, `path` holding a name (src/host/facts.sh): `package` = the
   * installed version of a Debian package, `candidate` = the version apt would install,
   * `passwd` = `getent passwd` line + newline + `id -Gn` groups, `group` = `getent
   * group` line, `enabled` = `systemctl is-enabled` of a unit.
   */
  | { kind: 'package' | 'candidate' | 'passwd' | 'group' | 'enabled'; path: string };

/**
 * Every probe kind, in the order `schema/plan.schema.json` lists them (the build writes
 * that enum from this list: src/steps/schema.ts `planSchemaText`).
 */
export const PROBE_KINDS = [
  'sha256', 'link', 'read', 'exists', 'stat', 'versions', 'leftovers', 'delta', 'content', 'unless',
  'package', 'candidate', 'passwd', 'group', 'enabled',
] as const satisfies readonly Probe['kind'][];
/** Compile-time check: a probe kind missing from PROBE_KINDS makes this `true` fail to type-check. */
const PROBE_KINDS_COMPLETE: [Exclude<Probe['kind'], (typeof PROBE_KINDS)[number]>] extends [never] ? true : false = true;
void PROBE_KINDS_COMPLETE;

/** Facts of one host: `kind:path` (see `factKey`) -> value (`null` = absent). Missing key = unknown. */
export type Facts = Map<string, string | null>;

/** Host-state bookkeeping the engine does after a step changed a host (docs/how-it-works.md "What orch leaves on a host"). */
export interface StateEffect {
  action: 'install' | 'switch' | 'rollback' | 'prune';
  app: string;
  root: string;
  version: string;
  sha256: string;
}

/** One host's part of one step; `C` is the kind's check data (see `StepCheck` in plan.ts). */
export interface TaskOf<C extends { kind: string }> {
  /**
   * Bash script run as `bash -c SCRIPT orch PAYLOAD_SENT STATE_JSON REGISTRY_JSON`:
   * src/host/prelude.sh, the host libraries the kind needs, and one call line.
   * Prints `::orch:: status=<ok|changed|skipped>` on stdout; exit 0 = success,
   * 99 = "send me the payload", anything else = failed.
   */
  script: string;
  /**
   * This host's rendered label (`service restart shop`, `put /etc/web1.conf`), set
   * when it differs from the step's `name` (the first host's label); read it through
   * `stepLabel(step, host)`.
   */
  label?: string;
  payload?: PayloadRef;
  /** Remote path where the payload ends up (content-addressed or the put dest). */
  payloadDest?: string;
  probes: Probe[];
  check: C;
  state?: StateEffect;
  /**
   * healthcheck with `rollback: true`, or a service step of a node that installs a
   * release (`afterSwitch`: only when this run switched `current` on the host; a
   * healthcheck failing on a run that switched nothing fails the host, no more): on
   * failure the engine runs `script` (switch `current` back to `previous`), records
   * `version`/`sha256` as bad, re-runs the node's service steps and fails the host.
   */
  rollback?: { script: string; root: string; app: string; version: string; sha256: string; afterSwitch?: boolean };
  /** service steps of the systemd, supervisor and daemon managers: where `orch logs` reads the service's log. */
  service?: ServiceRef;
}

/** A service as `orch logs` reads it (journalctl -u, supervisorctl tail, <root>/shared/log/<name>.log). */
export interface ServiceRef {
  manager: 'systemd' | 'supervisor' | 'daemon';
  name: string;
  /** daemon: the app's root. */
  root?: string;
  /** supervisor: supervisorctl -c / -s. */
  config?: string;
  serverUrl?: string;
  sudo?: boolean;
  /** systemd: `scope: user` units are read with `journalctl --user`. */
  scope?: 'user';
  /** systemd: the unit file the step writes (`unit:`), which `orch remove` deletes. */
  unitFile?: string;
}
