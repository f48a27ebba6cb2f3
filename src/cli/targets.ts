/**
 * The hosts a command acts on without compiling a playbook (`hosts`, `query -i`,
 * `exec`): the inventory (`-i` files, else the playbook's `inventory:`), narrowed by
 * `--limit` (Ansible pattern syntax), and a step-less plan to open connections with.
 */
import { resolve } from 'node:path';
import { limitUniverse, selectHosts } from '../compile/limit.js';
import { planHostsFor } from '../compile/plan-hosts.js';
import { loadInventory } from '../config/inventory.js';
import { loadPlaybook } from '../config/playbook.js';
import { SourceIndexImpl } from '../config/source-index.js';
import { cmdlineDiagnostic } from '../model/diagnostics.js';
import { ConfigError } from '../model/errors.js';
import type { Inventory } from '../model/inventory.js';
import type { Plan } from '../steps/plan.js';

/** A problem with the command line, as a diagnostic (`<command line>:1:1: PATH: MESSAGE`). */
export function cmdlineError(path: string, message: string): ConfigError {
  return new ConfigError([cmdlineDiagnostic(path, message)]);
}

/**
 * Loads the inventory of `-i FILES` (later files win), else of the playbook's
 * `inventory:` key; encrypted values (Ansible Vault) are not decrypted but read as
 * `SECRET_PLACEHOLDER`. @throws ConfigError with every problem found.
 */
export async function loadCommandInventory(playbook: string | undefined, inventories: string[]): Promise<{ inventory: Inventory; files: string[] }> {
  const index = new SourceIndexImpl();
  // These commands never need a secret's value: Ansible Vault values read as a placeholder.
  index.secretReading = { vault: [], placeholder: true };
  let files = inventories.map((f) => resolve(f));
  if (!files.length && playbook) {
    const pb = await loadPlaybook(resolve(playbook), index);
    if (!pb.playbook) throw new ConfigError(pb.diagnostics);
    if (pb.playbook.inventory) files = [pb.playbook.inventory];
  }
  if (!files.length) throw cmdlineError('-i', 'give a playbook with an inventory: key, or -i INVENTORY');
  const inv = await loadInventory(files, index);
  if (!inv.inventory) throw new ConfigError(inv.diagnostics);
  return { inventory: inv.inventory, files };
}

/**
 * Host names matching `limit` (every host without one), sorted; terms that matched nothing
 * are named on stderr (`orch: warning: --limit: Could not match supplied host pattern, ignoring: hh2`).
 * @throws ConfigError for a bad or empty match.
 */
export function limitHosts(inventory: Inventory, limit: string | undefined): string[] {
  const names = [...inventory.hosts.keys()].sort();
  if (limit === undefined) return names;
  const sel = selectHosts(limit, limitUniverse(inventory));
  if ('error' in sel) throw cmdlineError('--limit', sel.error);
  for (const w of sel.warnings) process.stderr.write(`orch: warning: --limit: ${w}\n`);
  return sel.hosts;
}

/** A plan without steps over `names` (and their bastions): what a Session needs to connect. */
export function connectionPlan(inventory: Inventory, names: string[], inventories: string[] = []): Plan {
  return {
    planVersion: 1, hosts: planHostsFor(inventory, names), targets: names, bundles: {}, phases: [],
    inputs: { files: {}, bundles: {}, playbook: '', inventories, extraVars: {} },
  };
}
