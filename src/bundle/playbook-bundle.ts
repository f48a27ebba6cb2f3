/**
 * A playbook's `bundles:` entry resolved on the control machine: built here (cached),
 * built on a build host (`build_on`), or a checked prebuilt `artifact`; and, for
 * `plan --offline`, what can be said of a `build_on` bundle without connecting.
 */
import { resolve } from 'node:path';
import type { BundleSpec } from '../model/playbook.js';
import { inspectArtifact } from './artifact.js';
import { buildBundle } from './build.js';
import type { BuildContext, BuildResult, BuildSpec } from './build.js';
import { BundleError } from './bundle-error.js';
import { formatBundleDir, PLATFORM_ANY } from './layout.js';
import type { BundleInfo } from './layout.js';
import { composeVersion, detectVersion, resolvePackageName } from './version.js';

/** The sha256 of a bundle not built yet (an offline plan's `build_on` bundle): 64 zeros, never a real tarball's. */
export const UNBUILT_SHA256 = '0'.repeat(64);

/** How {@link resolvePlaybookBundle} reaches the world. */
export interface ResolveBundleOptions {
  /** Where bundles are written (`dist/`). */
  outDir: string;
  ctx: BuildContext;
  /** `plan --offline`: never connect; a `build_on` bundle is described by {@link describeUnbuiltBundle}. */
  offline?: boolean;
  /** Builds `spec` on the inventory host or role `buildOn` (opens and closes the connection). */
  buildOn?: (buildOn: string, spec: BuildSpec) => Promise<BuildResult>;
}

/** The bundle, plus a note for the plan when it was not built (offline `build_on`). */
export type ResolvedBundle = BundleInfo & { note?: string };

/** The build options of a `bundles:` entry with a `source` (its keys, paths already absolute). */
export function buildSpecOf(spec: BundleSpec, outDir: string): BuildSpec {
  return {
    source: spec.source!,
    builder: spec.builder ?? 'dir',
    outDir: resolve(outDir),
    bundleName: spec.name,
    ...(spec.package !== undefined && { package: spec.package }),
    ...(spec.version !== undefined && { versionScheme: spec.version }),
    ...(spec.prebuild_script !== undefined && { prebuildScript: spec.prebuild_script }),
    ...(spec.postbuild_script !== undefined && { postbuildScript: spec.postbuild_script }),
    ...(spec.python !== undefined && { python: spec.python }),
    ...(spec.requirements !== undefined && { requirements: spec.requirements }),
    ...(spec.pip_options !== undefined && { pipOptions: spec.pip_options }),
  };
}

/**
 * Resolves one `bundles:` entry: an `artifact` is inspected (and must hold the
 * `package:` the entry names, if any); a `build_on` bundle is built through
 * `opts.buildOn` — or, with `opts.offline`, only described; anything else is built
 * here by `buildBundle`.
 * @throws BundleError from the build or the check; `artifact X holds package P, not Q`.
 */
export async function resolvePlaybookBundle(spec: BundleSpec, opts: ResolveBundleOptions): Promise<ResolvedBundle> {
  if (spec.artifact !== undefined) {
    const info = await inspectArtifact(spec.artifact);
    if (spec.package !== undefined && spec.package !== info.package) {
      throw new BundleError(`artifact ${info.path} holds package ${JSON.stringify(info.package)}, not ${JSON.stringify(spec.package)} as "package:" says`);
    }
    return info;
  }
  const buildSpec = buildSpecOf(spec, opts.outDir);
  if (spec.build_on !== undefined) {
    if (opts.offline) return describeUnbuiltBundle(buildSpec, spec.build_on, opts.ctx);
    if (!opts.buildOn) throw new BundleError('build_on needs a connection to the build host, and this command opens none');
    const { cached: _cached, ...info } = await opts.buildOn(spec.build_on, buildSpec);
    return info;
  }
  const { cached: _cached, ...info } = await buildBundle(buildSpec, opts.ctx);
  return info;
}

/**
 * What an offline plan can say of a `build_on` bundle without connecting: its
 * package name and version as far as SOURCE tells them locally (the
 * version scheme `git` works offline; `timestamp` is fixed only when it is built, as is
 * a python bundle's platform), `unknown` otherwise; sha256 {@link UNBUILT_SHA256}, size
 * 0, no path. `note` reads `built on HOST at apply`. Never throws for unreadable
 * metadata: that is reported in the note.
 */
export async function describeUnbuiltBundle(spec: BuildSpec, buildOn: string, ctx: BuildContext): Promise<ResolvedBundle> {
  const why: string[] = [];
  let pkg = 'unknown';
  let version = 'unknown';
  try {
    pkg = await resolvePackageName(spec.source, spec.package, spec.bundleName);
  } catch (err) {
    why.push((err as Error).message);
  }
  try {
    const base = (await detectVersion(spec.source)).value;
    if (spec.versionScheme === 'timestamp') why.push(`version ${base}+<timestamp of the build>`);
    else version = await composeVersion(spec.source, base, spec.versionScheme ?? 'file', ctx.now().toISOString(), ctx.env);
  } catch (err) {
    why.push((err as Error).message);
  }
  const platform = spec.builder === 'python' ? 'unknown' : PLATFORM_ANY;
  return {
    package: pkg, version, platform, sha256: UNBUILT_SHA256, size: 0, path: '', dir: formatBundleDir(pkg, version, platform),
    note: `built on ${buildOn} at apply${why.length ? ` (${why.join('; ')})` : ''}`,
  };
}
