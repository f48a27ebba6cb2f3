/**
 * Generates schema/playbook.schema.json from src/steps/playbook-schema.base.json and the
 * step kind registry (every kind's `schema` fragment), and the step kind enum of
 * schema/plan.schema.json. Pure: texts in, texts out. Run at build time by
 * scripts/gen-schema.mjs (which writes the files); test/unit/steps/schema.test.ts fails
 * when the checked-in files differ from what this returns.
 */
import { COMMON_STEP_KEYS, commonKeyRef, STEP_KIND_NAMES, STEP_KINDS } from './index.js';

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
  return current.replace(re, `$1${JSON.stringify(STEP_KIND_NAMES).replaceAll(',', ', ')}$2`);
}
