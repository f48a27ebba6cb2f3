/**
 * Resolves the playbook's node tree: `extends` (templates), role mapping to hosts,
 * double-underscore overrides. Pure.
 *
 * Sources: python-deployer (nodes, role mapping, `"*"`, double-underscore overrides,
 * required properties); docs/reference/playbook.md "Nodes".
 */
import type { Diagnostic, SourceIndex } from '../model/diagnostics.js';
import { diagAt } from '../model/diagnostics.js';
import type { Inventory, Vars } from '../model/inventory.js';
import type { NodeSpec, Playbook, SrcRef } from '../model/playbook.js';

/** A node of the resolved tree. */
export interface ResolvedNode {
  /** Own name; `` for the root. */
  name: string;
  /** Dotted path from the root (`shop.db`); `` for the root. */
  path: string;
  /** The node after `extends` was merged in. */
  spec: NodeSpec;
  /** Role name -> host names (sorted). */
  roles: Map<string, string[]>;
  /** Every host of the node, sorted. */
  hosts: string[];
  /** Vars set on descendants through overrides of THIS node and its ancestors, already "outermost wins" resolved for this node. */
  overrideVars: Vars;
  /** Where each override var came from (for messages). */
  overrideSrc: Map<string, SrcRef>;
  children: ResolvedNode[];
  parent?: ResolvedNode;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge of plain maps: `over` wins; arrays and scalars are replaced. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
}

/**
 * Applies `extends` to a node spec: the template chain is merged outermost-last
 * (templates may extend templates); the extending node's keys win, `vars` and `roles`
 * deep-merge, `steps` and `nodes` are replaced, `required` is the union.
 * Errors: unknown template, extends cycle.
 */
export function applyExtends(
  spec: NodeSpec,
  templates: Map<string, NodeSpec>,
  index: SourceIndex,
  diags: Diagnostic[],
): NodeSpec {
  const chain: NodeSpec[] = [];
  const seen: string[] = [];
  let cur: NodeSpec | undefined = spec;
  while (cur?.extends !== undefined) {
    const name: string = cur.extends;
    if (seen.includes(name)) {
      diags.push(diagAt(index, cur.src.file, [...cur.src.path, 'extends'], `extends cycle: ${[...seen, name].join(' -> ')}`));
      break;
    }
    seen.push(name);
    const tpl = templates.get(name);
    if (!tpl) {
      const known = [...templates.keys()].sort().join(', ') || '(none)';
      diags.push(diagAt(index, cur.src.file, [...cur.src.path, 'extends'], `unknown template "${name}" (templates: ${known})`));
      break;
    }
    chain.push(tpl);
    cur = tpl;
  }
  let merged: NodeSpec = { overrides: {}, src: spec.src };
  for (const layer of [...chain.reverse(), spec]) merged = mergeNodeSpec(merged, layer);
  merged.src = spec.src;
  delete merged.extends;
  return merged;
}

function mergeNodeSpec(base: NodeSpec, over: NodeSpec): NodeSpec {
  const out: NodeSpec = { ...base, overrides: { ...base.overrides, ...over.overrides } };
  if (over.roles !== undefined) out.roles = { ...(base.roles ?? {}), ...over.roles };
  if (over.vars !== undefined) out.vars = deepMerge(base.vars ?? {}, over.vars) as Vars;
  if (over.required !== undefined) out.required = [...new Set([...(base.required ?? []), ...over.required])];
  if (over.steps !== undefined) out.steps = over.steps;
  if (over.nodes !== undefined) out.nodes = over.nodes;
  if (over.serial !== undefined) out.serial = over.serial;
  if (over.max_fail !== undefined) out.max_fail = over.max_fail;
  if (over.max_fail_percentage !== undefined) out.max_fail_percentage = over.max_fail_percentage;
  if (over.bake !== undefined) out.bake = over.bake;
  if (over.rollback !== undefined) out.rollback = over.rollback;
  if (over.shared !== undefined) out.shared = over.shared;
  if (over.on !== undefined) out.on = over.on;
  if (over.drain !== undefined) out.drain = over.drain;
  if (over.undrain !== undefined) out.undrain = over.undrain;
  if (over.maintenance !== undefined) out.maintenance = over.maintenance;
  // actions merge by name: the extending node's action of a name replaces the template's.
  if (over.actions !== undefined) out.actions = [...(base.actions ?? []).filter(([a]) => !over.actions!.some(([b]) => b === a)), ...over.actions];
  return out;
}

/**
 * Builds the resolved node tree: extends merged, roles mapped to hosts, overrides
 * distributed. The root's parent roles are the inventory's roles plus `"*"` (every
 * inventory host). A node without `roles` has its parent's roles and hosts; with
 * `roles`, its hosts are the union of its roles' hosts.
 */
export function resolveNodeTree(
  playbook: Playbook,
  inventory: Inventory,
  index: SourceIndex,
  diags: Diagnostic[],
): ResolvedNode {
  const allHosts = [...inventory.hosts.keys()].sort();
  const invRoles = new Map(inventory.roles);

  const build = (name: string, path: string, raw: NodeSpec, parent: ResolvedNode | undefined): ResolvedNode => {
    const spec = applyExtends(raw, playbook.templates, index, diags);
    const parentRoles = parent ? parent.roles : invRoles;
    const parentHosts = parent ? parent.hosts : allHosts;
    let roles: Map<string, string[]>;
    let hosts: string[];
    if (spec.roles === undefined) {
      roles = new Map(parentRoles);
      hosts = parentHosts;
    } else {
      roles = new Map();
      const hostSet = new Set<string>();
      for (const [role, from] of Object.entries(spec.roles)) {
        const members = new Set<string>();
        for (const parentRole of Array.isArray(from) ? from : [from]) {
          if (parentRole === '*') parentHosts.forEach((h) => members.add(h));
          else {
            const ph = parentRoles.get(parentRole);
            if (!ph) {
              const known = [...parentRoles.keys()].sort().join(', ') || '(none)';
              diags.push(
                diagAt(index, spec.src.file, [...spec.src.path, 'roles', role],
                  `role "${role}" maps from "${parentRole}", which the ${parent ? 'parent node' : 'inventory'} does not have (roles: ${known}, or "*")`),
              );
              continue;
            }
            ph.forEach((h) => members.add(h));
          }
        }
        const list = [...members].sort();
        roles.set(role, list);
        list.forEach((h) => hostSet.add(h));
      }
      hosts = [...hostSet].sort();
    }
    const node: ResolvedNode = {
      name, path, spec, roles, hosts, overrideVars: {}, overrideSrc: new Map(), children: [], parent,
    };
    for (const [childName, childSpec] of spec.nodes ?? []) {
      node.children.push(build(childName, path ? `${path}.${childName}` : childName, childSpec, node));
    }
    return node;
  };

  const root = build('', '', playbook.root, undefined);
  distributeOverrides(root, index, diags);
  return root;
}

/**
 * Double-underscore overrides: `a__b__name: v` on node N sets var `name` of N.a.b.
 * Outermost wins: an ancestor's override beats a nearer one. Naming a descendant that
 * does not exist is an error.
 */
function distributeOverrides(root: ResolvedNode, index: SourceIndex, diags: Diagnostic[]): void {
  const visit = (node: ResolvedNode): void => {
    for (const [key, value] of Object.entries(node.spec.overrides)) {
      const parts = key.split('__');
      const varName = parts.pop()!;
      let target: ResolvedNode | undefined = node;
      const walked: string[] = [];
      for (const seg of parts) {
        walked.push(seg);
        target = target.children.find((c) => c.name === seg);
        if (!target) break;
      }
      const src: SrcRef = { file: node.spec.src.file, path: [...node.spec.src.path, key] };
      if (!target) {
        const base = node.path ? `${node.path}.` : '';
        diags.push(diagAt(index, src.file, src.path, `override targets node "${base}${walked.join('.')}", which does not exist`));
        continue;
      }
      // Ancestors are visited first, so a value already present came from further out: keep it.
      if (!(varName in target.overrideVars)) {
        target.overrideVars[varName] = value;
        target.overrideSrc.set(varName, src);
      }
    }
    node.children.forEach(visit);
  };
  visit(root);
}

/** Pre-order, depth-first list of nodes (the execution order of phases). */
export function flattenNodes(root: ResolvedNode): ResolvedNode[] {
  const out: ResolvedNode[] = [];
  const walk = (n: ResolvedNode): void => {
    out.push(n);
    n.children.forEach(walk);
  };
  walk(root);
  return out;
}
