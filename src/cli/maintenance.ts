/**
 * `orch maintenance on|off PLAYBOOK [--yes]`: runs the nodes' `maintenance:` step lists
 * (compile/maintenance.ts) on their hosts: planned, shown and confirmed like apply, run
 * by the engine under the host locks, with apply's exit codes (Kamal's
 * `kamal app maintenance` and `kamal app live`).
 */
import { playbookForMaintenance, type MaintenanceMode } from '../compile/maintenance.js';
import { EXIT, ExitRequest, exitCodeOf } from './exit-codes.js';
import { applyPlan, isInteractive, parseLockWait, pickRenderer, prepare, type CommonOpts } from './run.js';
import { cmdlineError } from './targets.js';

/** Options of `orch maintenance`. */
export interface MaintenanceOpts extends CommonOpts {
  yes?: boolean;
  lockWait?: string;
}

/**
 * Puts the playbook's hosts in maintenance (`on`) or takes them out (`off`).
 * @throws ConfigError (exit 1) for a mode other than on/off, a playbook without
 *   `maintenance:` or any other invalid input; ExitRequest with apply's exit codes otherwise.
 */
export async function runMaintenanceCommand(mode: string, playbook: string, opts: MaintenanceOpts): Promise<void> {
  if (mode !== 'on' && mode !== 'off') throw cmdlineError('maintenance', `expected on or off, got ${JSON.stringify(mode)}`);
  const { plan, masker } = await prepare(playbook, opts, undefined, opts.json === true, {
    selectPlaybook: (pb, index) => playbookForMaintenance(pb, index, mode as MaintenanceMode),
  });
  const renderer = await pickRenderer(plan, opts);
  const summary = await applyPlan(plan, masker, opts, renderer, { confirm: isInteractive() && !opts.yes, showPlan: true, lockWait: parseLockWait(opts.lockWait) });
  const code = exitCodeOf(summary, opts.detailedExitcodes === true);
  if (code !== EXIT.OK) throw new ExitRequest(code);
}
