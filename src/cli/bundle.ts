/** `orch bundle`, `orch clean-cache`, `orch version bump`. */
import { resolve } from 'node:path';
import { cleanCache, defaultCacheDir } from '../bundle/cache.js';
import { bumpVersion } from '../bundle/version.js';
import type { VersionScheme } from '../bundle/version.js';
import { bundle } from '../library/bundle.js';
import { OrchError } from '../model/errors.js';
import { formatBytes } from '../ui/summary.js';

const out = (s: string): void => void process.stdout.write(s);

/** Options of `orch bundle` as commander parses them (see main.ts). */
export interface BundleCliOptions {
  builder: 'dir' | 'python' | 'node';
  out: string;
  format: string;
  python?: string;
  requirements?: string;
  pipOption?: string[];
  prebuildScript?: string;
  postbuildScript?: string;
  cache: boolean;
  cacheDir?: string;
  json?: boolean;
  package?: string;
  versionScheme?: VersionScheme;
}

/**
 * The build options that `orch bundle` and `orch publish` flags give, paths resolved
 * against the working directory (the `bundles:` keys of a playbook, by their CLI names).
 */
export function buildFlags(opts: Omit<BundleCliOptions, 'format'>): {
  builder: BundleCliOptions['builder']; outDir: string; noCache: boolean;
  prebuildScript?: string; postbuildScript?: string; python?: string; requirements?: string;
  pipOptions?: string[]; cacheDir?: string;
} {
  return {
    builder: opts.builder, outDir: resolve(opts.out),
    ...(opts.prebuildScript !== undefined && { prebuildScript: resolve(opts.prebuildScript) }),
    ...(opts.postbuildScript !== undefined && { postbuildScript: resolve(opts.postbuildScript) }),
    ...(opts.python !== undefined && { python: opts.python }),
    ...(opts.requirements !== undefined && { requirements: resolve(opts.requirements) }),
    ...(opts.pipOption !== undefined && { pipOptions: opts.pipOption }),
    noCache: opts.cache === false,
    ...(opts.cacheDir !== undefined && { cacheDir: resolve(opts.cacheDir) }),
  };
}

/**
 * `orch bundle SOURCE` (`--package`, `--version-scheme` as the playbook keys `package:`, `version:`): builds (or takes from the cache) the bundle and prints its
 * path, then `package version (platform), size, sha256 ...`; `--json` prints one JSON
 * object instead. Build progress (tool output, `python: building wheels...`, cache hits)
 * goes to stderr, line by line.
 */
export async function runBundle(source: string, opts: BundleCliOptions): Promise<void> {
  if (opts.format !== 'tar.gz' && opts.format !== 'dir') throw new OrchError(`--format takes tar.gz or dir (got ${JSON.stringify(opts.format)})`);
  const t0 = Date.now();
  const info = await bundle(source, {
    ...buildFlags(opts), format: opts.format,
    ...(opts.package !== undefined && { package: opts.package }),
    ...(opts.versionScheme !== undefined && { versionScheme: opts.versionScheme }),
    env: process.env,
    log: (l) => void process.stderr.write(`${l}\n`),
  });
  if (opts.json) return void out(`${JSON.stringify({ ...info, format: opts.format, ms: Date.now() - t0 })}\n`);
  const what = opts.format === 'dir' ? `folder of a ${formatBytes(info.size)} tarball` : formatBytes(info.size);
  out(`${info.path}\n  ${info.package} ${info.version} (${info.platform}), ${what}, sha256 ${info.sha256}${info.cached ? ', from cache' : ''}, ${((Date.now() - t0) / 1000).toFixed(2)} s\n`);
}

export async function runCleanCache(opts: { cacheDir?: string }): Promise<void> {
  const dir = opts.cacheDir ? resolve(opts.cacheDir) : defaultCacheDir(process.env);
  const r = await cleanCache(dir);
  out(`removed ${r.removed} cached bundle${r.removed === 1 ? '' : 's'} (${formatBytes(r.bytes)}) from ${dir}\n`);
}

export async function runVersionBump(part: string, source: string): Promise<void> {
  if (part !== 'major' && part !== 'minor' && part !== 'patch') throw new OrchError(`version bump takes major, minor or patch (got ${JSON.stringify(part)})`);
  const r = await bumpVersion(source, part);
  for (const f of r.files) out(`${f}: ${r.old} -> ${r.new}\n`);
}
