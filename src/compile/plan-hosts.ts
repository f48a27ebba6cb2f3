/** Connection settings of hosts and their bastion chains, from the inventory. Pure. */
import type { Inventory } from '../model/inventory.js';
import type { PlanHost } from '../model/plan.js';

/** PlanHosts for `names` plus every bastion they go through (chains resolved, outermost first). */
export function planHostsFor(inventory: Inventory, names: string[]): Record<string, PlanHost> {
  const out: Record<string, PlanHost> = {};
  const add = (name: string): void => {
    if (out[name]) return;
    const h = inventory.hosts.get(name)!;
    const jump: string[] = [];
    if (h.jump !== undefined) {
      const seen = new Set<string>([name]);
      for (let j: string | undefined = h.jump; j !== undefined && !seen.has(j); j = inventory.hosts.get(j)?.jump) {
        jump.unshift(j);
        seen.add(j);
      }
    }
    // Assigned key by key in the plan's key order (no spread of a temporary object per key: 10,000 hosts).
    const ph: PlanHost = { name, address: h.address, addressExplicit: h.addressExplicit, transport: h.transport } as PlanHost;
    if (h.user !== undefined) ph.user = h.user;
    if (h.port !== undefined) ph.port = h.port;
    if (h.identity !== undefined) ph.identity = h.identity;
    if (h.knownHosts !== undefined) ph.knownHosts = h.knownHosts;
    ph.hostKeyPolicy = h.hostKeyPolicy;
    ph.jump = jump;
    if (h.giveUpSeconds !== undefined) ph.giveUpSeconds = h.giveUpSeconds;
    if (h.become !== undefined) ph.become = h.become;
    out[name] = ph;
    jump.forEach(add);
  };
  [...names].sort().forEach(add);
  return out;
}
