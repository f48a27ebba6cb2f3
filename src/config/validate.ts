/**
 * JSON Schema validation of loaded YAML data against `schema/*.schema.json` (draft
 * 2020-12, ajv `Ajv2020`, `allErrors`), with ajv errors turned into human diagnostics
 * positioned through the SourceIndex (ajv `instancePath` -> the `yaml` node's range ->
 * file:line:col, as terraform's tfdiags carry source ranges).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020 as Ajv2020Class, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Diagnostic, DocPath, SourceIndex } from '../model/diagnostics.js';
import { diagAt } from '../model/diagnostics.js';
import { unknownKeyHint } from './suggest.js';

/** Which schema to validate against. `import` is a file named in a playbook's `import:`. */
export type SchemaKind = 'inventory' | 'playbook' | 'import';

/** Schema ids per kind (also the export names of the precompiled validators). */
export const SCHEMA_IDS = {
  inventory: 'urn:orch:schema:inventory',
  playbook: 'urn:orch:schema:playbook',
  import: 'urn:orch:schema:playbook#/$defs/importFile',
} as const;

/** Reads a schema shipped in `<package>/schema/` (works from `src/` under vitest and from `dist/`). */
function readSchema(name: string): Record<string, unknown> {
  const url = new URL(`../../schema/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

/**
 * The compiled validators. Compiled once, lazily: the schemas are constant files of the
 * package, so this cache holds no run state (run context is passed explicitly and never
 * reaches here).
 */
let validators: Record<SchemaKind, ValidateFunction> | undefined;

/** ajv options; scripts/build-validators.mjs precompiles with the same ones. */
export const ajvOptions = { allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false } as const;

function getValidators(): Record<SchemaKind, ValidateFunction> {
  if (validators) return validators;
  try {
    // Precompiled by `npm run build` (ajv standalone): no schema compilation at start-up.
    // `../config/`: the same file from build/config/ and from the bundle in build/cli/.
    const pre = createRequire(import.meta.url)('../config/validators.generated.cjs') as Partial<Record<SchemaKind, ValidateFunction>>;
    if (pre.inventory && pre.playbook && pre.import) return (validators = { inventory: pre.inventory, playbook: pre.playbook, import: pre.import });
  } catch {
    /* running from the sources: compile below */
  }
  // ajv itself is loaded only here, when no precompiled validators exist (~70 ms saved at start-up).
  const { Ajv2020 } = createRequire(import.meta.url)('ajv/dist/2020.js') as { Ajv2020: typeof Ajv2020Class };
  const ajv = new Ajv2020(ajvOptions);
  // Annotation keyword: a human message replacing ajv's for pattern / anyOf failures.
  // `x-type-message` does the same for a type mismatch (e.g. `mode: 0644` read as a number).
  ajv.addVocabulary(['x-message', 'x-type-message']);
  ajv.addSchema(readSchema('inventory.schema.json'));
  ajv.addSchema(readSchema('playbook.schema.json'));
  const get = (id: string): ValidateFunction => {
    const v = ajv.getSchema(id);
    if (!v) throw new Error(`schema ${id} not found`);
    return v;
  };
  validators = { inventory: get(SCHEMA_IDS.inventory), playbook: get(SCHEMA_IDS.playbook), import: get(SCHEMA_IDS.import) };
  return validators;
}

/**
 * Validates `value` (the data of `file`) against the schema of `kind`.
 * Returns every problem at once as diagnostics, sorted in document order of ajv
 * (stable), de-duplicated. Messages: `missing "dest"`, `unknown key "foo" (expected
 * one of: ...)`, `must be one of: restart, reload, start, stop`, `must be a map`,
 * `needs exactly one of: src, content, template (found: src, content)`.
 */
export function validateAgainstSchema(kind: SchemaKind, value: unknown, file: string, index: SourceIndex): Diagnostic[] {
  const validate = getValidators()[kind];
  if (validate(value)) return [];
  return mapAjvErrors(validate.errors ?? [], value, file, index);
}

/** Turns ajv errors into diagnostics (see `validateAgainstSchema`). */
export function mapAjvErrors(errors: ErrorObject[], root: unknown, file: string, index: SourceIndex): Diagnostic[] {
  // Errors inside the branches of a failed oneOf/anyOf are noise: the composite error
  // (with its x-message or a computed one) replaces them. Composites are indexed by
  // instancePath and each error looks only at its own path's ancestors (a scan of every
  // composite per error was quadratic with thousands of failing steps).
  const composite = new Map<string, string[]>();
  for (const e of errors) {
    if (e.keyword !== 'oneOf' && e.keyword !== 'anyOf') continue;
    const list = composite.get(e.instancePath) ?? [];
    list.push(`${e.schemaPath}/`);
    composite.set(e.instancePath, list);
  }
  const inBranch = (e: ErrorObject): boolean => {
    if (composite.size === 0) return false;
    for (let p = e.instancePath; ; p = p.slice(0, p.lastIndexOf('/'))) {
      const prefixes = composite.get(p);
      if (prefixes?.some((c) => e.schemaPath.startsWith(c))) return true;
      if (p === '') return false;
    }
  };

  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (inBranch(e)) continue;
    const described = describeError(e, root);
    if (!described) continue;
    const d = diagAt(index, file, described.path, described.message);
    const key = `${d.path}\0${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}

/** Decodes a JSON pointer into a DocPath, turning indexes into numbers where the data is a list. */
export function pointerToPath(pointer: string, root: unknown): (string | number)[] {
  if (pointer === '') return [];
  const out: (string | number)[] = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(seg)) {
      const i = Number(seg);
      out.push(i);
      node = node[i];
    } else {
      out.push(seg);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a map',
  array: 'a list',
  null: 'empty',
};

/** Path and message for one ajv error, or undefined when it is noise. */
function describeError(e: ErrorObject, root: unknown): { path: DocPath; message: string } | undefined {
  const path = pointerToPath(e.instancePath, root);
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  // `%v` in an x-message stands for the offending value (`"2 sec": expected ...`).
  const xMessage = typeof parent['x-message'] === 'string' ? parent['x-message'].replace('%v', () => JSON.stringify(e.data) ?? String(e.data)) : undefined;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path, message: `missing ${JSON.stringify(p.missingProperty)}` };
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const known = Object.keys((parent.properties as Record<string, unknown> | undefined) ?? {});
      const hint = parent.patternProperties ? ', or an override key like child__var' : '';
      const expected = known.length > 0 ? ` (expected one of: ${known.join(', ')}${hint})` : '';
      const teach = unknownKeyHint(key, known);
      return { path: [...path, key], message: `unknown key ${JSON.stringify(key)}${teach ? `: ${teach}` : ''}${expected}` };
    }
    case 'enum':
      return { path, message: `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'type': {
      const types = String(p.type).split(',');
      const xType = parent['x-type-message'];
      if (typeof xType === 'string') return { path, message: xType };
      return { path, message: `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}` };
    }
    case 'pattern': {
      // Inside `propertyNames`, ajv puts the offending key on the error itself.
      const name = (e as ErrorObject & { propertyName?: string }).propertyName;
      const at = name !== undefined ? [...path, name] : path;
      return { path: at, message: xMessage ?? `must match ${String(p.pattern)}` };
    }
    case 'propertyNames':
    case 'if':
    case 'const':
      return undefined; // the inner error says it better
    case 'minLength':
    case 'minItems':
      return { path, message: p.limit === 1 ? 'must not be empty' : `must have at least ${String(p.limit)} ${e.keyword === 'minItems' ? 'items' : 'characters'}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `must be ${String(p.comparison)} ${String(p.limit)}` };
    case 'oneOf':
    case 'anyOf':
      if (xMessage !== undefined) return { path, message: xMessage };
      {
        const message = describeComposite(e, parent);
        return message === undefined ? undefined : { path, message };
      }
    default:
      return { path, message: e.message ?? `invalid (${e.keyword})` };
  }
}

/**
 * Message for a failed oneOf/anyOf. When every branch is `{ required: [key] }` it is an
 * "exactly one of these keys" rule: say which keys were found.
 */
function describeComposite(e: ErrorObject, parent: Record<string, unknown>): string | undefined {
  const branches = (parent[e.keyword] as unknown[] | undefined) ?? [];
  const keys: string[] = [];
  for (const b of branches) {
    const r = (b as { required?: unknown }).required;
    const only = b !== null && typeof b === 'object' && Object.keys(b).length === 1 && Array.isArray(r) && r.length === 1;
    if (!only) return e.message ?? 'does not match any allowed form';
    keys.push(String(r[0]));
  }
  const data = e.data !== null && typeof e.data === 'object' ? (e.data as Record<string, unknown>) : {};
  const found = keys.filter((k) => k in data);
  // A misspelt or foreign key (a step `heathcheck:`, `apt:`): its own `unknown key` error
  // (additionalProperties, with the hint) says it first and better than "needs one of".
  const props = (parent.properties ?? {}) as Record<string, unknown>;
  if (found.length === 0 && parent.additionalProperties === false && Object.keys(data).some((k) => !(k in props))) return undefined;
  return found.length === 0
    ? `needs one of: ${keys.join(', ')}`
    : `needs exactly one of: ${keys.join(', ')} (found: ${found.join(', ')})`;
}
