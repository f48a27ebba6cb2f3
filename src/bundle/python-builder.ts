/**
 * The `python` builder (platter's core): a scratch virtualenv made with the chosen
 * interpreter, then `pip wheel` of the package and every dependency into `data/`; an
 * `install.sh TARGET` that makes TARGET a virtualenv and installs those wheels offline.
 *
 * Source: platter's `Builder` (build venv, `pip wheel --wheel-dir`, wheel cache,
 * `VIRTUAL_ENV` for build scripts) and platter's install.sh contract (works by hand, no
 * network, `pip --no-index --find-links data/`).
 */
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BundleError } from './bundle-error.js';
import { renderInstallScript } from './install-script.js';
import { compareNames, NAME_PATTERN } from './layout.js';
import { runCommand } from './run-command.js';

/** Version of the python builder's output; part of the cache key and of info.json `tools`. */
export const PYTHON_BUILDER_VERSION = '2';

/** What the build interpreter reports about itself. */
export interface PythonInfo {
  /** `sys.version_info` as `3.11.7`. */
  version: string;
  /** Interpreter tag, e.g. `cp311` (implementation short name + major + minor). */
  tag: string;
  /** Bundle platform: `sysconfig.get_platform()` (e.g. `linux-x86_64`), characters outside `[A-Za-z0-9._+-]` replaced by `_`. */
  platform: string;
}

/**
 * Python source printing {@link PythonInfo} as one JSON line. Runs on any Python >= 3.6
 * (also on a remote build host).
 */
export const PYTHON_PROBE_SCRIPT = [
  'import json, re, sys, sysconfig',
  "impl = {'cpython': 'cp', 'pypy': 'pp'}.get(sys.implementation.name, sys.implementation.name)",
  "v = sys.version_info",
  "print(json.dumps({'version': '%d.%d.%d' % (v[0], v[1], v[2]), 'tag': '%s%d%d' % (impl, v[0], v[1]),",
  "  'platform': re.sub(r'[^A-Za-z0-9._+-]', '_', sysconfig.get_platform())}))",
].join('\n');

/**
 * Runs `PYTHON -c PROBE` and parses its answer.
 * @throws BundleError `python interpreter <p>: cannot run <p>: ...` (not found) or
 *   `python interpreter <p>: unexpected probe output "<text>"`.
 */
export async function probePython(python: string, env: NodeJS.ProcessEnv): Promise<PythonInfo> {
  const what = `python interpreter ${python}`;
  const { stdout } = await runCommand(what, [python, '-c', PYTHON_PROBE_SCRIPT], { env, prefix: 'python' });
  return parsePythonProbe(what, stdout);
}

/**
 * Parses the output of {@link PYTHON_PROBE_SCRIPT}.
 * @throws BundleError `<what>: unexpected probe output "<text>"`
 */
export function parsePythonProbe(what: string, text: string): PythonInfo {
  try {
    const v = JSON.parse(text.trim()) as Partial<PythonInfo>;
    if (typeof v.version === 'string' && typeof v.tag === 'string' && typeof v.platform === 'string' && NAME_PATTERN.test(v.platform)) {
      return { version: v.version, tag: v.tag, platform: v.platform };
    }
  } catch {
    // reported below
  }
  throw new BundleError(`${what}: unexpected probe output ${JSON.stringify(text.trim().slice(0, 200))}`);
}

/** Name and version of a wheel file (PEP 427 `{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl`), or undefined. */
export function parseWheelName(file: string): { name: string; version: string } | undefined {
  const m = /^([^-]+)-([^-]+)(?:-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$/.exec(file);
  if (!m) return undefined;
  return { name: m[1] ?? '', version: m[2] ?? '' };
}

/** PEP 503 normalised project name: lowercase, runs of `-_.` become `-`. */
export function normaliseProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** Inputs of {@link pipWheelArgv}; paths as the machine running pip sees them. */
export interface PipWheelInput {
  /** The build venv's python (`<venv>/bin/python`). */
  venvPython: string;
  /** Where the wheels go (`data/`). */
  wheelDir: string;
  /** Wheel cache folder passed as `--find-links` (omitted with `--no-cache`). */
  wheelCache?: string;
  /** `-r FILE`. */
  requirements?: string;
  /** `--pip-option` values, in order, passed through verbatim. */
  pipOptions: readonly string[];
  /** The project folder (a copy of SOURCE). */
  project: string;
}

/**
 * The `pip wheel` command line of a python build (argv, no shell):
 * `PY -m pip wheel --disable-pip-version-check --no-input --wheel-dir DATA
 * [--find-links CACHE] [-r REQ] PIP_OPTIONS... PROJECT`. Shared by the local builder and
 * the remote build script, so both run the very same pip.
 */
export function pipWheelArgv(input: PipWheelInput): string[] {
  return [
    input.venvPython, '-m', 'pip', 'wheel', '--disable-pip-version-check', '--no-input',
    '--wheel-dir', input.wheelDir,
    ...(input.wheelCache === undefined ? [] : ['--find-links', input.wheelCache]),
    ...(input.requirements === undefined ? [] : ['-r', input.requirements]),
    ...input.pipOptions,
    input.project,
  ];
}

/** The wheel cache folder of an interpreter: `<cacheDir>/wheels/<tag>-<platform>` (e.g. `cp311-linux-x86_64`). */
export function wheelCacheDir(cacheDir: string, py: PythonInfo): string {
  return join(cacheDir, 'wheels', `${py.tag}-${py.platform}`);
}

/** Sorted `.whl` file names in `dir` ([] when it does not exist). */
export async function listWheels(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.whl')).sort(compareNames);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * `name==version` of every wheel in `wheels` except the package's own, sorted.
 * Source: platter's info.json dependency list, read from the wheel file names.
 */
export function listDependencies(pkg: string, wheels: readonly string[]): string[] {
  const own = normaliseProjectName(pkg);
  const deps: string[] = [];
  for (const w of wheels) {
    const p = parseWheelName(w);
    if (!p || normaliseProjectName(p.name) === own) continue;
    deps.push(`${p.name}==${p.version}`);
  }
  return deps.sort(compareNames);
}

/**
 * Copies the wheels of `wheelDir` that are not in `cache` yet into it (temp name +
 * rename, so concurrent builds never see half a wheel), except the package's own
 * wheel (it changes with SOURCE under the same file name).
 * @returns how many wheels were added.
 */
export async function storeWheels(pkg: string, wheelDir: string, cache: string): Promise<number> {
  await mkdir(cache, { recursive: true });
  const have = new Set(await listWheels(cache));
  const own = normaliseProjectName(pkg);
  let added = 0;
  for (const w of await listWheels(wheelDir)) {
    const p = parseWheelName(w);
    if (have.has(w) || !p || normaliseProjectName(p.name) === own) continue;
    const tmp = join(cache, `.${w}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await copyFile(join(wheelDir, w), tmp);
      await rename(tmp, join(cache, w));
      added++;
    } finally {
      await rm(tmp, { force: true });
    }
  }
  return added;
}

/** Options of {@link buildPythonData}. */
export interface PythonBuildInput {
  pkg: string;
  /** `-p`: the interpreter that makes the build venv. */
  python: string;
  py: PythonInfo;
  /** A private copy of SOURCE that pip may write into (build/, *.egg-info). */
  project: string;
  /** `data/` of the bundle being built. */
  dataDir: string;
  /** Where the scratch build venv goes (must not exist). */
  venv: string;
  requirements?: string;
  pipOptions: readonly string[];
  /** Wheel cache folder, or undefined with `--no-cache`. */
  wheelCache?: string;
  /** Working folder for pip (relative `--find-links` paths resolve against it). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** Runs the prebuild script (after the venv exists, before pip) with `VIRTUAL_ENV` set. */
  prebuild: () => Promise<void>;
}

/** What the python build put into `data/`. */
export interface PythonBuildResult {
  /** Wheel file names in `data/`, sorted. */
  wheels: string[];
  /** How many of them were taken from the wheel cache. */
  cached: number;
  /** `name==version` of every dependency (see {@link listDependencies}). */
  dependencies: string[];
}

/**
 * Fills `data/` with wheels: `PYTHON -m venv VENV` (a scratch build venv), the prebuild
 * hook, then {@link pipWheelArgv} run with `VIRTUAL_ENV=VENV` and the venv's `bin` first
 * on PATH, then new dependency wheels copied into the wheel cache. Logs
 * `python: building wheels...` and `python: N wheels (M cached)`.
 * @throws BundleError when the venv cannot be made or pip fails (with pip's last lines).
 */
export async function buildPythonData(input: PythonBuildInput): Promise<PythonBuildResult> {
  const { log } = input;
  const env = { ...input.env, VIRTUAL_ENV: input.venv, PATH: `${join(input.venv, 'bin')}:${input.env.PATH ?? '/usr/bin:/bin'}`, PIP_DISABLE_PIP_VERSION_CHECK: '1' };
  log(`python: creating build virtualenv with ${input.python} (Python ${input.py.version}, ${input.py.platform})`);
  await runCommand(`${input.python} -m venv`, [input.python, '-m', 'venv', input.venv], { env: input.env, prefix: 'python' });
  await input.prebuild();
  const before = new Set(input.wheelCache === undefined ? [] : await listWheels(input.wheelCache));
  log('python: building wheels...');
  const argv = pipWheelArgv({
    venvPython: join(input.venv, 'bin', 'python'),
    wheelDir: input.dataDir,
    ...(input.wheelCache !== undefined && { wheelCache: input.wheelCache }),
    ...(input.requirements !== undefined && { requirements: input.requirements }),
    pipOptions: input.pipOptions,
    project: input.project,
  });
  if (input.wheelCache !== undefined) await mkdir(input.wheelCache, { recursive: true });
  await runCommand('pip wheel', argv, { cwd: input.cwd, env, prefix: 'pip', log });
  const wheels = await listWheels(input.dataDir);
  const cached = wheels.filter((w) => before.has(w)).length;
  if (input.wheelCache !== undefined) await storeWheels(input.pkg, input.dataDir, input.wheelCache);
  log(`python: ${wheels.length} wheel${wheels.length === 1 ? '' : 's'} (${cached} cached)`);
  if (!wheels.some((w) => normaliseProjectName(parseWheelName(w)?.name ?? '') === normaliseProjectName(input.pkg))) {
    throw new BundleError(`pip wheel made no wheel for package ${JSON.stringify(input.pkg)} (got: ${wheels.join(', ') || 'none'})`);
  }
  return { wheels, cached, dependencies: listDependencies(input.pkg, wheels) };
}

/**
 * The python bundle's `install.sh [-p PYTHON] TARGET` (bash, `set -euo pipefail`):
 * `PYTHON -m venv TARGET` (default `python3`), `TARGET/bin/python -m pip install
 * --no-index --find-links DATA_DIR` of every wheel in `data/`, `pip check`; then — from
 * `HERE`, with `HERE`, `DATA_DIR`, `TARGET` and `VIRTUAL_ENV=TARGET` exported — the
 * lines the build scripts appended to INSTALL_SCRIPT. Never touches the network.
 * @param ident `<package>-<version>-<platform>`, for messages.
 * @param postInstall the collected INSTALL_SCRIPT text (may be empty).
 */
export function renderPythonInstallScript(ident: string, postInstall: string): string {
  return renderInstallScript('python', ident, postInstall);
}
