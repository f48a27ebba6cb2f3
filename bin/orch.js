#!/usr/bin/env node
// Entry point: loads the compiled CLI (built by `npm run build`, run by `npm ci` through `prepare`).
import('../build/cli/main.js').then((m) => m.main(process.argv)).catch((err) => {
  process.stderr.write(`orch: internal error: ${err && err.stack ? err.stack : err}\n`);
  process.exit(70);
});
