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
    const seen = new Set<string>([name]);
    for (let j = h.jump; j !== undefined && !seen.has(j); j = inventory.hosts.get(j)?.jump) {
      jump.unshift(j);
      seen.add(j);
    }
    out[name] = {
      name, address: h.address, addressExplicit: h.addressExplicit, transport: h.transport,
      ...(h.user !== undefined && { user: h.user }), ...(h.port !== undefined && { port: h.port }),
      ...(h.identity !== undefined && { identity: h.identity }), ...(h.knownHosts !== undefined && { knownHosts: h.knownHosts }),
      hostKeyPolicy: h.hostKeyPolicy, jump, ...(h.giveUpSeconds !== undefined && { giveUpSeconds: h.giveUpSeconds }),
      ...(h.become !== undefined && { become: h.become }),
    };
    jump.forEach(add);
  };
  [...names].sort().forEach(add);
  return out;
}
