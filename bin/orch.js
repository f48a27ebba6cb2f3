#!/usr/bin/env node
// Entry point: loads the compiled CLI (built by `npm run build`, run by `npm ci` through
// `prepare`): the single-file bundle through its code cache when it exists
// (scripts/bundle-cli.mjs, bin/load-bundle.cjs), else the tsc output it is made from.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../build/cli/orch.bundle.cjs', import.meta.url));
const loaded = existsSync(bundle)
  ? Promise.resolve().then(() => createRequire(import.meta.url)('./load-bundle.cjs').loadBundle(bundle, bundle.replace(/\.cjs$/, '.cache')).exports)
  : import('../build/cli/main.js');
loaded.then((m) => m.main(process.argv)).catch((err) => {
  process.stderr.write(`orch: internal error: ${err && err.stack ? err.stack : err}\n`);
  process.exit(70);
});
