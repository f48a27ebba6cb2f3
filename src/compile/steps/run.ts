/**
 * `run: {cmd, creates, unless, sudo}` — run a command; `skipped` when `creates` exists or
 * `unless` exits 0 (Ansible's `creates`, Salt's `unless`). `sudo: true` wraps in `sudo -n`.
 */
import type { Task } from '../../model/plan.js';
import { quote } from '../../shell/quote.js';
import type { StepContext } from './common.js';
import { checkHostPath, qpath, script } from './common.js';

export function buildRun(ctx: StepContext): Task | undefined {
  const a = ctx.step.args;
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
  const sudo = a.sudo === true;
  const body = script(
    creates && `if [ -e ${qpath(creates)} ]; then orch_status skipped; exit 0; fi`,
    unless && `if ( ${unless} ) >/dev/null 2>&1; then orch_status skipped; exit 0; fi`,
    sudo ? `sudo -n bash -c ${quote(cmd)}` : `( ${cmd} )`,
    'orch_status changed',
  );
  return {
    script: body,
    probes: creates ? [{ kind: 'exists', path: creates }] : [],
    check: { kind: 'run', creates, hasUnless: unless !== undefined },
  };
}
