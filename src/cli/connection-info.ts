/**
 * What orch resolved for a host's connection, and where each value came from: the data of
 * `orch hosts --json` (`connection`) and `orch ssh-config HOST` (like `ssh -G`). The same
 * resolution the SSH transport uses (src/transport/ssh-config.ts), without connecting.
 */
import { planHostsFor } from '../compile/plan-hosts.js';
import type { Inventory } from '../model/inventory.js';
import type { PlanHost } from '../model/plan.js';
import { expandPath, loadSshConfig, resolveContextFromEnv, resolvePlanHost, type ParsedSshConfig, type ResolveContext, type ResolvedEndpoint } from '../transport/ssh-config.js';

/** One hop of a jump chain: an inventory bastion (`host` set) or a ProxyJump hop of ssh_config. */
export interface HopInfo {
  host?: string;
  address: string;
  port: number;
  user: string;
  via: string;
}

/**
 * A host's resolved connection. `sources` values: `inventory`, `FILE:LINE` of an
 * ssh_config file (`ProxyJump FILE:LINE` for a hop's user/port), `default`.
 */
export interface ConnectionInfo {
  transport: 'ssh' | 'local';
  address?: string;
  port?: number;
  user?: string;
  /** Identity files in the order they are tried (missing ones are skipped at connect time); empty = ssh-agent, then ~/.ssh/id_ed25519, ~/.ssh/id_rsa. */
  identity_files?: string[];
  /** Bastions, outermost first. */
  jump?: HopInfo[];
  known_hosts?: string;
  host_key_policy?: string;
  sources?: Record<string, string | string[]>;
  /** What could not be evaluated (e.g. `Match exec`), or the reason resolution failed (`error`). */
  warnings?: string[];
  error?: string;
}

/** Reads the ssh_config orch would use (`file` = only that one, like `ssh -F`). */
export function loadCliSshConfig(env: NodeJS.ProcessEnv, file?: string): Promise<ParsedSshConfig> {
  return loadSshConfig(resolveContextFromEnv(env), file);
}

function hostSources(h: PlanHost, ep: ResolvedEndpoint): Record<string, string | string[]> {
  return {
    address: ep.sources.hostname !== 'default' ? ep.sources.hostname : h.addressExplicit ? 'inventory' : 'default (the host name)',
    port: ep.sources.port,
    user: ep.sources.user,
    identity_files: ep.sources.identityFiles,
    ...(h.jump.length ? { jump: 'inventory' } : ep.sources.proxyJump ? { jump: ep.sources.proxyJump } : {}),
    known_hosts: h.knownHosts !== undefined ? 'inventory' : 'default',
    host_key_policy: 'inventory',
  };
}

/** The resolved connection of plan host `h` (its bastions looked up in `hosts`). Never throws: a failure is `error`. */
export async function describePlanHost(h: PlanHost, hosts: Record<string, PlanHost>, config: ParsedSshConfig, ctx: ResolveContext): Promise<ConnectionInfo> {
  if (h.transport === 'local') return { transport: 'local' };
  try {
    const ep = await resolvePlanHost(config, h, ctx);
    const warnings = [...ep.warnings];
    let jump: HopInfo[];
    if (h.jump.length) {
      jump = [];
      for (const name of h.jump) {
        const b = hosts[name]!;
        const bep = await resolvePlanHost(config, b, ctx);
        warnings.push(...bep.warnings);
        jump.push({ host: name, address: bep.hostname, port: bep.port, user: bep.user, via: 'inventory jump' });
      }
    } else {
      jump = ep.proxyJump.map((p) => ({ address: p.hostname, port: p.port, user: p.user, via: `ssh_config ProxyJump ${ep.proxyJumpRaw ?? ''}`.trim() }));
    }
    return {
      transport: 'ssh',
      address: ep.hostname,
      port: ep.port,
      user: ep.user,
      identity_files: ep.identityFiles,
      jump,
      known_hosts: expandPath(h.knownHosts ?? '~/.ssh/known_hosts', ctx),
      host_key_policy: h.hostKeyPolicy,
      sources: hostSources(h, ep),
      warnings: [...new Set(warnings)],
    };
  } catch (e) {
    return { transport: 'ssh', error: (e as Error).message };
  }
}

/** Resolved connections of inventory hosts `names`, by name. */
export async function describeInventoryHosts(inv: Inventory, names: string[], config: ParsedSshConfig, env: NodeJS.ProcessEnv): Promise<Map<string, ConnectionInfo>> {
  const ctx = resolveContextFromEnv(env);
  const plan = planHostsFor(inv, names);
  const out = new Map<string, ConnectionInfo>();
  for (const n of names) out.set(n, await describePlanHost(plan[n]!, plan, config, ctx));
  return out;
}

/** An alias that is no inventory host, resolved from ssh_config alone (`ssh -G ALIAS`). */
export async function describeAlias(alias: string, config: ParsedSshConfig, env: NodeJS.ProcessEnv): Promise<ConnectionInfo> {
  const h: PlanHost = { name: alias, address: alias, addressExplicit: false, transport: 'ssh', hostKeyPolicy: 'strict', jump: [] };
  const ctx = resolveContextFromEnv(env);
  return describePlanHost(h, { [alias]: h }, config, ctx);
}

/** `ssh -G`-style text: `key value` lines, each followed by where it came from. */
export function formatConnection(name: string, c: ConnectionInfo): string {
  if (c.error) return `# ${name}: ${c.error}\n`;
  if (c.transport === 'local') return `# ${name}: transport local (no SSH)\n`;
  const src = c.sources ?? {};
  const lines: [string, string, string][] = [
    ['hostname', c.address!, String(src.address ?? '')],
    ['user', c.user!, String(src.user ?? '')],
    ['port', String(c.port), String(src.port ?? '')],
  ];
  const ids = c.identity_files ?? [];
  const idSrc = (src.identity_files as string[] | undefined) ?? [];
  if (ids.length === 0) lines.push(['identityfile', '(none: ssh-agent, then ~/.ssh/id_ed25519, ~/.ssh/id_rsa)', 'default']);
  ids.forEach((f, i) => lines.push(['identityfile', f, idSrc[i] ?? '']));
  if (c.jump?.length) lines.push(['proxyjump', c.jump.map((j) => `${j.user}@${j.address}:${j.port}${j.host ? ` (${j.host})` : ''}`).join(','), String(src.jump ?? '')]);
  lines.push(['userknownhostsfile', c.known_hosts!, String(src.known_hosts ?? '')]);
  lines.push(['stricthostkeychecking', c.host_key_policy === 'accept-new' ? 'accept-new' : c.host_key_policy === 'off' ? 'no' : 'yes', `host_key_policy ${c.host_key_policy}`]);
  const w = Math.max(...lines.map(([k, v]) => k.length + 1 + v.length));
  let out = lines.map(([k, v, s]) => `${`${k} ${v}`.padEnd(w)}  # ${s}`).join('\n') + '\n';
  for (const warn of c.warnings ?? []) out += `# warning: ${warn}\n`;
  return out;
}
