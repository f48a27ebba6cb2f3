/**
 * `service: {name, action, manager, command, when}` — restart/reload/start/stop through
 * systemd, sysv, supervisor or a plain command. `when: changed` (default) is decided by
 * the engine: the task runs only if an earlier step of this node changed the host.
 */
import type { Task } from '../../model/plan.js';
import { quote } from '../../shell/quote.js';
import type { StepContext } from './common.js';
import { checkHostPath, joinPath, qpath, RESTART_PENDING, script } from './common.js';

const ACTIONS = ['restart', 'reload', 'start', 'stop'];

export function buildService(ctx: StepContext): Task | undefined {
  const a = ctx.step.args;
  const action = a.action === undefined ? 'restart' : String(a.action);
  if (!ACTIONS.includes(action)) return void ctx.fail('action', `action must be one of: ${ACTIONS.join(', ')}`);
  const manager = a.manager === undefined ? 'systemd' : String(a.manager);
  let line: string;
  if (manager === 'command') {
    if (a.command === undefined) return void ctx.fail(undefined, 'service with manager: command needs "command"');
    const c = ctx.render('command', 'shell');
    if (c === undefined) return undefined;
    line = `( ${c} ) || orch_fail "service command failed (exit $?)"`;
  } else {
    if (a.name === undefined) return void ctx.fail(undefined, `service with manager: ${manager} needs "name"`);
    const name = ctx.render('name', 'text');
    if (name === undefined) return undefined;
    const sudo = a.sudo === true ? 'sudo -n ' : '';
    if (manager === 'systemd') line = `${sudo}systemctl ${action} -- ${quote(name)}`;
    else if (manager === 'sysv') line = `${sudo}service ${quote(name)} ${action}`;
    else if (manager === 'supervisor') {
      // supervisorctl exits 0 on some failures in old versions; check its output too.
      line = `out=$(${sudo}supervisorctl ${action} ${quote(name)} 2>&1) || orch_fail "supervisorctl ${action} ${name}: $out"\ncase "$out" in *ERROR*|*FATAL*) orch_fail "supervisorctl ${action} ${name}: $out";; esac\nprintf '%s\\n' "$out"`;
    } else return void ctx.fail('manager', 'manager must be one of: systemd, sysv, supervisor, command');
  }
  // The restart happened: clear the node's restart-pending marker (see RESTART_PENDING).
  const root = ctx.getVar('root');
  const clear = typeof root === 'string' && root && !checkHostPath(root, 'root') ? `rm -f -- ${qpath(joinPath(root.replace(/\/+$/, '') || '/', RESTART_PENDING))}` : undefined;
  return { script: script(line, clear, 'orch_status changed'), probes: [], check: { kind: 'service' } };
}
