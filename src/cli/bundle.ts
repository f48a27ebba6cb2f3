/** `orch bundle`, `orch clean-cache`, `orch version bump`. */
import { resolve } from 'node:path';
import { buildBundle } from '../bundle/build.js';
import { cleanCache, defaultCacheDir } from '../bundle/cache.js';
import { bumpVersion } from '../bundle/version.js';
import { OrchError } from '../model/errors.js';
import { formatBytes } from '../ui/summary.js';

const out = (s: string): void => void process.stdout.write(s);

export async function runBundle(source: string, opts: { builder: 'dir' | 'python' | 'node'; out: string; format: string; prebuildScript?: string; postbuildScript?: string; cache: boolean; cacheDir?: string; json?: boolean }): Promise<void> {
  if (opts.format !== 'tar.gz') throw new OrchError('--format dir is not supported yet; use tar.gz');
  const t0 = Date.now();
  const info = await buildBundle(
    {
      source, builder: opts.builder, outDir: resolve(opts.out),
      ...(opts.prebuildScript !== undefined && { prebuildScript: resolve(opts.prebuildScript) }),
      ...(opts.postbuildScript !== undefined && { postbuildScript: resolve(opts.postbuildScript) }),
      noCache: opts.cache === false,
      ...(opts.cacheDir !== undefined && { cacheDir: resolve(opts.cacheDir) }),
    },
    { env: process.env, now: () => new Date(), log: (l) => void process.stderr.write(`${l}\n`) },
  );
  if (opts.json) return void out(`${JSON.stringify({ ...info, ms: Date.now() - t0 })}\n`);
  out(`${info.path}\n  ${info.package} ${info.version} (${info.platform}), ${formatBytes(info.size)}, sha256 ${info.sha256}${info.cached ? ', from cache' : ''}, ${((Date.now() - t0) / 1000).toFixed(2)} s\n`);
}

export async function runCleanCache(opts: { cacheDir?: string }): Promise<void> {
  const dir = opts.cacheDir ? resolve(opts.cacheDir) : defaultCacheDir(process.env);
  const r = await cleanCache(dir);
  out(`removed ${r.removed} cached bundle${r.removed === 1 ? '' : 's'} (${formatBytes(r.bytes)}) from ${dir}\n`);
}

export async function runVersionBump(part: string, source: string): Promise<void> {
  if (part !== 'major' && part !== 'minor' && part !== 'patch') throw new OrchError(`version bump takes major, minor or patch (got ${JSON.stringify(part)})`);
  const r = await bumpVersion(source, part);
  out(`${r.file}: ${r.old} -> ${r.new}\n`);
}
