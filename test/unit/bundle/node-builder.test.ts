/** The node builder with real npm (no registry: the fixture's dependency is a vendored `file:` folder). */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectArtifact } from '../../../src/bundle/artifact.js';
import { buildBundle } from '../../../src/bundle/build.js';
import { listNodeDependencies, npmCiArgv, scanNodeData } from '../../../src/bundle/node-builder.js';
import { makeTempDir } from './helpers.js';

const FIXTURE = join(import.meta.dirname, '../../fixtures/bundle/node-app');
const root = makeTempDir('orch-node-bundle-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('lockfile helpers', () => {
  it('npm ci never gets --offline or any other guess: the user\'s npm configuration decides', () => {
    expect(npmCiArgv()).toEqual(['npm', 'ci', '--omit=dev', '--no-audit', '--no-fund']);
  });

  it('lists production packages, following file: links to their version', () => {
    expect(listNodeDependencies({
      packages: {
        '': { name: 'app' },
        'node_modules/tiny-pad': { resolved: 'vendor/tiny-pad', link: true },
        'vendor/tiny-pad': { version: '2.1.0' },
        'node_modules/lodash': { version: '4.17.21' },
        'node_modules/vitest': { version: '4.0.0', dev: true },
        'node_modules/a/node_modules/b': { version: '1.0.0' },
      },
    })).toEqual(['b==1.0.0', 'lodash==4.17.21', 'tiny-pad==2.1.0']);
  });
});

describe('buildBundle --builder node (real npm ci, vendored file: dependency, no registry)', () => {
  it('bundles the app with production node_modules; install.sh copies it and the app runs', async () => {
    const src = join(root, 'padder');
    cpSync(FIXTURE, src, { recursive: true });
    // A stale node_modules in SOURCE is not copied: npm ci rebuilds it.
    mkdirSync(join(src, 'node_modules', 'junk'), { recursive: true });
    writeFileSync(join(src, 'node_modules', 'junk', 'index.js'), 'x\n');
    const lines: string[] = [];
    const env = { PATH: process.env.PATH, HOME: join(root, 'home'), SOURCE_DATE_EPOCH: '1700000000' };
    const info = await buildBundle({ source: src, builder: 'node', outDir: join(root, 'dist'), cacheDir: join(root, 'cache') }, { env, now: () => new Date(), log: (l) => lines.push(l) });
    expect(lines).toContain('node: npm ci --omit=dev --no-audit --no-fund...');
    expect(lines).toContain('node: 1 package');
    expect(info).toMatchObject({ package: 'padder', version: '0.7.0', platform: 'any', dir: 'padder-0.7.0-any', cached: false });
    const { cached: _c, ...plain } = info;
    expect(await inspectArtifact(info.path)).toEqual(plain);
    const listing = execFileSync('tar', ['-tvzf', info.path], { encoding: 'utf8' });
    expect(listing).toMatch(/padder-0\.7\.0-any\/data\/node_modules\/tiny-pad -> \.\.\/vendor\/tiny-pad\n/);
    expect(listing).toMatch(/padder-0\.7\.0-any\/data\/node_modules\/\.bin\/tiny-pad -> \.\.\/tiny-pad\/bin\/tiny-pad\.js\n/);
    expect(listing).not.toContain('junk');
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', info.path, 'padder-0.7.0-any/info.json'], { encoding: 'utf8' }));
    expect(manifest).toMatchObject({ builder: 'node', dependencies: ['tiny-pad==2.1.0'], node_version: process.version });

    const x = join(root, 'x');
    mkdirSync(x);
    execFileSync('tar', ['-xzf', info.path, '-C', x]);
    const target = join(root, 'installed');
    const r = spawnSync(join(x, 'padder-0.7.0-any', 'install.sh'), [target], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`Installed padder-0.7.0-any into ${target}\n`);
    expect(readlinkSync(join(target, 'node_modules', 'tiny-pad'))).toBe('../vendor/tiny-pad');
    expect(execFileSync(join(target, 'bin', 'padder.js'), ['ab'], { encoding: 'utf8' })).toBe('padder: [****ab]\n');
    expect(execFileSync(join(target, 'node_modules', '.bin', 'tiny-pad'), ['q', '4'], { encoding: 'utf8' })).toBe('...q\n');

    const again = await buildBundle({ source: src, builder: 'node', outDir: join(root, 'dist2'), cacheDir: join(root, 'cache') }, { env, now: () => new Date() });
    expect(again.cached).toBe(true);
    expect(readFileSync(again.path).equals(readFileSync(info.path))).toBe(true);
  }, 120_000);

  it('refuses a symlink that leaves data/, and reports native addons', async () => {
    const d = join(root, 'scan');
    mkdirSync(join(d, 'node_modules', 'x', 'build'), { recursive: true });
    writeFileSync(join(d, 'node_modules', 'x', 'build', 'addon.node'), '');
    expect(await scanNodeData(d)).toEqual({ nativeAddons: true });
    symlinkSync('../../../etc', join(d, 'node_modules', 'evil'));
    await expect(scanNodeData(d)).rejects.toThrow('data/node_modules/evil: symlink target "../../../etc" leaves the bundle\'s data folder');
  });

  it('needs a package-lock.json', async () => {
    const src = join(root, 'nolock');
    mkdirSync(src);
    writeFileSync(join(src, 'package.json'), '{"name":"nolock","version":"1.0.0"}');
    await expect(buildBundle({ source: src, builder: 'node', outDir: join(root, 'd3'), noCache: true }, { env: { PATH: process.env.PATH, HOME: join(root, 'home') }, now: () => new Date() }))
      .rejects.toThrow('the node builder needs a package-lock.json in SOURCE (npm ci installs exactly what it locks); run `npm install` once and commit it');
  });
});
