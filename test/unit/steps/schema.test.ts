/** schema/playbook.schema.json and plan.schema.json's kind enum are generated from the step kind registry and stay checked in. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STEP_KIND_NAMES } from '../../../src/steps/index.js';
import { planSchemaText, playbookSchemaText } from '../../../src/steps/schema.js';

const read = (p: string): string => readFileSync(new URL(`../../../${p}`, import.meta.url), 'utf8');

describe('generated schemas', () => {
  it('schema/playbook.schema.json is what scripts/gen-schema.mjs writes (run npm run build after changing a kind)', () => {
    expect(read('schema/playbook.schema.json')).toBe(playbookSchemaText(read('src/steps/playbook-schema.base.json')));
  });
  it('schema/plan.schema.json names exactly the registry\'s step kinds', () => {
    const plan = read('schema/plan.schema.json');
    expect(plan).toBe(planSchemaText(plan));
    const kinds = (JSON.parse(plan) as { $defs: { step: { properties: { kind: { enum: string[] } } } } }).$defs.step.properties.kind.enum;
    expect(kinds).toEqual(STEP_KIND_NAMES);
  });
  it('every kind is a step key, a oneOf branch and (unless inline) a definition', () => {
    const s = JSON.parse(read('schema/playbook.schema.json')) as { $defs: Record<string, { properties?: Record<string, unknown>; oneOf?: unknown[]; description?: string }> };
    const step = s.$defs.step!;
    expect(Object.keys(step.properties!)).toEqual(['name', 'on', 'once', 'when', ...STEP_KIND_NAMES]);
    expect(step.oneOf).toEqual(STEP_KIND_NAMES.map((k) => ({ required: [k] })));
    expect(step.description).toContain(`(${STEP_KIND_NAMES.join(', ')})`);
    for (const k of STEP_KIND_NAMES) if (k !== 'bundle') expect(s.$defs[k]!.properties).toHaveProperty('on');
  });
});
