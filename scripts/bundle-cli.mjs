#!/usr/bin/env node
// Bundles the compiled CLI (build/cli/main.js and every module it imports, lazily
// imported ones included) into one CommonJS file, build/cli/orch.bundle.cjs, with
// esbuild, then writes V8's code cache for it (build/cli/orch.bundle.cache) by loading it
// once the way bin/orch.js does (bin/load-bundle.cjs). A command then reads one file
// instead of ~220 modules and compiles none of it: `orch --version` took 0.27-0.39 s as
// an ES module bundle and 0.17-0.22 s this way (Node 20, 2 cores).
// CommonJS because Node 20 takes a code cache only for vm.Script, not for ES modules.
// Left outside, loaded from node_modules at run time: ssh2 (native binding), the AWS SDK,
// cpu-features, and what the code loads with createRequire (handlebars, ajv pieces,
// smol-toml, jsonc-parser, the precompiled validators). Run by `npm run build` after
// tsc; bin/orch.js prefers the bundle and falls back to build/cli/main.js.
import { execFileSync } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url);
const out = fileURLToPath(new URL('build/cli/orch.bundle.cjs', root));
const cache = out.replace(/\.cjs$/, '.cache');
await build({
  entryPoints: [fileURLToPath(new URL('build/cli/main.js', root))],
  outfile: `${out}.tmp.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  charset: 'ascii',
  // jsonc-parser's UMD `main` cannot be bundled; its ESM build can.
  mainFields: ['module', 'main'],
  // The AWS SDK (s3:// stores) is imported on first use only and stays in node_modules.
  external: ['ssh2', 'cpu-features', '*.node', '@aws-sdk/*'],
  // import.meta.url of every module is the bundle's own URL (all of them resolve paths
  // relative to build/cli/, where the bundle is).
  define: { 'import.meta.url': '__orchBundleUrl' },
  banner: { js: "const __orchBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
renameSync(`${out}.tmp.cjs`, out);
// The ES module bundle of earlier builds.
rmSync(fileURLToPath(new URL('build/cli/orch.bundle.mjs', root)), { force: true });
rmSync(cache, { force: true });
// The cache holds what V8 compiled while `orch --help` ran (start-up, the commands' set-up).
const loader = fileURLToPath(new URL('bin/load-bundle.cjs', root));
execFileSync(process.execPath, ['-e', `require(${JSON.stringify(loader)}).loadBundle(${JSON.stringify(out)}, ${JSON.stringify(cache)}, { writeCache: true }).exports.main(['node', 'orch', '--help'])`], { stdio: ['ignore', 'ignore', 'inherit'] });
