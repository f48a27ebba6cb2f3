/**
 * Stage 1, connect: one connection per host for the whole run, opened on first use and
 * reused by every later stage (Mitogen/pyinfra: connection set-up is the expensive
 * part). Emits `connect` events; never throws anything but ConnectError.
 */
import { ConnectError } from '../model/errors.js';
import type { Plan, PlanHost } from '../steps/plan.js';
import type { Masker } from '../shell/mask.js';
import type { ConnectOptions, Connection, Transport } from '../transport/transport.js';
import { HostAgent, type EarlyLaunch } from './agent.js';
import type { EngineEvent } from './events.js';
import type { FactsMemo } from './facts-memo.js';
import { now, span } from './trace.js';

/**
 * Connections opened before the plan exists: the CLI starts them for the run's
 * candidate targets (compile-plan.ts `candidateTargets`) as soon as the inventory is
 * loaded, so SSH handshakes overlap bundle checks, compilation and `bash -n` (an
 * apply's fixed cost; see `npm run bench`). Nothing runs on a host over them until the plan is valid;
 * the Session takes the ones it needs, the rest are closed.
 */
export class EarlyConnections {
  readonly #opened = new Map<string, EarlyConnection>();

  /**
   * Starts `connect` for each of `hosts` (at most `max` of them, in the order given:
   * the order the run's facts stage takes them). Failures are kept for the Session,
   * which reports them as its own connect would. With `agents`, each connection also
   * launches its host agent as soon as it is up (`HostAgent.launch`: it waits for its
   * settings and changes nothing on the host before), so the agent's start overlaps the
   * compile too; `agents(host)` gives each its give-up time, and for runs that take the
   * host lock, the holder that takes it then, when free (and the speculative facts script).
   * `factsMemo`: where those scripts came from; the run's Session records its facts' probes there.
   */
  constructor(hosts: PlanHost[], connect: (host: PlanHost) => Promise<Connection>, max: number, agents?: (host: PlanHost) => EarlyLaunch, readonly factsMemo?: FactsMemo) {
    for (const ph of hosts.slice(0, Math.max(0, max))) {
      const conn = Promise.resolve().then(() => connect(ph));
      conn.catch(() => undefined);
      const e: EarlyConnection = { t0: Date.now(), p0: now(), conn };
      if (agents) conn.then((c) => void (e.noAgent || (e.agent = HostAgent.launch(ph.name, c, agents(ph)))), () => undefined);
      this.#opened.set(ph.name, e);
    }
  }

  /** Ends the agents of hosts not in `keep`; those still connecting launch none. */
  discardAgentsExcept(keep: Set<string>): void {
    for (const [name, e] of this.#opened) {
      if (keep.has(name)) continue;
      e.noAgent = true;
      e.agent?.discard();
    }
  }

  /** The connection started for `host` (removed from the pool), or undefined. */
  take(host: string): EarlyConnection | undefined {
    const e = this.#opened.get(host);
    this.#opened.delete(host);
    return e;
  }

  /** Closes every connection nobody took (and ends their launched agents). */
  async closeRest(): Promise<void> {
    const rest = [...this.#opened.values()];
    this.#opened.clear();
    await Promise.all(rest.map(async (e) => {
      try {
        const c = await e.conn;
        e.agent?.discard();
        await c.close();
      } catch {
        /* never connected */
      }
    }));
  }
}

/** One connection opened early: when it started, and its launched agent once up. */
export interface EarlyConnection {
  t0: number;
  p0: number;
  conn: Promise<Connection>;
  agent?: HostAgent;
  /** Set when the run does not target the host: no agent is launched. */
  noAgent?: boolean;
}

/** Memoised connections of one run. */
export class Connections {
  readonly #conns = new Map<string, Promise<Connection>>();
  /** Agents launched on early connections, until the run takes them (`takeAgent`). */
  readonly #launched = new Map<string, HostAgent>();

  constructor(
    private readonly plan: Plan,
    private readonly transportFor: (host: PlanHost) => Transport,
    private readonly options: ConnectOptions,
    private readonly emit: (e: EngineEvent) => void,
    private readonly masker: Masker,
    private readonly early?: EarlyConnections,
  ) {}

  /** The host's connection (opened once). Rejects with ConnectError. */
  get(host: string): Promise<Connection> {
    let c = this.#conns.get(host);
    if (!c) {
      const ph = this.plan.hosts[host];
      if (!ph) return Promise.reject(new ConnectError(host, 'not a host of the plan'));
      const pre = this.early?.take(host);
      const t0 = pre?.t0 ?? Date.now();
      const p0 = pre?.p0 ?? now();
      const open = (): Promise<Connection> => this.transportFor(ph).connect(ph, this.options);
      // An early connection lost while the plan was prepared (a long build) is replaced.
      const conn = pre
        ? pre.conn.then((e) => {
          if (e.alive === false) {
            pre.agent?.discard();
            return e.close().then(open, open);
          }
          if (pre.agent) this.#launched.set(host, pre.agent);
          return e;
        })
        : open();
      c = conn.then(
        (conn) => {
          span('connect', p0, host);
          this.emit({ type: 'connect', host, ok: true, ms: Date.now() - t0 });
          return conn;
        },
        (err: unknown) => {
          const msg = this.masker.mask(err instanceof Error ? err.message : String(err));
          this.emit({ type: 'connect', host, ok: false, error: msg, ms: Date.now() - t0 });
          throw err instanceof ConnectError ? err : new ConnectError(host, msg);
        },
      );
      c.catch(() => undefined);
      this.#conns.set(host, c);
    }
    return c;
  }

  /** Ends the agents launched early on hosts not in `keep` (now or as they come up). */
  discardAgentsExcept(keep: Set<string>): void {
    this.early?.discardAgentsExcept(keep);
  }

  /** The agent launched on the host's early connection, removed from the pool (the caller owns it), or undefined. */
  takeAgent(host: string): HostAgent | undefined {
    const a = this.#launched.get(host);
    this.#launched.delete(host);
    return a;
  }

  /** Closes every connection that was opened (early ones nobody took too). */
  async closeAll(): Promise<void> {
    for (const a of this.#launched.values()) a.discard();
    this.#launched.clear();
    await Promise.all([this.early?.closeRest(), ...[...this.#conns.values()].map(async (c) => {
      try {
        await (await c).close();
      } catch {
        /* never connected */
      }
    })]);
  }
}
