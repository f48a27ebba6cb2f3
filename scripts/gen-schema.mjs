#!/usr/bin/env node
// Writes schema/playbook.schema.json, docs/reference/steps.md (and the step kind enum of schema/plan.schema.json)
// from src/steps/playbook-schema.base.json and the step kind registry, through
// build/steps/schema.js (so run after tsc; `npm run build` does, before the validators
// are compiled). The outputs stay checked in: test/unit/steps/schema.test.ts fails when
// they differ from what this writes.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const { playbookSchemaText, planSchemaText, stepsReferenceText } = await import(new URL('build/steps/schema.js', root));
const write = (rel, text) => {
  const out = new URL(rel, root).pathname;
  let prev = '';
  try { prev = readFileSync(out, 'utf8'); } catch { /* first build */ }
  if (prev === text) return;
  writeFileSync(`${out}.tmp`, text);
  renameSync(`${out}.tmp`, out);
  console.error(`gen-schema: wrote ${rel}`);
};
const playbookText = playbookSchemaText(readFileSync(new URL('src/steps/playbook-schema.base.json', root), 'utf8'));
write('schema/playbook.schema.json', playbookText);
write('docs/reference/steps.md', stepsReferenceText(playbookText));
write('schema/plan.schema.json', planSchemaText(readFileSync(new URL('schema/plan.schema.json', root), 'utf8')));
