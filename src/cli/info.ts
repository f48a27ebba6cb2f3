/** `orch hosts`, `orch ssh-config`, `orch tree`: read-only views of the configuration (`orch validate` is in validate.ts). */
import { secretReadingOf } from './secret-flags.js';
import { flattenNodes } from '../compile/resolve-nodes.js';
import { preparePlan } from '../engine/prepare.js';
import { ConfigError } from '../model/errors.js';
import { describeAlias, describeInventoryHosts, formatConnection, loadCliSshConfig } from './connection-info.js';
import { cmdlineError, limitHosts, loadCommandInventory } from './targets.js';
import { EXIT, ExitRequest } from './exit-codes.js';
import { parseExtraVars, type CommonOpts } from './run.js';

const out = (s: string): void => void process.stdout.write(s);

/**
 * `orch hosts (PLAYBOOK | -i INVENTORY) [--limit P] [--json] [--ssh-config FILE]`.
 * JSON: `[{host, address, transport, user, port, roles, groups, vars, connection}]` where
 * `connection` is the resolved connection (see `ConnectionInfo`: address, port, user,
 * identity files in order, jump chain, known_hosts, host-key policy, `sources`).
 */
export async function runHosts(playbook: string | undefined, opts: { inventory?: string[]; limit?: string; json?: boolean; sshConfig?: string }): Promise<void> {
  const { inventory: inv } = await loadCommandInventory(playbook, opts.inventory ?? []);
  const names = limitHosts(inv, opts.limit);
  const rows = names.map((n) => {
    const h = inv.hosts.get(n)!;
    return { host: n, address: h.address, transport: h.transport, user: h.user ?? null, port: h.port ?? null, roles: h.roles, groups: h.groups, vars: h.vars };
  });
  if (opts.json) {
    const config = await loadCliSshConfig(process.env, opts.sshConfig);
    const conns = await describeInventoryHosts(inv, names, config, process.env);
    return void out(`${JSON.stringify(rows.map((r) => ({ ...r, connection: conns.get(r.host) })))}\n`);
  }
  const w = Math.max(4, ...rows.map((r) => r.host.length));
  const aw = Math.max(7, ...rows.map((r) => r.address.length));
  out(`${'HOST'.padEnd(w)}  ${'ADDRESS'.padEnd(aw)}  ROLES / GROUPS\n`);
  for (const r of rows) out(`${r.host.padEnd(w)}  ${(r.transport === 'local' ? '(local)' : r.address).padEnd(aw)}  ${r.roles.join(',') || '-'} / ${r.groups.join(',') || '-'}\n`);
  out(`${rows.length} host${rows.length === 1 ? '' : 's'}\n`);
}

/**
 * `orch ssh-config [PLAYBOOK] HOST [-i INVENTORY] [--json] [--ssh-config FILE]`: the
 * connection orch would open to HOST, like `ssh -G HOST`, each value with its source. HOST
 * is an inventory host when an inventory is given (or the playbook has one), else an
 * ssh_config alias. Exit 1 when it cannot be resolved.
 */
export async function runSshConfig(args: string[], opts: { inventory?: string[]; json?: boolean; sshConfig?: string }): Promise<void> {
  if (args.length < 1 || args.length > 2) throw cmdlineError('HOST', 'give HOST, or PLAYBOOK HOST');
  const host = args[args.length - 1]!;
  const playbook = args.length === 2 ? args[0] : undefined;
  const config = await loadCliSshConfig(process.env, opts.sshConfig);
  let info;
  if (playbook || opts.inventory?.length) {
    const { inventory: inv } = await loadCommandInventory(playbook, opts.inventory ?? []);
    if (!inv.hosts.has(host)) throw cmdlineError('HOST', `no host ${JSON.stringify(host)} in the inventory (hosts: ${[...inv.hosts.keys()].slice(0, 10).join(', ')}${inv.hosts.size > 10 ? ', ...' : ''})`);
    info = (await describeInventoryHosts(inv, [host], config, process.env)).get(host)!;
  } else info = await describeAlias(host, config, process.env);
  if (opts.json) out(`${JSON.stringify({ host, connection: info })}\n`);
  else out(formatConnection(host, info));
  if (info.error) throw new ExitRequest(EXIT.INVALID);
}

/** One step of a node in `orch tree --json`. */
interface TreeStep {
  index: number;
  kind: string;
  /** The step's `name`, else its generated label. */
  name: string;
  /** Rendered label per selected host that runs the step (absent when the plan did not compile). */
  labels?: Record<string, string>;
  on?: string;
  once?: boolean;
}

/** One node in `orch tree --json`. */
interface TreeNode {
  path: string;
  name: string;
  hosts: string[];
  roles: Record<string, string[]>;
  /** Vars set on this node (masked), and which of them come from overrides. */
  vars: Record<string, unknown>;
  overrides: string[];
  steps: TreeStep[];
  /** `actions:` of the node: name -> its steps' names (run with `orch run PLAYBOOK NODE.ACTION`). */
  actions?: Record<string, string[]>;
}

/**
 * `orch tree PLAYBOOK [--limit P] [--node PATH] [--json]`: nodes, roles resolved to hosts
 * (narrowed by --limit), the vars each node sets, and steps with their rendered labels
 * (per host, from the compiled plan; when the plan does not compile, the tree is still
 * shown with the steps' names and the problems are listed after it, exit 1).
 */
export async function runTree(playbook: string, opts: CommonOpts): Promise<void> {
  const prepared = await preparePlan({
    secrets: await secretReadingOf(opts),
    playbook, inventories: opts.inventory ?? [], extraVars: parseExtraVars(opts.extraVar), env: process.env, now: () => new Date(),
    ...(opts.limit !== undefined && { limit: opts.limit }), skipSyntaxCheck: true,
    warn: (l: string) => void process.stderr.write(`orch: warning: ${l}\n`),
  });
  if (!prepared.tree) {
    if (prepared.diagnostics.length) throw new ConfigError(prepared.diagnostics);
    throw new ExitRequest(EXIT.INVALID);
  }
  const selected = new Set(prepared.plan?.targets ?? (prepared.inventory ? limitHosts(prepared.inventory, opts.limit) : prepared.tree.hosts));
  const only = (hosts: string[]): string[] => hosts.filter((h) => selected.has(h));
  const mask = (v: unknown): unknown => prepared.masker.maskDeep(structuredClone(v));
  let nodes = flattenNodes(prepared.tree);
  if (opts.node !== undefined) {
    const sub = opts.node;
    nodes = nodes.filter((n) => n.path === sub || n.path.startsWith(`${sub}.`));
    if (!nodes.length) throw cmdlineError('--node', `no node ${JSON.stringify(sub)} (nodes: ${flattenNodes(prepared.tree).map((n) => n.path).filter(Boolean).join(', ') || '(none)'})`);
  }
  const tree: TreeNode[] = nodes.map((n) => {
    const phase = prepared.plan?.phases.find((p) => p.node === n.path);
    const own = { ...(n.path ? {} : prepared.playbook?.vars ?? {}), ...(n.spec.vars ?? {}), ...n.overrideVars };
    return {
      path: n.path,
      name: n.path ? n.name : '(root)',
      hosts: only(n.hosts),
      roles: Object.fromEntries([...n.roles.entries()].sort().map(([r, hs]) => [r, only(hs)])),
      vars: mask(own) as Record<string, unknown>,
      overrides: Object.keys(own).filter((k) => n.overrideSrc.has(k)),
      steps: (n.spec.steps ?? []).map((s, i) => {
        const ps = phase?.steps.find((x) => x.index === i);
        const on = s.on ?? n.spec.on;
        return {
          index: i, kind: s.kind, name: prepared.masker.mask(ps?.name ?? s.name ?? s.kind),
          ...(ps && { labels: Object.fromEntries(Object.entries(ps.tasks).filter(([h]) => selected.has(h)).map(([h, t]) => [h, prepared.masker.mask(t.label ?? ps.name)])) }),
          ...(on !== undefined && { on }), ...(s.once && { once: true }),
        };
      }),
      ...(n.spec.actions?.length && { actions: Object.fromEntries(n.spec.actions.map(([a, steps]) => [a, steps.map((st) => prepared.masker.mask(st.name ?? st.kind))])) }),
    };
  });
  if (opts.json) out(`${JSON.stringify({ nodes: tree, ...(prepared.diagnostics.length && { diagnostics: prepared.diagnostics }) })}\n`);
  else out(formatTree(tree, playbook));
  if (prepared.diagnostics.length) throw new ConfigError(prepared.diagnostics);
}

/** The text view of `orch tree`: indented by depth; a step's label per host when hosts differ. */
export function formatTree(tree: TreeNode[], playbook: string): string {
  const lines: string[] = [];
  for (const n of tree) {
    const depth = n.path ? n.path.split('.').length : 0;
    const pad = '  '.repeat(depth);
    lines.push(`${pad}${n.name}  [${n.hosts.length} host${n.hosts.length === 1 ? '' : 's'}${n.hosts.length ? `: ${n.hosts.join(', ')}` : ''}]`);
    for (const [role, hosts] of Object.entries(n.roles)) lines.push(`${pad}  role ${role}: ${hosts.join(', ') || '-'}`);
    for (const [k, v] of Object.entries(n.vars)) lines.push(`${pad}  var ${k} = ${JSON.stringify(v)}${n.overrides.includes(k) ? '  (override)' : ''}`);
    for (const s of n.steps) {
      const where = `${s.on !== undefined ? ` on ${s.on}` : ''}${s.once ? ' once' : ''}`;
      const labels = [...new Set(Object.values(s.labels ?? {}))];
      if (labels.length <= 1) {
        lines.push(`${pad}  step ${s.index + 1}: ${labels[0] ?? s.name} (${s.kind})${where}`);
      } else {
        lines.push(`${pad}  step ${s.index + 1}: (${s.kind})${where}`);
        for (const [h, l] of Object.entries(s.labels ?? {})) lines.push(`${pad}    ${h}: ${l}`);
      }
    }
    for (const [a, steps] of Object.entries(n.actions ?? {})) lines.push(`${pad}  action ${a}: ${steps.join(', ')}  (orch run ${playbook} ${n.path ? `${n.path}.` : ''}${a})`);
  }
  return `${lines.join('\n')}\n`;
}
