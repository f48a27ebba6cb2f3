/**
 * Connections of an interactive session (`orch shell`, `orch ssh`): one per host,
 * opened on first use and kept until the session ends. A failed connect is reported to
 * the caller and forgotten, so the next command tries again; `drop` closes one (Ctrl-C
 * of a running command: sshd then hangs up that command).
 */
import type { PlanHost } from '../../model/plan.js';
import { LocalTransport } from '../../transport/local.js';
import type { Connection, Transport } from '../../transport/transport.js';

export class ConnectionPool {
  readonly #conns = new Map<string, Promise<Connection>>();
  readonly #local = new LocalTransport();
  #ssh?: Promise<Transport>;

  /**
   * @param hosts every host that may be connected to, and their bastions (PlanHost shape)
   * @param insecureHostKeys `--insecure-host-keys`
   */
  constructor(private readonly hosts: Record<string, PlanHost>, private readonly insecureHostKeys = false, private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** The host's connection, opened on first use. Rejects with ConnectError (the host stays unconnected). */
  get(host: string): Promise<Connection> {
    let c = this.#conns.get(host);
    if (c) return c;
    const ph = this.hosts[host];
    if (!ph) return Promise.reject(new Error(`unknown host ${host}`));
    c = this.#transport(ph).then((t) => t.connect(ph, { hosts: this.hosts, insecureHostKeys: this.insecureHostKeys, env: this.env }));
    this.#conns.set(host, c);
    c.catch(() => {
      if (this.#conns.get(host) === c) this.#conns.delete(host);
    });
    return c;
  }

  /** True when the host has a live (or opening) connection. */
  has(host: string): boolean {
    return this.#conns.has(host);
  }

  #transport(ph: PlanHost): Promise<Transport> {
    if (ph.transport === 'local') return Promise.resolve(this.#local);
    this.#ssh ??= import('../../transport/ssh.js').then((m) => new m.SshTransport());
    return this.#ssh;
  }

  /** Closes and forgets one host's connection. */
  async drop(host: string): Promise<void> {
    const c = this.#conns.get(host);
    this.#conns.delete(host);
    await c?.then((conn) => conn.close(), () => undefined);
  }

  /** Closes every connection. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#conns.keys()].map((h) => this.drop(h)));
  }
}
