/**
 * `user: {name, system, uid, group, groups, home, shell, create_home, state,
 * authorized_keys}` — a local user (Ansible's `ansible.builtin.user` and, for the keys,
 * `authorized_key` with `exclusive: true`): useradd, usermod for what differs, userdel
 * (its home is kept) (src/host/account.sh). Planned exactly from the `getent passwd` +
 * `id -Gn` fact and the sha256 of `~NAME/.ssh/authorized_keys`: `ok` when every managed
 * value matches. `groups` is the exact list of supplementary groups (Ansible's
 * `append: false`); unset leaves them alone.
 */
import { ACCOUNT_SH } from '../host/embedded.generated.js';
import type { StepKind } from './kind.js';
import { checkHostPath, factKey, hostScript, shCall } from './common.js';
import { ACCOUNT_NAME_EXPECTED, ACCOUNT_NAME_RE, accountName } from './group.js';

export interface UserArgs {
  name: string;
  system?: boolean;
  uid?: number;
  group?: string | number;
  groups?: string[];
  home?: string;
  shell?: string;
  create_home?: boolean;
  state?: 'present' | 'absent';
  authorized_keys?: string | string[];
}
export interface UserCheck {
  kind: 'user';
  name: string;
  state: 'present' | 'absent';
  uid?: number;
  group?: string;
  groups?: string[];
  home?: string;
  shell?: string;
  /** authorized_keys: where orch expects the file (the given home, else /home/NAME) and the sha256 of its text. */
  keys?: { path: string; home: string; sha256: string };
}

const PATH_SCHEMA = { type: 'string', minLength: 1 };

export const user: StepKind<UserArgs, UserCheck> = {
  name: 'user',
  schema: {
    description: 'Makes a local user exist with these values (useradd, usermod for what differs) or not (userdel, home kept); ok when it already is so.',
    examples: [{ name: 'shop', system: true, home: '/srv/shop', shell: '/usr/sbin/nologin' }, { name: 'deploy', groups: ['sudo'], authorized_keys: ['ssh-ed25519 AAAA... deploy@laptop'] }],
    type: 'object',
    additionalProperties: false,
    properties: {
      name: { description: 'User name.', examples: ['shop'], type: 'string', minLength: 1 },
      system: { description: 'A system account (useradd --system: a uid from the system range) when it is created.', examples: [true], type: 'boolean' },
      uid: { description: 'Numeric user id.', examples: [2001], type: 'integer', minimum: 0, maximum: 4294967294 },
      group: { description: "Primary group (name or gid; it must exist). Unset: Debian's useradd makes a group of the user's name.", examples: ['shop'], type: ['string', 'integer'], minLength: 1 },
      groups: { description: 'Supplementary groups, exactly (others are left); unset leaves them alone.', examples: [['www-data', 'adm']], type: 'array', items: { type: 'string', minLength: 1 } },
      home: { ...PATH_SCHEMA, description: 'Home folder (default /home/NAME).', examples: ['/srv/shop'] },
      shell: { ...PATH_SCHEMA, description: 'Login shell.', examples: ['/bin/bash', '/usr/sbin/nologin'] },
      create_home: { description: 'Create the home folder when the user is created (default true).', examples: [false], type: 'boolean' },
      state: { description: 'present (default) or absent (userdel; the home folder stays).', examples: ['absent'], enum: ['present', 'absent'] },
      authorized_keys: {
        description: 'The whole of ~/.ssh/authorized_keys (keys not listed are removed): one key or a list, one per line.',
        examples: [['ssh-ed25519 AAAAC3Nza... deploy@laptop']],
        type: ['string', 'array'], minLength: 1, items: { type: 'string', minLength: 1 },
      },
    },
    required: ['name'],
  },
  defaultWhen: 'always',
  describe: (ctx) => `user ${ctx.args.state === 'absent' ? 'absent ' : ''}${ctx.label('name') ?? ''}`,
  build(ctx) {
    const a = ctx.args;
    const name = accountName(ctx, 'user');
    if (name === undefined) return undefined;
    const state = a.state ?? 'present';
    let group: string | undefined;
    if (a.group !== undefined) {
      group = typeof a.group === 'number' ? String(a.group) : ctx.render('group', 'text');
      if (group === undefined) return undefined;
      if (!ACCOUNT_NAME_RE.test(group) && !/^[0-9]+$/.test(group)) return void ctx.fail('group', `${JSON.stringify(group)} is not a group name or gid: ${ACCOUNT_NAME_EXPECTED}`);
    }
    const groups: string[] = [];
    for (const [i, g] of (a.groups ?? []).entries()) {
      const v = ctx.renderText(String(g), `groups.${i}`);
      if (v === undefined) return undefined;
      if (!ACCOUNT_NAME_RE.test(v)) return void ctx.fail(`groups.${i}`, `${JSON.stringify(v)} is not a group name: ${ACCOUNT_NAME_EXPECTED}`);
      groups.push(v);
    }
    const paths: Record<'home' | 'shell', string | undefined> = { home: undefined, shell: undefined };
    for (const k of ['home', 'shell'] as const) {
      if (a[k] === undefined) continue;
      const v = ctx.render(k, 'text');
      if (v === undefined) return undefined;
      if (!v.startsWith('/') || /[:\n\0]/.test(v)) return void ctx.fail(k, `${k} must be an absolute path without ":" or a newline (got ${JSON.stringify(v)})`);
      paths[k] = v.length > 1 ? v.replace(/\/+$/, '') : v;
    }
    let keysText: string | undefined;
    if (a.authorized_keys !== undefined) {
      const list = Array.isArray(a.authorized_keys) ? a.authorized_keys : [a.authorized_keys];
      const lines: string[] = [];
      for (const [i, k] of list.entries()) {
        const v = ctx.renderText(String(k), Array.isArray(a.authorized_keys) ? `authorized_keys.${i}` : 'authorized_keys');
        if (v === undefined) return undefined;
        lines.push(...v.split('\n').filter((l) => l.trim() !== ''));
      }
      keysText = lines.map((l) => `${l}\n`).join('');
    }
    const home = paths.home ?? `/home/${name}`;
    const keysPath = `${home}/.ssh/authorized_keys`;
    if (keysText !== undefined && checkHostPath(keysPath, 'home')) return void ctx.fail('home', 'home must be an absolute path');
    return {
      script: hostScript(ctx, [ACCOUNT_SH], shCall('orch_user', name, state, a.system === true ? '1' : '0', a.uid === undefined ? '' : String(a.uid), group ?? '',
        a.groups === undefined ? '-' : groups.join(','), paths.home ?? '', paths.shell ?? '', a.create_home === false ? '0' : '1', keysText ?? '-')),
      probes: [{ kind: 'passwd', path: name }, ...(keysText !== undefined ? [{ kind: 'sha256' as const, path: keysPath }] : [])],
      check: {
        kind: 'user', name, state,
        ...(a.uid !== undefined && { uid: a.uid }),
        ...(group !== undefined && { group }),
        ...(a.groups !== undefined && { groups }),
        ...(paths.home !== undefined && { home: paths.home }),
        ...(paths.shell !== undefined && { shell: paths.shell }),
        ...(keysText !== undefined && { keys: { path: keysPath, home, sha256: ctx.sha256(Buffer.from(keysText, 'utf8')) } }),
      },
    };
  },
  predict(f, task) {
    const c = task.check;
    const k = factKey({ kind: 'passwd', path: c.name });
    const fact = f.get(k);
    if (fact === undefined) return 'maybe';
    if (c.state === 'absent') {
      if (fact === null) return 'ok';
      f.set(k, null);
      return 'changed';
    }
    let change = fact === null;
    let unsure = false;
    const [line = '', groupLine = ''] = (fact ?? '').split('\n');
    const [, , uid, gid, , home, shell] = line.split(':');
    const [primary, ...supp] = groupLine.split(' ').filter(Boolean);
    if (fact !== null) {
      if (c.uid !== undefined && String(c.uid) !== uid) change = true;
      if (c.group !== undefined && c.group !== primary && c.group !== gid) change = true;
      if (c.groups !== undefined && [...new Set(c.groups)].sort().join(',') !== [...new Set(supp.filter((g) => g !== primary))].sort().join(',')) change = true;
      if (c.home !== undefined && c.home !== home) change = true;
      if (c.shell !== undefined && c.shell !== shell) change = true;
    }
    if (c.keys) {
      const kk = factKey({ kind: 'sha256', path: c.keys.path });
      const have = f.get(kk);
      const realHome = fact === null ? c.keys.home : (c.home ?? home);
      // The file is read where orch expected the home; a user whose home is elsewhere: only the host can tell.
      if (realHome !== c.keys.home || have === undefined) unsure = true;
      else if (have !== c.keys.sha256) change = true;
    }
    if (!change) return unsure ? 'maybe' : 'ok';
    const next = [c.name, 'x', c.uid ?? uid ?? '?', gid ?? '?', '', c.home ?? home ?? `/home/${c.name}`, c.shell ?? shell ?? '?'].join(':');
    f.set(k, `${next}\n${[c.group ?? primary ?? c.name, ...(c.groups ?? supp)].join(' ')}`);
    if (c.keys) f.set(factKey({ kind: 'sha256', path: c.keys.path }), c.keys.sha256);
    return 'changed';
  },
};
