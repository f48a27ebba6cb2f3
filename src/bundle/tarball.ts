/**
 * Reproducible tar.gz archives (node-tar 7).
 *
 * Source: reproducible-builds.org "Archive metadata" (sorted members, fixed mtime,
 * numeric owner 0/0, no user names) and platter's `create_archive` (temp name in the
 * output folder, then rename).
 */
import { lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { create } from 'tar';
import type { WriteEntry } from 'tar';
import { BundleError } from './bundle-error.js';
import { compareNames, sha256File } from './layout.js';
import { tempPathFor } from './temp-files.js';

/** mtime written for every member: 2000-01-01T00:00:00Z (file mtimes never leak in). */
export const TAR_MTIME = new Date('2000-01-01T00:00:00Z');

/**
 * Normalised permission bits of a member: folders 0755, files 0755 when any execute
 * bit is set else 0644, symlinks 0755 (what node-tar's portable mode writes; Linux
 * ignores a symlink's mode). setuid/setgid/sticky are dropped.
 */
export function normaliseMode(mode: number, kind: 'dir' | 'file' | 'symlink'): number {
  if (kind === 'dir') return 0o755;
  if (kind === 'symlink') return 0o755;
  return mode & 0o111 ? 0o755 : 0o644;
}

/**
 * Lists `top` and everything below it (relative to `baseDir`), folders before their
 * contents, siblings in byte order. Only folders, regular files and symlinks are allowed.
 * @throws BundleError `<path>: unsupported file type (only files, folders and symlinks are bundled)`
 */
export async function listMembers(baseDir: string, top: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    const st = await lstat(join(baseDir, rel));
    out.push(rel);
    if (st.isDirectory()) {
      for (const n of (await readdir(join(baseDir, rel))).sort(compareNames)) await visit(`${rel}/${n}`);
    } else if (!st.isFile() && !st.isSymbolicLink()) {
      throw new BundleError(`${join(baseDir, rel)}: unsupported file type (only files, folders and symlinks are bundled)`);
    }
  };
  await visit(top);
  return out;
}

/**
 * Packs folder `baseDir/top` into `outFile` (gzip), reproducibly: members sorted,
 * mtime {@link TAR_MTIME}, uid/gid 0, empty uname/gname, modes normalised by
 * {@link normaliseMode}, symlinks stored as symlinks, hard links stored as plain
 * files. Same tree (names, bytes, x bits, link targets) => byte-identical file.
 * Writes to a hidden temp name next to `outFile`, then renames it into place.
 * @returns sha256 (hex) and size in bytes of the written file.
 */
export async function createTarball(baseDir: string, top: string, outFile: string): Promise<{ sha256: string; size: number }> {
  const members = await listMembers(baseDir, top);
  await mkdir(dirname(outFile), { recursive: true });
  const tmp = tempPathFor(outFile);
  // A link cache that never remembers: files with nlink > 1 are stored as files,
  // never as hard-link members (which every checker refuses).
  const noLinks = new Map<`${number}:${number}`, string>();
  noLinks.set = function set() {
    return this;
  };
  try {
    // sync: node-tar 7.5.23's async Pack can stall or write after end on trees holding
    // multiply-linked files (its "pending links" deferral); the sync Pack never defers.
    create(
      {
        file: tmp,
        sync: true,
        cwd: baseDir,
        gzip: { level: 9 },
        portable: true,
        noDirRecurse: true,
        mtime: TAR_MTIME,
        linkCache: noLinks,
        onWriteEntry: (entry: WriteEntry) => {
          const st = entry.stat;
          if (!st) return;
          const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
          st.mode = (st.mode & ~0o7777) | normaliseMode(st.mode, kind);
          // portable mode leaves folders without mtime; give every member the same one.
          entry.noMtime = false;
        },
      },
      members,
    );
    await rename(tmp, outFile);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { sha256: await sha256File(outFile), size: (await stat(outFile)).size };
}
