/** The `bundle` step kind: no host work, always ok. */
import { describe, expect, it } from 'vitest';
import { bundle } from '../../../src/steps/bundle.js';
import { buildStep, facts } from './helpers.js';

describe('bundle', () => {
  it('has no script and no probes; its label names the bundle', () => {
    const r = buildStep(bundle, { bundle: 'shop' });
    expect(r.problems).toEqual([]);
    expect(r.label).toBe('bundle shop');
    expect(r.task).toEqual({ script: '', probes: [], check: { kind: 'bundle' } });
    expect(bundle.hostWork).toBe(false);
  });
  it('refuses an unknown bundle', () => {
    expect(buildStep(bundle, { bundle: 'web' }).problems).toEqual(['(step): unknown bundle "web" (bundles: shop)']);
  });
  it.each([
    ['no facts', {}],
    ['any facts', { 'exists:/x': null }],
  ])('predicts ok with %s', (_n, f) => {
    expect(bundle.predict(facts(f), { script: '', probes: [], check: { kind: 'bundle' } })).toBe('ok');
  });
});
