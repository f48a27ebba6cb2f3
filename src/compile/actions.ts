/**
 * Node actions (`actions: {name: [steps]}`): named step lists of a node that are never
 * part of apply and run on demand with `orch run PLAYBOOK NODE.ACTION` (Capistrano and
 * Fabric tasks, Kamal's `app exec`, python-deployer's node actions). Pure.
 *
 * An action is compiled by the ordinary plan compiler: `playbookForAction` rewrites the
 * playbook so that the chosen node's steps ARE the action's steps and every other node
 * (and template) has none — nor any `required` vars: only the chosen node's are checked. Everything else — role mapping, vars, overrides, `required`,
 * `on`/`once`, rendering, masking, `bash -n`, predictions and the engine — is exactly
 * what a step of that node gets, so an action behaves like any step.
 */
import type { Diagnostic, SourceIndex } from '../model/diagnostics.js';
import { cmdlineDiagnostic } from '../model/diagnostics.js';
import type { NodeSpec, Playbook } from '../model/playbook.js';
import { applyExtends } from './resolve-nodes.js';

/** `shop.db.migrate` -> `{node: 'shop.db', action: 'migrate'}`; `migrate` -> the root node's. */
export function parseActionRef(ref: string): { node: string; action: string } {
  const i = ref.lastIndexOf('.');
  return i < 0 ? { node: '', action: ref } : { node: ref.slice(0, i), action: ref.slice(i + 1) };
}

/** A copy of `spec` and its inline children with no steps and no `required` (actions and everything else kept). */
function withoutSteps(spec: NodeSpec): NodeSpec {
  const out: NodeSpec = { ...spec, steps: [] };
  delete out.required;
  if (spec.nodes) out.nodes = spec.nodes.map(([n, c]) => [n, withoutSteps(c)]);
  return out;
}

/**
 * The playbook whose only steps are action `action` of node `nodePath` (dotted, `` for
 * the root). The path to the node is materialised (each ancestor's effective `nodes`
 * written out) so that a node inherited from a template gets the steps alone, not every
 * user of that template.
 *
 * Diagnostics (command-line position, path `NODE.ACTION`): no such node (lists the
 * children there), no such action (lists the node's actions).
 */
export function playbookForAction(playbook: Playbook, index: SourceIndex, nodePath: string, action: string): { playbook?: Playbook; diagnostics: Diagnostic[] } {
  const where = nodePath ? `${nodePath}.${action}` : action;
  const templates = new Map([...playbook.templates].map(([k, v]) => [k, withoutSteps(v)]));
  const diags: Diagnostic[] = [];
  const root = withoutSteps(playbook.root);
  let cur = root;
  // The same path through the playbook as written: the target's own `required` and actions.
  let orig = playbook.root;
  const walked: string[] = [];
  for (const seg of nodePath ? nodePath.split('.') : []) {
    orig = (applyExtends(orig, playbook.templates, index, []).nodes ?? []).find(([n]) => n === seg)?.[1] ?? orig;
    const merged = applyExtends(cur, templates, index, diags);
    const kids = merged.nodes ?? [];
    const hit = kids.find(([n]) => n === seg);
    if (!hit) {
      const at = walked.length ? `node ${walked.join('.')}` : 'the playbook';
      return { diagnostics: [...diags, cmdlineDiagnostic(where, `${at} has no child node "${seg}" (children: ${kids.map(([n]) => n).join(', ') || '(none)'})`)] };
    }
    const child: NodeSpec = { ...hit[1] };
    cur.nodes = kids.map(([n, c]) => [n, n === seg ? child : c]);
    cur = child;
    walked.push(seg);
  }
  const target = applyExtends(orig, playbook.templates, index, diags);
  const actions = target.actions ?? [];
  const found = actions.find(([a]) => a === action);
  if (!found) {
    return { diagnostics: [...diags, cmdlineDiagnostic(where, `node ${nodePath || '(root)'} has no action "${action}" (actions: ${actions.map(([a]) => a).join(', ') || '(none)'})`)] };
  }
  cur.steps = found[1];
  if (target.required) cur.required = target.required;
  if (diags.length) return { diagnostics: diags };
  return { playbook: { ...playbook, templates, root }, diagnostics: [] };
}

/** The action names of a (resolved) node spec, in file order. */
export function actionNames(spec: NodeSpec): string[] {
  return (spec.actions ?? []).map(([a]) => a);
}
