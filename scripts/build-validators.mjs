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
const code = standaloneCode.default(ajv, SCHEMA_IDS);
const out = new URL('build/config/validators.generated.cjs', root);
writeFileSync(`${out.pathname}.tmp`, code);
renameSync(`${out.pathname}.tmp`, out.pathname);
