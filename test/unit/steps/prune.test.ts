/** The `prune` step kind: exact script, label and its prediction table. */
import { describe, expect, it } from 'vitest';
import { DELTA_SH, PRUNE_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { prune, prunable } from '../../../src/steps/prune.js';
import { buildStep, facts, scriptOf } from './helpers.js';

describe('prune', () => {
  it('builds prelude + versions.sh + prune.sh and one call line', () => {
    const r = buildStep(prune, { keep: 2 });
    expect(r.problems).toEqual([]);
    expect(r.label).toBe('prune (keep 2)');
    expect(r.task!.script).toBe(scriptOf([VERSIONS_SH, DELTA_SH, PRUNE_SH], 'orch_prune /srv/shop 2'));
    expect(r.task!.probes.map((p) => `${p.kind}:${p.path}`)).toEqual(['read:/srv/shop/.orch/state.json', 'versions:/srv/shop', 'link:/srv/shop/current', 'link:/srv/shop/previous']);
    expect(buildStep(prune, null).label).toBe('prune (keep 5)');
  });

  it('refuses keep 0', () => {
    expect(buildStep(prune, { keep: 0 }).problems).toEqual(['keep: keep must be a whole number >= 1 (got 0)']);
  });

  const task = buildStep(prune, { keep: 2 }).task!;
  const links = { 'link:/srv/shop/current': 'versions/4', 'link:/srv/shop/previous': 'versions/3' };
  it.each([
    ['no facts', {}, 'maybe'],
    ['no versions folder', { 'versions:/srv/shop': '', 'link:/srv/shop/current': null, 'link:/srv/shop/previous': null }, 'ok'],
    ['as many as keep', { 'versions:/srv/shop': '4\n3', ...links }, 'ok'],
    ['one too many', { 'versions:/srv/shop': '4\n3\n2', ...links }, 'changed'],
    ['older ones are current and previous', { 'versions:/srv/shop': '6\n5\n4\n3', ...links }, 'ok'],
    ['links unknown', { 'versions:/srv/shop': '4\n3\n2' }, 'maybe'],
  ])('predicts %s', (_n, f, want) => {
    expect(prune.predict(facts(f), task as never)).toBe(want);
  });

  it('names what it would delete, and a predicted prune removes them from the facts', () => {
    const f = facts({ 'versions:/srv/shop': '6\n5\n4\n3\n2\n1', ...links });
    expect(prunable(f, '/srv/shop', 2)).toEqual(['2', '1']);
    expect(prune.predict(f, task as never)).toBe('changed');
    expect(prune.predict(f, task as never)).toBe('ok');
  });
});
