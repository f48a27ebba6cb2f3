import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/bundle/bundle-error.js';
import { appendBuildMetadata, bumpSemver, bumpVersion, composeVersion, detectPackageName, detectVersion, formatReleaseTimestamp, listStatusPaths, readPyprojectProject, resolvePackageName } from '../../../src/bundle/version.js';
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
    expect(await bumpVersion(dir, 'patch')).toEqual({ old: '1.4.9', new: '1.4.10', file: join(dir, 'VERSION'), files: [join(dir, 'VERSION')] });
    expect(readFileSync(join(dir, 'VERSION'), 'utf8')).toBe('1.4.10\n');
    expect(await bumpVersion(dir, 'major')).toEqual({ old: '1.4.10', new: '2.0.0', file: join(dir, 'VERSION'), files: [join(dir, 'VERSION')] });
    expect(readFileSync(join(dir, 'VERSION'), 'utf8')).toBe('2.0.0\n');
  });

  it('creates VERSION from the package metadata when absent, and bumps the metadata too (only its [project] version line)', async () => {
    const dir = source({ 'pyproject.toml': PYPROJECT });
    expect(await bumpVersion(dir, 'minor')).toEqual({ old: '2.1.0', new: '2.2.0', file: join(dir, 'VERSION'), files: [join(dir, 'VERSION'), join(dir, 'pyproject.toml')] });
    expect(readFileSync(join(dir, 'VERSION'), 'utf8')).toBe('2.2.0\n');
    expect(readFileSync(join(dir, 'pyproject.toml'), 'utf8')).toBe(PYPROJECT.replace(`version = '2.1.0'`, `version = '2.2.0'`));
    expect(readPyprojectProject(readFileSync(join(dir, 'pyproject.toml'), 'utf8'))).toEqual({ name: 'shop', version: '2.2.0' });
    expect((await detectVersion(dir)).value).toBe('2.2.0');
  });

  it('updates package.json and package-lock.json with their own indentation, key order and final newline', async () => {
    const pkg = '{\n    "name": "web",\n    "version": "0.4.0",\n    "dependencies": { "a": "^1" }\n}\n';
    const lock = '{\n\t"name": "web",\n\t"version": "0.4.0",\n\t"lockfileVersion": 3,\n\t"packages": {\n\t\t"": {\n\t\t\t"name": "web",\n\t\t\t"version": "0.4.0"\n\t\t},\n\t\t"node_modules/a": {\n\t\t\t"version": "1.0.0"\n\t\t}\n\t}\n}';
    const dir = source({ VERSION: '0.4.0\n', 'package.json': pkg, 'package-lock.json': lock });
    const r = await bumpVersion(dir, 'patch');
    expect(r.files).toEqual([join(dir, 'VERSION'), join(dir, 'package.json'), join(dir, 'package-lock.json')]);
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(pkg.replace('"0.4.0"', '"0.4.1"'));
    expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(lock.replaceAll('"0.4.0"', '"0.4.1"'));
    expect(readdirSync(dir).sort()).toEqual(['VERSION', 'package-lock.json', 'package.json']);
  });

  it('edits package.json minimally: CRLF line ends, compact objects, no final newline all kept', async () => {
    const pkg = '{"name":"web",  "version" : "1.0.0",\r\n "scripts":{"a":"b"},"x":[1,2]}';
    const dir = source({ 'package.json': pkg });
    await bumpVersion(dir, 'major');
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(pkg.replace('"1.0.0"', '"2.0.0"'));
  });

  it('edits pyproject.toml as TOML: a version = line inside a multi-line string is not the version; double quotes and comments kept', async () => {
    const text = '[project]\nname = "shop"\ndescription = """\nversion = "0.0.0" is not the version\n"""\nversion = "1.2.3"   # bumped by orch\ndependencies = ["flask>=3"]\n\n[tool.setuptools]\nversion = "x"\n';
    const dir = source({ 'pyproject.toml': text });
    expect(readPyprojectProject(text)).toEqual({ name: 'shop', version: '1.2.3' });
    await bumpVersion(dir, 'patch');
    expect(readFileSync(join(dir, 'pyproject.toml'), 'utf8')).toBe(text.replace('version = "1.2.3"', 'version = "1.2.4"'));
  });

  it.each([
    ['a dotted key', 'project.version = "1.0.0"\nproject.name = "x"\n'],
    ['an inline table', 'project = { name = "x", version = "1.0.0" }\n'],
  ])('refuses to guess when [project] version is %s; nothing is written', async (_n, text) => {
    const dir = source({ 'pyproject.toml': text });
    await expect(bumpVersion(dir, 'patch')).rejects.toThrow(`${join(dir, 'pyproject.toml')}: cannot update [project] version in place (it is not one \`version = "..."\` line of the [project] table); edit it by hand`);
    expect(readdirSync(dir)).toEqual(['pyproject.toml']);
    expect(readFileSync(join(dir, 'pyproject.toml'), 'utf8')).toBe(text);
  });

  it('an invalid pyproject.toml is an error with line and column', async () => {
    const dir = source({ 'pyproject.toml': '[project]\nname = "x\nversion = "1.0.0"\n' });
    await expect(detectVersion(dir)).rejects.toThrow(`${join(dir, 'pyproject.toml')}:2:10: invalid TOML: control characters are not allowed in strings`);
  });

  it('a dynamic version in pyproject.toml is left alone', async () => {
    const text = '[project]\nname = "x"\ndynamic = ["version"]\n';
    const dir = source({ VERSION: '1.0.0\n', 'pyproject.toml': text });
    expect((await bumpVersion(dir, 'minor')).files).toEqual([join(dir, 'VERSION')]);
    expect(readFileSync(join(dir, 'pyproject.toml'), 'utf8')).toBe(text);
  });

  it('leaves metadata without a version field alone', async () => {
    const dir = source({ VERSION: '1.0.0\n', 'package.json': '{"name":"x"}', 'pyproject.toml': '[project]\nname = "x"\n' });
    expect((await bumpVersion(dir, 'patch')).files).toEqual([join(dir, 'VERSION')]);
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe('{"name":"x"}');
    expect(readFileSync(join(dir, 'pyproject.toml'), 'utf8')).toBe('[project]\nname = "x"\n');
  });

  it('refuses a version that is not semver, leaving VERSION alone', async () => {
    const dir = source({ VERSION: '2024.10\n' });
    await expect(bumpVersion(dir, 'patch')).rejects.toThrow('cannot bump "2024.10": not a semantic version MAJOR.MINOR.PATCH');
    expect(readFileSync(join(dir, 'VERSION'), 'utf8')).toBe('2024.10\n');
  });
});

describe('resolvePackageName (issue 17: package key, then metadata, then the bundle name)', () => {
  it.each<[string, Record<string, string>, string | undefined, string | undefined, string]>([
    ['package key wins over metadata', { 'package.json': '{"name":"web-app"}' }, 'shop', 'notes', 'shop'],
    ['metadata wins over the bundle name', { 'pyproject.toml': PYPROJECT }, undefined, 'notes', 'shop'],
    ['bundle name, not the folder name', { VERSION: '1' }, undefined, 'notes', 'notes'],
    ['folder name without a bundle name (orch bundle SOURCE)', { VERSION: '1' }, undefined, undefined, 'app'],
  ])('%s', async (_label, files, explicit, bundleName, want) => {
    const dir = join(root, `named${n++}`, 'app');
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    expect(await resolvePackageName(dir, explicit, bundleName)).toBe(want);
  });

  it('refuses a package key that cannot be a folder name', async () => {
    await expect(resolvePackageName(source({ VERSION: '1' }), '../x', 'notes')).rejects.toThrow('invalid package name "../x" from the package option: must match ^[A-Za-z0-9][A-Za-z0-9._+-]*$');
  });
});

describe('version schemes (issue 11 item 7)', () => {
  const env = { PATH: process.env.PATH, HOME: root, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

  it('timestamp: UTC yyyymmddHHMMSS of the build time, appended as semver build metadata', async () => {
    expect(formatReleaseTimestamp('2026-12-01T09:05:07.123Z')).toBe('20261201090507');
    expect(appendBuildMetadata('1.0.0', '20261201090507')).toBe('1.0.0+20261201090507');
    expect(appendBuildMetadata('1.0.0+local', 'g1a2b3c4')).toBe('1.0.0+local.g1a2b3c4');
    expect(await composeVersion(source({ VERSION: '1.2.0' }), '1.2.0', 'timestamp', '2026-01-02T03:04:05.000Z', env)).toBe('1.2.0+20260102030405');
    expect(await composeVersion(source({ VERSION: '1.2.0' }), '1.2.0', 'file', '2026-01-02T03:04:05.000Z', env)).toBe('1.2.0');
  });

  it('git: +g<short sha>, .dirty when the source folder has uncommitted changes; a new commit is a new id', async () => {
    const repo = join(root, `repo${n++}`);
    const app = join(repo, 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'VERSION'), '2.0.0\n');
    writeFileSync(join(app, 'a.txt'), 'one\n');
    writeFileSync(join(repo, 'elsewhere.txt'), 'x\n');
    git(repo, 'init', '-q');
    git(repo, 'add', '.');
    git(repo, 'commit', '-qm', 'one');
    const sha1 = git(repo, 'rev-parse', '--short', 'HEAD');
    expect(await composeVersion(app, '2.0.0', 'git', '', env)).toBe(`2.0.0+g${sha1}`);
    // A change outside SOURCE does not make this bundle dirty; one inside does.
    writeFileSync(join(repo, 'elsewhere.txt'), 'y\n');
    expect(await composeVersion(app, '2.0.0', 'git', '', env)).toBe(`2.0.0+g${sha1}`);
    writeFileSync(join(app, 'a.txt'), 'two\n');
    expect(await composeVersion(app, '2.0.0', 'git', '', env)).toBe(`2.0.0+g${sha1}.dirty`);
    git(repo, 'commit', '-qam', 'two');
    const sha2 = git(repo, 'rev-parse', '--short', 'HEAD');
    expect(sha2).not.toBe(sha1);
    expect(await composeVersion(app, '2.0.0', 'git', '', env)).toBe(`2.0.0+g${sha2}`);
  });

  it('git: only changes to what the bundle holds count — .orchignore\'d junk does not make .dirty; deletions and renames do', async () => {
    const repo = join(root, `repo${n++}`);
    const app = join(repo, 'app');
    mkdirSync(join(app, 'logs'), { recursive: true });
    writeFileSync(join(app, 'VERSION'), '1.0.0\n');
    writeFileSync(join(app, 'a.txt'), 'a\n');
    writeFileSync(join(app, '.orchignore'), 'logs/\n*.tmp\n');
    git(repo, 'init', '-q');
    git(repo, 'add', '.');
    git(repo, 'commit', '-qm', 'one');
    const sha = git(repo, 'rev-parse', '--short', 'HEAD');
    writeFileSync(join(app, 'logs', 'today.log'), 'noise\n');
    writeFileSync(join(app, 'x.tmp'), 'noise\n');
    expect(await composeVersion(app, '1.0.0', 'git', '', env)).toBe(`1.0.0+g${sha}`);
    git(repo, 'mv', 'app/a.txt', 'app/b.txt');
    expect(await composeVersion(app, '1.0.0', 'git', '', env)).toBe(`1.0.0+g${sha}.dirty`);
    git(repo, 'mv', 'app/b.txt', 'app/a.txt');
    expect(await composeVersion(app, '1.0.0', 'git', '', env)).toBe(`1.0.0+g${sha}`);
    rmSync(join(app, 'a.txt'));
    expect(await composeVersion(app, '1.0.0', 'git', '', env)).toBe(`1.0.0+g${sha}.dirty`);
  });

  it('listStatusPaths reads porcelain -z records relative to SOURCE, both names of a rename', () => {
    expect(listStatusPaths(' M app/a.txt\0R  app/new.txt\0app/old.txt\0?? other/x\0?? app/d/e\0', 'app/')).toEqual(['a.txt', 'new.txt', 'old.txt', 'd/e']);
    expect(listStatusPaths(' D top.txt\0', '')).toEqual(['top.txt']);
  });

  it('git outside a work tree, or before the first commit, is a clear error', async () => {
    const plain = source({ VERSION: '1.0.0' });
    await expect(composeVersion(plain, '1.0.0', 'git', '', { ...env, GIT_CEILING_DIRECTORIES: root })).rejects.toThrow(`${plain}: version: git, but the source is not inside a git work tree (use version: file or timestamp)`);
    const fresh = join(root, `fresh${n++}`);
    mkdirSync(fresh);
    git(fresh, 'init', '-q');
    await expect(composeVersion(fresh, '1.0.0', 'git', '', env)).rejects.toThrow(/version: git, but the repository has no commit yet/);
  });
});
