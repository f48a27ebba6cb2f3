/**
 * Maintenance mode (`orch maintenance on|off PLAYBOOK`; Kamal's `kamal app maintenance` /
 * `live`): each node's `maintenance: {on: [...], off: [...]}` step lists, never part of
 * apply. Pure.
 *
 * Compiled by the ordinary plan compiler, as node actions are (compile/actions.ts): the
 * playbook is rewritten so that every node's steps ARE its `on` (or `off`) list, and a
 * node without `maintenance:` has none (a node that extends a template keeps the
 * template's list). No serial, drain or undrain: every host goes in (or out) at once.
 * Roles, vars, overrides, `on`/`once`, masking, `bash -n`, predictions and the engine
 * are what any step gets.
 */
import type { Diagnostic, SourceIndex } from '../model/diagnostics.js';
import { cmdlineDiagnostic } from '../model/diagnostics.js';
import type { NodeSpec, Playbook } from '../model/playbook.js';

/** `on` puts the hosts in maintenance, `off` takes them out. */
export type MaintenanceMode = 'on' | 'off';

/** A copy of `spec` and its inline children whose steps are their `maintenance[mode]` lists. */
function maintenanceNode(spec: NodeSpec, mode: MaintenanceMode): NodeSpec {
  const out: NodeSpec = { ...spec };
  delete out.serial;
  delete out.max_fail;
  delete out.drain;
  delete out.undrain;
  delete out.actions;
  if (spec.maintenance) out.steps = spec.maintenance[mode];
  else if (spec.extends !== undefined) delete out.steps; // the template's list, if it has one
  else {
    out.steps = [];
    delete out.required;
  }
  if (spec.nodes) out.nodes = spec.nodes.map(([n, c]) => [n, maintenanceNode(c, mode)]);
  return out;
}

function hasMaintenance(spec: NodeSpec): boolean {
  return spec.maintenance !== undefined || (spec.nodes ?? []).some(([, c]) => hasMaintenance(c));
}

/**
 * The playbook whose only steps are the nodes' `maintenance[mode]` lists.
 * Diagnostic (command-line position `maintenance`) when no node nor template has `maintenance:`.
 */
export function playbookForMaintenance(playbook: Playbook, _index: SourceIndex, mode: MaintenanceMode): { playbook?: Playbook; diagnostics: Diagnostic[] } {
  if (!hasMaintenance(playbook.root) && ![...playbook.templates.values()].some(hasMaintenance)) {
    return { diagnostics: [cmdlineDiagnostic('maintenance', `${playbook.file} has no maintenance: key (add maintenance: {on: [steps], off: [steps]} to the node whose hosts go into maintenance)`)] };
  }
  const templates = new Map([...playbook.templates].map(([k, v]) => [k, maintenanceNode(v, mode)]));
  return { playbook: { ...playbook, templates, root: maintenanceNode(playbook.root, mode) }, diagnostics: [] };
}
