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
      // supervisorctl's exit status is unreliable across versions (and `restart` of a
      // stopped program says "ERROR (not running)" then "started"): judge by the result line.
      const cmd = action === 'reload' ? `signal HUP ${quote(name)}` : `${action} ${quote(name)}`;
      const ok = { restart: ['started'], start: ['started', 'ERROR (already started)'], stop: ['stopped', 'ERROR (not running)'], reload: ['signalled'] }[action]!;
      line = [
        `out=$(${sudo}supervisorctl ${cmd} 2>&1) || true`,
        `case "$out" in ${ok.map((w) => `*${quote(`${name}: ${w}`)}*`).join('|')}) printf '%s\\n' "$out" ;; *) orch_fail "supervisorctl ${action} $(printf '%s' ${quote(name)}): $out" ;; esac`,
      ].join('\n');
    } else return void ctx.fail('manager', 'manager must be one of: systemd, sysv, supervisor, command');
  }
  // The restart happened: clear the node's restart-pending marker (see RESTART_PENDING).
  const root = ctx.getVar('root');
  const clear = typeof root === 'string' && root && !checkHostPath(root, 'root') ? `rm -f -- ${qpath(joinPath(root.replace(/\/+$/, '') || '/', RESTART_PENDING))}` : undefined;
  return { script: script(line, clear, 'orch_status changed'), probes: [], check: { kind: 'service' } };
}
