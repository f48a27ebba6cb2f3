/** The `group` step kind: exact script, name checks and its prediction table. */
import { describe, expect, it } from 'vitest';
import { ACCOUNT_SH } from '../../../src/host/embedded.generated.js';
import { group } from '../../../src/steps/group.js';
import { buildStep, facts, scriptOf } from './helpers.js';

describe('group', () => {
  it('builds prelude + account.sh and one call line; probes getent group', () => {
    const r = buildStep(group, { name: '{{app}}', system: true, gid: 2001 });
    expect(r.problems).toEqual([]);
    expect(r.label).toBe('group shop');
    expect(r.task!.script).toBe(scriptOf([ACCOUNT_SH], 'orch_group shop present 1 2001'));
    expect(r.task!.probes).toEqual([{ kind: 'group', path: 'shop' }]);
    expect(buildStep(group, { name: 'old', state: 'absent' }).task!.script).toBe(scriptOf([ACCOUNT_SH], "orch_group old absent 0 ''"));
  });
  it.each([
    [{ name: 'Shop' }, ['name: "Shop" is not a group name: a lowercase letter or _ first, then lowercase letters, digits, _ . - (at most 32), like "shop"']],
    [{ name: 'a;b' }, ['name: "a;b" is not a group name: a lowercase letter or _ first, then lowercase letters, digits, _ . - (at most 32), like "shop"']],
  ])('refuses %j', (args, want) => {
    expect(buildStep(group, args).problems).toEqual(want);
  });
  const t = buildStep(group, { name: 'shop', gid: 2001 }).task!;
  const any = buildStep(group, { name: 'shop' }).task!;
  const gone = buildStep(group, { name: 'shop', state: 'absent' }).task!;
  it.each([
    ['no facts', t, {}, 'maybe'],
    ['missing', t, { 'group:shop': null }, 'changed'],
    ['same gid', t, { 'group:shop': 'shop:x:2001:' }, 'ok'],
    ['other gid', t, { 'group:shop': 'shop:x:999:' }, 'changed'],
    ['any gid', any, { 'group:shop': 'shop:x:999:www-data' }, 'ok'],
    ['absent, gone', gone, { 'group:shop': null }, 'ok'],
    ['absent, there', gone, { 'group:shop': 'shop:x:999:' }, 'changed'],
  ])('predicts %s', (_n, task, f, want) => {
    expect(group.predict(facts(f), task as never)).toBe(want);
  });
  it('a predicted change updates the facts', () => {
    const f = facts({ 'group:shop': null });
    expect(group.predict(f, t as never)).toBe('changed');
    expect(group.predict(f, t as never)).toBe('ok');
  });
});
