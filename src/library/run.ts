/**
 * Stages 2-5 of the library: `plan` (facts -> predictions, nothing changes) and `apply`
 * (lock + facts -> predictions -> execute -> summary) of a loaded Project, over one engine
 * Session each (src/engine/apply-plan.ts). No console output, no signal handlers, no
 * `process.exit`: the caller's `onEvent`, hooks and AbortSignal are the only channels,
 * so two runs with different projects and options can go on at once in one process.
 */
import { hostname, userInfo } from 'node:os';
import { Session, type GatheredFacts, type Prediction } from '../engine/apply-plan.js';
import { refusedHosts, type Refusal } from '../engine/bad-release.js';
import type { EngineEvent, RunSummary } from '../engine/events.js';
import type { HostBytes } from '../engine/payloads.js';
import type { HostPrediction } from '../compile/predict.js';
import { OrchError } from '../model/errors.js';
import type { PlanHost, Probe } from '../model/plan.js';
import { TRANSPORTS, transportsFor } from '../transport/registry.js';
import { RunNotifier } from './notify.js';
import { takeEarlyConnections, type Project } from './project.js';

/** Every event `orch apply --json` prints, one per line: the engine's events, then the summary last. */
export type RunEvent = EngineEvent | RunSummary;

/** Run options shared by plan and apply. */
export interface RunOptions {
  /** Hosts worked on at once (`--forks`, default 50). */
  forks?: number;
  /** Per-step timeout in seconds (`--timeout`; default none). */
  stepTimeoutSeconds?: number;
  /** The host agents' dead-man's switch in seconds (`--give-up`; default the host's `give_up`, else 30). */
  giveUpSeconds?: number;
  /** Receives every event, the same objects `orch apply --json` prints one per line (the summary last, from apply). */
  onEvent?: (e: RunEvent) => void;
  /**
   * Aborting stops the run as Ctrl-C stops the CLI's. plan: the connections are closed and
   * plan rejects with the signal's reason. apply: no new step starts, the host agents TERM
   * then KILL their children, and apply resolves with `interrupted: true`.
   */
  signal?: AbortSignal;
}

/** plan's options: RunOptions plus the remote syntax check. */
export interface PlanOptions extends RunOptions {
  /** Also run `bash -n` of every task script on its host (`--remote-check`); problems in `remoteProblems`. */
  remoteCheck?: boolean;
}

/** apply's options: RunOptions plus the lock wait and a hook before anything changes. */
export interface ApplyOptions extends RunOptions {
  /** Seconds to wait for another run's host lock (`--lock-wait`, default 0). */
  lockWaitSeconds?: number;
  /**
   * Called once the facts are read (under the host locks) and the steps predicted, before
   * anything changes; not called when the signal was aborted by then. Throw to stop: apply
   * releases the locks, closes the connections and rejects with that error, nothing changed.
   */
  beforeExecute?: (planned: PlanResult) => void | Promise<void>;
}

/** What the CLI adds to RunOptions (not public). */
export interface RunInternals {
  /** Probes read with the facts beyond the plan's (`--diff`: file contents; src/ui/diff.ts). */
  extraProbes?: (host: string) => Probe[];
  /** converge: a release recorded bad is skipped quietly instead of failing its host. */
  skipBad?: boolean;
}

/** Stages 2 and 3: each reachable host's facts and what each host would do. */
export interface PlanResult {
  readonly project: Project;
  readonly facts: GatheredFacts;
  /** host -> each step's predicted status (`ok`, `changed`, `maybe`, `failed`), in plan order. */
  readonly hosts: Map<string, HostPrediction>;
  /** Hosts that could not be reached or locked: host -> error (masked). */
  readonly unreachable: Map<string, string>;
  /** Hosts refused for a release recorded bad: host -> the first phase refused and the message. */
  readonly refused: Map<string, Refusal>;
  /** Hosts warned but not refused (`warn: true`: a forced rollback to a version recorded bad): host -> phase and message. */
  readonly warnings: Map<string, Refusal>;
  /** True when the project is offline: no facts were read and every step is `maybe`. */
  readonly offline: boolean;
  /** `bash -n` problems found on the hosts (with `remoteCheck`), masked. */
  readonly remoteProblems: string[];
  /** The payload bytes each host would receive for its pending steps (delta streams or tarballs); empty offline. */
  payloadBytes(): Promise<Map<string, HostBytes>>;
}

/** apply's result: the run summary (per-host results, interrupted flag) and the plan it applied. */
export interface ApplyResult {
  readonly summary: RunSummary;
  readonly interrupted: boolean;
  readonly planned: PlanResult;
}

export async function openSession(project: Project, run: RunOptions, internals: RunInternals, lock?: { waitSeconds: number }): Promise<Session> {
  const { plan, masker, options } = project;
  const emit = run.onEvent;
  const early = takeEarlyConnections(plan);
  return new Session(plan, {
    ...(early && { early }),
    ...(lock && { lock }),
    ...(run.giveUpSeconds !== undefined && { giveUpSeconds: run.giveUpSeconds }),
    sameMachine: (h: PlanHost) => TRANSPORTS[h.transport]?.sameMachine === true,
    ...(internals.extraProbes && { extraProbes: internals.extraProbes }),
    forks: run.forks ?? 50,
    // An offline plan connects to nothing: no transport module is loaded (ssh's is the largest).
    transportFor: options.offline ? offlineTransport : await transportsFor(plan.hosts),
    connect: { hosts: plan.hosts, insecureHostKeys: options.insecureHostKeys === true, env: options.env ?? process.env },
    ...(run.stepTimeoutSeconds !== undefined && { stepTimeoutMs: run.stepTimeoutSeconds * 1000 }),
    emit: (e) => emit?.(e),
    masker,
    now: () => new Date(),
    by: performer(),
  });
}

/** The transport picker of an offline session, which never connects. */
function offlineTransport(h: PlanHost): never {
  throw new OrchError(`host ${h.name}: an offline plan opens no connection`);
}

/** `user@control-host`: who runs this (state.json's `by`, hooks' ORCH_PERFORMER). */
function performer(): string {
  return `${userInfo().username}@${hostname()}`;
}

function planResult(project: Project, session: Session, facts: GatheredFacts, prediction: Prediction, remoteProblems: string[]): PlanResult {
  const unreachable = new Map<string, string>();
  for (const r of session.results.values()) if (r.error) unreachable.set(r.host, r.error);
  const refusals = refusedHosts(project.plan, facts.byHost);
  return {
    project,
    facts,
    hosts: prediction.hosts,
    unreachable,
    refused: new Map([...refusals].filter(([, r]) => !r.warn)),
    warnings: new Map([...refusals].filter(([, r]) => r.warn)),
    offline: facts.offline,
    remoteProblems,
    payloadBytes: () => session.payloadBytes(prediction),
  };
}

/** Rejects when `signal` aborts (with its reason); never settles otherwise. */
function aborted(signal: AbortSignal | undefined): { promise: Promise<never>; dispose: () => void } {
  if (!signal) return { promise: new Promise<never>(() => undefined), dispose: () => undefined };
  let onAbort = (): void => undefined;
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => undefined);
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/** plan with the CLI's internals. */
export async function planWith(project: Project, run: PlanOptions, internals: RunInternals = {}): Promise<PlanResult> {
  run.signal?.throwIfAborted();
  const session = await openSession(project, run, internals);
  const abort = aborted(run.signal);
  let facts: GatheredFacts;
  let remoteProblems: string[] = [];
  try {
    if (project.options.offline) facts = session.offlineFacts();
    else {
      facts = await Promise.race([session.gatherFacts(), abort.promise]);
      if (run.remoteCheck) remoteProblems = await Promise.race([session.remoteCheck(facts), abort.promise]);
    }
  } finally {
    abort.dispose();
    await session.close();
  }
  return planResult(project, session, facts, session.predict(facts), remoteProblems);
}

/** apply with the CLI's internals. */
export async function applyWith(project: Project, run: ApplyOptions, internals: RunInternals = {}): Promise<ApplyResult> {
  if (project.options.offline) throw new OrchError('an offline project cannot be applied: load it again without offline');
  const session = await openSession(project, run, internals, { waitSeconds: run.lockWaitSeconds ?? 0 });
  session.skipBad = internals.skipBad === true;
  let interrupted: Promise<void> | undefined;
  const onAbort = (): void => {
    interrupted ??= session.interrupt();
  };
  if (run.signal?.aborted) onAbort();
  run.signal?.addEventListener('abort', onAbort, { once: true });
  let planned: PlanResult;
  const notifier = project.hooks ? new RunNotifier(project.plan, project.hooks, project.masker, { performer: performer(), env: project.options.env ?? process.env, warn: project.options.warn ?? (() => undefined) }) : undefined;
  try {
    const facts = await session.gatherFacts();
    const prediction = session.predict(facts);
    planned = planResult(project, session, facts, prediction, []);
    if (!interrupted) await run.beforeExecute?.(planned);
    // pre_apply after the plan was accepted and before any host changes: a failure stops the run here.
    if (!interrupted) await notifier?.preApply();
    if (!interrupted) await session.execute(prediction);
    await interrupted;
  } finally {
    run.signal?.removeEventListener('abort', onAbort);
    await session.close();
  }
  const summary = session.summary();
  await notifier?.after(summary);
  run.onEvent?.(summary);
  return { summary, interrupted: summary.interrupted === true, planned };
}
