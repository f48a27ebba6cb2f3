/**
 * The precompiled validators (scripts/build-validators.mjs, built by `npm run build`, which
 * `npm test` runs first) report exactly the errors of ajv compiling the same schemas at run
 * time, now that their error gathering appends in place instead of `concat` (which was
 * quadratic in the number of errors).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { ajvOptions, SCHEMA_IDS } from '../../../src/config/validate.js';

const root = new URL('../../../', import.meta.url);
const generatedPath = new URL('build/config/validators.generated.cjs', root).pathname;

function runtimeValidators(): Record<keyof typeof SCHEMA_IDS, ValidateFunction> {
  const ajv = new Ajv2020(ajvOptions);
  ajv.addVocabulary(['x-message', 'x-type-message']);
  for (const f of ['inventory.schema.json', 'playbook.schema.json']) ajv.addSchema(JSON.parse(readFileSync(new URL(`schema/${f}`, root), 'utf8')) as object);
  return { inventory: ajv.getSchema(SCHEMA_IDS.inventory)!, playbook: ajv.getSchema(SCHEMA_IDS.playbook)!, import: ajv.getSchema(SCHEMA_IDS.import)! };
}

/** ajv errors without the (identical, but large) schema and data copies of `verbose`. */
function errorsOf(v: ValidateFunction, data: unknown): string[] {
  v(data);
  return (v.errors ?? []).map((e) => `${e.instancePath} ${e.schemaPath} ${e.keyword} ${JSON.stringify(e.params)} ${e.message ?? ''}`);
}

describe('precompiled validators', () => {
  const generated = createRequire(import.meta.url)(generatedPath) as Record<keyof typeof SCHEMA_IDS, ValidateFunction>;
  const runtime = runtimeValidators();

  it('append errors in place: no concat of the gathered errors is left in the generated code', () => {
    const code = readFileSync(generatedPath, 'utf8');
    expect(code).not.toContain('vErrors.concat(');
    expect(code.split('orchAppendErrors(vErrors,').length - 1).toBeGreaterThan(10);
  });

  const bad: Array<[keyof typeof SCHEMA_IDS, string, unknown]> = [
    ['playbook', '3,000 nodes that are not maps', { inventory: 'i.yml', nodes: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`n${i}`, i % 3 === 0 ? 5 : i % 3 === 1 ? 'x' : [1]])) }],
    ['playbook', 'nested nodes with bad steps (oneOf branches, recursion)', {
      inventory: 'i.yml',
      nodes: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`n${i}`, { steps: [{ nope: {} }, { put: { dest: 5 } }, { command: 'true' }], nodes: { c: { steps: [{ symlink: 7 }], bogus: 1 } } }])),
    }],
    ['inventory', 'hosts with unknown keys and bad types', { hosts: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`h${i}`, { address: i, port: 'x', nope: true }])) }],
    ['import', 'an import file with bad nodes', { nodes: { a: 1, b: { steps: 'x' } }, extra: 1 }],
  ];
  for (const [kind, what, data] of bad) {
    it(`${kind}: ${what}: the same errors, in the same order, as ajv compiling at run time`, () => {
      const want = errorsOf(runtime[kind], data);
      expect(want.length).toBeGreaterThan(0);
      expect(errorsOf(generated[kind], data)).toEqual(want);
    });
  }

  it('a valid playbook is valid for both', () => {
    const ok = { inventory: 'i.yml', bundles: { app: { source: 'app', builder: 'dir' } }, nodes: { app: { steps: [{ install: { bundle: 'app' } }, { symlink: {} }] } } };
    expect(errorsOf(runtime.playbook, ok)).toEqual([]);
    expect(generated.playbook(ok)).toBe(true);
  });
});
