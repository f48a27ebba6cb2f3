/** The `symlink` step kind: exact script, probes, label and its prediction table. */
import { describe, expect, it } from 'vitest';
import { SWITCH_SH, SYMLINK_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { symlink } from '../../../src/steps/symlink.js';
import { buildStep, facts, scriptOf } from './helpers.js';

const A = 'a'.repeat(64);

describe('symlink', () => {
  it('builds prelude + switch.sh + symlink.sh and one call line', () => {
    const { task, problems, label } = buildStep(symlink, {});
    expect(problems).toEqual([]);
    expect(label).toBe('symlink current -> 1.2.0');
    expect(task!.script).toBe(scriptOf([VERSIONS_SH, SWITCH_SH, SYMLINK_SH], `orch_symlink /srv/shop 1.2.0 '' "\${2:-}"`));
    expect(task!.check).toEqual({ kind: 'symlink', root: '/srv/shop', version: '1.2.0', sha256: A });
    expect(task!.probes.map((p) => `${p.kind}:${p.path}`)).toEqual(['link:/srv/shop/current', 'read:/srv/shop/versions/1.2.0/.orch-installed', 'read:/srv/shop/.orch/state.json', 'leftovers:/srv/shop']);
  });

  it('with a service after it: the restart-pending marker is passed and probed; a rendered version', () => {
    const { task, label } = buildStep(symlink, { version: '{{v}}' }, { restartFollows: true, vars: { v: '1.1.0' } });
    expect(label).toBe('symlink current -> 1.1.0');
    expect(task!.script).toBe(scriptOf([VERSIONS_SH, SWITCH_SH, SYMLINK_SH], `orch_symlink /srv/shop 1.1.0 .orch/restart-pending "\${2:-}"`));
    expect(task!.check).toEqual({ kind: 'symlink', root: '/srv/shop', version: '1.1.0', sha256: '' });
    expect(task!.probes.at(-1)).toEqual({ kind: 'exists', path: '/srv/shop/.orch/restart-pending' });
  });

  it.each([
    [{ version: 'a/b' }, {}, ['version: version "a/b" is not a valid folder name (letters, digits, . _ + -)']],
    [{}, { bundle: null }, ['(step): symlink needs "version" when the node installs no bundle']],
    [{ version: '1' }, { bundle: null, vars: { app: '' } }, ['(step): symlink needs var "app" when the node installs no bundle']],
  ])('refuses %j', (args, o, want) => {
    expect(buildStep(symlink, args, o as never).problems).toEqual(want);
  });

  const task = buildStep(symlink, {}).task!;
  const pending = buildStep(symlink, {}, { restartFollows: true }).task!;
  it.each([
    ['no facts', task, {}, 'maybe'],
    ['no current link', task, { 'link:/srv/shop/current': null }, 'changed'],
    ['pointing elsewhere', task, { 'link:/srv/shop/current': 'versions/1.1.0' }, 'changed'],
    ['already there', task, { 'link:/srv/shop/current': 'versions/1.2.0' }, 'ok'],
    ['already there, a restart pending', pending, { 'link:/srv/shop/current': 'versions/1.2.0', 'exists:/srv/shop/.orch/restart-pending': '1' }, 'changed'],
    ['already there, no restart pending', pending, { 'link:/srv/shop/current': 'versions/1.2.0', 'exists:/srv/shop/.orch/restart-pending': null }, 'ok'],
    ['already there, state.json names it', task, { 'link:/srv/shop/current': 'versions/1.2.0', 'read:/srv/shop/.orch/state.json': JSON.stringify({ current: '1.2.0' }) }, 'ok'],
    ['already there, state.json names another current (killed before the record)', task, { 'link:/srv/shop/current': 'versions/1.2.0', 'read:/srv/shop/.orch/state.json': JSON.stringify({ current: '1.1.0' }) }, 'changed'],
    ['already there, no state.json', task, { 'link:/srv/shop/current': 'versions/1.2.0', 'read:/srv/shop/.orch/state.json': null }, 'changed'],
    ['already there, leftovers of a dead run', task, { 'link:/srv/shop/current': 'versions/1.2.0', 'leftovers:/srv/shop': '3' }, 'changed'],
    ['this release recorded bad', task, { 'link:/srv/shop/current': 'versions/1.1.0', 'read:/srv/shop/.orch/state.json': JSON.stringify({ bad: { '1.2.0': A } }) }, 'skipped'],
  ])('predicts %s', (_n, t, f, want) => {
    expect(symlink.predict(facts(f), t as never)).toBe(want);
  });

  it('notes the leftovers the switch will remove', () => {
    expect(symlink.note!(facts({ 'leftovers:/srv/shop': '3' }), task as never)).toBe('cleanup: 3 leftovers of an interrupted run');
    expect(symlink.note!(facts({ 'leftovers:/srv/shop': '0' }), task as never)).toBeUndefined();
  });

  it('a predicted switch moves current and previous in the facts', () => {
    const f = facts({ 'link:/srv/shop/current': 'versions/1.1.0' });
    expect(symlink.predict(f, task as never)).toBe('changed');
    expect([f.get('link:/srv/shop/current'), f.get('link:/srv/shop/previous')]).toEqual(['versions/1.2.0', 'versions/1.1.0']);
  });
});
