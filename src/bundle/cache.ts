/**
 * The bundle cache: a finished tarball per build key, so an unchanged SOURCE is never
 * rebuilt (docs/reference/playbook.md "Bundles").
 *
 * Layout: `<cacheDir>/bundles/<key>/{bundle.json, <package>-<version>-<platform>.tar.gz}`.
 * An entry is written complete in `<cacheDir>/tmp/` and renamed into place (one
 * `rename(2)` of a folder), so readers never see half an entry and concurrent builders
 * of the same key cannot corrupt it: the loser's rename fails, it drops its copy and
 * uses the winner's. Entries a killed build half-stored in `tmp/` are removed by the next
 * store once their process is gone. Source: platter's wheel cache, content-addressed like git objects.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SourceEntry } from './dir-builder.js';
import { mapLimit, sha256File } from './layout.js';
import type { BundleInfo } from './layout.js';
import { normaliseMode } from './tarball.js';
import { sweepStaleTemps } from './temp-files.js';

/** Bumped whenever the bundle format or builders change what a key produces. */
export const CACHE_FORMAT = 'orch-bundle-cache-1';

/** A cached tarball: `info.path` is inside the cache (copy it out, never hand it to users to modify). */
export interface CachedBundle {
  key: string;
  info: BundleInfo;
}

/** `$XDG_CACHE_HOME/orch` when XDG_CACHE_HOME is set and absolute, else `$HOME/.cache/orch` (HOME from `env`, else the OS). */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'orch');
  return join(env.HOME || homedir(), '.cache', 'orch');
}

/**
 * Content hash of SOURCE (lowercase hex sha256) over `entries` in their (sorted)
 * order: for each, its type, POSIX path, normalised mode, and the sha256 of its bytes
 * (files) or its link target (symlinks). File mtimes, owners and ignored files do not
 * count.
 *
 * With `statCache` (a JSON file of the bundle cache, {@link sourceStatCacheFile}), a
 * file whose lstat fingerprint (size, mtime, ctime, inode, device) is the one recorded
 * with its sha256 is not read again — git's index, racy-git rule included: a file
 * modified (mtime) less than {@link RACY_MS} before the hashing started is never
 * recorded, so an edit within the same timestamp tick cannot be missed; any later
 * write changes the ctime, so the record no longer applies. The file is rewritten (temp
 * name + rename) when it changed; an unreadable or damaged one counts as empty.
 */
export async function hashSource(source: string, entries: readonly SourceEntry[], statCache?: string): Promise<string> {
  const started = Date.now();
  const known = statCache ? await readStatCache(statCache) : new Map<string, [string, string]>();
  const next = new Map<string, [string, string]>();
  const bodies = await mapLimit(entries, 16, async (e) => {
    if (e.type !== 'file') return e.type === 'symlink' ? (e.target ?? '') : '';
    const fp = e.stat?.fingerprint;
    const hit = fp !== undefined ? known.get(e.path) : undefined;
    const sum = hit && hit[0] === fp ? hit[1] : await sha256File(join(source, e.path));
    if (fp !== undefined && e.stat!.mtimeMs < started - RACY_MS) next.set(e.path, [fp, sum]);
    return sum;
  });
  const hash = createHash('sha256');
  entries.forEach((e, i) => {
    const mode = normaliseMode(e.mode, e.type).toString(8);
    hash.update(`${e.type}\0${e.path}\0${mode}\0${bodies[i] ?? ''}\n`);
  });
  if (statCache && !sameStatCache(known, next)) await writeStatCache(statCache, next);
  return hash.digest('hex');
}

/** Files modified this recently (ms) before a hashing started are hashed again next time. */
export const RACY_MS = 2000;

/** The source hash cache file of SOURCE (absolute path) in `cacheDir`: `sources/<sha256 of the path>.json`. */
export function sourceStatCacheFile(cacheDir: string, source: string): string {
  return join(cacheDir, 'sources', `${createHash('sha256').update(source).digest('hex')}.json`);
}

/** `{ "v": 1, "files": { PATH: [FINGERPRINT, SHA256] } }`; empty when absent or damaged. */
async function readStatCache(file: string): Promise<Map<string, [string, string]>> {
  try {
    const j = JSON.parse(await readFile(file, 'utf8')) as { v?: unknown; files?: Record<string, unknown> };
    if (j.v !== 1 || typeof j.files !== 'object' || j.files === null) return new Map();
    const out = new Map<string, [string, string]>();
    for (const [p, v] of Object.entries(j.files)) {
      if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' && KEY_RE.test(v[1])) out.set(p, [v[0], v[1]]);
    }
    return out;
  } catch {
    return new Map();
  }
}

function sameStatCache(a: Map<string, [string, string]>, b: Map<string, [string, string]>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of b) {
    const o = a.get(k);
    if (!o || o[0] !== v[0] || o[1] !== v[1]) return false;
  }
  return true;
}

async function writeStatCache(file: string, files: Map<string, [string, string]>): Promise<void> {
  try {
    await mkdir(join(file, '..'), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, JSON.stringify({ v: 1, files: Object.fromEntries(files) }));
    await rename(tmp, file);
  } catch {
    // A cache that cannot be written only costs the next run its reads.
  }
}

/**
 * The cache key (hex sha256) of a build: {@link CACHE_FORMAT} plus `parts` (source
 * hash, builder, hashes of build scripts, options...) serialised as JSON with sorted keys.
 */
export function computeCacheKey(parts: Record<string, string | number | boolean | null | undefined>): string {
  const sorted = Object.keys(parts)
    .sort()
    .map((k) => [k, parts[k] ?? null]);
  return createHash('sha256').update(JSON.stringify([CACHE_FORMAT, sorted])).digest('hex');
}

const KEY_RE = /^[0-9a-f]{64}$/;

/**
 * The cached bundle of `key`, or undefined when absent or damaged (the tarball's
 * sha256 no longer matches the entry: treated as a miss and rebuilt).
 *
 * The tarball is hashed once: its fingerprint (size, mtime, ctime, inode, device) is
 * then recorded beside it (`verified`), and a later lookup that finds the same
 * fingerprint does not read it again (git's index; any write to the file changes its
 * ctime). A 5 MiB bundle cost every run about 30 ms of CPU here; a 500 MiB one, seconds.
 * The host still checks the sha256 of what it receives.
 */
export async function lookupCache(cacheDir: string, key: string): Promise<CachedBundle | undefined> {
  if (!KEY_RE.test(key)) return undefined;
  const dir = join(cacheDir, 'bundles', key);
  let info: BundleInfo;
  try {
    info = JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8')) as BundleInfo;
  } catch {
    return undefined;
  }
  const path = join(dir, `${info.dir}.tar.gz`);
  try {
    const st = await stat(path);
    const fp = `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${st.dev} ${info.sha256}`;
    const verified = join(dir, 'verified');
    if ((await readFile(verified, 'utf8').catch(() => '')) !== fp) {
      if ((await sha256File(path)) !== info.sha256) return undefined;
      const tmp = `${verified}.${process.pid}.${randomBytes(6).toString('hex')}`;
      try {
        await writeFile(tmp, fp);
        await rename(tmp, verified);
      } catch {
        // A cache: when the record cannot be written, the next lookup hashes again.
        await rm(tmp, { force: true });
      }
    }
  } catch {
    return undefined;
  }
  return { key, info: { ...info, path } };
}

/**
 * Stores a copy of tarball `info.path` under `key`. When another process stored the
 * same key first, keeps theirs and returns it.
 */
export async function storeCache(cacheDir: string, key: string, info: BundleInfo): Promise<CachedBundle> {
  const tmpRoot = join(cacheDir, 'tmp');
  await mkdir(tmpRoot, { recursive: true });
  // Entries half-stored by a killed build (`<key>.<pid>.<hex>`): removed once their process is gone.
  await sweepStaleTemps(tmpRoot, { parse: (n) => { const m = /^[0-9a-f]{64}\.(\d+)\.[0-9a-f]+$/.exec(n); return m ? Number(m[1]) : undefined; } });
  await mkdir(join(cacheDir, 'bundles'), { recursive: true });
  const tmp = join(tmpRoot, `${key}.${process.pid}.${randomBytes(6).toString('hex')}`);
  await mkdir(tmp);
  const final = join(cacheDir, 'bundles', key);
  try {
    await copyFile(info.path, join(tmp, `${info.dir}.tar.gz`));
    await writeFile(join(tmp, 'bundle.json'), `${JSON.stringify({ ...info, path: '' }, null, 2)}\n`);
    try {
      await rename(tmp, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      const winner = await lookupCache(cacheDir, key);
      if (winner) return winner;
      // A damaged entry: replace it.
      await rm(final, { recursive: true, force: true });
      await rename(tmp, final);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { key, info: { ...info, path: join(final, `${info.dir}.tar.gz`) } };
}

/**
 * `orch clean-cache`: removes every cached bundle (and leftovers of interrupted
 * stores), the source hash records and the speculative facts memos
 * (src/engine/facts-memo.ts) from `cacheDir`. Other files in `cacheDir` are left alone.
 * @returns how many entries were removed and their total size in bytes.
 */
export async function cleanCache(cacheDir: string): Promise<{ removed: number; bytes: number }> {
  let removed = 0;
  let bytes = 0;
  for (const sub of ['bundles', 'tmp', 'sources', 'facts']) {
    let names: string[];
    try {
      names = await readdir(join(cacheDir, sub));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const n of names) {
      const dir = join(cacheDir, sub, n);
      try {
        const st = await stat(dir);
        if (st.isDirectory()) for (const f of await readdir(dir)) bytes += (await stat(join(dir, f))).size;
        else bytes += st.size;
      } catch {
        // vanished: just remove it
      }
      await rm(dir, { recursive: true, force: true });
      if (sub === 'bundles') removed++;
    }
  }
  return { removed, bytes };
}
