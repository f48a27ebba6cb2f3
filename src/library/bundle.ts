/**
 * `bundle` of the library: builds (or takes from the cache) the bundle of a SOURCE folder,
 * as `orch bundle` does (src/bundle/build.ts): `<package>-<version>-<platform>.tar.gz` with
 * its info.json, or the unpacked folder with `format: 'dir'`.
 */
import { resolve } from 'node:path';
import { buildBundle, type BuildResult, type BuildSpec } from '../bundle/build.js';

/** bundle's options: the `orch bundle` flags, plus where output and progress go. */
export interface BundleOptions extends Omit<BuildSpec, 'source' | 'outDir' | 'builder' | 'bundleName'> {
  /** `--builder` (default `dir`). */
  builder?: BuildSpec['builder'];
  /** Where the bundle is written (`--out`, default `dist`), relative to `cwd`. */
  outDir?: string;
  /** Folder that relative paths resolve against (default the process's). */
  cwd?: string;
  /** Environment of the build tools and scripts (PATH), cache location (default process.env, only read). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines: build tool and script output, cache hits (default: dropped). */
  log?: (line: string) => void;
}

/** Builds the bundle of `source`. @returns its path, package, version, platform, size, sha256 and whether it came from the cache. @throws BundleError, OrchError. */
export function bundle(source: string, options: BundleOptions = {}): Promise<BuildResult> {
  const cwd = options.cwd ?? process.cwd();
  const at = (p: string): string => resolve(cwd, p);
  const { cwd: _cwd, env, log, outDir, builder, ...spec } = options;
  return buildBundle(
    {
      ...spec,
      // Relative to the process's folder unless `cwd` is given (as given, so messages name it as the caller did).
      source: options.cwd === undefined ? source : at(source),
      builder: builder ?? 'dir',
      outDir: at(outDir ?? 'dist'),
      ...(spec.prebuildScript !== undefined && { prebuildScript: at(spec.prebuildScript) }),
      ...(spec.postbuildScript !== undefined && { postbuildScript: at(spec.postbuildScript) }),
      ...(spec.requirements !== undefined && { requirements: at(spec.requirements) }),
      ...(spec.cacheDir !== undefined && { cacheDir: at(spec.cacheDir) }),
    },
    { env: env ?? process.env, now: () => new Date(), cwd, ...(log && { log }) },
  );
}
