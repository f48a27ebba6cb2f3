/**
 * The transport registry: inventory `transport:` name -> how to load its implementation.
 * Adding a transport (say `docker exec`) is one file implementing `Transport`
 * (`./docker.ts`) plus one line here; the inventory and plan schemas list the names
 * (test/unit/transport/registry.test.ts fails until they match this table).
 * Implementations are imported lazily, so ssh2 is only loaded when a plan has SSH hosts.
 * Source: pyinfra's connectors (`pyinfra/connectors/*`, one module per connector).
 */
import type { PlanHost } from '../model/plan.js';
import { withBecome } from './become.js';
import type { Transport } from './transport.js';

/** One registered transport. */
export interface TransportEntry {
  /** Loads the implementation (one instance per run: it may cache config and share bastions). */
  load(): Promise<Transport>;
  /**
   * True when every host of this transport is this same machine (`local`): such hosts
   * share one host lock, taken once per run.
   */
  sameMachine: boolean;
}

/** Name -> transport. One line per transport. */
export const TRANSPORTS: Record<PlanHost['transport'], TransportEntry> = {
  ssh: { load: async () => new (await import('./ssh.js')).SshTransport(), sameMachine: false },
  local: { load: async () => new (await import('./local.js')).LocalTransport(), sameMachine: true },
};

/** The transport names the registry knows, sorted. */
export const transportNames = (): string[] => Object.keys(TRANSPORTS).sort();

/**
 * Loads the transports the `hosts` use (each once) and returns the picker the engine
 * takes (`SessionOptions.transportFor`).
 */
export async function transportsFor(hosts: Record<string, PlanHost>): Promise<(h: PlanHost) => Transport> {
  const loaded = new Map<string, Transport>();
  for (const name of new Set(Object.values(hosts).map((h) => h.transport))) {
    const entry = TRANSPORTS[name];
    if (!entry) throw new Error(`unknown transport ${JSON.stringify(name)} (known: ${transportNames().join(', ')})`);
    loaded.set(name, await entry.load());
  }
  return (h) => {
    const t = loaded.get(h.transport);
    if (!t) throw new Error(`transport ${h.transport} of host ${h.name} was not loaded`);
    // A host with `become` runs everything through sudo (./become.ts).
    return h.become === undefined ? t : withBecome(t);
  };
}
