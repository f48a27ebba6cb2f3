/**
 * The CLI bundle and its V8 code cache (scripts/bundle-cli.mjs, bin/load-bundle.cjs): the
 * cache `npm run build` wrote is accepted by this Node, a damaged one is rejected and the
 * CLI still runs (V8 compiles as usual), and bin/orch.js runs the bundle.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../../..');
const bundle = path.join(root, 'build/cli/orch.bundle.cjs');
const loader = path.join(root, 'bin/load-bundle.cjs');
/** loadBundle in a child Node (a bundle evaluated here would share this test's process). */
const load = (file: string, cache: string): string =>
  execFileSync(process.execPath, ['-e', `const r = require(${JSON.stringify(loader)}).loadBundle(${JSON.stringify(file)}, ${JSON.stringify(cache)}); console.log(r.cache, typeof r.exports.main)`], { encoding: 'utf8' }).trim();

describe.runIf(existsSync(bundle))('CLI bundle code cache', () => {
  it('the built cache is used by this Node', () => {
    expect(load(bundle, bundle.replace(/\.cjs$/, '.cache'))).toBe('used function');
  });

  it('a damaged cache is rejected and the bundle still loads; no cache file is fine too', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'orch-code-cache-'));
    const copy = path.join(d, 'orch.bundle.cjs');
    copyFileSync(bundle, copy);
    writeFileSync(path.join(d, 'bad.cache'), Buffer.alloc(4096, 7));
    expect(load(copy, path.join(d, 'bad.cache'))).toBe('rejected function');
    expect(load(copy, path.join(d, 'none.cache'))).toBe('none function');
  });

  it('the bundle holds no import() of a module it does not contain: a vm.Script run with a code cache gets no dynamic import in Node 20', () => {
    const text = readFileSync(bundle, 'latin1');
    expect(text.match(/[^\w.$]import\([^)]{0,80}/g) ?? []).toEqual([]);
  });

  it('bin/orch.js runs the bundle', () => {
    const version = (createRequire(import.meta.url)(path.join(root, 'package.json')) as { version: string }).version;
    expect(execFileSync(process.execPath, [path.join(root, 'bin/orch.js'), '--version'], { encoding: 'utf8' }).trim()).toBe(version);
  });
});
