/**
 * Stage 1 of the library: a playbook and its inventories -> a compiled `Project` (the plan,
 * its bundles built, the secrets' masker). Shared by the public `loadProject`
 * (src/library/index.ts) and the CLI (src/cli/run.ts), which adds the status line and the
 * `orch run` playbook rewrite.
 */
import { resolve } from 'node:path';
import type { RunHooks } from './notify.js';
import type { EarlyLaunch } from '../engine/agent.js';
import { EarlyConnections } from '../engine/connections.js';
import { FactsMemo, factsMemoFile } from '../engine/facts-memo.js';
import { defaultCacheDir } from '../bundle/cache.js';
import { preparePlan, type PrepareOptions } from '../engine/prepare.js';
import type { SecretReading } from '../config/source-index.js';
import { ConfigError } from '../model/errors.js';
import type { Plan, PlanHost } from '../steps/plan.js';
import type { Masker } from '../shell/mask.js';
import { TRANSPORTS, transportsFor } from '../transport/registry.js';

/** What loadProject takes: the playbook file and how it is targeted (the CLI's `-i`, `--limit`, `--node`, `-e`). */
export interface ProjectOptions {
  /** Inventory files (`-i`); default the playbook's `inventory:`. */
  inventories?: string[];
  /** Ansible limit pattern (`--limit`). */
  limit?: string;
  /** Only this node (`--node`). */
  node?: string;
  /** Extra variables (`-e key=value`). */
  extraVars?: Record<string, string>;
  /** Environment for `${env.X}` lookups and SSH (default process.env, read, never written). */
  env?: NodeJS.ProcessEnv;
  /** Where bundles are written (default `dist` in the current directory). */
  outDir?: string;
  /** Bundle build log lines (default: dropped). */
  log?: (line: string) => void;
  /** Warnings that do not stop the run (default: dropped). */
  warn?: (line: string) => void;
  /** Accept unknown SSH host keys (`--insecure-host-keys`). */
  insecureHostKeys?: boolean;
  /**
   * Ansible Vault passwords and the age identity for encrypted vars (`vars_files`,
   * `!vault` values, group_vars files): `{ vault: [{ id, password, source }], ageIdentity }`
   * (see `vaultSecretsFrom` in src/secrets/vault.ts). Default: none (encrypted input is an error).
   */
  secrets?: SecretReading;
  /** A store channel may name an older release than the newest accepted (`--allow-downgrade`). */
  allowDowngrade?: boolean;
  /** converge: keep a channel release revoked fleet-wide in the plan, marked `store.revoked`, instead of refusing it. */
  keepRevoked?: boolean;
  /**
   * Never connect (`orch plan --offline`): `build_on` bundles are described in `notes`, not
   * built; `plan` reads no facts (every step `maybe`) and `apply` refuses the project.
   */
  offline?: boolean;
  /**
   * Start connecting to the run's hosts (at most this many) as soon as the inventory is
   * loaded, so the SSH handshakes overlap the bundle builds and the compile; the first
   * `plan` or `apply` of the project takes them. Default 0: connect when planning.
   */
  connectEarly?: number;
  /**
   * With `connectEarly`, for a run that takes the host lock (apply): each early
   * connection starts its host agent, which takes the lock as soon as it is up, when it is
   * free and the host has a lock file (an earlier run), so both overlap the compile. `by` is
   * `USER@HOST` for lock.info. Not for same-machine (`local`) hosts, which share a lock.
   * With the lock held, the agent also reads the facts the playbook's last run read on
   * that host (speculative facts, src/engine/facts-memo.ts); they are the run's when its
   * plan reads the same, else the facts are read again after the compile.
   */
  lockEarly?: {
    by: string;
    /**
     * Cache folder of the speculative facts (src/engine/facts-memo.ts: the probes of the
     * playbook's last run per host, read again while the next run compiles); default
     * `$XDG_CACHE_HOME/orch` or `~/.cache/orch`.
     */
    cacheDir?: string;
  };
}

/** Stage 1's result: the compiled plan, its bundles built, and the masker for its secrets. */
export interface Project {
  readonly plan: Plan;
  readonly masker: Masker;
  /** Lines about bundles not built (offline: `bundle NAME: PKG V, built on HOST at apply`). */
  readonly notes?: string[];
  readonly options: ProjectOptions;
  /** The playbook's `hooks:` and `notify:` (src/library/notify.ts), run and sent by apply; absent for `orch run` actions and maintenance. */
  readonly hooks?: RunHooks;
}

/** What the CLI adds to ProjectOptions (not public: `orch run`'s playbook rewrite). */
export type ProjectInternals = Pick<PrepareOptions, 'selectPlaybook'>;

/**
 * Connections started while a plan was prepared, by plan; the first session of that plan
 * takes them. Keyed by the plan object, so two projects never share any.
 */
const earlyByPlan = new WeakMap<Plan, EarlyConnections>();

/** The connections started for `plan` (removed), if any. */
export function takeEarlyConnections(plan: Plan): EarlyConnections | undefined {
  const e = earlyByPlan.get(plan);
  earlyByPlan.delete(plan);
  return e;
}

/** Hands the connections started for `from` to `to` (a plan derived from it, e.g. a rollback plan). */
export function moveEarlyConnections(from: Plan, to: Plan): void {
  const e = takeEarlyConnections(from);
  if (e) earlyByPlan.set(to, e);
}

/** loadProject with the CLI's internals. @throws ConfigError with every diagnostic (masked). */
export async function loadProjectWith(playbook: string, options: ProjectOptions, internals: ProjectInternals = {}): Promise<Project> {
  const env = options.env ?? process.env;
  const insecureHostKeys = options.insecureHostKeys === true;
  let early: EarlyConnections | undefined;
  const onCandidates = options.offline || !options.connectEarly ? undefined : (names: string[], hosts: Record<string, PlanHost>): void => {
    const transports = transportsFor(hosts);
    transports.catch(() => undefined);
    // Each with its host agent launched for a run that takes the lock (waiting for its settings: nothing but the lock changes on a host before the plan is valid).
    const holder = options.lockEarly ? `${options.lockEarly.by} pid ${process.pid} since ${new Date().toISOString()}` : undefined;
    // Only for a run that takes the lock (apply, converge): a plan reads its facts without
    // an agent and leaves nothing on a host.
    // Speculative facts: each host's agent reads the facts of the playbook's last run as soon as it holds the lock (facts-memo.ts).
    const memo = holder === undefined ? undefined : FactsMemo.load(factsMemoFile(options.lockEarly?.cacheDir ?? defaultCacheDir(env), resolve(playbook), (options.inventories ?? []).map((f) => resolve(f))));
    const launch = holder === undefined ? undefined : (h: PlanHost): EarlyLaunch => {
      const shared = TRANSPORTS[h.transport]?.sameMachine === true;
      let spec: string | undefined;
      try {
        spec = shared ? undefined : memo?.scriptFor(h.name);
      } catch {
        // A memo the script cannot be built from counts as none.
      }
      return {
        ...(h.giveUpSeconds !== undefined && { giveUpSeconds: h.giveUpSeconds }),
        // Same-machine (`local`) hosts share one lock, taken by the run's first of them.
        ...(!shared && { lockHolder: holder }),
        ...(spec !== undefined && { factsScript: spec }),
      };
    };
    early = new EarlyConnections(names.map((n) => hosts[n]!), async (h) => (await transports)(h).connect(h, { hosts, insecureHostKeys, env }), options.connectEarly!, launch, memo);
  };
  try {
    const prepared = await preparePlan({
      ...internals,
      ...(onCandidates && { onCandidates }),
      playbook,
      ...(options.secrets && { secrets: options.secrets }),
      ...(options.allowDowngrade === true && { allowDowngrade: true }),
      ...(options.keepRevoked === true && { keepRevoked: true }),
      inventories: options.inventories ?? [],
      ...(options.limit !== undefined && { limit: options.limit }),
      ...(options.node !== undefined && { node: options.node }),
      ...(options.outDir !== undefined && { outDir: options.outDir }),
      extraVars: options.extraVars ?? {},
      env,
      now: () => new Date(),
      ...(options.log && { log: options.log }),
      // offline never connects: build_on bundles are described, not built (src/bundle/playbook-bundle.ts).
      ...(options.offline === true && { offline: true }),
      warn: options.warn ?? (() => undefined),
      // build_on: the build host is reached like any host of a run (same transports and host-key rules).
      connect: async (host, hosts) => (await transportsFor(hosts))(host).connect(host, { hosts, insecureHostKeys, env }),
    });
    if (prepared.diagnostics.length || !prepared.plan) throw new ConfigError(prepared.diagnostics.map((d) => ({ ...d, message: prepared.masker.mask(d.message) })));
    if (early) earlyByPlan.set(prepared.plan, early);
    const pb = prepared.playbook;
    const hooks: RunHooks | undefined = !internals.selectPlaybook && (pb?.hooks || pb?.notify) ? { ...(pb.hooks && { hooks: pb.hooks }), ...(pb.notify && { notify: pb.notify }) } : undefined;
    return { plan: prepared.plan, masker: prepared.masker, ...(prepared.notes && { notes: prepared.notes }), options, ...(hooks && { hooks }) };
  } catch (err) {
    void (early as EarlyConnections | undefined)?.closeRest();
    throw err;
  }
}
