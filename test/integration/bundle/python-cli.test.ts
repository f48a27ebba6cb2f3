/**
 * Issue 4 acceptance, as a new user would try it: `orch bundle ./app --builder python
 * --pip-option=--no-index --pip-option=--find-links=./wheels` through the built CLI,
 * real `python3 -m venv`, real `pip wheel` offline against a local wheelhouse, real tar,
 * and `install.sh TARGET` run by hand in a clean folder.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectArtifact } from '../../../src/bundle/artifact.js';
import { orch } from '../cli.js';
import { DEBIAN_PYTHON, FIXTURES, makeWheelhouse, pythonToolchainMissing } from './toolchain.js';

const missing = pythonToolchainMissing();
const IDENT = 'greeter-1.4.0-linux-x86_64';

describe.skipIf(missing !== undefined)('orch bundle --builder python (offline, real pip)', () => {
  let work: string;
  let env: Record<string, string>;
  const timings: Record<string, number> = {};

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'orch-pybundle-'));
    cpSync(join(FIXTURES, 'py-app'), join(work, 'app'), { recursive: true });
    makeWheelhouse(join(work, 'wheels'), work);
    mkdirSync(join(work, 'home'));
    // PATH without pyenv: python3 is Debian's, as on a fresh server.
    env = { HOME: join(work, 'home'), XDG_CACHE_HOME: join(work, 'cache'), SOURCE_DATE_EPOCH: '1700000000', PATH: '/usr/local/bin:/usr/bin:/bin' };
    writeFileSync(join(work, 'post.sh'), [
      'set -e',
      'test -x "$VIRTUAL_ENV/bin/python"',
      'echo "built with $("$VIRTUAL_ENV/bin/python" -c "import sys; print(sys.prefix == sys.base_prefix)")" > "$DATA_DIR/NOTES.txt"',
      'echo \'echo "post-install: $(basename "$VIRTUAL_ENV") $(ls "$DATA_DIR" | wc -l)" > "$TARGET/post-install.txt"\' >> "$INSTALL_SCRIPT"',
      '',
    ].join('\n'));
  }, 120_000);
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    // eslint-disable-next-line no-console
    console.log(`python bundle timings: first build ${timings.first} ms, cached build ${timings.cached} ms`);
  });

  const bundle = (extra: string[] = []) =>
    orch(['bundle', './app', '--builder', 'python', '-p', DEBIAN_PYTHON, '--pip-option=--no-index', '--pip-option=--find-links=./wheels', '--postbuild-script', 'post.sh', ...extra], env, { cwd: work, timeoutMs: 180_000 });

  it('builds dist/<pkg>-<ver>-<platform>.tar.gz with the platter layout and both wheels', async () => {
    const r = await bundle();
    timings.first = r.ms;
    expect(r.stderr).toContain('python: building wheels...');
    expect(r.stderr).toContain('python: 2 wheels (0 cached)');
    expect(r.code).toBe(0);
    const tarball = join(work, 'dist', `${IDENT}.tar.gz`);
    const info = await inspectArtifact(tarball);
    expect(r.stdout).toBe(`${tarball}\n  greeter 1.4.0 (linux-x86_64), ${r.stdout.match(/\), (.*?), sha256/)![1]}, sha256 ${info.sha256}, ${r.stdout.match(/, ([\d.]+ s)\n$/)![1]}\n`);
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(listing).toEqual([
      `${IDENT}/`, `${IDENT}/PACKAGE`, `${IDENT}/PLATFORM`, `${IDENT}/VERSION`, `${IDENT}/data/`,
      `${IDENT}/data/NOTES.txt`, `${IDENT}/data/greeter-1.4.0-py3-none-any.whl`, `${IDENT}/data/tinydep-0.3.1-py3-none-any.whl`,
      `${IDENT}/info.json`, `${IDENT}/install.sh`,
    ]);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, `${IDENT}/info.json`], { encoding: 'utf8' }));
    const pyVersion = execFileSync(DEBIAN_PYTHON, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).trim();
    expect(manifest).toMatchObject({
      package: 'greeter', version: '1.4.0', platform: 'linux-x86_64', builder: 'python',
      built_at: '2023-11-14T22:13:20.000Z', python_version: pyVersion, dependencies: ['tinydep==0.3.1'],
    });
    expect(Object.keys(manifest.files)).toEqual(['NOTES.txt', 'greeter-1.4.0-py3-none-any.whl', 'tinydep-0.3.1-py3-none-any.whl']);
    expect(execFileSync('tar', ['-xzOf', tarball, `${IDENT}/data/NOTES.txt`], { encoding: 'utf8' })).toBe('built with False\n');
  });

  it('install.sh TARGET, run by hand in a clean folder, makes a venv whose console script runs', () => {
    const x = join(work, 'by-hand');
    mkdirSync(x);
    execFileSync('tar', ['-xzf', join(work, 'dist', `${IDENT}.tar.gz`), '-C', x]);
    const target = join(x, 'venv');
    // No network: pip is told --no-index; a clean env (PATH only) like a fresh shell.
    const r = spawnSync(join(x, IDENT, 'install.sh'), [target], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: join(work, 'home') }, cwd: x });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Successfully installed greeter-1.4.0 tinydep-0.3.1');
    expect(r.stdout).toContain('No broken requirements found.');
    expect(r.stdout.trim().split('\n').pop()).toBe(`Installed ${IDENT} into ${target}`);
    expect(execFileSync(join(target, 'bin', 'greeter'), ['orch'], { encoding: 'utf8' })).toBe('HELLO ORCH!\n');
    expect(readFileSync(join(target, 'post-install.txt'), 'utf8')).toBe('post-install: venv 3\n');
  });

  it('rebuilding unchanged source is a cache hit: no wheel is built, byte-identical (speed: npm run bench)', async () => {
    const tarball = join(work, 'dist', `${IDENT}.tar.gz`);
    const first = readFileSync(tarball);
    rmSync(join(work, 'dist'), { recursive: true });
    const r = await bundle();
    timings.cached = r.ms;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(', from cache, ');
    expect(readFileSync(tarball).equals(first)).toBe(true);
    expect(r.stderr, 'a cache hit runs no pip').not.toMatch(/python: \d+ wheels|Processing /);
  });

  it('a changed SOURCE rebuilds, takes the dependency from the wheel cache, and --no-cache builds the same bytes', async () => {
    writeFileSync(join(work, 'app', 'src', 'greeter', 'extra.py'), 'X = 1\n');
    const r = await bundle();
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('python: 2 wheels (1 cached)');
    expect(r.stderr).toMatch(/Processing .*\/cache\/orch\/wheels\/cp3\d+-linux-x86_64\/tinydep-0\.3\.1-py3-none-any\.whl/);
    const withCache = readFileSync(join(work, 'dist', `${IDENT}.tar.gz`));
    const again = await bundle(['--no-cache']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('python: 2 wheels (0 cached)');
    expect(readFileSync(join(work, 'dist', `${IDENT}.tar.gz`)).equals(withCache)).toBe(true);
  });

  it('--format dir writes the unpacked bundle folder, replacing an older one', async () => {
    mkdirSync(join(work, 'out', IDENT, 'stale'), { recursive: true });
    const r = await bundle(['--format', 'dir', '--out', 'out']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(join(work, 'out', IDENT));
    expect(readdirSync(join(work, 'out'))).toEqual([IDENT]);
    expect(readdirSync(join(work, 'out', IDENT)).sort()).toEqual(['PACKAGE', 'PLATFORM', 'VERSION', 'data', 'info.json', 'install.sh']);
    expect(existsSync(join(work, 'out', IDENT, 'data', 'tinydep-0.3.1-py3-none-any.whl'))).toBe(true);
  });

  it('fails with pip\'s own words when a dependency is not in the wheelhouse', async () => {
    const r = await orch(['bundle', './app', '--builder', 'python', '-p', DEBIAN_PYTHON, '--no-cache', '--pip-option=--no-index', '--pip-option=--find-links=./nowhere'], env, { cwd: work, timeoutMs: 180_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pip wheel failed with exit code 1:\n[\s\S]*(No matching distribution found for setuptools|Could not find a version that satisfies the requirement)/);
  });

  it.each([
    [['--builder', 'dir', '-p', 'python3'], '-p/--python, -r/--requirements and --pip-option apply to the python builder only (builder is dir)'],
    [['--builder', 'python', '-p', '/nonexistent/python9'], 'python interpreter /nonexistent/python9: cannot run /nonexistent/python9: spawn /nonexistent/python9 ENOENT'],
  ])('refuses %j: %s', async (args, message) => {
    const r = await orch(['bundle', './app', ...args], env, { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
  });
});
