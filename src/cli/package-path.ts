/**
 * Paths inside the orch package, found from wherever this code runs: the sources
 * (vitest), build/ (tsc output) or the single-file bundle build/cli/orch.bundle.cjs
 * (scripts/bundle-cli.mjs), whose modules sit at different depths.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package's folder: the nearest folder above this module holding `bin/orch.js` and `package.json`. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'orch.js'))) return (root = dir);
    dir = dirname(dir);
  }
  throw new Error(`orch: cannot find the package folder above ${fileURLToPath(import.meta.url)}`);
}

/** `<package>/bin/orch.js`, the command users run (cron entries, the shell's subcommands). */
export function orchBin(): string {
  return join(packageRoot(), 'bin', 'orch.js');
}
