/**
 * The engine: runs a Plan over Transports in named stages (pyinfra's stages, terraform's
 * plan as the only input), each in its own module, each taking what the one before
 * returned, so the order cannot be broken:
 *
 * ```
 * connect (connections.ts) -> lock + facts (gatherFacts: GatheredFacts)
 *   -> predict (predict(facts): Prediction) -> execute(prediction) (execute.ts, lanes.ts)
 *   -> record (record.ts: summary())
 * ```
 *
 * With a lock (apply, converge, rollback) every host gets one remote agent (agent.ts,
 * src/host/agent.sh) that holds the host lock, reads the facts in the same round trip,
 * and runs every segment as its own child: nothing of the run outlives it on the host.
 * Emits events; never prints.
 */
import pLimit from 'p-limit';
import type { Facts, HostPrediction } from '../compile/predict.js';
import { predictHost, probesForHost } from '../compile/predict.js';
import { ConnectError, LockedError, RemoteCommandError } from '../model/errors.js';
import type { Plan, PlanHost, PredictedStatus, Probe } from '../steps/plan.js';
import type { Masker } from '../shell/mask.js';
import type { ConnectOptions, Connection, Transport } from '../transport/transport.js';
import { DEFAULT_GIVE_UP_SECONDS, HostAgent } from './agent.js';
import { Connections, type EarlyConnections } from './connections.js';
import type { EngineEvent, HostResult, RunSummary } from './events.js';
import { Executor, type Predicted } from './execute.js';
import { factsScript, parseFacts } from './facts.js';
import { runPhases } from './lanes.js';
import { BundleManifests, PayloadBook, type HostBytes } from './payloads.js';
import { RunRecord } from './record.js';
import { tail } from './segment.js';
import { StateBook } from './state-book.js';
import { now, span, timed } from './trace.js';

/** What a session needs from its caller. */
export interface SessionOptions {
  /** Parallel host lanes (default 50). */
  forks: number;
  /** Picks the transport of a host (see transport/registry.ts). */
  transportFor: (host: PlanHost) => Transport;
  connect: ConnectOptions;
  emit: (e: EngineEvent) => void;
  masker: Masker;
  /** Clock (history timestamps) and identity (`user@control-host`) for state.json. */
  now: () => Date;
  by: string;
  /** Per-step command timeout, ms (default none). */
  stepTimeoutMs?: number;
  /** Probes read with the facts beyond what the plan's tasks need (`--diff`: file contents). */
  extraProbes?: (host: string) => Probe[];
  /** Take the host lock before reading facts (apply, converge, rollback); `wait` in seconds. */
  lock?: { waitSeconds: number };
  /** Dead-man's switch of the host agents: seconds without a heartbeat before a host stops the run's work (default 30). */
  giveUpSeconds?: number;
  /** Whether a host's transport reaches this same machine (such hosts share one lock). */
  sameMachine?: (host: PlanHost) => boolean;
  /** Connections already started for this run (taken instead of opening new ones; the rest are closed with the session). */
  early?: EarlyConnections;
}

/** Stage 2's output: each reachable host's facts (read under its lock when locking). */
export interface GatheredFacts {
  readonly byHost: Map<string, Facts>;
  readonly offline: boolean;
}

/** Stage 3's output: what each host would do, and what execute takes. */
export interface Prediction {
  readonly hosts: Map<string, HostPrediction>;
  readonly predicted: Predicted;
  /** Delta payloads of installs, computed once from the facts (plan shows them, execute sends them). */
  readonly payloads?: PayloadBook;
}

/** A run over one plan. Create it, then go through the stages in order, then `close`. */
export class Session {
  readonly record: RunRecord;
  readonly #connections: Connections;
  /** Bundle manifests for delta streams, read while the facts are gathered. */
  readonly #manifests = new BundleManifests();
  readonly #agents = new Map<string, Promise<HostAgent>>();
  /** Every agent started, as soon as it exists (Ctrl-C stops those still waiting for a lock too). */
  readonly #allAgents = new Set<HostAgent>();
  /** Lock key (host name; one key for every same-machine host) -> the agent holding it. */
  readonly #locks = new Map<string, Promise<HostAgent>>();
  /** converge: skip a release recorded bad quietly instead of failing the host (set by the CLI). */
  skipBad = false;
  #emitFn: (e: EngineEvent) => void;

  constructor(readonly plan: Plan, private readonly opts: SessionOptions) {
    this.#emitFn = opts.emit;
    const emit = (e: EngineEvent): void => this.#emitFn(e);
    this.record = new RunRecord(plan.targets, emit, opts.masker);
    this.#connections = new Connections(plan, opts.transportFor, opts.connect, emit, opts.masker, opts.early);
  }

  /** Sends later events to `emit` instead (e.g. once the plan has been printed). */
  setEmitter(emit: (e: EngineEvent) => void): void {
    this.#emitFn = emit;
  }

  /** Per-host results so far. */
  get results(): Map<string, HostResult> {
    return this.record.results;
  }

  /** Stage 1: the host's connection (opened once, memoised). Rejects with ConnectError. */
  connection(host: string): Promise<Connection> {
    return this.#connections.get(host);
  }

  isFailed(host: string): boolean {
    return this.record.isFailed(host);
  }

  /** No facts at all (`plan --offline`): every step predicts `maybe`. */
  offlineFacts(): GatheredFacts {
    return { byHost: new Map(), offline: true };
  }

  /**
   * Stage 2: connects to every target and reads its facts, in parallel (`forks` at a
   * time); with `lock`, through the host's agent, under the host lock, in one round trip.
   * A host that fails here is recorded failed (unreachable, or locked) and left out.
   */
  async gatherFacts(): Promise<GatheredFacts> {
    return timed('facts stage', () => this.#gatherFacts());
  }

  async #gatherFacts(): Promise<GatheredFacts> {
    const byHost = new Map<string, Facts>();
    const limit = pLimit(Math.max(1, this.opts.forks));
    // Agents launched early on hosts the plan does not target end now (with a lock taken early, it is freed).
    this.#connections.discardAgentsExcept(new Set(this.plan.targets));
    await Promise.all(this.plan.targets.map((host) => limit(async () => {
      try {
        const conn = await this.connection(host);
        const probes = [...probesForHost(this.plan, host), ...(this.opts.extraProbes?.(host) ?? [])];
        let stdout: string;
        if (this.opts.lock) stdout = await this.#startAgent(host, conn, factsScript(probes), this.opts.lock.waitSeconds);
        else {
          const res = await conn.exec(factsScript(probes), this.opts.stepTimeoutMs ? { timeoutMs: this.opts.stepTimeoutMs } : {});
          if (res.code !== 0) throw new RemoteCommandError(host, 'reading facts', res.code, tail(res.stderr.toString('utf8'), 500));
          stdout = res.stdout.toString('utf8');
        }
        const t = now();
        const facts = parseFacts(probes, stdout);
        byHost.set(host, facts);
        // The next apply's agents read these probes while it compiles (facts-memo.ts).
        this.opts.early?.factsMemo?.record(host, probes, (text) => this.opts.masker.mask(text) !== text);
        this.#manifests.prefetchFor(this.plan, host, facts, predictHost(this.plan, host, facts));
        span('parse facts', t, host);
        this.#emitFn({ type: 'facts', host, ok: true });
      } catch (err) {
        const unreachable = err instanceof ConnectError;
        const msg = err instanceof ConnectError || err instanceof LockedError || err instanceof RemoteCommandError ? err.message.replace(`${host}: `, '') : (err as Error).message;
        this.#emitFn({ type: 'facts', host, ok: false, error: this.opts.masker.mask(msg) });
        this.record.failHost(host, msg, unreachable);
      }
    })));
    return { byHost, offline: false };
  }

  /**
   * Starts the host's agent; the first host of a machine takes the lock (hosts of the
   * same machine, like every `local` host, share it: one lock per machine and SSH user)
   * and the others start theirs once it is held. Resolves with the facts output.
   */
  async #startAgent(host: string, conn: Connection, facts: string, waitSeconds?: number): Promise<string> {
    const ph = this.plan.hosts[host]!;
    const key = this.opts.sameMachine?.(ph) ? '\0machine' : host;
    const holderOf = this.#locks.get(key);
    if (holderOf) await holderOf;
    // The agent launched on the early connection, unless it ended meanwhile (it gives up after
    // the give-up time without heartbeats, e.g. when this process could not send them).
    const launched = this.#connections.takeAgent(host);
    const started = (launched?.running ? launched : HostAgent.launch(host, conn)).begin({
      ...(!holderOf && waitSeconds !== undefined && { lockWaitSeconds: waitSeconds }),
      holder: `${this.opts.by} pid ${process.pid} since ${this.opts.now().toISOString()}`,
      factsScript: facts,
      giveUpSeconds: this.opts.giveUpSeconds ?? ph.giveUpSeconds ?? DEFAULT_GIVE_UP_SECONDS,
      ...(this.opts.stepTimeoutMs !== undefined && { timeoutMs: this.opts.stepTimeoutMs }),
      onAgent: (a) => {
        this.#allAgents.add(a);
        if (this.record.interrupted) void a.stop();
      },
    });
    const agent = started.then((s) => s.agent);
    agent.catch(() => undefined);
    this.#agents.set(host, agent);
    if (!holderOf && waitSeconds !== undefined) this.#locks.set(key, agent);
    return (await started).factsOutput;
  }

  /** The host's agent; started on first use (without facts) when no lock was taken. */
  #agentOf(host: string): Promise<HostAgent> {
    const a = this.#agents.get(host);
    if (a) return a;
    return this.connection(host).then(async (conn) => {
      if (!this.#agents.has(host)) await this.#startAgent(host, conn, 'echo END\n');
      return this.#agents.get(host)!;
    });
  }

  /** Stage 3: predictions per host from the facts of stage 2 (`maybe` without facts). */
  predict(facts: GatheredFacts): Prediction {
    const t = now();
    try {
      return this.#predict(facts);
    } finally {
      span('predict', t);
    }
  }

  #predict(facts: GatheredFacts): Prediction {
    const hosts = new Map<string, HostPrediction>();
    const statuses = new Map<string, Map<string, PredictedStatus>>();
    for (const h of this.plan.targets) {
      const pred = predictHost(this.plan, h, facts.offline ? undefined : facts.byHost.get(h));
      hosts.set(h, pred);
      if (!facts.offline) statuses.set(h, new Map(pred.map((p) => [`${p.phase}:${p.step}`, p.status])));
    }
    return {
      hosts,
      predicted: { facts: facts.byHost, statuses },
      ...(!facts.offline && { payloads: new PayloadBook(this.plan, (h) => facts.byHost.get(h), this.#manifests) }),
    };
  }

  /**
   * Stage 3 too: the payload bytes each host will receive for its pending steps (delta
   * streams or tarballs, payloads.ts); empty offline.
   */
  async payloadBytes(prediction: Prediction): Promise<Map<string, HostBytes>> {
    return prediction.payloads ? prediction.payloads.bytesByHost(prediction.hosts) : new Map();
  }

  /** Runs `bash -n` of every task script on its host (python-deployer's sandbox). Returns problems. */
  async remoteCheck(facts: GatheredFacts): Promise<string[]> {
    const problems: string[] = [];
    const limit = pLimit(Math.max(1, this.opts.forks));
    await Promise.all(this.plan.targets.filter((h) => facts.byHost.has(h) && !this.isFailed(h)).map((host) => limit(async () => {
      const conn = await this.connection(host);
      for (const phase of this.plan.phases) {
        for (const step of phase.steps) {
          const t = step.tasks[host];
          if (!t || !t.script) continue;
          // The script goes on stdin: scripts may hold secrets, and command lines are visible in ps.
          const res = await conn.exec('bash -n', { stdin: Buffer.from(t.script, 'utf8') });
          if (res.code !== 0) problems.push(this.opts.masker.mask(`${step.at}: node ${phase.node || '(root)'}, step "${step.name}", host ${host}: bash -n on the host: ${tail(res.stderr.toString('utf8'), 500)}`));
        }
      }
    }).catch((err: unknown) => {
      this.record.failHost(host, (err as Error).message, err instanceof ConnectError);
    })));
    return problems;
  }

  /** Stage 4: applies the plan: phases in order, batches inside, hosts in parallel lanes. */
  async execute(prediction: Prediction): Promise<void> {
    return timed('execute', () => this.#execute(prediction));
  }

  async #execute(prediction: Prediction): Promise<void> {
    const executor = new Executor({
      plan: this.plan,
      predicted: prediction.predicted,
      record: this.record,
      book: new StateBook((h) => prediction.predicted.facts.get(h), { now: this.opts.now, by: this.opts.by }),
      agentOf: (h) => this.#agentOf(h),
      emit: (e) => this.#emitFn(e),
      mask: (s) => this.opts.masker.mask(s),
      ...(prediction.payloads && { payloads: prediction.payloads }),
      ...(this.opts.stepTimeoutMs !== undefined && { stepTimeoutMs: this.opts.stepTimeoutMs }),
      skipBad: this.skipBad,
    });
    const { aborted } = await runPhases(this.plan, this.opts.forks, {
      isFailed: (h) => this.record.isFailed(h),
      runLane: (pi, h, from, to) => timed('execute lane', () => executor.runLane(pi, h, from, to), h),
      emit: (e) => this.#emitFn(e),
      interrupted: () => (this.record.interrupted ? 'interrupted' : undefined),
      recheck: (pi, h) => timed('bake recheck', () => executor.recheck(pi, h), h),
    });
    if (aborted !== undefined) this.record.aborted = aborted;
  }

  /**
   * Ctrl-C: no new step starts; every agent stops its children (TERM, then KILL after
   * the grace) and exits. Resolves once they did (bounded by the agents' stop wait).
   */
  async interrupt(): Promise<void> {
    this.record.interrupted = true;
    this.record.aborted ??= 'interrupted: remote work was stopped; later steps were not started';
    await Promise.all([...this.#allAgents].map((a) => a.stop()));
  }

  /** Stage 5: results and totals. */
  summary(): RunSummary {
    return this.record.summary();
  }

  /** Says goodbye to every agent (their locks go with them) and closes every connection. */
  async close(): Promise<void> {
    const t = now();
    await Promise.all([...this.#allAgents].map((a) => a.close()));
    await Promise.all([this.#connections.closeAll(), this.opts.early?.factsMemo?.save()]);
    span('close', t);
  }
}
