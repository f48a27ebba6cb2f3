/**
 * Package name and version of a bundle SOURCE, and `orch version bump`.
 *
 * Source: "The Ultimate Python Deployment System" (the version lives in a `VERSION`
 * file next to the code), with the package metadata (`pyproject.toml` `[project]`,
 * `package.json`) as fallback, like platter reading `setup.py --version`.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createRequire } from 'node:module';
import type * as JsoncNs from 'jsonc-parser';
import type * as TomlNs from 'smol-toml';
import { BundleError } from './bundle-error.js';
import { loadIgnoreRules } from './dir-builder.js';
import { assertSafeName } from './layout.js';

// Loaded on first use (start-up time of every command): only python and node projects and `orch version bump` need them.
const requireHere = createRequire(import.meta.url);
const toml = (): typeof TomlNs => requireHere('smol-toml') as typeof TomlNs;
const jsonc = (): typeof JsoncNs => requireHere('jsonc-parser') as typeof JsoncNs;

/** Where a name or version was found. */
export type MetadataOrigin = 'VERSION' | 'pyproject.toml' | 'package.json' | 'folder name' | 'bundle name';

/**
 * How a bundle's release id is made from its base version (the `VERSION` file or the
 * package metadata), playbook key `version:`:
 * - `file` (default): the base version as it is;
 * - `git`: `<base>+g<short sha of HEAD>`, plus `.dirty` when `git status` shows changes
 *   under SOURCE to paths the bundle holds (Kamal's `git rev-parse` versions);
 * - `timestamp`: `<base>+<UTC yyyymmddHHMMSS of the build>` (Capistrano's release
 *   folders), the build time being `SOURCE_DATE_EPOCH` when set.
 */
export type VersionScheme = 'file' | 'git' | 'timestamp';

/** Every {@link VersionScheme}, for option checks and help texts. */
export const VERSION_SCHEMES: readonly VersionScheme[] = ['file', 'git', 'timestamp'];

/** A detected value and the file (relative to SOURCE) it came from. */
export interface Detected {
  value: string;
  from: MetadataOrigin;
}

/** `orch version bump` parts. */
export type BumpPart = 'major' | 'minor' | 'patch';

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Reads `name` and `version` from the `[project]` table of a pyproject.toml text, parsed
 * as TOML (smol-toml, TOML 1.0): other tables (`[tool.*]`, `[build-system]`), dynamic
 * versions and non-string values give nothing.
 * @throws BundleError `<file>:<line>:<column>: invalid TOML: <what>`
 */
export function readPyprojectProject(text: string, file = 'pyproject.toml'): { name?: string; version?: string } {
  const project = parsePyproject(text, file).project;
  const out: { name?: string; version?: string } = {};
  if (project === null || typeof project !== 'object' || Array.isArray(project)) return out;
  const { name, version } = project as Record<string, unknown>;
  if (typeof name === 'string') out.name = name;
  if (typeof version === 'string') out.version = version;
  return out;
}

/** The TOML document of a pyproject.toml text. @throws BundleError `<file>:<line>:<column>: invalid TOML: ...` */
function parsePyproject(text: string, file: string): Record<string, unknown> {
  try {
    return toml().parse(text) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof toml().TomlError)) throw err;
    const what = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw new BundleError(`${file}:${err.line}:${err.column}: invalid TOML: ${what}`);
  }
}

async function readPackageJson(source: string): Promise<{ name?: unknown; version?: unknown } | undefined> {
  const text = await readOptional(join(source, 'package.json'));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as { name?: unknown; version?: unknown };
  } catch (err) {
    throw new BundleError(`${join(source, 'package.json')}: invalid JSON: ${(err as Error).message}`);
  }
}

/**
 * The version of SOURCE: the trimmed `VERSION` file, else `pyproject.toml`
 * `[project] version`, else `package.json` `version`.
 * @throws BundleError `<source>: no version found (looked for VERSION, pyproject.toml [project] version, package.json version)`
 * @throws BundleError `invalid version "<v>" from <source>/<file>: must match ^[A-Za-z0-9][A-Za-z0-9._+-]*$`
 */
export async function detectVersion(source: string): Promise<Detected> {
  const src = resolve(source);
  const found = await findVersion(src);
  if (!found) {
    throw new BundleError(`${src}: no version found (looked for VERSION, pyproject.toml [project] version, package.json version)`);
  }
  assertSafeName('version', found.value, join(src, found.from));
  return found;
}

async function findVersion(src: string): Promise<Detected | undefined> {
  const file = await readOptional(join(src, 'VERSION'));
  if (file !== undefined) return { value: file.trim(), from: 'VERSION' };
  return findMetadataVersion(src);
}

async function findMetadataVersion(src: string): Promise<Detected | undefined> {
  const py = await readOptional(join(src, 'pyproject.toml'));
  const pyVersion = py === undefined ? undefined : readPyprojectProject(py, join(src, 'pyproject.toml')).version;
  if (pyVersion !== undefined) return { value: pyVersion, from: 'pyproject.toml' };
  const pkg = await readPackageJson(src);
  if (pkg && pkg.version !== undefined) return { value: String(pkg.version), from: 'package.json' };
  return undefined;
}

/**
 * The package name of SOURCE: `package.json` `name` (an npm scope `@s/n` becomes
 * `s-n`), else `pyproject.toml` `[project] name`, else `fallback` (a playbook's bundle
 * key, origin `bundle name`), else SOURCE's folder name (`orch bundle SOURCE`).
 * A bundle's `package:` key beats all of these (see `resolvePackageName`).
 * @throws BundleError `invalid package name "<n>" from <origin>: must match ...`
 */
export async function detectPackageName(source: string, fallback?: string): Promise<Detected> {
  const src = resolve(source);
  let found: Detected | undefined;
  const pkg = await readPackageJson(src);
  if (pkg && typeof pkg.name === 'string') found = { value: pkg.name.replace(/^@([^/]+)\//, '$1-'), from: 'package.json' };
  if (!found) {
    const py = await readOptional(join(src, 'pyproject.toml'));
    const name = py === undefined ? undefined : readPyprojectProject(py, join(src, 'pyproject.toml')).name;
    if (name !== undefined) found = { value: name, from: 'pyproject.toml' };
  }
  if (!found && fallback !== undefined) found = { value: fallback, from: 'bundle name' };
  found ??= { value: basename(src), from: 'folder name' };
  assertSafeName('package name', found.value, found.from === 'folder name' ? src : found.from === 'bundle name' ? 'the bundle\'s name' : join(src, found.from));
  return found;
}

/**
 * The package name of a bundle, in order: `explicit` (the bundle's `package:` key,
 * `--package`), the package metadata of SOURCE, the bundle's key in `bundles:`
 * (`bundleName`), SOURCE's folder name; never the folder name when the bundle has a
 * name.
 * @throws BundleError `invalid package name "<n>" from <origin>: must match ...`
 */
export async function resolvePackageName(source: string, explicit: string | undefined, bundleName: string | undefined): Promise<string> {
  if (explicit !== undefined) {
    assertSafeName('package name', explicit, 'the package option');
    return explicit;
  }
  return (await detectPackageName(source, bundleName)).value;
}

/**
 * `<base>+<suffix>`, or `<base>.<suffix>` when base already carries build metadata
 * (`1.0.0+local` + `g1a2b3c4` = `1.0.0+local.g1a2b3c4`, semver's dot-separated build ids).
 */
export function appendBuildMetadata(base: string, suffix: string): string {
  return `${base}${base.includes('+') ? '.' : '+'}${suffix}`;
}

/** `yyyymmddHHMMSS` (UTC) of an ISO 8601 time: `2026-12-01T09:05:07.123Z` -> `20261201090507`. */
export function formatReleaseTimestamp(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new BundleError(`cannot make a timestamp version from ${JSON.stringify(iso)}`);
  return d.toISOString().replace(/\.\d+Z$/, '').replace(/[-:T]/g, '');
}

/** Runs git (argv, no shell) in `cwd`; resolves with code, stdout and stderr. */
function runGit(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((res) => {
    const child = spawn('git', args, { cwd, env: { ...env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', (error) => res({ code: null, stdout, stderr, error }));
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

/**
 * The `git` scheme's suffix for SOURCE: `g<short sha of HEAD>` (`git rev-parse --short
 * HEAD`), plus `.dirty` when `git status` lists a change (modified, staged, deleted,
 * renamed, or untracked and not git-ignored) of a path under SOURCE that the bundle
 * would hold — paths `ignored(path)` says are left out (`.orchignore`), so build junk
 * in an ignored folder does not make a new release id.
 * Source: Kamal's version from `git rev-parse HEAD` and its "uncommitted changes" mark.
 * @throws BundleError `<source>: version: git needs git (...)`, `... is not inside a git
 *   work tree`, `... has no commit yet`.
 */
export async function gitVersionSuffix(source: string, env: NodeJS.ProcessEnv, ignored: (path: string) => boolean = () => false): Promise<string> {
  const src = resolve(source);
  const head = await runGit(['rev-parse', '--short', 'HEAD'], src, env);
  if (head.error) throw new BundleError(`${src}: version: git needs git on PATH (${head.error.message})`);
  if (head.code !== 0) {
    const inside = await runGit(['rev-parse', '--is-inside-work-tree'], src, env);
    if (inside.code !== 0 || inside.stdout.trim() !== 'true') {
      // git's own words when it has some other reason (e.g. "detected dubious ownership").
      const said = inside.stderr.trim().split('\n').find((l) => !/not a git repository/i.test(l) && /^(fatal|error):/.test(l));
      throw new BundleError(`${src}: version: git, but the source is not inside a git work tree (use version: file or timestamp)${said ? `: ${said}` : ''}`);
    }
    throw new BundleError(`${src}: version: git, but the repository has no commit yet: ${head.stderr.trim().split('\n').pop() ?? ''}`);
  }
  const sha = head.stdout.trim();
  const prefix = (await runGit(['rev-parse', '--show-prefix'], src, env)).stdout.trim();
  const status = await runGit(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--', '.'], src, env);
  if (status.code !== 0) throw new BundleError(`${src}: git status failed: ${status.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return `g${sha}${listStatusPaths(status.stdout, prefix).some((p) => !ignored(p)) ? '.dirty' : ''}`;
}

/**
 * The paths of `git status --porcelain=v1 -z` output (repository-relative; both names of
 * a rename or copy), made relative to the folder `prefix` (`git rev-parse --show-prefix`,
 * `app/` or empty); paths outside it are dropped.
 */
export function listStatusPaths(z: string, prefix: string): string[] {
  const out: string[] = [];
  const parts = z.split('\0');
  for (let i = 0; i < parts.length; i++) {
    const rec = parts[i] ?? '';
    if (rec.length < 4) continue;
    const paths = [rec.slice(3)];
    if (rec[0] === 'R' || rec[0] === 'C') paths.push(parts[++i] ?? '');
    for (const p of paths) if (p.startsWith(prefix) && p.length > prefix.length) out.push(p.slice(prefix.length));
  }
  return out;
}

/**
 * The release id of a bundle built from SOURCE with base version `base` under `scheme`
 * at `builtAt` (ISO time; see {@link VersionScheme}).
 * @throws BundleError from {@link gitVersionSuffix}, or an invalid result.
 */
export async function composeVersion(source: string, base: string, scheme: VersionScheme, builtAt: string, env: NodeJS.ProcessEnv): Promise<string> {
  let v = base;
  if (scheme === 'git') v = appendBuildMetadata(base, await gitVersionSuffix(source, env, await loadIgnoreRules(source)));
  else if (scheme === 'timestamp') v = appendBuildMetadata(base, formatReleaseTimestamp(builtAt));
  assertSafeName('version', v, `version: ${scheme}`);
  return v;
}

/**
 * Bumps a semantic version (`MAJOR.MINOR.PATCH`, prerelease/build suffix dropped):
 * `1.2.3` + minor = `1.3.0`.
 * @throws BundleError `cannot bump "<v>": not a semantic version MAJOR.MINOR.PATCH`
 */
export function bumpSemver(version: string, part: BumpPart): string {
  const m = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.+-]*)?$/.exec(version);
  if (!m) throw new BundleError(`cannot bump ${JSON.stringify(version)}: not a semantic version MAJOR.MINOR.PATCH`);
  const [maj, min, pat] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (part === 'major') return `${maj + 1}.0.0`;
  if (part === 'minor') return `${maj}.${min + 1}.0`;
  return `${maj}.${min}.${pat + 1}`;
}

/**
 * `orch version bump PART [SOURCE]`: writes the bumped version to `SOURCE/VERSION`
 * (created when absent) and to every version field of the package
 * metadata that holds one, so the installed package reports the new version too:
 * `pyproject.toml` `[project] version` (that one value rewritten, quotes and comment
 * kept, checked by parsing it again), `package.json` `version` and `package-lock.json`
 * `version` / `packages[""].version` (only those values edited, every other byte kept;
 * the fields `npm version --no-git-tag-version` sets). All files are computed first. Every file goes through a temp file + rename.
 * @returns the version before and after, the VERSION file and every file written.
 * @throws BundleError when no version is found or it is not semver (see {@link bumpSemver}); nothing is written then.
 */
export async function bumpVersion(source: string, part: BumpPart): Promise<{ old: string; new: string; file: string; files: string[] }> {
  const src = resolve(source);
  const current = await detectVersion(src);
  const next = bumpSemver(current.value, part);
  const writes: [string, string][] = [[join(src, 'VERSION'), `${next}\n`]];
  const py = await readOptional(join(src, 'pyproject.toml'));
  const pyNew = py === undefined ? undefined : rewritePyprojectVersion(py, next, join(src, 'pyproject.toml'));
  if (pyNew !== undefined) writes.push([join(src, 'pyproject.toml'), pyNew]);
  for (const f of ['package.json', 'package-lock.json']) {
    const text = await readOptional(join(src, f));
    if (text === undefined) continue;
    const updated = rewriteJsonVersion(text, next, join(src, f));
    if (updated !== undefined) writes.push([join(src, f), updated]);
  }
  for (const [file, text] of writes) {
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, file);
  }
  return { old: current.value, new: next, file: join(src, 'VERSION'), files: writes.map(([f]) => f) };
}

/**
 * pyproject.toml text with `[project] version` set to `version`, by a minimal edit: the
 * value of that one `version = "..."` line is replaced, its quote style, spacing and
 * comment kept, every other byte unchanged; the result is parsed again (smol-toml) and
 * must differ from the original document in that field alone. Undefined when the file
 * has no string `[project] version` (e.g. `dynamic = ["version"]`).
 * @throws BundleError `<file>:<line>:<column>: invalid TOML: ...`; `<file>: cannot
 *   update [project] version in place (...); edit it by hand` when the version is not
 *   written as one `version = "..."` line of the `[project]` table (a dotted key, an
 *   inline table); nothing is written then.
 */
export function rewritePyprojectVersion(text: string, version: string, file = 'pyproject.toml'): string | undefined {
  const before = parsePyproject(text, file);
  if (readPyprojectProject(text, file).version === undefined) return undefined;
  let inProject = false;
  let edits = 0;
  // Lines inside a multi-line string (""" or ''') are text, never keys.
  let inString: string | undefined;
  const out = text.split(/(?<=\n)/).map((raw) => {
    const line = raw.trim();
    if (inString !== undefined) {
      if (raw.split(inString).length % 2 === 0) inString = undefined;
      return raw;
    }
    inString = ['"""', "'''"].find((d) => raw.split(d).length % 2 === 0);
    if (inString !== undefined) return raw;
    if (line.startsWith('[')) {
      inProject = /^\[\s*project\s*\]\s*(#.*)?$/.test(line);
      return raw;
    }
    if (!inProject) return raw;
    return raw.replace(/^(\s*version\s*=\s*)(?:"([^"\\]*)"|'([^']*)')/, (_m, head: string, _dq?: string, sq?: string) => {
      edits++;
      return sq !== undefined ? `${head}'${version}'` : `${head}"${version}"`;
    });
  }).join('');
  const want = before;
  (want.project as Record<string, unknown>).version = version;
  let after: unknown;
  try {
    after = toml().parse(out);
  } catch {
    after = undefined;
  }
  if (edits !== 1 || !isDeepStrictEqual(after, want)) {
    throw new BundleError(`${file}: cannot update [project] version in place (it is not one \`version = "..."\` line of the [project] table); edit it by hand`);
  }
  return out;
}

/**
 * package.json / package-lock.json text with its top-level `version` (and a lockfile's
 * `packages[""].version`) set to `version` by a minimal edit (jsonc-parser, as editors
 * do): only those values' characters change; undefined when the file has no top-level
 * version.
 * @throws BundleError `<file>: invalid JSON: ...`
 */
export function rewriteJsonVersion(text: string, version: string, file: string): string | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new BundleError(`${file}: invalid JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || typeof doc.version !== 'string') return undefined;
  // jsonc-parser's modify replaces the value's own characters only: indentation, key
  // order, line ends, the final newline and every other byte stay as they were.
  let out = jsonc().applyEdits(text, jsonc().modify(text, ['version'], version, {}));
  const root = (doc.packages as Record<string, Record<string, unknown>> | undefined)?.[''];
  if (root && typeof root === 'object' && typeof root.version === 'string') out = jsonc().applyEdits(out, jsonc().modify(out, ['packages', '', 'version'], version, {}));
  return out;
}
