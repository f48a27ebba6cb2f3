/**
 * `run: {cmd, creates, unless, sudo, changed_when, failed_when}` — runs a command
 * (src/host/run.sh); `skipped` when `creates` exists or `unless` exits 0 (Ansible's
 * `creates`, Salt's `unless`). `sudo: true` wraps in `sudo -n`. Planned from the
 * `creates` fact and the `unless` command's exit status, which the plan reads by running
 * it once in the facts round trip (`unless` is a read-only check by contract); `maybe`
 * when an earlier step of the host may change first, or with result tests.
 *
 * Without `changed_when`/`failed_when`: exit 0 = `changed`, anything else = failed.
 * With them (Ansible's `changed_when`/`failed_when`, Puppet's detailed exit codes), the
 * host decides (run.sh `orch_run_judged`), in this order:
 * 1. failed when `failed_when` holds. `failed_when` defaults to "the exit code is not 0",
 *    or, when `changed_when` lists exit codes, "the exit code is not 0 and not one of
 *    those" (`changed_when: {exit: [2]}`: 0 = ok, 2 = changed, anything else failed).
 *    An explicit `failed_when` replaces that exit-code check, as in Ansible.
 * 2. else `changed` when `changed_when` holds (default `true`), else `ok`.
 * A test is `true`, `false`, or `{exit: CODE | [CODES], stdout_contains: TEXT}` (both
 * keys given: both must hold; TEXT is literal, not a template).
 */
import { COMMAND_SH, RUN_RESULT_SH, RUN_SH } from '../host/embedded.generated.js';
import type { StepKind } from './kind.js';
import { ACCOUNT_NAME_EXPECTED, ACCOUNT_NAME_RE } from './group.js';
import { checkHostPath, EARLIER_CHANGE, factKey, firstLine, hostPath, hostScript, quote, raw, shCall, userFunction } from './common.js';

export interface RunArgs {
  cmd: string;
  creates?: string;
  unless?: string;
  sudo?: boolean;
  user?: string;
  changed_when?: ResultTestSpec;
  failed_when?: ResultTestSpec;
}
/** A `changed_when`/`failed_when` value as written (schema `$defs/resultTest`). */
export type ResultTestSpec = boolean | { exit?: number | number[]; stdout_contains?: string };
export interface RunCheck {
  kind: 'run';
  creates?: string;
  hasUnless: boolean;
  /** The rendered `unless` command: its exit status is a fact (an `unless` probe). */
  unless?: string;
  /** `changed_when`/`failed_when` decide on the host: predicted `maybe`. */
  judged?: boolean;
}

/** A result test as the KIND EXITS NEEDLE arguments of run.sh's `orch_run_test`. */
interface ResultTest {
  kind: 'true' | 'false' | 'test' | 'not-exit';
  exits: number[];
  needle?: string;
}

function readTest(v: ResultTestSpec | undefined): ResultTest | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return { kind: v ? 'true' : 'false', exits: [] };
  const exits = v.exit === undefined ? [] : Array.isArray(v.exit) ? v.exit : [v.exit];
  return { kind: 'test', exits, ...(v.stdout_contains !== undefined && { needle: v.stdout_contains }) };
}

const testArgs = (t: ResultTest): string[] => [t.kind, t.exits.join(','), t.needle === undefined ? '' : `=${t.needle}`];

/**
 * The 7 result-test arguments of `orch_run` (changed test, failed test, failure text),
 * or none without `changed_when`/`failed_when` (the plain run step).
 */
export function resultTestArgs(a: Pick<RunArgs, 'changed_when' | 'failed_when'>): string[] {
  const changedWhen = readTest(a.changed_when);
  const failedWhen = readTest(a.failed_when);
  if (changedWhen === undefined && failedWhen === undefined) return [];
  const changed = changedWhen ?? { kind: 'true', exits: [] };
  const extra = changed.kind === 'test' ? changed.exits.filter((c) => c !== 0) : [];
  const failed = failedWhen ?? { kind: 'not-exit', exits: [0, ...extra] };
  const failedText = failedWhen !== undefined
    ? `failed_when ${JSON.stringify(a.failed_when)} holds`
    : extra.length > 0 ? `exit code not one of ${failed.exits.join(', ')} (changed_when exit codes)` : '';
  return [...testArgs(changed), ...testArgs(failed), failedText];
}

export const run: StepKind<RunArgs, RunCheck> = {
  name: 'run',
  schema: {
    description: 'Runs a command; skipped when `creates` exists or `unless` exits 0.',
    examples: [{ cmd: 'pg_dump shop > /var/backups/shop.sql' }, { cmd: 'make-cert', creates: '/etc/ssl/shop.pem', sudo: true }, { cmd: '{{root}}/current/bin/migrate', changed_when: { stdout_contains: 'Applied' } }],
    type: 'object',
    additionalProperties: false,
    properties: {
      cmd: { $ref: '#/$defs/command', description: 'The command.', examples: ['pg_dump shop > /var/backups/shop.sql'] },
      creates: { description: 'Path on the host; the step is skipped when it exists.', examples: ['/etc/ssl/shop.pem'], type: 'string', minLength: 1 },
      unless: { $ref: '#/$defs/command', description: 'Command; the step is skipped when it exits 0.', examples: ['test -f /etc/ssl/shop.pem'] },
      sudo: { description: 'Wrap the command in `sudo -n`.', examples: [true], type: 'boolean' },
      user: { description: "Run the command (and `unless`) as this user, with its HOME (Ansible's become_user): runuser when orch is root, else `sudo -n -u USER`.", examples: ['shop'], type: 'string', minLength: 1 },
      changed_when: {
        $ref: '#/$defs/resultTest',
        description: 'When the step counts as a change (default true): false = never (a check, a log line), or a test: { exit: [2] } = exit 2 means changed, 0 ok, other codes fail; { stdout_contains: "Applied" }.',
        examples: [false, { exit: [2] }, { stdout_contains: 'Applied' }],
      },
      failed_when: {
        $ref: '#/$defs/resultTest',
        description: 'When the step fails (default: exit code not 0, or not 0 and not one of changed_when\'s exit codes); replaces that check: false = never, true = always, or a test: { exit: [1, 3] }, { stdout_contains: "ERROR" }.',
        examples: [false, { stdout_contains: 'ERROR' }],
      },
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
    const tests = resultTestArgs(a);
    let user: string | undefined;
    if (a.user !== undefined) {
      user = ctx.render('user', 'text');
      if (user === undefined) return undefined;
      if (!ACCOUNT_NAME_RE.test(user)) return void ctx.fail('user', `${JSON.stringify(user)} is not a user name: ${ACCOUNT_NAME_EXPECTED}`);
      if (a.sudo === true) return void ctx.fail('user', 'user: and sudo: true exclude each other (user: already runs the command through sudo when orch is not root)');
    }
    // sudo / user: the command runs in a shell of its own (root's, the user's), so it travels as text.
    const as = (fn: string, text: string): string => (user !== undefined ? `${fn}() { orch_as_user ${quote(user)} ${quote(text)}; }` : userFunction(fn, text));
    const lines = [
      ...(unless !== undefined ? [as('orch_unless', unless)] : []),
      a.sudo === true ? `orch_cmd() { sudo -n bash -c ${quote(cmd)}; }` : as('orch_cmd', cmd),
      shCall('orch_run', creates !== undefined ? hostPath(creates) : raw("''"), unless !== undefined ? 'orch_unless' : '', 'orch_cmd', ...tests),
    ];
    return {
      script: hostScript(ctx, tests.length > 0 ? [COMMAND_SH, RUN_SH, RUN_RESULT_SH] : [COMMAND_SH, RUN_SH], ...lines),
      probes: [...(creates ? [{ kind: 'exists' as const, path: creates }] : []), ...(unless !== undefined ? [{ kind: 'unless' as const, path: unless }] : [])],
      check: { kind: 'run', creates, hasUnless: unless !== undefined, ...(unless !== undefined && { unless }), ...(tests.length > 0 && { judged: true }) },
    };
  },
  predict(f, task) {
    const c = task.check;
    if (c.creates !== undefined) {
      const k = factKey({ kind: 'exists', path: c.creates });
      if (f.has(k) && f.get(k) !== null) return 'skipped';
    }
    // `unless` ran in the facts round trip: exact, as long as no earlier step of this host
    // may change what it checks (then the host decides: maybe).
    if (c.unless !== undefined) {
      const rc = f.get(factKey({ kind: 'unless', path: c.unless }));
      if (rc === undefined || rc === null || f.has(EARLIER_CHANGE)) return 'maybe';
      if (rc === '0') return 'skipped';
    } else if (c.hasUnless) return 'maybe';
    return c.judged ? 'maybe' : 'changed';
  },
};
