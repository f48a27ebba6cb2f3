/** The step kind registry: one complete definition per kind, everything else derives from it. */
import { describe, expect, it } from 'vitest';
import type { StepKind } from '../../../src/steps/kind.js';
import { hostHasPayload, ownStepKeys, predictTask, runsOnHost, runsWhenOk, STEP_KIND_NAMES, STEP_KINDS } from '../../../src/steps/index.js';
import { facts } from './helpers.js';

describe('step kind registry', () => {
  it('keys every kind by its own name', () => {
    for (const name of STEP_KIND_NAMES) expect(STEP_KINDS[name].name).toBe(name);
  });
  it.each(STEP_KIND_NAMES)('%s is complete: schema with description and examples, describe, build, predict', (name) => {
    const k = STEP_KINDS[name];
    expect(k.schema.description).toEqual(expect.any(String));
    expect(k.schema.examples).toEqual(expect.any(Array));
    for (const f of [k.describe, k.build, k.predict]) expect(f).toBeTypeOf('function');
    expect(['always', 'changed']).toContain(k.defaultWhen);
  });
  it('a kind without predict does not compile', () => {
    // @ts-expect-error predict is required
    const broken: StepKind = { name: 'x', schema: {}, defaultWhen: 'always', describe: () => 'x', build: () => undefined };
    expect(broken.name).toBe('x');
  });
  it('service owns its name and when; package, group and user their name (what they manage); no other kind owns a common key', () => {
    const own: Record<string, string[]> = { service: ['name', 'when'], package: ['name'], group: ['name'], user: ['name'] };
    for (const name of STEP_KIND_NAMES) expect([...ownStepKeys(name)]).toEqual(own[name] ?? []);
  });
  it('dispatches prediction, payload and host work by the task\'s kind', () => {
    const put = { script: '', probes: [], check: { kind: 'put' as const, dest: '/a', sha256: 'x' }, payload: { kind: 'content' as const, base64: '', sha256: 'x', size: 0 } };
    expect(predictTask(facts({ 'sha256:/a': 'x' }), put)).toBe('ok');
    expect(hostHasPayload(facts({ 'sha256:/a': 'x' }), put)).toBe(true);
    expect(hostHasPayload(undefined, put)).toBe(false);
    expect(runsOnHost({ script: '', probes: [], check: { kind: 'bundle' } })).toBe(false);
    expect(runsOnHost(put)).toBe(true);
    expect(runsWhenOk({ script: '', probes: [], check: { kind: 'healthcheck' } })).toBe(true);
    expect(predictTask(facts({}), { script: '', probes: [], check: { kind: 'rollback', root: '/r' } })).toBe('maybe');
  });
});
