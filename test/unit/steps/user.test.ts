/** The `user` step kind: exact script, checks and its prediction table. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ACCOUNT_SH } from '../../../src/host/embedded.generated.js';
import { user } from '../../../src/steps/user.js';
import { buildStep, facts, scriptOf } from './helpers.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('user', () => {
  it('builds prelude + account.sh and one call line; probes getent passwd and the keys file', () => {
    const r = buildStep(user, { name: '{{app}}', system: true, group: 'shop', groups: ['www-data', 'adm'], home: '{{root}}/', shell: '/usr/sbin/nologin', create_home: false, authorized_keys: ['ssh-ed25519 AAAA a@b', 'ssh-rsa BBBB c@d'] });
    expect(r.problems).toEqual([]);
    expect(r.label).toBe('user shop');
    expect(r.task!.script).toBe(scriptOf([ACCOUNT_SH], "orch_user shop present 1 '' shop www-data,adm /srv/shop /usr/sbin/nologin 0 'ssh-ed25519 AAAA a@b\nssh-rsa BBBB c@d\n'"));
    expect(r.task!.probes).toEqual([{ kind: 'passwd', path: 'shop' }, { kind: 'sha256', path: '/srv/shop/.ssh/authorized_keys' }]);
    expect(r.task!.check).toEqual({ kind: 'user', name: 'shop', state: 'present', group: 'shop', groups: ['www-data', 'adm'], home: '/srv/shop', shell: '/usr/sbin/nologin', keys: { path: '/srv/shop/.ssh/authorized_keys', home: '/srv/shop', sha256: sha('ssh-ed25519 AAAA a@b\nssh-rsa BBBB c@d\n') } });
  });
  it('a bare user: nothing else managed (groups -, keys -), home created', () => {
    expect(buildStep(user, { name: 'deploy' }).task!.script).toBe(scriptOf([ACCOUNT_SH], "orch_user deploy present 0 '' '' - '' '' 1 -"));
  });
  it.each([
    [{ name: 'root;id' }, ['name: "root;id" is not a user name: a lowercase letter or _ first, then lowercase letters, digits, _ . - (at most 32), like "shop"']],
    [{ name: 'shop', groups: ['ok', 'B A D'] }, ['groups.1: "B A D" is not a group name: a lowercase letter or _ first, then lowercase letters, digits, _ . - (at most 32), like "shop"']],
    [{ name: 'shop', home: 'srv' }, ['home: home must be an absolute path without ":" or a newline (got "srv")']],
  ])('refuses %j', (args, want) => {
    expect(buildStep(user, args).problems).toEqual(want);
  });

  const t = buildStep(user, { name: 'shop', group: 'shop', groups: ['www-data'], home: '/srv/shop', shell: '/usr/sbin/nologin' }).task!;
  const keys = buildStep(user, { name: 'deploy', authorized_keys: 'ssh-ed25519 AAAA a@b' }).task!;
  const gone = buildStep(user, { name: 'shop', state: 'absent' }).task!;
  const same = 'shop:x:998:998::/srv/shop:/usr/sbin/nologin\nshop www-data';
  it.each([
    ['no facts', t, {}, 'maybe'],
    ['missing', t, { 'passwd:shop': null }, 'changed'],
    ['all the same', t, { 'passwd:shop': same }, 'ok'],
    ['primary group by gid', buildStep(user, { name: 'shop', group: 998 }).task!, { 'passwd:shop': same }, 'ok'],
    ['another shell', t, { 'passwd:shop': 'shop:x:998:998::/srv/shop:/bin/bash\nshop www-data' }, 'changed'],
    ['another home', t, { 'passwd:shop': 'shop:x:998:998::/home/shop:/usr/sbin/nologin\nshop www-data' }, 'changed'],
    ['one more group', t, { 'passwd:shop': `${same} adm` }, 'changed'],
    ['a group less', t, { 'passwd:shop': 'shop:x:998:998::/srv/shop:/usr/sbin/nologin\nshop' }, 'changed'],
    ['other primary group', t, { 'passwd:shop': 'shop:x:998:33::/srv/shop:/usr/sbin/nologin\nwww-data' }, 'changed'],
    ['keys the same', keys, { 'passwd:deploy': 'deploy:x:1000:1000::/home/deploy:/bin/sh\ndeploy', 'sha256:/home/deploy/.ssh/authorized_keys': sha('ssh-ed25519 AAAA a@b\n') }, 'ok'],
    ['keys differ', keys, { 'passwd:deploy': 'deploy:x:1000:1000::/home/deploy:/bin/sh\ndeploy', 'sha256:/home/deploy/.ssh/authorized_keys': null }, 'changed'],
    ['keys of a user whose home is elsewhere: only the host can tell', keys, { 'passwd:deploy': 'deploy:x:1000:1000::/srv/deploy:/bin/sh\ndeploy', 'sha256:/home/deploy/.ssh/authorized_keys': null }, 'maybe'],
    ['absent, gone', gone, { 'passwd:shop': null }, 'ok'],
    ['absent, there', gone, { 'passwd:shop': same }, 'changed'],
  ])('predicts %s', (_n, task, f, want) => {
    expect(user.predict(facts(f), task as never)).toBe(want);
  });
  it('a predicted change updates the facts: the same step again predicts ok', () => {
    const f = facts({ 'passwd:shop': null });
    expect(user.predict(f, t as never)).toBe('changed');
    expect(user.predict(f, t as never)).toBe('ok');
  });
});
