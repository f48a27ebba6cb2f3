/**
 * Generates schema/playbook.schema.json from src/steps/playbook-schema.base.json and the
 * step kind registry (every kind's `schema` fragment), and the step kind enum of
 * schema/plan.schema.json. Pure: texts in, texts out. Run at build time by
 * scripts/gen-schema.mjs (which writes the files); test/unit/steps/schema.test.ts fails
 * when the checked-in files differ from what this returns.
 */
import { COMMON_STEP_KEYS, commonKeyRef, STEP_KIND_NAMES, STEP_KINDS } from './index.js';
import { PROBE_KINDS } from '../model/task.js';

type Json = Record<string, unknown>;

/** The playbook schema text (2-space JSON, newline-terminated) for the base schema text. */
export function playbookSchemaText(baseText: string): string {
  const base = JSON.parse(baseText) as Json;
  delete base.$comment;
  const defs = base.$defs as Record<string, Json>;
  const step = defs.step!;
  if (!step) throw new Error('playbook-schema.base.json: no $defs.step');
  const outDefs: Record<string, Json> = {};
  const stepProps: Record<string, unknown> = { ...(step.properties as Json) };
  for (const [name, def] of Object.entries(defs)) {
    outDefs[name] = def;
    if (name !== 'step') continue;
    for (const kind of STEP_KIND_NAMES) {
      const k = STEP_KINDS[kind];
      if (k.schemaInline) {
        stepProps[kind] = k.schema;
        continue;
      }
      if (defs[kind]) throw new Error(`step kind ${kind}: $defs/${kind} is taken by the base schema (set schemaInline or rename)`);
      stepProps[kind] = { $ref: `#/$defs/${kind}` };
      outDefs[kind] = withCommonKeys(k.schema);
    }
  }
  outDefs.step = {
    ...step,
    description: String(step.description).replace('KINDS', STEP_KIND_NAMES.join(', ')),
    properties: stepProps,
    oneOf: STEP_KIND_NAMES.map((kind) => ({ required: [kind] })),
  };
  // Keep the key order of the base: `step` stays where it was.
  return `${JSON.stringify({ ...base, $defs: outDefs }, null, 2)}\n`;
}

/** A kind's fragment with the common step keys it does not define itself (refs to their definitions). */
function withCommonKeys(fragment: Json): Json {
  const props = { ...((fragment.properties as Json | undefined) ?? {}) };
  for (const key of COMMON_STEP_KEYS) if (!(key in props)) props[key] = { $ref: commonKeyRef(key) };
  // `properties` stays where the fragment has it (key order is the schema's reading order).
  const out: Json = {};
  for (const [k, v] of Object.entries(fragment)) out[k] = k === 'properties' ? props : v;
  if (!('properties' in out)) out.properties = props;
  return out;
}

/** plan.schema.json with its step `kind` enum set to the registry's names. */
export function planSchemaText(current: string): string {
  const re = /("kind": \{ "enum": )\[[^\]]*\](, "description": "Step kind\.")/;
  if (!re.test(current)) throw new Error('plan.schema.json: no step kind enum ("kind": { "enum": [...], "description": "Step kind." })');
  const probes = /("kind": \{ "enum": )\[[^\]]*\](, "description": "What to read: )/;
  if (!probes.test(current)) throw new Error('plan.schema.json: no probe kind enum ("kind": { "enum": [...], "description": "What to read: ..." })');
  return current
    .replace(re, `$1${JSON.stringify(STEP_KIND_NAMES).replaceAll(',', ', ')}$2`)
    .replace(probes, `$1${JSON.stringify(PROBE_KINDS).replaceAll(',', ', ')}$2`);
}

/** A JSON Schema node as the generated playbook schema writes it. */
interface SchemaNode {
  description?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  $ref?: string;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  examples?: unknown[];
}

/**
 * docs/reference/steps.md: one section per step kind (registry order) with its
 * description, a table of its keys (type, required, description) and its schema's
 * examples as YAML, all read from `playbookText` (the text playbookSchemaText returns).
 * Pure; scripts/gen-schema.mjs writes it and test/unit/steps/schema.test.ts checks the
 * checked-in file against it, as for the schema.
 */
export function stepsReferenceText(playbookText: string): string {
  const schema = JSON.parse(playbookText) as { $defs: Record<string, SchemaNode> };
  const defs = schema.$defs;
  const resolve = (n: SchemaNode): SchemaNode => (n.$ref ? { ...resolve(defs[n.$ref.replace('#/$defs/', '')] ?? {}), ...withoutRef(n) } : n);
  const typeOf = (raw: SchemaNode): string => {
    const n = resolve(raw);
    if (n.enum) return n.enum.map((v) => `\`${String(v)}\``).join(' | ');
    if (n.const !== undefined) return `\`${String(n.const)}\``;
    const alts = n.anyOf ?? n.oneOf;
    if (alts && !n.type) return alts.map(typeOf).join(' or ');
    const types = Array.isArray(n.type) ? n.type : n.type ? [n.type] : [];
    return types.map((t) => (t === 'array' && n.items ? `array of ${typeOf(n.items)}` : t === 'object' && n.properties ? 'map' : t)).join(' or ') || 'any';
  };
  const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const rows = (props: Record<string, SchemaNode>, required: string[], prefix: string): string[] => {
    const out: string[] = [];
    for (const [key, raw] of Object.entries(props)) {
      if (!prefix && (COMMON_STEP_KEYS as readonly string[]).includes(key) && raw.$ref === commonKeyRef(key as (typeof COMMON_STEP_KEYS)[number])) continue;
      const n = resolve(raw);
      out.push(`| \`${prefix}${key}\` | ${cell(typeOf(raw))} | ${required.includes(key) ? 'yes' : ''} | ${cell(n.description ?? '')} |`);
      if (n.properties && !n.$ref) out.push(...rows(n.properties, n.required ?? [], `${prefix}${key}.`));
    }
    return out;
  };
  const yamlOf = (v: unknown): string => {
    // Plain scalars only where YAML reads them back as the same string (no flow indicators, no space, not a bool/null/number).
    if (v === null || typeof v !== 'object') return typeof v === 'string' && /^[A-Za-z_/.~][\w./~-]*$/.test(v) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(v) ? v : JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map((x) => yamlOf(x)).join(', ')}]`;
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length ? `{ ${entries.map(([k, x]) => `${k}: ${yamlOf(x)}`).join(', ')} }` : '{}';
  };
  const step = defs.step!;
  const lines: string[] = [
    '# Steps reference',
    '',
    '<!-- Generated by scripts/gen-schema.mjs (npm run build) from the step kinds\' schema fragments in src/steps/*.ts; do not edit by hand. -->',
    '',
    `${step.description ?? ''}`,
    '',
    'What each kind does on a host, and when it does nothing, is described in the',
    '[playbook reference](playbook.md#steps); this page lists every key.',
    '',
    `Kinds: ${STEP_KIND_NAMES.map((k) => `[${k}](#${k})`).join(', ')}.`,
    '',
    '## Common keys',
    '',
    'Every step may have these keys next to its kind key (or inside the kind\'s map).',
    '',
    '| key | type | description |',
    '| --- | --- | --- |',
  ];
  for (const key of COMMON_STEP_KEYS) {
    const raw = step.properties![key]!;
    lines.push(`| \`${key}\` | ${cell(typeOf(raw))} | ${cell(resolve(raw).description ?? '')} |`);
  }
  for (const kind of STEP_KIND_NAMES) {
    const n = resolve(step.properties![kind]!);
    lines.push('', `## ${kind}`, '', n.description ?? '');
    if (n.properties) {
      lines.push('', '| key | type | required | description |', '| --- | --- | --- | --- |', ...rows(n.properties, n.required ?? [], ''));
    } else {
      lines.push('', `The value is ${typeOf(n)}.`);
    }
    if (n.examples?.length) {
      lines.push('', '```yaml', ...n.examples.map((e) => `- ${kind}: ${yamlOf(e)}`), '```');
    }
  }
  return `${lines.join('\n')}\n`;
}

function withoutRef(n: SchemaNode): SchemaNode {
  const { $ref: _ref, ...rest } = n;
  return rest;
}
