/**
 * `service: {name, action, manager, command, when, sudo}` — restart/reload/start/stop
 * through systemd, sysv, supervisor or a plain command (src/host/service.sh). `when:
 * changed` (default) is decided by the engine: the task runs only if an earlier step of
 * this node changed the host. When it runs, it changes the host.
 */
import { COMMAND_SH, SERVICE_SH } from '../host/embedded.generated.js';
import type { StepKind } from './kind.js';
import { checkHostPath, hostPath, hostScript, joinPath, labelText, RESTART_PENDING, raw, shCall, userFunction } from './common.js';
import { buildSystemdTask, predictUnitWritten, SYSTEMD_SCHEMA_PROPERTIES, unitDiffers, type UnitArg, type UnitCheck } from './systemd-unit.js';

export interface ServiceArgs {
  name?: string;
  action?: 'restart' | 'reload' | 'start' | 'stop';
  manager?: 'systemd' | 'sysv' | 'supervisor' | 'command';
  command?: string;
  when?: 'changed' | 'always';
  sudo?: boolean;
  /** manager: systemd (src/steps/systemd-unit.ts). */
  unit?: UnitArg;
  scope?: 'system' | 'user';
}
export interface ServiceCheck {
  kind: 'service';
  /** The unit file a systemd service writes (`unit:`). */
  unit?: UnitCheck;
}

const ACTIONS = ['restart', 'reload', 'start', 'stop'];
const MANAGERS = ['systemd', 'sysv', 'supervisor', 'command'];

export const service: StepKind<ServiceArgs, ServiceCheck> = {
  name: 'service',
  schema: {
    description: 'Restarts, reloads, starts or stops a service through systemd, sysv, supervisor or a command.',
    examples: [{ name: '{{app}}', action: 'restart', manager: 'supervisor' }, { manager: 'command', command: '{{release.current}}/bin/reload' }],
    type: 'object',
    additionalProperties: false,
    properties: {
      name: {
        description: "Service name (required unless manager is command). Not the step's name: give that as the step's own `name` key.",
        examples: ['shop'], type: 'string', minLength: 1,
      },
      action: { description: 'What to do (default restart).', examples: ['restart', 'reload'], enum: ACTIONS },
      manager: { description: 'Service manager (default systemd).', examples: ['systemd', 'supervisor'], enum: MANAGERS },
      command: { $ref: '#/$defs/command', description: 'Command to run for manager: command.', examples: ['kill -HUP $(cat /run/shop.pid)'] },
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
    else: { required: ['name'] },
  },
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
    if (!MANAGERS.includes(manager)) return void ctx.fail('manager', 'manager must be one of: systemd, sysv, supervisor, command');
    if (manager !== 'systemd' && (a.unit !== undefined || a.scope !== undefined)) return void ctx.fail(a.unit !== undefined ? 'unit' : 'scope', `unit and scope apply to manager: systemd only (manager is ${manager})`);
    const lines: string[] = [];
    let target: string;
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
    const root = ctx.getVar('root');
    const pending = typeof root === 'string' && root && !checkHostPath(root, 'root') ? hostPath(joinPath(root.replace(/\/+$/, '') || '/', RESTART_PENDING)) : raw("''");
    if (manager === 'systemd') return buildSystemdTask(ctx, { name: target, action, sudo: a.sudo === true, pending });
    lines.push(shCall('orch_service', manager, action, target, a.sudo === true && manager !== 'command' ? '1' : '0', pending));
    return { script: hostScript(ctx, [COMMAND_SH, SERVICE_SH], ...lines), probes: [], check: { kind: 'service' } };
  },
  predict(f, task) {
    predictUnitWritten(f, task.check);
    return 'changed';
  },
  changesAlone: (f, task) => unitDiffers(f, task.check),
};
