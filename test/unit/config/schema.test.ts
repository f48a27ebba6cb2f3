import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';

type Json = Record<string, unknown>;
const load = (name: string) => JSON.parse(readFileSync(`schema/${name}`, 'utf8')) as Json;
const schemas = { inventory: load('inventory.schema.json'), playbook: load('playbook.schema.json') };

/** Every subschema that documents a key: values of properties / patternProperties, and object additionalProperties. */
function documentedSchemas(root: Json): { pointer: string; schema: Json }[] {
  const out: { pointer: string; schema: Json }[] = [];
  const stack: { pointer: string; node: unknown }[] = [{ pointer: '', node: root }];
  while (stack.length > 0) {
    const { pointer, node } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      node.forEach((n, i) => stack.push({ pointer: `${pointer}/${i}`, node: n }));
      continue;
    }
    const obj = node as Json;
    for (const kw of ['properties', 'patternProperties'] as const) {
      const props = obj[kw] as Json | undefined;
      for (const [k, v] of Object.entries(props ?? {})) out.push({ pointer: `${pointer}/${kw}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, schema: v as Json });
    }
    if (obj.additionalProperties && typeof obj.additionalProperties === 'object') {
      out.push({ pointer: `${pointer}/additionalProperties`, schema: obj.additionalProperties as Json });
    }
    for (const [k, v] of Object.entries(obj)) {
      // if/then/else only select rules; they document nothing.
      if (!['examples', 'enum', 'const', 'if', 'then', 'else'].includes(k)) stack.push({ pointer: `${pointer}/${k}`, node: v });
    }
  }
  return out;
}

/** A subschema with its local `$ref` chain merged in (its own keywords win), as editors show it. */
function withRefs(root: Json, s: Json): Json {
  let out = { ...s };
  for (let ref = out.$ref; typeof ref === 'string' && ref.startsWith('#/'); ) {
    let target: unknown = root;
    for (const seg of ref.slice(2).split('/')) target = (target as Json)[seg];
    const { $ref: _drop, ...rest } = out;
    out = { ...(target as Json), ...rest };
    ref = (target as Json).$ref;
  }
  return out;
}

describe.each(Object.entries(schemas))('schema/%s.schema.json', (_name, schema) => {
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false });
  ajv.addVocabulary(['x-message', 'x-type-message']);
  ajv.addSchema(Object.values(schemas));
  const id = schema.$id as string;
  const documented = documentedSchemas(schema);

  it('is a valid draft 2020-12 schema that ajv compiles in strict mode', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(ajv.getSchema(id)).toBeTypeOf('function');
  });

  it('documents every key with a description and examples', () => {
    expect(documented.length).toBeGreaterThan(20);
    const undocumented = documented
      .map(({ pointer, schema: s }) => ({ pointer, schema: withRefs(schema, s) }))
      .filter(({ schema: s }) => typeof s.description !== 'string' || !Array.isArray(s.examples) || s.examples.length === 0)
      .map(({ pointer }) => pointer);
    expect(undocumented).toEqual([]);
  });

  it('has examples that are valid against the schema they document', () => {
    const wrong: string[] = [];
    for (const { pointer, schema: s } of documented) {
      const validate = ajv.getSchema(`${id}#${pointer}`);
      expect(validate, pointer).toBeTypeOf('function');
      for (const ex of withRefs(schema, s).examples as unknown[]) if (!validate!(ex)) wrong.push(`${pointer}: ${JSON.stringify(ex)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('closes every map except user data (vars, override keys)', () => {
    const open: string[] = [];
    const stack: { pointer: string; node: unknown }[] = [{ pointer: '', node: schema }];
    while (stack.length > 0) {
      const { pointer, node } = stack.pop()!;
      if (node === null || typeof node !== 'object') continue;
      const obj = node as Json;
      const types = ([] as unknown[]).concat(obj.type ?? []);
      if (types.includes('object') && obj.additionalProperties === undefined && !/\/vars$|\/\$defs\/vars$/.test(pointer)) open.push(pointer);
      for (const [k, v] of Object.entries(obj)) if (k !== 'examples') stack.push({ pointer: `${pointer}/${k}`, node: v });
    }
    expect(open.filter((p) => !p.endsWith('/vars'))).toEqual([]);
  });
});
