/**
 * Stage 1, connect: one connection per host for the whole run, opened on first use and
 * reused by every later stage (Mitogen/pyinfra: connection set-up is the expensive
 * part). Emits `connect` events; never throws anything but ConnectError.
 */
import { ConnectError } from '../model/errors.js';
import type { Plan, PlanHost } from '../model/plan.js';
import type { Masker } from '../shell/mask.js';
import type { ConnectOptions, Connection, Transport } from '../transport/transport.js';
import type { EngineEvent } from './events.js';

/** Memoised connections of one run. */
export class Connections {
  readonly #conns = new Map<string, Promise<Connection>>();

  constructor(
    private readonly plan: Plan,
    private readonly transportFor: (host: PlanHost) => Transport,
    private readonly options: ConnectOptions,
    private readonly emit: (e: EngineEvent) => void,
    private readonly masker: Masker,
  ) {}

  /** The host's connection (opened once). Rejects with ConnectError. */
  get(host: string): Promise<Connection> {
    let c = this.#conns.get(host);
    if (!c) {
      const ph = this.plan.hosts[host];
      if (!ph) return Promise.reject(new ConnectError(host, 'not a host of the plan'));
      const t0 = Date.now();
      c = this.transportFor(ph).connect(ph, this.options).then(
        (conn) => {
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

  /** Closes every connection that was opened. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#conns.values()].map(async (c) => {
      try {
        await (await c).close();
      } catch {
        /* never connected */
      }
    }));
  }
}
