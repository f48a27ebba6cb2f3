/**
 * `orch bundle SOURCE`: build (or take from the cache) a platter-layout tarball.
 *
 * Flow: detect package/version -> list SOURCE (honouring .orchignore) -> content hash
 * -> probe the toolchain (python/node) -> cache hit? copy out : stage
 * `<scratch>/<ident>/` (prebuild script, data/ by the builder, postbuild script,
 * PACKAGE/VERSION/PLATFORM/info.json/install.sh) -> reproducible tar.gz -> self-check
 * with the artifact checker -> store in cache -> tarball or unpacked folder in outDir.
 * Source: platter's `Builder` (scratchpads, build scripts, temp-name-then-rename output).
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspectArtifact } from './artifact.js';
import { BundleError } from './bundle-error.js';
import { computeCacheKey, defaultCacheDir, hashSource, lookupCache, sourceStatCacheFile, storeCache } from './cache.js';
import { copySourceFiles, listSourceFiles, renderDirInstallScript, runBuildScript } from './dir-builder.js';
import type { SourceEntry } from './dir-builder.js';
import { buildNodeData, NODE_BUILDER_VERSION, probeNode, selectNodeEntries } from './node-builder.js';
import { buildPythonData, probePython, PYTHON_BUILDER_VERSION, renderPythonInstallScript, wheelCacheDir } from './python-builder.js';
import type { BuildScriptVars } from './dir-builder.js';
import { DATA_DIR_NAME, formatBundleDir, hashDataFiles, PLATFORM_ANY, writeLayout } from './layout.js';
import type { BundleInfo, BundleManifest } from './layout.js';
import { createTarball } from './tarball.js';
import { extract as extractTar } from 'tar';
import { sweepStaleTemps, tempPathFor } from './temp-files.js';
import { composeVersion, detectPackageName, detectVersion, resolvePackageName, VERSION_SCHEMES } from './version.js';
import type { VersionScheme } from './version.js';

/** What to build. Paths may be relative to the current directory. */
export interface BuildSpec {
  /** The SOURCE folder. */
  source: string;
  builder: 'dir' | 'python' | 'node';
  /** Where `<package>-<version>-<platform>.tar.gz` (or the folder, `format: 'dir'`) is written (created if missing). */
  outDir: string;
  /** `--format`: a tarball (default) or the unpacked bundle folder. */
  format?: 'tar.gz' | 'dir';
  /** `--prebuild-script`: bash script run before data/ is filled. */
  prebuildScript?: string;
  /** `--postbuild-script`: bash script run after data/ is complete. */
  postbuildScript?: string;
  /** python: `-p`, the interpreter that makes the build venv (default `python3`, looked up on `ctx.env.PATH`). */
  python?: string;
  /** python: `-r requirements.txt`, extra requirements built into data/ too. */
  requirements?: string;
  /** python: `--pip-option` values passed to `pip wheel` verbatim, in order. */
  pipOptions?: string[];
  /** `--no-cache`: neither read nor write the cache (nor the wheel cache). */
  noCache?: boolean;
  /** `--cache-dir`; default {@link defaultCacheDir}. */
  cacheDir?: string;
  /** The bundle's `package:` key (`--package`): the package name, beating the metadata. */
  package?: string;
  /** The bundle's key in `bundles:`: the package name when neither `package` nor the metadata names one. */
  bundleName?: string;
  /** The bundle's `version:` key (`--version-scheme`): how the release id is made; default `file`. */
  versionScheme?: VersionScheme;
}

/** Everything the build takes from the outside world, passed in (no globals). */
export interface BuildContext {
  /** Environment for build tools and scripts (PATH), cache location (XDG_CACHE_HOME, HOME), TMPDIR, SOURCE_DATE_EPOCH. */
  env: NodeJS.ProcessEnv;
  /** Clock for `info.json` `built_at` (and `version: timestamp`) when SOURCE_DATE_EPOCH is not set. */
  now: () => Date;
  /** Progress lines (build tool and script output, cache hits). */
  log?: (line: string) => void;
  /** Folder that relative paths in pip options resolve against (default: the process's). */
  cwd?: string;
}

/** Version of the dir builder's output; part of the cache key and of info.json `tools`. */
export const DIR_BUILDER_VERSION = '2';

/** A built (or cached) bundle: `path` is the tarball, or the folder with `format: 'dir'` (sha256/size are always the tarball's). */
export type BuildResult = BundleInfo & { cached: boolean };

/** What a build (local or on a build host) reads from SOURCE and the spec before anything is built. */
export interface BuildInputs {
  source: string;
  outDir: string;
  format: 'tar.gz' | 'dir';
  /** Absolute paths of the build scripts, and their bytes. */
  scripts: { prebuild?: string; postbuild?: string };
  scriptTexts: { prebuild?: Buffer; postbuild?: Buffer };
  requirements?: string;
  requirementsText?: Buffer;
  pipOptions: string[];
  /** The bundle's package name (see `resolvePackageName`). */
  pkg: string;
  /** The project's own name in its metadata (python: whose wheel is the package's own), else the folder name. */
  projectName: string;
  /** The release id: the base version under the version scheme. */
  version: string;
  scheme: VersionScheme;
  /**
   * The version's part of the cache key: the version itself for `file` and `git` (git's
   * sha is not in the content hash), `timestamp:<base>` for `timestamp`, so unchanged
   * content hits the cache and keeps its release id instead of making a new one.
   */
  versionKey: string;
  /** SOURCE entries (`.orchignore` applied) and their content hash. */
  entries: SourceEntry[];
  sourceHash: string;
  /** `built_at` (ISO). */
  builtAt: string;
  cacheDir: string;
}

/** A bundle source must be an existing folder. @throws BundleError `SOURCE: bundle source not found` / `... is not a folder`. */
export async function checkBundleSource(source: string): Promise<void> {
  let st;
  try {
    st = await stat(source);
  } catch {
    throw new BundleError(`${source}: bundle source not found`);
  }
  if (!st.isDirectory()) throw new BundleError(`${source}: bundle source is not a folder`);
}

/**
 * Reads and checks everything a build takes before it starts: SOURCE is a folder, the
 * build scripts and requirements exist (their bytes hashed into the key), python-only
 * options only with the python builder, package name and version (see
 * {@link BuildSpec.package}, {@link BuildSpec.versionScheme}), SOURCE's file list and
 * content hash. Also removes stale temp files a killed build left in `outDir`.
 * @throws BundleError as {@link buildBundle}.
 */
export async function readBuildInputs(spec: BuildSpec, ctx: BuildContext): Promise<BuildInputs> {
  const source = resolve(spec.source);
  const outDir = resolve(spec.outDir);
  await checkBundleSource(source);
  if (spec.builder !== 'python' && (spec.python !== undefined || spec.requirements !== undefined || spec.pipOptions?.length)) {
    throw new BundleError(`-p/--python, -r/--requirements and --pip-option apply to the python builder only (builder is ${spec.builder})`);
  }
  const scripts: BuildInputs['scripts'] = {};
  const scriptTexts: BuildInputs['scriptTexts'] = {};
  for (const which of ['prebuild', 'postbuild'] as const) {
    const path = which === 'prebuild' ? spec.prebuildScript : spec.postbuildScript;
    if (path === undefined) continue;
    scripts[which] = resolve(path);
    scriptTexts[which] = await readInputFile(`${which} script`, scripts[which]);
  }
  const requirements = spec.requirements === undefined ? undefined : resolve(spec.requirements);
  const requirementsText = requirements === undefined ? undefined : await readInputFile('requirements file', requirements);
  const scheme = spec.versionScheme ?? 'file';
  if (!VERSION_SCHEMES.includes(scheme)) throw new BundleError(`version: ${JSON.stringify(scheme)}: expected one of ${VERSION_SCHEMES.join(', ')}`);
  const pkg = await resolvePackageName(source, spec.package, spec.bundleName);
  const projectName = (await detectPackageName(source)).value;
  const base = (await detectVersion(source)).value;
  const builtAt = resolveBuildTime(ctx);
  const version = await composeVersion(source, base, scheme, builtAt, ctx.env);
  const entries = await listSourceFiles(source);
  const cacheDir = spec.cacheDir === undefined ? defaultCacheDir(ctx.env) : resolve(spec.cacheDir);
  const sourceHash = await hashSource(source, entries, spec.noCache ? undefined : sourceStatCacheFile(cacheDir, source));
  await sweepStaleTemps(outDir);
  return {
    source, outDir, format: spec.format ?? 'tar.gz', scripts, scriptTexts,
    ...(requirements !== undefined && { requirements, requirementsText: requirementsText! }),
    pipOptions: spec.pipOptions ?? [], pkg, projectName, version, scheme,
    versionKey: scheme === 'timestamp' ? `timestamp:${base}` : version,
    entries, sourceHash, builtAt, cacheDir,
  };
}

/** sha256 (hex) of bytes, or undefined. */
export function sha256Of(b: Buffer | undefined): string | undefined {
  return b === undefined ? undefined : createHash('sha256').update(b).digest('hex');
}

/**
 * Builds SOURCE into `outDir/<package>-<version>-<platform>.tar.gz` (or, with
 * `format: 'dir'`, the unpacked folder `outDir/<package>-<version>-<platform>/`), or
 * takes it from the cache when the same SOURCE content and options were built before.
 *
 * Builders: `dir` (the files of SOURCE), `python` (a scratch venv made with
 * `spec.python`, then `pip wheel` of the project and its dependencies into data/; see
 * python-builder.ts), `node` (`npm ci --omit=dev` of the app; see node-builder.ts).
 * The cache key holds the SOURCE content hash, builder, options, build scripts, the
 * package name, the version's key part ({@link BuildInputs.versionKey}) and the
 * toolchain version (python version/platform; node and npm versions).
 *
 * Reproducible: the tarball's bytes depend on SOURCE's content (paths, x bits, bytes,
 * link targets), the options, the build tools' output, the release id, and `built_at`
 * in info.json — which is `SOURCE_DATE_EPOCH` (reproducible-builds.org) when set, else
 * `ctx.now()`; `version: timestamp` takes its timestamp from that same `built_at`.
 * Never on file mtimes or owners (pip's wheels honour SOURCE_DATE_EPOCH too).
 *
 * @returns the bundle and whether it came from the cache.
 * @throws BundleError for a missing SOURCE, no/invalid version or name, a failing build
 *   script or build tool (python, pip, npm: with its last output lines), unsupported
 *   files, `version: git` outside a git work tree.
 */
export async function buildBundle(spec: BuildSpec, ctx: BuildContext): Promise<BuildResult> {
  const log = ctx.log ?? (() => {});
  const inp = await readBuildInputs(spec, ctx);
  const { source, outDir, format, scripts, pkg, version, entries, sourceHash, cacheDir, pipOptions, requirements } = inp;

  // The toolchain: probed before the cache lookup, since its version is part of the key.
  const python = spec.python ?? 'python3';
  const py = spec.builder === 'python' ? await probePython(python, ctx.env) : undefined;
  const nodeInfo = spec.builder === 'node' ? await probeNode(ctx.env) : undefined;
  const keyParts: Record<string, string | undefined> = {
    builder: spec.builder,
    sourceHash,
    prebuild: sha256Of(inp.scriptTexts.prebuild),
    postbuild: sha256Of(inp.scriptTexts.postbuild),
    sourceDateEpoch: ctx.env.SOURCE_DATE_EPOCH,
    package: pkg,
    version: inp.versionKey,
  };
  if (spec.builder === 'dir') Object.assign(keyParts, { builderVersion: DIR_BUILDER_VERSION, node: process.versions.node });
  if (py) {
    Object.assign(keyParts, {
      builderVersion: PYTHON_BUILDER_VERSION, python, pythonVersion: py.version, pythonTag: py.tag, pythonPlatform: py.platform,
      requirements: sha256Of(inp.requirementsText), pipOptions: JSON.stringify(pipOptions), cwd: pipOptions.length ? resolve(ctx.cwd ?? '.') : undefined,
    });
  }
  if (nodeInfo) Object.assign(keyParts, { builderVersion: NODE_BUILDER_VERSION, nodeVersion: nodeInfo.node, npmVersion: nodeInfo.npm, nodePlatform: nodeInfo.platform });
  const key = computeCacheKey(keyParts);

  if (!spec.noCache) {
    const hit = await lookupCache(cacheDir, key);
    if (hit) {
      // The bundle's own size and sha256, as the build line printed them (not the cache key).
      log(`bundle ${hit.info.dir}: cache hit, ${hit.info.size} bytes, sha256 ${hit.info.sha256}`);
      const path = await writeOutput(hit.info, outDir, format);
      return { ...hit.info, path, cached: true };
    }
  }

  const scratch = await mkdtemp(join(ctx.env.TMPDIR || tmpdir(), 'orch-bundle-'));
  try {
    let platform = py ? py.platform : PLATFORM_ANY;
    let here = join(scratch, formatBundleDir(pkg, version, platform));
    const vars: BuildScriptVars = {
      HERE: here,
      DATA_DIR: join(here, DATA_DIR_NAME),
      SOURCE_DIR: source,
      SCRATCHPAD: join(scratch, 'scratchpad'),
      INSTALL_SCRIPT: join(scratch, 'install-script.sh'),
      ...(py && { VIRTUAL_ENV: join(scratch, 'build-venv') }),
    };
    await mkdir(vars.DATA_DIR, { recursive: true });
    await mkdir(vars.SCRATCHPAD);
    await writeFile(vars.INSTALL_SCRIPT, '');
    const runHook = async (which: 'prebuild' | 'postbuild'): Promise<void> => {
      const script = scripts[which];
      if (script) await runBuildScript(which, script, vars, ctx.env, log);
    };
    let dependencies: string[] = [];
    const tools: Record<string, string> = {};
    if (py) {
      const project = join(scratch, 'project');
      await copySourceFiles(source, entries, project);
      const res = await buildPythonData({
        pkg: inp.projectName, python, py, project, dataDir: vars.DATA_DIR, venv: vars.VIRTUAL_ENV ?? join(scratch, 'build-venv'),
        ...(requirements !== undefined && { requirements }),
        pipOptions,
        ...(!spec.noCache && { wheelCache: wheelCacheDir(cacheDir, py) }),
        cwd: resolve(ctx.cwd ?? '.'), env: ctx.env, log,
        prebuild: () => runHook('prebuild'),
      });
      dependencies = res.dependencies;
      Object.assign(tools, { 'orch-python-builder': PYTHON_BUILDER_VERSION, python: py.version, python_tag: py.tag });
    } else if (nodeInfo) {
      await runHook('prebuild');
      await copySourceFiles(source, selectNodeEntries(entries), vars.DATA_DIR);
      const res = await buildNodeData({ dataDir: vars.DATA_DIR, nodeInfo, env: ctx.env, log });
      dependencies = res.dependencies;
      if (res.platform !== platform) {
        platform = res.platform;
        const moved = join(scratch, formatBundleDir(pkg, version, platform));
        await rename(here, moved);
        here = moved;
        vars.HERE = here;
        vars.DATA_DIR = join(here, DATA_DIR_NAME);
      }
      Object.assign(tools, { 'orch-node-builder': NODE_BUILDER_VERSION, node: nodeInfo.node, npm: nodeInfo.npm });
    } else {
      await runHook('prebuild');
      await copySourceFiles(source, entries, vars.DATA_DIR);
      Object.assign(tools, { 'orch-dir-builder': DIR_BUILDER_VERSION, node: process.versions.node });
    }
    await runHook('postbuild');
    return await finishBundle({
      inputs: inp, builder: spec.builder, scratch, platform, tools, dependencies,
      ...(py && { pythonVersion: py.version }),
      ...(nodeInfo && { nodeVersion: nodeInfo.node }),
      postInstall: await readFile(vars.INSTALL_SCRIPT, 'utf8'),
      key, noCache: spec.noCache === true, log,
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** What {@link finishBundle} takes: a bundle folder `<scratch>/<pkg>-<version>-<platform>/` with a complete `data/`. */
export interface FinishInput {
  inputs: BuildInputs;
  builder: BuildSpec['builder'];
  /** Holds the bundle folder; the tarball is written there too with `format: 'dir'`. */
  scratch: string;
  platform: string;
  /** info.json `tools`. */
  tools: Record<string, string>;
  dependencies: string[];
  pythonVersion?: string;
  nodeVersion?: string;
  /** The lines the build scripts appended to INSTALL_SCRIPT. */
  postInstall: string;
  /** Cache key; the result is stored under it unless `noCache`. */
  key: string;
  noCache: boolean;
  log: (line: string) => void;
  /** How the build is named in the log line (`built on HOST`); default `built`. */
  builtHow?: string;
}

/**
 * The last stage of every build, local or on a build host (one code path, so both
 * write the same bytes): info.json ({@link BundleManifest}, `files` hashed from
 * `data/`), PACKAGE/VERSION/PLATFORM and the builder's install.sh, the reproducible
 * tarball, the artifact check hosts run too, the cache entry, and the requested output.
 */
export async function finishBundle(f: FinishInput): Promise<BuildResult> {
  const { inputs: inp, platform } = f;
  const ident = formatBundleDir(inp.pkg, inp.version, platform);
  const here = join(f.scratch, ident);
  const manifest: BundleManifest = {
    package: inp.pkg,
    version: inp.version,
    platform,
    builder: f.builder,
    built_at: inp.builtAt,
    source_hash: inp.sourceHash,
    tools: f.tools,
    ...(f.pythonVersion !== undefined && { python_version: f.pythonVersion }),
    ...(f.nodeVersion !== undefined && { node_version: f.nodeVersion }),
    dependencies: f.dependencies,
    files: await hashDataFiles(join(here, DATA_DIR_NAME)),
  };
  await writeLayout(here, manifest, f.builder === 'python' ? renderPythonInstallScript(ident, f.postInstall) : renderDirInstallScript(ident, f.postInstall));
  const tarball = inp.format === 'tar.gz' ? join(inp.outDir, `${ident}.tar.gz`) : join(f.scratch, `${ident}.tar.gz`);
  await createTarball(f.scratch, ident, tarball);
  // What we ship must pass the very check hosts run before unpacking.
  let info: BundleInfo;
  try {
    info = await inspectArtifact(tarball);
  } catch (err) {
    await rm(tarball, { force: true });
    throw err;
  }
  f.log(`bundle ${ident}: ${f.builtHow ?? 'built'} ${info.size} bytes, sha256 ${info.sha256}`);
  if (!f.noCache) await storeCache(inp.cacheDir, f.key, info);
  const path = inp.format === 'tar.gz' ? info.path : await writeOutput(info, inp.outDir, inp.format);
  return { ...info, path, cached: false };
}

/** The bytes of an input file of the build (script, requirements). @throws BundleError `<what> <path>: not found` */
async function readInputFile(what: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    throw new BundleError(`${what} ${path}: not found`);
  }
}

/**
 * Puts a checked tarball where the user asked: a copy at `outDir/<dir>.tar.gz`, or
 * (`dir`) its folder unpacked at `outDir/<dir>/` — extracted into a temp folder in
 * outDir, then renamed into place (a folder already there is moved aside first and
 * removed after). @returns the path written.
 */
export async function writeOutput(info: BundleInfo, outDir: string, format: 'tar.gz' | 'dir'): Promise<string> {
  if (format === 'tar.gz') {
    const to = join(outDir, `${info.dir}.tar.gz`);
    if (resolve(info.path) !== to) await copyInto(info.path, to);
    return to;
  }
  await mkdir(outDir, { recursive: true });
  const final = join(outDir, info.dir);
  const tmp = tempPathFor(final);
  await mkdir(tmp);
  try {
    await extractTar({ file: info.path, cwd: tmp, strict: true, preserveOwner: false });
    let old: string | undefined;
    try {
      await rename(join(tmp, info.dir), final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      old = join(tmp, `old-${randomBytes(4).toString('hex')}`);
      await rename(final, old);
      await rename(join(tmp, info.dir), final);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return final;
}

/** `built_at`: SOURCE_DATE_EPOCH (seconds since 1970, reproducible-builds.org) when set, else ctx.now(). */
export function resolveBuildTime(ctx: BuildContext): string {
  const epoch = ctx.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch)) throw new BundleError(`SOURCE_DATE_EPOCH=${epoch}: must be a whole number of seconds`);
    return new Date(Number(epoch) * 1000).toISOString();
  }
  return ctx.now().toISOString();
}

/** Copies `from` to a temp name in `to`'s folder, then renames it into place. */
async function copyInto(from: string, to: string): Promise<void> {
  await mkdir(resolve(to, '..'), { recursive: true });
  const tmp = tempPathFor(to);
  try {
    await copyFile(from, tmp);
    await rename(tmp, to);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
