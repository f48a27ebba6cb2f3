/** schema/playbook.schema.json and plan.schema.json's kind enum are generated from the step kind registry and stay checked in. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STEP_KIND_NAMES, STEP_KINDS } from '../../../src/steps/index.js';
import { parse } from 'yaml';
import { planSchemaText, playbookSchemaText, stepsReferenceText } from '../../../src/steps/schema.js';

const read = (p: string): string => readFileSync(new URL(`../../../${p}`, import.meta.url), 'utf8');

describe('generated schemas', () => {
  it('schema/playbook.schema.json is what scripts/gen-schema.mjs writes (run npm run build after changing a kind)', () => {
    expect(read('schema/playbook.schema.json')).toBe(playbookSchemaText(read('src/steps/playbook-schema.base.json')));
  });
  it('docs/reference/steps.md is what scripts/gen-schema.mjs writes from the schema (run npm run build after changing a kind)', () => {
    expect(read('docs/reference/steps.md')).toBe(stepsReferenceText(read('schema/playbook.schema.json')));
  });
  it('docs/reference/steps.md has a section per kind, every key of each kind, and YAML examples that read back as the schema\'s', () => {
    const doc = read('docs/reference/steps.md');
    const s = JSON.parse(read('schema/playbook.schema.json')) as { $defs: Record<string, { properties?: Record<string, unknown>; examples?: unknown[] }> };
    const sections = doc.split(/^## /m).slice(2);
    expect(sections.map((x) => x.split('\n')[0])).toEqual(STEP_KIND_NAMES);
    for (const [i, kind] of STEP_KIND_NAMES.entries()) {
      const def: { properties?: Record<string, unknown>; examples?: unknown[] } = STEP_KINDS[kind].schemaInline ? (s.$defs.step!.properties![kind] as { examples: unknown[] }) : s.$defs[kind]!;
      for (const key of Object.keys(def.properties ?? {}).filter((k) => !['on', 'once'].includes(k) && !(k === 'name' && kind !== 'service') && !(k === 'when' && kind !== 'service'))) {
        expect(sections[i], `${kind}.${key}`).toContain(`| \`${key}\` |`);
      }
      const yaml = /```yaml\n([\s\S]*?)```/.exec(sections[i]!)![1]!;
      expect(parse(yaml)).toEqual(def.examples!.map((e) => ({ [kind]: e })));
    }
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
    for (const k of STEP_KIND_NAMES) if (!STEP_KINDS[k].schemaInline) expect(s.$defs[k]!.properties).toHaveProperty('on');
  });
});
