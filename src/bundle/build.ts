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
import { computeCacheKey, defaultCacheDir, hashSource, lookupCache, storeCache } from './cache.js';
import { copySourceFiles, listSourceFiles, renderDirInstallScript, runBuildScript } from './dir-builder.js';
import { buildNodeData, NODE_BUILDER_VERSION, probeNode, selectNodeEntries } from './node-builder.js';
import { buildPythonData, probePython, PYTHON_BUILDER_VERSION, renderPythonInstallScript, wheelCacheDir } from './python-builder.js';
import type { BuildScriptVars } from './dir-builder.js';
import { DATA_DIR_NAME, formatBundleDir, hashDataFiles, PLATFORM_ANY, writeLayout } from './layout.js';
import type { BundleInfo, BundleManifest } from './layout.js';
import { createTarball } from './tarball.js';
import { extract as extractTar } from 'tar';
import { detectPackageName, detectVersion } from './version.js';

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
}

/** Everything the build takes from the outside world, passed in (no globals). */
export interface BuildContext {
  /** Environment for build tools and scripts (PATH), cache location (XDG_CACHE_HOME, HOME), TMPDIR, SOURCE_DATE_EPOCH. */
  env: NodeJS.ProcessEnv;
  /** Clock for `info.json` `built_at` when SOURCE_DATE_EPOCH is not set. */
  now: () => Date;
  /** Progress lines (build tool and script output, cache hits). */
  log?: (line: string) => void;
  /** Folder that relative paths in pip options resolve against (default: the process's). */
  cwd?: string;
}

/** Version of the dir builder's output; part of the cache key and of info.json `tools`. */
export const DIR_BUILDER_VERSION = '1';

/** A built (or cached) bundle: `path` is the tarball, or the folder with `format: 'dir'` (sha256/size are always the tarball's). */
export type BuildResult = BundleInfo & { cached: boolean };

/**
 * Builds SOURCE into `outDir/<package>-<version>-<platform>.tar.gz` (or, with
 * `format: 'dir'`, the unpacked folder `outDir/<package>-<version>-<platform>/`), or
 * takes it from the cache when the same SOURCE content and options were built before.
 *
 * Builders: `dir` (the files of SOURCE), `python` (a scratch venv made with
 * `spec.python`, then `pip wheel` of the project and its dependencies into data/; see
 * python-builder.ts), `node` (`npm ci --omit=dev` of the app; see node-builder.ts).
 * The cache key holds the SOURCE content hash, builder, options, build scripts and the
 * toolchain version (python version/platform; node and npm versions).
 *
 * Reproducible: the tarball's bytes depend on SOURCE's content (paths, x bits, bytes,
 * link targets), the options, the build tools' output, and `built_at` in info.json —
 * which is `SOURCE_DATE_EPOCH` (reproducible-builds.org) when set, else `ctx.now()`.
 * Never on file mtimes or owners (pip's wheels honour SOURCE_DATE_EPOCH too).
 *
 * @returns the bundle and whether it came from the cache.
 * @throws BundleError for a missing SOURCE, no/invalid version or name, a failing build
 *   script or build tool (python, pip, npm: with its last output lines), unsupported files.
 */
export async function buildBundle(spec: BuildSpec, ctx: BuildContext): Promise<BuildResult> {
  const log = ctx.log ?? (() => {});
  const source = resolve(spec.source);
  const outDir = resolve(spec.outDir);
  const format = spec.format ?? 'tar.gz';
  let st;
  try {
    st = await stat(source);
  } catch {
    throw new BundleError(`${source}: bundle source not found`);
  }
  if (!st.isDirectory()) throw new BundleError(`${source}: bundle source is not a folder`);
  const scripts = {
    prebuild: spec.prebuildScript === undefined ? undefined : resolve(spec.prebuildScript),
    postbuild: spec.postbuildScript === undefined ? undefined : resolve(spec.postbuildScript),
  };
  const scriptHashes: Record<string, string | undefined> = {};
  for (const [which, path] of Object.entries(scripts)) {
    if (path === undefined) continue;
    scriptHashes[which] = await hashInputFile(`${which} script`, path);
  }
  if (spec.builder !== 'python' && (spec.python !== undefined || spec.requirements !== undefined || spec.pipOptions?.length)) {
    throw new BundleError(`-p/--python, -r/--requirements and --pip-option apply to the python builder only (builder is ${spec.builder})`);
  }
  const requirements = spec.requirements === undefined ? undefined : resolve(spec.requirements);
  const requirementsHash = requirements === undefined ? undefined : await hashInputFile('requirements file', requirements);
  const pipOptions = spec.pipOptions ?? [];

  const pkg = (await detectPackageName(source)).value;
  const version = (await detectVersion(source)).value;
  const entries = await listSourceFiles(source);
  const sourceHash = await hashSource(source, entries);
  const builtAt = resolveBuildTime(ctx);
  const cacheDir = spec.cacheDir === undefined ? defaultCacheDir(ctx.env) : resolve(spec.cacheDir);

  // The toolchain: probed before the cache lookup, since its version is part of the key.
  const python = spec.python ?? 'python3';
  const py = spec.builder === 'python' ? await probePython(python, ctx.env) : undefined;
  const nodeInfo = spec.builder === 'node' ? await probeNode(ctx.env) : undefined;
  const keyParts: Record<string, string | undefined> = {
    builder: spec.builder,
    sourceHash,
    prebuild: scriptHashes.prebuild,
    postbuild: scriptHashes.postbuild,
    sourceDateEpoch: ctx.env.SOURCE_DATE_EPOCH,
  };
  if (spec.builder === 'dir') Object.assign(keyParts, { builderVersion: DIR_BUILDER_VERSION, node: process.versions.node });
  if (py) {
    Object.assign(keyParts, {
      builderVersion: PYTHON_BUILDER_VERSION, python, pythonVersion: py.version, pythonTag: py.tag, pythonPlatform: py.platform,
      requirements: requirementsHash, pipOptions: JSON.stringify(pipOptions), cwd: pipOptions.length ? resolve(ctx.cwd ?? '.') : undefined,
    });
  }
  if (nodeInfo) Object.assign(keyParts, { builderVersion: NODE_BUILDER_VERSION, nodeVersion: nodeInfo.node, npmVersion: nodeInfo.npm, nodePlatform: nodeInfo.platform });
  const key = computeCacheKey(keyParts);

  if (!spec.noCache) {
    const hit = await lookupCache(cacheDir, key);
    if (hit) {
      log(`bundle ${hit.info.dir}: cache hit (${key.slice(0, 12)})`);
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
        pkg, python, py, project, dataDir: vars.DATA_DIR, venv: vars.VIRTUAL_ENV ?? join(scratch, 'build-venv'),
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
    const ident = formatBundleDir(pkg, version, platform);
    const manifest: BundleManifest = {
      package: pkg,
      version,
      platform,
      builder: spec.builder,
      built_at: builtAt,
      source_hash: sourceHash,
      tools,
      ...(py && { python_version: py.version }),
      ...(nodeInfo && { node_version: nodeInfo.node }),
      dependencies,
      files: await hashDataFiles(vars.DATA_DIR),
    };
    const postInstall = await readFile(vars.INSTALL_SCRIPT, 'utf8');
    await writeLayout(here, manifest, py ? renderPythonInstallScript(ident, postInstall) : renderDirInstallScript(ident, postInstall));
    const tarball = format === 'tar.gz' ? join(outDir, `${ident}.tar.gz`) : join(scratch, `${ident}.tar.gz`);
    await createTarball(scratch, ident, tarball);
    // What we ship must pass the very check hosts run before unpacking.
    const info = await inspectArtifact(tarball);
    log(`bundle ${ident}: built ${info.size} bytes, sha256 ${info.sha256}`);
    if (!spec.noCache) await storeCache(cacheDir, key, info);
    const path = format === 'tar.gz' ? info.path : await writeOutput(info, outDir, format);
    return { ...info, path, cached: false };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** sha256 of an input file of the build (script, requirements). @throws BundleError `<what> <path>: not found` */
async function hashInputFile(what: string, path: string): Promise<string> {
  let text: Buffer;
  try {
    text = await readFile(path);
  } catch {
    throw new BundleError(`${what} ${path}: not found`);
  }
  return createHash('sha256').update(text).digest('hex');
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
  const tmp = await mkdtemp(join(outDir, `.${info.dir}.tmp-`));
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
  const tmp = `${to}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await copyFile(from, tmp);
    await rename(tmp, to);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
