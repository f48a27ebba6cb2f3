// Loads the single-file CommonJS bundle of the CLI (build/cli/orch.bundle.cjs, made by
// scripts/bundle-cli.mjs) through V8's code cache: the bytecode V8 compiled for the
// bundle at build time (build/cli/orch.bundle.cache) is handed to vm.Script as
// `cachedData`, so a command starts without compiling 2 MB of JavaScript again. V8
// rejects a cache made by another V8 version or for another source (then it compiles as
// usual: slower, never wrong). Node 22's module.enableCompileCache does the same for
// every module; Node 20 has only vm.Script's cachedData
// (https://nodejs.org/docs/latest-v20.x/api/vm.html#new-vmscriptcode-options).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire, wrap } = require('node:module');

/**
 * Evaluates the CommonJS module FILE (an absolute path) with the code cache CACHE (a
 * path; missing or rejected = compile). Returns its exports, and what became of the
 * cache: `used`, `rejected` (V8 refused it) or `none` (no file). With `writeCache`, the
 * cache is (re)written from what V8 compiled, when the process exits.
 * @param {string} file
 * @param {string} cache
 * @param {{ writeCache?: boolean }} [opts]
 */
function loadBundle(file, cache, opts = {}) {
  // The bundle is ASCII (esbuild escapes the rest): latin1 is the cheapest decoding.
  const source = fs.readFileSync(file, 'latin1');
  let cachedData;
  if (!opts.writeCache) {
    try {
      cachedData = fs.readFileSync(cache);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(wrap(source), {
    filename: file,
    ...(cachedData && { cachedData }),
    // import() in the bundle (the AWS SDK, on first use) resolves as in any module.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  if (opts.writeCache) {
    process.on('exit', () => {
      const tmp = `${cache}.tmp${process.pid}`;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cache);
    });
  }
  return { exports: module.exports, cache: cachedData ? (script.cachedDataRejected ? 'rejected' : 'used') : 'none' };
}

module.exports = { loadBundle };
