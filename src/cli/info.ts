/** `orch hosts`, `orch tree`: read-only views of the configuration (`orch validate` is in validate.ts). */
import { flattenNodes } from '../compile/resolve-nodes.js';
import { preparePlan } from '../engine/prepare.js';
import { ConfigError } from '../model/errors.js';
import { limitHosts, loadCommandInventory } from './targets.js';
import { EXIT, ExitRequest } from './main.js';
import { parseExtraVars, type CommonOpts } from './run.js';

const out = (s: string): void => void process.stdout.write(s);

/** `orch hosts (PLAYBOOK | -i INVENTORY) [--limit P] [--json]`. */
export async function runHosts(playbook: string | undefined, opts: { inventory?: string[]; limit?: string; json?: boolean }): Promise<void> {
  const { inventory: inv } = await loadCommandInventory(playbook, opts.inventory ?? []);
  const names = limitHosts(inv, opts.limit);
  const rows = names.map((n) => {
    const h = inv.hosts.get(n)!;
    return { host: n, address: h.address, transport: h.transport, user: h.user ?? null, port: h.port ?? null, roles: h.roles, groups: h.groups };
  });
  if (opts.json) return void out(`${JSON.stringify(rows)}\n`);
  const w = Math.max(4, ...rows.map((r) => r.host.length));
  const aw = Math.max(7, ...rows.map((r) => r.address.length));
  out(`${'HOST'.padEnd(w)}  ${'ADDRESS'.padEnd(aw)}  ROLES / GROUPS\n`);
  for (const r of rows) out(`${r.host.padEnd(w)}  ${(r.transport === 'local' ? '(local)' : r.address).padEnd(aw)}  ${r.roles.join(',') || '-'} / ${r.groups.join(',') || '-'}\n`);
  out(`${rows.length} host${rows.length === 1 ? '' : 's'}\n`);
}

/** `orch tree PLAYBOOK`: nodes, roles resolved to hosts, effective vars (of the first host), steps. */
export async function runTree(playbook: string, opts: CommonOpts): Promise<void> {
  const prepared = await preparePlan({
    playbook, inventories: opts.inventory ?? [], extraVars: parseExtraVars(opts.extraVar), env: process.env, now: () => new Date(),
    ...(opts.limit !== undefined && { limit: opts.limit }), skipSyntaxCheck: true,
  });
  if (!prepared.tree) {
    if (prepared.diagnostics.length) throw new ConfigError(prepared.diagnostics);
    throw new ExitRequest(EXIT.INVALID);
  }
  const lines: string[] = [];
  for (const n of flattenNodes(prepared.tree)) {
    const depth = n.path ? n.path.split('.').length : 0;
    const pad = '  '.repeat(depth);
    lines.push(`${pad}${n.path ? n.name : '(root)'}  [${n.hosts.length} host${n.hosts.length === 1 ? '' : 's'}: ${n.hosts.join(', ')}]`);
    for (const [role, hosts] of [...n.roles.entries()].sort()) lines.push(`${pad}  role ${role}: ${hosts.join(', ') || '-'}`);
    const own = { ...(n.path ? {} : prepared.playbook?.vars ?? {}), ...(n.spec.vars ?? {}), ...n.overrideVars };
    for (const [k, v] of Object.entries(own)) lines.push(`${pad}  var ${k} = ${prepared.masker.mask(JSON.stringify(v))}${n.overrideSrc.has(k) ? '  (override)' : ''}`);
    (n.spec.steps ?? []).forEach((s, i) => lines.push(`${pad}  step ${i + 1}: ${s.name ?? s.kind}${s.name ? ` (${s.kind})` : ''}${s.on ?? n.spec.on ? ` on ${s.on ?? n.spec.on}` : ''}${s.once ? ' once' : ''}`));
    for (const [a, steps] of n.spec.actions ?? []) lines.push(`${pad}  action ${a}: ${steps.map((s) => s.name ?? s.kind).join(', ')}  (orch run ${playbook} ${n.path ? `${n.path}.` : ''}${a})`);
  }
  out(`${lines.join('\n')}\n`);
  if (prepared.diagnostics.length) throw new ConfigError(prepared.diagnostics);
}
