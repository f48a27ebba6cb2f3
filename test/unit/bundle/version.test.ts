import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/bundle/bundle-error.js';
import { bumpSemver, bumpVersion, detectPackageName, detectVersion, readPyprojectProject } from '../../../src/bundle/version.js';
import { makeTempDir } from './helpers.js';

const root = makeTempDir();
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A source folder named `name` holding `files`. */
function source(files: Record<string, string>, name = `src${n++}`): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

/** The message of this Node's JSON.parse for `text` (its wording varies between Node versions). */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('valid JSON');
}

const PYPROJECT = `[build-system]\nrequires = ["setuptools"]\nversion = "9.9.9"\n\n[project]\nname = "shop" # the shop\nversion = '2.1.0'\n\n[tool.x]\nversion = "0.0.1"\n`;

describe('detectVersion', () => {
  it.each<[string, Record<string, string>, string, string]>([
    ['VERSION, trimmed', { VERSION: '  1.2.3 \n', 'package.json': '{"version":"9.0.0"}' }, '1.2.3', 'VERSION'],
    ['pyproject [project] only', { 'pyproject.toml': PYPROJECT, 'package.json': '{"version":"9.0.0"}' }, '2.1.0', 'pyproject.toml'],
    ['package.json', { 'package.json': '{"name":"x","version":"0.4.0-rc.1"}' }, '0.4.0-rc.1', 'package.json'],
    ['pyproject without version falls through', { 'pyproject.toml': '[project]\nname = "a"\n', 'package.json': '{"version":"3.0.0"}' }, '3.0.0', 'package.json'],
  ])('%s', async (_label, files, value, from) => {
    expect(await detectVersion(source(files))).toEqual({ value, from });
  });

  it.each<[string, Record<string, string>, (dir: string) => string]>([
    ['nothing', { 'README': 'hi' }, (d) => `${d}: no version found (looked for VERSION, pyproject.toml [project] version, package.json version)`],
    ['empty VERSION', { VERSION: '\n' }, (d) => `invalid version "" from ${d}/VERSION: must match ^[A-Za-z0-9][A-Za-z0-9._+-]*$`],
    ['slash', { VERSION: '1.0/../../x' }, (d) => `invalid version "1.0/../../x" from ${d}/VERSION: must match ^[A-Za-z0-9][A-Za-z0-9._+-]*$`],
    ['leading dot', { 'package.json': '{"version":".hidden"}' }, (d) => `invalid version ".hidden" from ${d}/package.json: must match ^[A-Za-z0-9][A-Za-z0-9._+-]*$`],
    ['bad package.json', { 'package.json': '{' }, (d) => `${d}/package.json: invalid JSON: ${jsonError('{')}`],
  ])('error: %s', async (_label, files, message) => {
    const dir = source(files);
    const err = await detectVersion(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as Error).message).toBe(message(dir));
  });
});

describe('detectPackageName', () => {
  it.each<[string, Record<string, string>, string, string]>([
    ['package.json name', { 'package.json': '{"name":"web-app"}', 'pyproject.toml': PYPROJECT }, 'web-app', 'package.json'],
    ['scoped npm name', { 'package.json': '{"name":"@acme/api"}' }, 'acme-api', 'package.json'],
    ['pyproject [project] name', { 'pyproject.toml': PYPROJECT }, 'shop', 'pyproject.toml'],
    ['folder name', { VERSION: '1' }, 'myapp', 'folder name'],
  ])('%s', async (_label, files, value, from) => {
    const dir = source(files, from === 'folder name' ? 'myapp' : undefined);
    expect(await detectPackageName(dir)).toEqual({ value, from });
  });

  it('refuses a folder name that cannot be a host folder name', async () => {
    const dir = source({}, '.weird');
    await expect(detectPackageName(dir)).rejects.toThrow(`invalid package name ".weird" from ${dir}: must match ^[A-Za-z0-9][A-Za-z0-9._+-]*$`);
  });
});

describe('readPyprojectProject', () => {
  it('reads only the [project] table', () => {
    expect(readPyprojectProject(PYPROJECT)).toEqual({ name: 'shop', version: '2.1.0' });
  });
});

describe('bumpVersion', () => {
  it.each<[string, 'major' | 'minor' | 'patch', string]>([
    ['1.2.3', 'major', '2.0.0'],
    ['1.2.3', 'minor', '1.3.0'],
    ['1.2.3', 'patch', '1.2.4'],
    ['0.9.9-rc.1', 'patch', '0.9.10'],
    ['1.0.0+build.5', 'minor', '1.1.0'],
  ])('%s + %s = %s', (from, part, to) => {
    expect(bumpSemver(from, part)).toBe(to);
  });

  it('rewrites VERSION and returns old and new', async () => {
    const dir = source({ VERSION: '1.4.9\n' });
    expect(await bumpVersion(dir, 'patch')).toEqual({ old: '1.4.9', new: '1.4.10', file: join(dir, 'VERSION') });
    expect(readFileSync(join(dir, 'VERSION'), 'utf8')).toBe('1.4.10\n');
    expect(await bumpVersion(dir, 'major')).toEqual({ old: '1.4.10', new: '2.0.0', file: join(dir, 'VERSION') });
    expect(readFileSync(join(dir, 'VERSION'), 'utf8')).toBe('2.0.0\n');
  });

  it('creates VERSION from the package metadata when absent', async () => {
    const dir = source({ 'pyproject.toml': PYPROJECT });
    expect(await bumpVersion(dir, 'minor')).toEqual({ old: '2.1.0', new: '2.2.0', file: join(dir, 'VERSION') });
    expect(readFileSync(join(dir, 'VERSION'), 'utf8')).toBe('2.2.0\n');
    expect(readFileSync(join(dir, 'pyproject.toml'), 'utf8')).toBe(PYPROJECT);
    expect((await detectVersion(dir)).value).toBe('2.2.0');
  });

  it('refuses a version that is not semver, leaving VERSION alone', async () => {
    const dir = source({ VERSION: '2024.10\n' });
    await expect(bumpVersion(dir, 'patch')).rejects.toThrow('cannot bump "2024.10": not a semantic version MAJOR.MINOR.PATCH');
    expect(readFileSync(join(dir, 'VERSION'), 'utf8')).toBe('2024.10\n');
  });
});
