/**
 * `service: {name, action, manager, command, config, server_url, startsecs, rollback,
 * when, sudo}` — restart/reload/start/stop through systemd, sysv, supervisor
 * (src/host/supervisor.sh: own config/socket, reread + update, judged by status), orch's
 * daemon manager (src/host/daemon.sh) or a plain command (src/host/service.sh). A failure
 * after this run switched `current` rolls the host back (`rollback: false` opts out). `when:
 * changed` (default) is decided by the engine: the task runs only if an earlier step of
 * this node changed the host. When it runs, it changes the host.
 */
import { COMMAND_SH, DAEMON_SH, SERVICE_SH, SUPERVISOR_SH } from '../host/embedded.generated.js';
import type { TaskOf } from '../model/task.js';
import { rollbackScript } from './healthcheck.js';
import type { StepKind } from './kind.js';
import { appName, checkHostPath, hostPath, hostScript, joinPath, labelText, RESTART_PENDING, raw, shCall, userFunction } from './common.js';
import { buildSystemdTask, predictUnitWritten, SYSTEMD_SCHEMA_PROPERTIES, unitDiffers, type EnabledCheck, type UnitArg, type UnitCheck } from './systemd-unit.js';

export interface ServiceArgs {
  name?: string;
  action?: 'restart' | 'reload' | 'start' | 'stop';
  manager?: 'systemd' | 'sysv' | 'supervisor' | 'daemon' | 'command';
  command?: string;
  config?: string;
  server_url?: string;
  startsecs?: number;
  rollback?: boolean;
  when?: 'changed' | 'always';
  sudo?: boolean;
  /** manager: systemd (src/steps/systemd-unit.ts). */
  unit?: UnitArg;
  scope?: 'system' | 'user';
  enabled?: boolean;
}
export interface ServiceCheck {
  kind: 'service';
  /** The unit file a systemd service writes (`unit:`). */
  unit?: UnitCheck;
  /** `enabled:` of a systemd service. */
  enabled?: EnabledCheck;
}

const ACTIONS = ['restart', 'reload', 'start', 'stop'];
const MANAGERS = ['systemd', 'sysv', 'supervisor', 'daemon', 'command'];

export const service: StepKind<ServiceArgs, ServiceCheck> = {
  name: 'service',
  schema: {
    description: "Restarts, reloads, starts or stops a service through systemd, sysv, supervisor, orch's own daemon manager or a command.",
    examples: [{ name: '{{app}}', action: 'restart', manager: 'supervisor' }, { manager: 'command', command: '{{release.current}}/bin/reload' }, { name: 'web', manager: 'daemon', command: 'python3 app.py --port 8000' }],
    type: 'object',
    additionalProperties: false,
    properties: {
      name: {
        description: "Service name (required unless manager is command). Not the step's name: give that as the step's own `name` key.",
        examples: ['shop'], type: 'string', minLength: 1,
      },
      action: { description: 'What to do (default restart).', examples: ['restart', 'reload'], enum: ACTIONS },
      manager: {
        description: 'Service manager (default systemd). daemon: orch runs `command` itself under setsid in <root>/current, stdout/stderr appended to <root>/shared/log/<name>.log, pid in <root>/shared/pids/<name>.pid; stop/restart signal its process group.',
        examples: ['systemd', 'supervisor'], enum: MANAGERS,
      },
      command: { $ref: '#/$defs/command', description: "Command to run for manager: command; the app's command line for manager: daemon.", examples: ['kill -HUP $(cat /run/shop.pid)'] },
      config: { type: 'string', minLength: 1, description: 'manager: supervisor: supervisorctl -c CONFIG (the supervisord.conf of your own supervisord).', examples: ['/home/deploy/supervisord.conf'] },
      server_url: { type: 'string', minLength: 1, description: 'manager: supervisor: supervisorctl -s URL (unix:///path/to.sock or http://host:port).', examples: ['unix:///tmp/supervisor.sock'] },
      startsecs: { type: 'number', minimum: 0, maximum: 600, description: 'manager: daemon: seconds the app must stay up after a start for the step to succeed (default 1, like supervisord).', examples: [1] },
      rollback: {
        type: 'boolean',
        description: "When this step fails after the node switched `current` on the host in this run: switch back to the release before, re-run the node's service steps, record the version bad in state.json and fail the host (default true; false leaves the new release in place).",
        examples: [false],
      },
      when: {
        description: 'changed (default): only if an earlier step of this node changed this host; always: every run.',
        examples: ['changed', 'always'], enum: ['changed', 'always'],
      },
      on: { $ref: '#/$defs/on' },
      once: { $ref: '#/$defs/once' },
      sudo: {
        type: 'boolean',
        description: 'Run the service manager command with `sudo -n` (for a deploy user that is not root; systemd, sysv and supervisor).',
        examples: [true],
      },
      ...SYSTEMD_SCHEMA_PROPERTIES,
    },
    if: { properties: { manager: { const: 'command' } }, required: ['manager'] },
    then: { required: ['command'] },
    else: {
      if: { properties: { manager: { const: 'daemon' } }, required: ['manager'] },
      then: { required: ['name', 'command'] },
      else: { required: ['name'] },
    },
  },
  lifecycle: 'start',
  defaultWhen: 'changed',
  whenOf: (args) => (args.when === 'changed' || args.when === 'always' ? args.when : undefined),
  describe(ctx) {
    const a = ctx.args;
    const what = a.name !== undefined ? ctx.label('name') : labelText(a.manager ?? '');
    return `service ${labelText(a.action ?? 'restart')} ${what ?? ''}`.trim();
  },
  build(ctx) {
    const a = ctx.args;
    const action = a.action === undefined ? 'restart' : String(a.action);
    if (!ACTIONS.includes(action)) return void ctx.fail('action', `action must be one of: ${ACTIONS.join(', ')}`);
    const manager = a.manager === undefined ? 'systemd' : String(a.manager);
    if (!MANAGERS.includes(manager)) return void ctx.fail('manager', 'manager must be one of: systemd, sysv, supervisor, daemon, command');
    if (manager !== 'systemd' && (a.unit !== undefined || a.scope !== undefined || a.enabled !== undefined)) {
      return void ctx.fail(a.unit !== undefined ? 'unit' : a.scope !== undefined ? 'scope' : 'enabled', `unit, scope and enabled apply to manager: systemd only (manager is ${manager})`);
    }
    const lines: string[] = [];
    let target: string;
    const root = ctx.getVar('root');
    const rootPath = typeof root === 'string' && root && !checkHostPath(root, 'root') ? root.replace(/\/+$/, '') || '/' : undefined;
    const pending = rootPath !== undefined ? hostPath(joinPath(rootPath, RESTART_PENDING)) : raw("''");
    let task: TaskOf<ServiceCheck>;
    if (manager === 'daemon' || manager === 'supervisor') {
      if (a.name === undefined || (manager === 'daemon' && a.command === undefined)) return void ctx.fail(undefined, `service with manager: ${manager} needs "name"${manager === 'daemon' ? ' and "command"' : ''}`);
      const name = ctx.render('name', 'text');
      if (name === undefined) return undefined;
      if (manager === 'daemon') {
        // The command runs as `bash -c COMMAND` on the host, its {{vars}} shell-quoted.
        const c = ctx.render('command', 'shell');
        if (c === undefined) return undefined;
        if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) return void ctx.fail('name', `a daemon name is a file name: letters, digits, . _ - (got ${JSON.stringify(name)})`);
        if (rootPath === undefined) return void ctx.fail(undefined, 'service with manager: daemon needs the var "root" (its log and pid file live in <root>/shared)');
        lines.push(shCall('daemon_service', hostPath(rootPath), name, action, c, String(a.startsecs ?? 1)));
        task = { script: '', probes: [], check: { kind: 'service' }, service: { manager, name, root: rootPath } };
      } else {
        const conf = a.config === undefined ? '' : ctx.render('config', 'text');
        const url = a.server_url === undefined ? '' : ctx.render('server_url', 'text');
        if (conf === undefined || url === undefined) return undefined;
        lines.push(shCall('supervisor_service', conf ? hostPath(conf) : raw("''"), url, a.sudo === true ? '1' : '0', name, action));
        task = { script: '', probes: [], check: { kind: 'service' }, service: { manager, name, ...(conf && { config: conf }), ...(url && { serverUrl: url }), ...(a.sudo === true && { sudo: true }) } };
      }
      lines.push(`rm -f -- ${pending.raw}`, 'orch_status changed');
      task.script = hostScript(ctx, [manager === 'daemon' ? DAEMON_SH : SUPERVISOR_SH], ...lines);
    } else {
    if (manager === 'command') {
      if (a.command === undefined) return void ctx.fail(undefined, 'service with manager: command needs "command"');
      const c = ctx.render('command', 'shell');
      if (c === undefined) return undefined;
      lines.push(userFunction('orch_service_command', c));
      target = 'orch_service_command';
    } else {
      if (a.name === undefined) return void ctx.fail(undefined, `service with manager: ${manager} needs "name"`);
      const name = ctx.render('name', 'text');
      if (name === undefined) return undefined;
      target = name;
    }
    // The restart happened: clear the node's restart-pending marker (see RESTART_PENDING).
    if (manager === 'systemd') {
      const st = buildSystemdTask(ctx, { name: target, action, sudo: a.sudo === true, pending });
      if (!st) return undefined;
      task = { ...st, service: { manager, name: target, ...(a.sudo === true && { sudo: true }), ...(a.scope === 'user' && { scope: 'user' as const }), ...(st.check.unit && { unitFile: st.check.unit.path }) } };
    } else {
      lines.push(shCall('orch_service', manager, action, target, a.sudo === true && manager !== 'command' ? '1' : '0', pending));
      task = { script: hostScript(ctx, [COMMAND_SH, SERVICE_SH], ...lines), probes: [], check: { kind: 'service' } };
    }
    }
    // A failed start after this run switched `current` is a failed release: back to
    // the release before, services restarted, the version recorded bad. `rollback: false` opts out.
    if ((a.rollback ?? ctx.nodeRollback) && ctx.bundle && rootPath !== undefined && action !== 'stop') {
      task.rollback = { root: rootPath, app: appName(ctx, ctx.bundle) ?? ctx.bundle.name, version: ctx.bundle.version, sha256: ctx.bundle.sha256, script: rollbackScript(rootPath, ctx.memo), afterSwitch: true };
    }
    return task;
  },
  predict(f, task) {
    predictUnitWritten(f, task.check);
    return 'changed';
  },
  changesAlone: (f, task) => unitDiffers(f, task.check),
};
