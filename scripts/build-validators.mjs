#!/usr/bin/env node
// Precompiles the JSON Schemas into standalone validator code (ajv standalone), so a
// command does not spend ~200 ms compiling schemas at start-up. Run by `npm run build`
// after tsc; src/config/validate.ts loads build/config/validators.generated.cjs when
// present and compiles the schemas at run time otherwise (tests running the sources).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';

const root = new URL('../', import.meta.url);
const schema = (name) => JSON.parse(readFileSync(new URL(`schema/${name}`, root), 'utf8'));
const { ajvOptions, SCHEMA_IDS } = await import(new URL('build/config/validate.js', root));
const ajv = new Ajv2020({ ...ajvOptions, code: { source: true } });
ajv.addVocabulary(['x-message', 'x-type-message']);
ajv.addSchema(schema('inventory.schema.json'));
ajv.addSchema(schema('playbook.schema.json'));
// ajv's generated code gathers a $ref'd validator's errors with `vErrors.concat(errors)`,
// which copies every error gathered so far at each call: quadratic in the number of errors
// (a playbook with 20,000 bad `nodes:` entries spent 17 s there). Appending in place gives the
// same array contents in linear time (vErrors is the caller's own array, or the callee's
// last result, which the callee replaces on its next call).
const concat = /vErrors\.concat\(([A-Za-z0-9_]+(?:\.validate)?\.errors)\)/g;
const generated = standaloneCode.default(ajv, SCHEMA_IDS);
const sites = generated.match(concat)?.length ?? 0;
if (sites === 0 || generated.split('concat(').length - 1 !== sites) throw new Error(`build-validators: expected only vErrors.concat(X.errors) calls in ajv's code, found ${sites} of ${generated.split('concat(').length - 1}`);
const code = generated.replace(/^"use strict";/, '"use strict";function orchAppendErrors(a, b) { for (let i = 0; i < b.length; i++) a.push(b[i]); return a; }')
  .replace(concat, 'orchAppendErrors(vErrors, $1)');
const out = new URL('build/config/validators.generated.cjs', root);
writeFileSync(`${out.pathname}.tmp`, code);
renameSync(`${out.pathname}.tmp`, out.pathname);
