/**
 * `group: {name, system, gid, state}` — a local group (Ansible's `ansible.builtin.group`):
 * groupadd / groupmod --gid / groupdel (src/host/account.sh). Planned exactly from the
 * `getent group` fact: `ok` when the group exists with that gid (or is absent, for
 * `state: absent`).
 */
import { ACCOUNT_SH } from '../host/embedded.generated.js';
import type { StepKind } from './kind.js';
import { factKey, hostScript, shCall } from './common.js';

export interface GroupArgs {
  name: string;
  system?: boolean;
  gid?: number;
  state?: 'present' | 'absent';
}
export interface GroupCheck {
  kind: 'group';
  name: string;
  state: 'present' | 'absent';
  gid?: number;
}

/**
 * User and group names as Debian's useradd/groupadd accept them by default
 * (`NAME_REGEX`, useradd(8)): a lowercase letter or `_` first, then lowercase letters,
 * digits, `_ . -`, at most 32 characters, an optional trailing `$`.
 */
export const ACCOUNT_NAME_RE = /^[a-z_][a-z0-9_.-]{0,31}\$?$/;
export const ACCOUNT_NAME_EXPECTED = 'a lowercase letter or _ first, then lowercase letters, digits, _ . - (at most 32), like "shop"';

/** Renders and checks the `name` of a user or group step; undefined after reporting. */
export function accountName(ctx: { render(field: string, mode: 'text'): string | undefined; fail(field: string, message: string): void }, what: string): string | undefined {
  const name = ctx.render('name', 'text');
  if (name === undefined) return undefined;
  if (!ACCOUNT_NAME_RE.test(name)) return void ctx.fail('name', `${JSON.stringify(name)} is not a ${what} name: ${ACCOUNT_NAME_EXPECTED}`);
  return name;
}

export const group: StepKind<GroupArgs, GroupCheck> = {
  name: 'group',
  schema: {
    description: 'Makes a local group exist (groupadd; groupmod for another gid) or not (groupdel); ok when it already is so.',
    examples: [{ name: 'shop', system: true }, { name: 'deploy', gid: 2001 }, { name: 'old', state: 'absent' }],
    type: 'object',
    additionalProperties: false,
    properties: {
      name: { description: 'Group name.', examples: ['shop'], type: 'string', minLength: 1 },
      system: { description: 'A system group (groupadd --system: a gid from the system range) when it is created.', examples: [true], type: 'boolean' },
      gid: { description: 'Numeric group id.', examples: [2001], type: 'integer', minimum: 0, maximum: 4294967294 },
      state: { description: 'present (default) or absent.', examples: ['absent'], enum: ['present', 'absent'] },
    },
    required: ['name'],
  },
  defaultWhen: 'always',
  describe: (ctx) => `group ${ctx.args.state === 'absent' ? 'absent ' : ''}${ctx.label('name') ?? ''}`,
  build(ctx) {
    const a = ctx.args;
    const name = accountName(ctx, 'group');
    if (name === undefined) return undefined;
    const state = a.state ?? 'present';
    return {
      script: hostScript(ctx, [ACCOUNT_SH], shCall('orch_group', name, state, a.system === true ? '1' : '0', a.gid === undefined ? '' : String(a.gid))),
      probes: [{ kind: 'group', path: name }],
      check: { kind: 'group', name, state, ...(a.gid !== undefined && { gid: a.gid }) },
    };
  },
  predict(f, task) {
    const c = task.check;
    const k = factKey({ kind: 'group', path: c.name });
    const line = f.get(k);
    if (line === undefined) return 'maybe';
    if (c.state === 'absent') {
      if (line === null) return 'ok';
      f.set(k, null);
      return 'changed';
    }
    const gid = line?.split(':')[2];
    if (line !== null && (c.gid === undefined || String(c.gid) === gid)) return 'ok';
    f.set(k, `${c.name}:x:${c.gid ?? gid ?? '?'}:`);
    return 'changed';
  },
};
