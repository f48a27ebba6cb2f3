#!/usr/bin/env node
// Bundles the compiled CLI (build/cli/main.js and every module it imports, lazily
// imported ones included) into one file, build/cli/orch.bundle.mjs, with esbuild: a
// command then reads and links one module instead of ~220 (start-up ~85 ms shorter;
// measured with `node -e "import('./build/cli/run.js')"` against the bundle).
// Left outside, loaded from node_modules at run time: ssh2 (native binding), the AWS SDK,
// cpu-features, and what the code loads with createRequire (handlebars, ajv pieces,
// smol-toml, jsonc-parser, the precompiled validators). Run by `npm run build` after
// tsc; bin/orch.js prefers the bundle and falls back to build/cli/main.js.
import { renameSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url);
const out = new URL('build/cli/orch.bundle.mjs', root).pathname;
await build({
  entryPoints: [new URL('build/cli/main.js', root).pathname],
  outfile: `${out}.tmp.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // jsonc-parser's UMD `main` cannot be bundled; its ESM build can.
  mainFields: ['module', 'main'],
  // The AWS SDK (s3:// stores) is imported on first use only and stays in node_modules.
  external: ['ssh2', 'cpu-features', '*.node', '@aws-sdk/*'],
  // CommonJS dependencies call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __orchCreateRequire } from 'node:module'; const require = __orchCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
renameSync(`${out}.tmp.mjs`, out);
