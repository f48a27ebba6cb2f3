/**
 * `run: {cmd, creates, unless, sudo}` — runs a command (src/host/run.sh); `skipped`
 * when `creates` exists or `unless` exits 0 (Ansible's `creates`, Salt's `unless`).
 * `sudo: true` wraps in `sudo -n`. Planned from the `creates` fact; with `unless` only
 * the host can tell (`maybe`).
 */
import { COMMAND_SH, RUN_SH } from '../host/embedded.generated.js';
import type { StepKind } from './kind.js';
import { checkHostPath, factKey, firstLine, hostPath, hostScript, quote, raw, shCall, userFunction } from './common.js';

export interface RunArgs {
  cmd: string;
  creates?: string;
  unless?: string;
  sudo?: boolean;
}
export interface RunCheck {
  kind: 'run';
  creates?: string;
  hasUnless: boolean;
}

export const run: StepKind<RunArgs, RunCheck> = {
  name: 'run',
  schema: {
    description: 'Runs a command; skipped when `creates` exists or `unless` exits 0.',
    examples: [{ cmd: 'pg_dump shop > /var/backups/shop.sql' }, { cmd: 'make-cert', creates: '/etc/ssl/shop.pem', sudo: true }],
    type: 'object',
    additionalProperties: false,
    properties: {
      cmd: { $ref: '#/$defs/command', description: 'The command.', examples: ['pg_dump shop > /var/backups/shop.sql'] },
      creates: { description: 'Path on the host; the step is skipped when it exists.', examples: ['/etc/ssl/shop.pem'], type: 'string', minLength: 1 },
      unless: { $ref: '#/$defs/command', description: 'Command; the step is skipped when it exits 0.', examples: ['test -f /etc/ssl/shop.pem'] },
      sudo: { description: 'Wrap the command in `sudo -n`.', examples: [true], type: 'boolean' },
    },
    required: ['cmd'],
  },
  defaultWhen: 'always',
  describe: (ctx) => `run ${firstLine(ctx.label('cmd') ?? '')}`,
  build(ctx) {
    const a = ctx.args;
    if (a.cmd === undefined) return void ctx.fail(undefined, 'run needs "cmd"');
    const cmd = ctx.render('cmd', 'shell');
    if (cmd === undefined) return undefined;
    let creates: string | undefined;
    if (a.creates !== undefined) {
      creates = ctx.render('creates', 'text');
      if (creates === undefined) return undefined;
      const bad = checkHostPath(creates, 'creates');
      if (bad) return void ctx.fail('creates', bad);
    }
    const unless = a.unless === undefined ? undefined : ctx.render('unless', 'shell');
    if (a.unless !== undefined && unless === undefined) return undefined;
    const lines = [
      ...(unless !== undefined ? [userFunction('orch_unless', unless)] : []),
      // sudo: the command runs in a root shell of its own, so it travels as text.
      a.sudo === true ? `orch_cmd() { sudo -n bash -c ${quote(cmd)}; }` : userFunction('orch_cmd', cmd),
      shCall('orch_run', creates !== undefined ? hostPath(creates) : raw("''"), unless !== undefined ? 'orch_unless' : '', 'orch_cmd'),
    ];
    return {
      script: hostScript(ctx, [COMMAND_SH, RUN_SH], ...lines),
      probes: creates ? [{ kind: 'exists', path: creates }] : [],
      check: { kind: 'run', creates, hasUnless: unless !== undefined },
    };
  },
  predict(f, task) {
    const c = task.check;
    if (c.creates !== undefined) {
      const k = factKey({ kind: 'exists', path: c.creates });
      if (f.has(k) && f.get(k) !== null) return 'skipped';
    }
    return c.hasUnless ? 'maybe' : 'changed';
  },
};
