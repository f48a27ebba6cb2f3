/**
 * orch as a library: `import { loadProject, plan, apply } from 'orch'`.
 *
 * The same stages the CLI runs (src/cli/run.ts), without argv, console output,
 * `process.exit` or process-wide state: each call takes its own inventories, options
 * and event callback, so two applies with different inventories can run at once in one
 * process. Errors are thrown (ConfigError with file:line:column diagnostics, OrchError).
 */
import type { SecretReading } from '../config/source-index.js';
import { hostname, userInfo } from 'node:os';
import { Session, type GatheredFacts, type Prediction } from '../engine/apply-plan.js';
import { refusedHosts } from '../engine/bad-release.js';
import { preparePlan } from '../engine/prepare.js';
import { ConfigError } from '../model/errors.js';
import type { Plan, PlanHost } from '../model/plan.js';
import type { Masker } from '../shell/mask.js';
import { TRANSPORTS, transportsFor } from '../transport/registry.js';
import type { EngineEvent, RunSummary } from '../engine/events.js';
import type { HostPrediction } from '../compile/predict.js';

export type { EngineEvent, RunSummary } from '../engine/events.js';
/** Every event `orch apply --json` prints, one per line: the engine's events, then the summary last. */
export type RunEvent = EngineEvent | RunSummary;
export type { Plan, PlanHost } from '../model/plan.js';
export type { HostPrediction } from '../compile/predict.js';
export { ConfigError, OrchError } from '../model/errors.js';

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
}

/** Stage 1's result: the compiled plan, its bundles built, and the masker for its secrets. */
export interface Project {
  readonly plan: Plan;
  readonly masker: Masker;
  readonly notes?: string[];
  readonly options: ProjectOptions;
}

/** Run options shared by plan and apply. */
export interface RunOptions {
  /** Hosts worked on at once (`--forks`, default 10). */
  forks?: number;
  /** Per-step timeout in seconds (`--timeout`). */
  stepTimeoutSeconds?: number;
  /** Receives every event, the same objects `orch apply --json` prints one per line (the summary last, from apply). */
  onEvent?: (e: RunEvent) => void;
}

/** apply's options: RunOptions plus the lock wait and an abort signal. */
export interface ApplyOptions extends RunOptions {
  /** Seconds to wait for another run's host lock (`--lock-wait`, default 0). */
  lockWaitSeconds?: number;
  /** Aborting stops the remote work as Ctrl-C does: no new steps, host agents TERM then KILL their children. */
  signal?: AbortSignal;
}

/** Stage 2+3's result: each reachable host's facts and what each host would do. */
export interface PlanResult {
  readonly project: Project;
  readonly facts: GatheredFacts;
  readonly hosts: Map<string, HostPrediction>;
  /** Hosts that could not be reached: host -> error. */
  readonly unreachable: Map<string, string>;
  /** Hosts refused for a release recorded bad: host -> message. */
  readonly refused: Map<string, string>;
}

/** Apply's result: the run summary (per-host results, interrupted flag). */
export interface ApplyResult {
  readonly summary: RunSummary;
  readonly interrupted: boolean;
}

/** Loads the playbook and inventories, compiles the plan and builds its bundles. @throws ConfigError with every diagnostic. */
export async function loadProject(playbook: string, options: ProjectOptions = {}): Promise<Project> {
  const env = options.env ?? process.env;
  const prepared = await preparePlan({
    playbook,
    ...(options.secrets && { secrets: options.secrets }),
    inventories: options.inventories ?? [],
    ...(options.limit !== undefined && { limit: options.limit }),
    ...(options.node !== undefined && { node: options.node }),
    ...(options.outDir !== undefined && { outDir: options.outDir }),
    extraVars: options.extraVars ?? {},
    env,
    now: () => new Date(),
    ...(options.log && { log: options.log }),
    warn: options.warn ?? (() => undefined),
    connect: async (host, hosts) => (await transportsFor(hosts))(host).connect(host, { hosts, insecureHostKeys: options.insecureHostKeys === true, env }),
  });
  if (prepared.diagnostics.length || !prepared.plan) throw new ConfigError(prepared.diagnostics.map((d) => ({ ...d, message: prepared.masker.mask(d.message) })));
  return { plan: prepared.plan, masker: prepared.masker, ...(prepared.notes && { notes: prepared.notes }), options };
}

async function openSession(project: Project, run: RunOptions, lock?: { waitSeconds: number }): Promise<Session> {
  const { plan, masker, options } = project;
  const emit = run.onEvent;
  return new Session(plan, {
    ...(lock && { lock }),
    sameMachine: (h: PlanHost) => TRANSPORTS[h.transport]?.sameMachine === true,
    forks: run.forks ?? 10,
    transportFor: await transportsFor(plan.hosts),
    connect: { hosts: plan.hosts, insecureHostKeys: options.insecureHostKeys === true, env: options.env ?? process.env },
    ...(run.stepTimeoutSeconds !== undefined && { stepTimeoutMs: run.stepTimeoutSeconds * 1000 }),
    emit: (e) => emit?.(e),
    masker,
    now: () => new Date(),
    by: `${userInfo().username}@${hostname()}`,
  });
}

function predictionResult(project: Project, session: Session, facts: GatheredFacts, prediction: Prediction): PlanResult {
  const unreachable = new Map<string, string>();
  for (const r of session.results.values()) if (r.error) unreachable.set(r.host, r.error);
  const refused = new Map([...refusedHosts(project.plan, facts.byHost)].filter(([, e]) => !e.warn).map(([h, e]) => [h, e.message]));
  return { project, facts, hosts: prediction.hosts, unreachable, refused };
}

/** Reads every target host's facts and predicts what each step would do; changes nothing on any host. */
export async function plan(project: Project, run: RunOptions = {}): Promise<PlanResult> {
  const session = await openSession(project, run);
  try {
    const facts = await session.gatherFacts();
    return predictionResult(project, session, facts, session.predict(facts));
  } finally {
    await session.close();
  }
}

/**
 * Applies the project: takes each host's lock, reads facts, runs the steps that would change.
 * An aborted `signal` stops the remote work like Ctrl-C and resolves with `interrupted: true`.
 */
export async function apply(project: Project, run: ApplyOptions = {}): Promise<ApplyResult> {
  const session = await openSession(project, run, { waitSeconds: run.lockWaitSeconds ?? 0 });
  let interrupted: Promise<void> | undefined;
  const onAbort = (): void => {
    interrupted ??= session.interrupt();
  };
  if (run.signal?.aborted) onAbort();
  run.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const facts = await session.gatherFacts();
    const prediction = session.predict(facts);
    if (!interrupted) await session.execute(prediction);
    await interrupted;
  } finally {
    run.signal?.removeEventListener('abort', onAbort);
    await session.close();
  }
  const summary = session.summary();
  run.onEvent?.(summary);
  return { summary, interrupted: summary.interrupted === true };
}
