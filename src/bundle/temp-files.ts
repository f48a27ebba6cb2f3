/**
 * Temp names in output folders (`dist/`) and the removal of those a killed build left.
 *
 * Every file or folder orch writes into an output folder first gets a hidden temp name
 * `.<final name>.<pid>.<12 hex>.tmp` next to its final place and is then renamed, so a
 * reader never sees half a tarball. A build killed meanwhile (SIGKILL, power loss)
 * leaves that temp behind; the next build into the same folder removes it when its
 * pid is no longer running on this machine, or when it is older than
 * {@link STALE_TEMP_AGE_MS} (a pid may have been reused). The pid-in-the-name idea is the one of lock files (`proper-lockfile`, git's `*.lock`).
 */
import { randomBytes } from 'node:crypto';
import { lstat, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temp entries older than this are removed even when their pid runs (pid reuse): 24 hours, in ms. */
export const STALE_TEMP_AGE_MS = 24 * 60 * 60 * 1000;

/** `.<name>.<pid>.<hex>.tmp` with a capture of `<pid>`. */
const TEMP_RE = /^\..+\.(\d+)\.[0-9a-f]{8,}\.tmp$/;

/** A fresh temp path next to `finalPath`: `<dir>/.<base>.<pid>.<12 hex>.tmp`. */
export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Whether `name` is a temp name of {@link tempPathFor}; returns its pid or undefined. */
export function parseTempName(name: string): number | undefined {
  const m = TEMP_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Whether process `pid` exists on this machine (`kill(pid, 0)`: EPERM = exists, owned by another user). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files and folders ({@link tempPathFor} names, or those `opts.parse`
 * finds a pid in) in `dir` whose pid is
 * not running, or whose mtime is older than `maxAgeMs`; this process's own temps are
 * kept. A missing `dir` is fine. Errors removing one entry are ignored (another run may
 * have removed it first).
 * @returns the names removed, sorted.
 */
export async function sweepStaleTemps(dir: string, opts: { now?: () => number; maxAgeMs?: number; alive?: (pid: number) => boolean; parse?: (name: string) => number | undefined } = {}): Promise<string[]> {
  const now = (opts.now ?? Date.now)();
  const parse = opts.parse ?? parseTempName;
  const maxAge = opts.maxAgeMs ?? STALE_TEMP_AGE_MS;
  const alive = opts.alive ?? isProcessAlive;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = parse(name);
    if (pid === undefined || pid === process.pid) continue;
    let mtime: number;
    try {
      mtime = (await lstat(join(dir, name))).mtimeMs;
    } catch {
      continue;
    }
    if (alive(pid) && now - mtime < maxAge) continue;
    try {
      await rm(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // vanished or not ours to remove: leave it
    }
  }
  return removed.sort();
}
