/**
 * Package name and version of a bundle SOURCE, and `orch version bump`.
 *
 * Source: "The Ultimate Python Deployment System" (the version lives in a `VERSION`
 * file next to the code), with the package metadata (`pyproject.toml` `[project]`,
 * `package.json`) as fallback, like platter reading `setup.py --version`.
 */
import { readFile, writeFile, rename } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { BundleError } from './bundle-error.js';
import { assertSafeName } from './layout.js';

/** Where a name or version was found. */
export type MetadataOrigin = 'VERSION' | 'pyproject.toml' | 'package.json' | 'folder name';

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
 * Reads `name` and `version` from the `[project]` table of a pyproject.toml text.
 * A line reader, not a TOML parser: it understands `key = "string"` / `key = 'string'`
 * lines (comments after the value allowed) between `[project]` and the next table
 * header. Other keys and tables are ignored.
 */
export function readPyprojectProject(text: string): { name?: string; version?: string } {
  const out: { name?: string; version?: string } = {};
  let inProject = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      inProject = /^\[\s*project\s*\]\s*(#.*)?$/.test(line);
      continue;
    }
    if (!inProject) continue;
    const m = /^(name|version)\s*=\s*(?:"([^"\\]*)"|'([^']*)')\s*(#.*)?$/.exec(line);
    if (m) out[m[1] as 'name' | 'version'] = m[2] ?? m[3] ?? '';
  }
  return out;
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
  const pyVersion = py === undefined ? undefined : readPyprojectProject(py).version;
  if (pyVersion !== undefined) return { value: pyVersion, from: 'pyproject.toml' };
  const pkg = await readPackageJson(src);
  if (pkg && pkg.version !== undefined) return { value: String(pkg.version), from: 'package.json' };
  return undefined;
}

/**
 * The package name of SOURCE: `package.json` `name` (an npm scope `@s/n` becomes
 * `s-n`), else `pyproject.toml` `[project] name`, else SOURCE's folder name.
 * @throws BundleError `invalid package name "<n>" from <origin>: must match ...`
 */
export async function detectPackageName(source: string): Promise<Detected> {
  const src = resolve(source);
  let found: Detected | undefined;
  const pkg = await readPackageJson(src);
  if (pkg && typeof pkg.name === 'string') found = { value: pkg.name.replace(/^@([^/]+)\//, '$1-'), from: 'package.json' };
  if (!found) {
    const py = await readOptional(join(src, 'pyproject.toml'));
    const name = py === undefined ? undefined : readPyprojectProject(py).name;
    if (name !== undefined) found = { value: name, from: 'pyproject.toml' };
  }
  found ??= { value: basename(src), from: 'folder name' };
  assertSafeName('package name', found.value, found.from === 'folder name' ? src : join(src, found.from));
  return found;
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
 * `orch version bump PART [SOURCE]`: rewrites `SOURCE/VERSION` (temp file + rename)
 * with the bumped version. Without a VERSION file the current version comes from the
 * package metadata and VERSION is created.
 * @returns the version before and after.
 * @throws BundleError when no version is found or it is not semver (see {@link bumpSemver}).
 */
export async function bumpVersion(source: string, part: BumpPart): Promise<{ old: string; new: string; file: string }> {
  const current = await detectVersion(source);
  const next = bumpSemver(current.value, part);
  const file = join(resolve(source), 'VERSION');
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${next}\n`);
  await rename(tmp, file);
  return { old: current.value, new: next, file };
}
