#!/usr/bin/env node
// Entry point: loads the compiled CLI (built by `npm run build`, run by `npm ci` through
// `prepare`): the single-file bundle when it exists (scripts/bundle-cli.mjs), else the
// tsc output it is made from.
import { existsSync } from 'node:fs';

const entry = existsSync(new URL('../build/cli/orch.bundle.mjs', import.meta.url)) ? '../build/cli/orch.bundle.mjs' : '../build/cli/main.js';
import(entry).then((m) => m.main(process.argv)).catch((err) => {
  process.stderr.write(`orch: internal error: ${err && err.stack ? err.stack : err}\n`);
  process.exit(70);
});
