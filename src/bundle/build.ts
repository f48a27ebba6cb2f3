/**
 * `orch bundle SOURCE`: build (or take from the cache) a platter-layout tarball.
 *
 * Flow: detect package/version -> list SOURCE (honouring .orchignore) -> content hash
 * -> cache hit? copy out : stage `<scratch>/<ident>/` (prebuild script, data/, postbuild
 * script, PACKAGE/VERSION/PLATFORM/info.json/install.sh) -> reproducible tar.gz ->
 * self-check with the artifact checker -> store in cache.
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
import type { BuildScriptVars } from './dir-builder.js';
import { DATA_DIR_NAME, formatBundleDir, hashDataFiles, PLATFORM_ANY, writeLayout } from './layout.js';
import type { BundleInfo, BundleManifest } from './layout.js';
import { createTarball } from './tarball.js';
import { detectPackageName, detectVersion } from './version.js';

/** What to build. Paths may be relative to the current directory. */
export interface BuildSpec {
  /** The SOURCE folder. */
  source: string;
  builder: 'dir' | 'python' | 'node';
  /** Where `<package>-<version>-<platform>.tar.gz` is written (created if missing). */
  outDir: string;
  /** `--prebuild-script`: bash script run before data/ is filled. */
  prebuildScript?: string;
  /** `--postbuild-script`: bash script run after data/ is complete. */
  postbuildScript?: string;
  /** `--no-cache`: neither read nor write the cache. */
  noCache?: boolean;
  /** `--cache-dir`; default {@link defaultCacheDir}. */
  cacheDir?: string;
}

/** Everything the build takes from the outside world, passed in (no globals). */
export interface BuildContext {
  /** Environment for build scripts, cache location (XDG_CACHE_HOME, HOME), TMPDIR, SOURCE_DATE_EPOCH. */
  env: NodeJS.ProcessEnv;
  /** Clock for `info.json` `built_at` when SOURCE_DATE_EPOCH is not set. */
  now: () => Date;
  /** Progress lines (build script output, cache hits). */
  log?: (line: string) => void;
}

/** Version of the dir builder's output; part of the cache key and of info.json `tools`. */
export const DIR_BUILDER_VERSION = '1';

/**
 * Builds SOURCE into `outDir/<package>-<version>-<platform>.tar.gz`, or copies it
 * from the cache when the same SOURCE content and options were built before.
 *
 * Reproducible: the tarball's bytes depend on SOURCE's content (paths, x bits, bytes,
 * link targets), the options, and `built_at` in info.json — which is
 * `SOURCE_DATE_EPOCH` (reproducible-builds.org) when set, else `ctx.now()`. Never on
 * file mtimes or owners.
 *
 * @returns the bundle (`path` is the file in outDir) and whether it came from the cache.
 * @throws BundleError for a missing SOURCE, no/invalid version or name, a failing build
 *   script, unsupported files, an unimplemented builder (`python`, `node`).
 */
export async function buildBundle(spec: BuildSpec, ctx: BuildContext): Promise<BundleInfo & { cached: boolean }> {
  const log = ctx.log ?? (() => {});
  const source = resolve(spec.source);
  const outDir = resolve(spec.outDir);
  if (spec.builder !== 'dir') {
    throw new BundleError(`${source}: the ${spec.builder} builder is not implemented yet (only "dir" is)`);
  }
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
    let text: Buffer;
    try {
      text = await readFile(path);
    } catch {
      throw new BundleError(`${which} script ${path}: not found`);
    }
    scriptHashes[which] = createHash('sha256').update(text).digest('hex');
  }

  const pkg = (await detectPackageName(source)).value;
  const version = (await detectVersion(source)).value;
  const platform = PLATFORM_ANY;
  const ident = formatBundleDir(pkg, version, platform);
  const entries = await listSourceFiles(source);
  const sourceHash = await hashSource(source, entries);
  const builtAt = resolveBuildTime(ctx);
  const key = computeCacheKey({
    builder: spec.builder,
    builderVersion: DIR_BUILDER_VERSION,
    sourceHash,
    prebuild: scriptHashes.prebuild,
    postbuild: scriptHashes.postbuild,
    sourceDateEpoch: ctx.env.SOURCE_DATE_EPOCH,
    node: process.versions.node,
  });
  const cacheDir = spec.cacheDir === undefined ? defaultCacheDir(ctx.env) : resolve(spec.cacheDir);
  const outFile = join(outDir, `${ident}.tar.gz`);

  if (!spec.noCache) {
    const hit = await lookupCache(cacheDir, key);
    if (hit) {
      await copyInto(hit.info.path, outFile);
      log(`bundle ${ident}: cache hit (${key.slice(0, 12)})`);
      return { ...hit.info, path: outFile, cached: true };
    }
  }

  const scratch = await mkdtemp(join(ctx.env.TMPDIR || tmpdir(), 'orch-bundle-'));
  try {
    const here = join(scratch, ident);
    const vars: BuildScriptVars = {
      HERE: here,
      DATA_DIR: join(here, DATA_DIR_NAME),
      SOURCE_DIR: source,
      SCRATCHPAD: join(scratch, 'scratchpad'),
      INSTALL_SCRIPT: join(scratch, 'install-script.sh'),
    };
    await mkdir(vars.DATA_DIR, { recursive: true });
    await mkdir(vars.SCRATCHPAD);
    await writeFile(vars.INSTALL_SCRIPT, '');
    if (scripts.prebuild) await runBuildScript('prebuild', scripts.prebuild, vars, ctx.env, log);
    await copySourceFiles(source, entries, vars.DATA_DIR);
    if (scripts.postbuild) await runBuildScript('postbuild', scripts.postbuild, vars, ctx.env, log);
    const manifest: BundleManifest = {
      package: pkg,
      version,
      platform,
      builder: spec.builder,
      built_at: builtAt,
      source_hash: sourceHash,
      tools: { 'orch-dir-builder': DIR_BUILDER_VERSION, node: process.versions.node },
      dependencies: [],
      files: await hashDataFiles(vars.DATA_DIR),
    };
    await writeLayout(here, manifest, renderDirInstallScript(ident, await readFile(vars.INSTALL_SCRIPT, 'utf8')));
    await createTarball(scratch, ident, outFile);
    // What we ship must pass the very check hosts run before unpacking.
    const info = await inspectArtifact(outFile);
    log(`bundle ${ident}: built ${info.size} bytes, sha256 ${info.sha256}`);
    if (!spec.noCache) await storeCache(cacheDir, key, info);
    return { ...info, cached: false };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `built_at`: SOURCE_DATE_EPOCH (seconds since 1970, reproducible-builds.org) when set, else ctx.now(). */
function resolveBuildTime(ctx: BuildContext): string {
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
