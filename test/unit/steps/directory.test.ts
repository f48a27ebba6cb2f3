/** The `directory` step kind: exact script, label and its prediction table. */
import { describe, expect, it } from 'vitest';
import { DIRECTORY_SH, META_SH } from '../../../src/host/embedded.generated.js';
import { directory } from '../../../src/steps/directory.js';
import { buildStep, facts, scriptOf } from './helpers.js';

describe('directory', () => {
  it('builds prelude + meta.sh + directory.sh and one call line; probes the folder\'s stat', () => {
    const r = buildStep(directory, { path: '{{root}}/shared/log dir', mode: '0750', owner: '{{app}}', group: 'adm' });
    expect(r.problems).toEqual([]);
    expect(r.label).toBe('directory /srv/shop/shared/log dir');
    expect(r.task!.script).toBe(scriptOf([META_SH, DIRECTORY_SH], "orch_directory '/srv/shop/shared/log dir' 0750 shop adm"));
    expect(r.task!.probes).toEqual([{ kind: 'stat', path: '/srv/shop/shared/log dir' }]);
    expect(r.task!.check).toEqual({ kind: 'directory', path: '/srv/shop/shared/log dir', mode: '0750', owner: 'shop', group: 'adm' });
  });
  it('only a path: empty mode/owner/group; ~/ expands on the host', () => {
    expect(buildStep(directory, { path: '~/cache' }).task!.script).toBe(scriptOf([META_SH, DIRECTORY_SH], `orch_directory "$HOME"/cache '' '' ''`));
  });
  it.each([
    [{ path: 'rel' }, ['path: path must be an absolute path or start with ~/ (got "rel")']],
    [{ path: '/x', mode: '9' }, ['mode: mode must be octal like "0644" (got "9")']],
  ])('refuses %j', (args, want) => {
    expect(buildStep(directory, args).problems).toEqual(want);
  });

  const task = buildStep(directory, { path: '/d', mode: '0750', owner: 'shop', group: 'adm' }).task!;
  const bare = buildStep(directory, { path: '/d' }).task!;
  it.each([
    ['no facts', task, {}, 'maybe'],
    ['absent', task, { 'stat:/d': null }, 'changed'],
    ['there with that mode, owner and group', task, { 'stat:/d': 'd 750 shop adm 1001 4' }, 'ok'],
    ['there, owner and group by id', buildStep(directory, { path: '/d', owner: '1001', group: '4' }).task!, { 'stat:/d': 'd 700 shop adm 1001 4' }, 'ok'],
    ['other mode', task, { 'stat:/d': 'd 755 shop adm 1001 4' }, 'changed'],
    ['other owner', task, { 'stat:/d': 'd 750 root adm 0 4' }, 'changed'],
    ['other group', task, { 'stat:/d': 'd 750 shop shop 1001 1001' }, 'changed'],
    ['a file in the way (fails at apply)', task, { 'stat:/d': 'f 750 shop adm 1001 4' }, 'changed'],
    ['bare: any folder', bare, { 'stat:/d': 'd 700 root root 0 0' }, 'ok'],
    ['bare: absent', bare, { 'stat:/d': null }, 'changed'],
  ])('predicts %s', (_n, t, f, want) => {
    expect(directory.predict(facts(f), t as never)).toBe(want);
  });
  it('a predicted change updates the facts: the same step again predicts ok', () => {
    const f = facts({ 'stat:/d': null });
    expect(directory.predict(f, task as never)).toBe('changed');
    expect(directory.predict(f, task as never)).toBe('ok');
  });
});
