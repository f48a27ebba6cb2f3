/**
 * `orch run PLAYBOOK NODE.ACTION [-e k=v] [--limit P]`: runs a node action (the node's
 * `actions:` key, never part of apply) on the node's hosts, with the node's vars and
 * roles (Capistrano/Fabric tasks, Kamal's `app exec`, python-deployer's node actions).
 *
 * The action is planned like any step (compile/actions.ts), every script checked with
 * `bash -n` before anything runs, and executed by the engine under the host locks, so
 * `on:`/`once:`, masking, per-host isolation and exit codes are apply's. Each step's
 * output is printed under its `HOST: STEP: status` line (masked).
 */
import type { EngineEvent } from '../engine/events.js';
import { parseActionRef, playbookForAction } from '../compile/actions.js';
import { LinesRenderer } from '../ui/lines.js';
import { JsonRenderer } from '../ui/json.js';
import type { Renderer, Write } from '../ui/renderer.js';
import { EXIT, ExitRequest, exitCodeOf } from './exit-codes.js';
import { applyPlan, parseLockWait, prepare, type CommonOpts } from './run.js';
import { cmdlineError } from './targets.js';

/** Lines renderer that also prints each step's output, indented, under its status line. */
export class ActionRenderer extends LinesRenderer {
  constructor(private readonly write: Write) {
    super(write);
  }

  override onEvent(e: EngineEvent): void {
    super.onEvent(e);
    // A failed step's output is already in the failure block (ui/failure.ts).
    if (e.type === 'step-end' && e.stdout && e.status !== 'failed') this.write(`${e.stdout.replace(/\n$/, '').split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  }
}

/** Options of `orch run`. */
export interface RunActionOpts extends CommonOpts {
  lockWait?: string;
}

/**
 * Runs action `ref` (`NODE.ACTION`, or `ACTION` of the root node) of `playbook`.
 * @throws ConfigError (exit 1) for an unknown node or action, a script failing `bash -n`,
 *   or any other invalid input; ExitRequest with apply's exit codes otherwise.
 */
export async function runAction(playbook: string, ref: string, opts: RunActionOpts, write: Write = (s) => void process.stdout.write(s)): Promise<number> {
  if (!/^([A-Za-z0-9_-]+\.)*[A-Za-z0-9][A-Za-z0-9_-]*$/.test(ref)) throw cmdlineError('NODE.ACTION', `expected NODE.ACTION (e.g. shop.migrate) or ACTION of the root node, got ${JSON.stringify(ref)}`);
  const { node, action } = parseActionRef(ref);
  const { plan, masker } = await prepare(playbook, opts, undefined, opts.json === true, {
    selectPlaybook: (pb, index) => playbookForAction(pb, index, node, action),
  });
  const renderer: Renderer = opts.json ? new JsonRenderer(write) : new ActionRenderer(write);
  const summary = await applyPlan(plan, masker, opts, renderer, { confirm: false, showPlan: false, lockWait: parseLockWait(opts.lockWait) }, write);
  return exitCodeOf(summary, opts.detailedExitcodes === true);
}

/** The `orch run` command: exits with apply's codes (docs/reference/cli.md). */
export async function runActionCommand(playbook: string, ref: string, opts: RunActionOpts): Promise<void> {
  const code = await runAction(playbook, ref, opts);
  if (code !== EXIT.OK) throw new ExitRequest(code);
}
