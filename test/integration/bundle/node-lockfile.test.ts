/**
 * Issue 11, item 9: the node builder uses the user's npm configuration and never
 * guesses `--offline`. The lockfile is written by real `npm install` under
 * `omit-lockfile-registry-resolved=true` (no `resolved` URLs), for an app with a local
 * tarball dependency (`file:vendor/...tgz`) and a registry dependency served by a tiny
 * npm registry on loopback, named by the user's own `~/.npmrc`. The npm cache starts
 * empty, so a guessed `--offline` fails with ENOTCACHED, as the issue saw.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../../src/bundle/build.js';
import { makeTempDir } from '../../unit/bundle/helpers.js';

const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, '../../fixtures/bundle');

describe('node builder with a lockfile written under omit-lockfile-registry-resolved=true', () => {
  let root: string;
  let server: Server;
  let registry: string;
  const requests: string[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    root = makeTempDir('orch-node-lockfile-');
    // The registry package: a real `npm pack` tarball of a tiny module.
    const pkgDir = join(root, 'shout-src');
    mkdirSync(pkgDir);
    writeFileSync(join(pkgDir, 'package.json'), '{"name":"orch-test-shout","version":"1.2.0","main":"index.js","license":"MIT"}\n');
    writeFileSync(join(pkgDir, 'index.js'), 'module.exports = (s) => s.toUpperCase() + "!";\n');
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', root], { cwd: pkgDir, env: { PATH: process.env.PATH, HOME: root } });
    const tgz = readFileSync(join(root, stdout.trim()));
    const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      if (req.url === '/orch-test-shout') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({
          name: 'orch-test-shout', 'dist-tags': { latest: '1.2.0' },
          versions: { '1.2.0': { name: 'orch-test-shout', version: '1.2.0', main: 'index.js', dist: { tarball: `${base}/orch-test-shout/-/orch-test-shout-1.2.0.tgz`, integrity } } },
        }));
      } else if (req.url === '/orch-test-shout/-/orch-test-shout-1.2.0.tgz') {
        res.setHeader('content-type', 'application/octet-stream');
        res.end(tgz);
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const home = join(root, 'home');
    mkdirSync(home);
    // The user's npm configuration: their registry, their cache, the lockfile setting.
    writeFileSync(join(home, '.npmrc'), `registry=${registry}\ncache=${join(root, 'npm-cache')}\nomit-lockfile-registry-resolved=true\naudit=false\nfund=false\nupdate-notifier=false\n`);
    env = { PATH: process.env.PATH, HOME: home, SOURCE_DATE_EPOCH: '1700000000' };
  }, 60_000);
  afterAll(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('npm install writes no resolved URLs; the bundle builds with plain npm ci from the user\'s registry, and the app runs', async () => {
    const app = join(root, 'app');
    mkdirSync(join(app, 'vendor'), { recursive: true });
    // A local tarball dependency, packed from the vendored fixture by real npm.
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', join(app, 'vendor')], { cwd: join(FIXTURES, 'node-app', 'vendor', 'tiny-pad'), env });
    cpSync(join(FIXTURES, 'node-app', 'bin'), join(app, 'bin'), { recursive: true });
    writeFileSync(join(app, 'VERSION'), '3.1.0\n');
    writeFileSync(join(app, 'package.json'), JSON.stringify({
      name: 'shouter', version: '3.1.0', private: true, license: 'MIT',
      dependencies: { 'orch-test-shout': '^1.2.0', 'tiny-pad': `file:vendor/${stdout.trim()}` },
    }, null, 2));
    writeFileSync(join(app, 'main.js'), 'const shout = require("orch-test-shout"); const pad = require("tiny-pad"); console.log(pad(shout(process.argv[2]), 8, "."));\n');
    await run('npm', ['install'], { cwd: app, env });
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/orch-test-shout']).toMatchObject({ version: '1.2.0' });
    expect(lock.packages['node_modules/orch-test-shout'].resolved).toBeUndefined();
    expect(lock.packages['node_modules/tiny-pad'].resolved).toMatch(/^file:vendor\/tiny-pad-2\.1\.0\.tgz$/);
    // Nothing cached: what npm ci needs must come from the registry the user configured.
    rmSync(join(root, 'npm-cache'), { recursive: true, force: true });
    requests.length = 0;

    const lines: string[] = [];
    const info = await buildBundle({ source: app, builder: 'node', outDir: join(root, 'dist'), noCache: true }, { env, now: () => new Date(), log: (l) => lines.push(l) });
    expect(lines).toContain('node: npm ci --omit=dev --no-audit --no-fund...');
    expect(lines.join('\n')).not.toContain('--offline');
    expect(requests).toContain('/orch-test-shout/-/orch-test-shout-1.2.0.tgz');
    expect(info).toMatchObject({ package: 'shouter', version: '3.1.0', dir: 'shouter-3.1.0-any' });
    const x = join(root, 'x');
    mkdirSync(x);
    await run('tar', ['-xzf', info.path, '-C', x]);
    const target = join(root, 'installed');
    await run(join(x, 'shouter-3.1.0-any', 'install.sh'), [target]);
    expect((await run('node', [join(target, 'main.js'), 'hi'])).stdout).toBe('.....HI!\n');
    const manifest = JSON.parse(readFileSync(join(x, 'shouter-3.1.0-any', 'info.json'), 'utf8'));
    expect(manifest.dependencies).toEqual(['orch-test-shout==1.2.0', 'tiny-pad==2.1.0']);
  }, 120_000);
});
