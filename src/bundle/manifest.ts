/**
 * The file manifest of a bundle: path, type, mode, size and sha256 of every member,
 * computed on the control machine from the tarball (node-tar 7), and the same text the
 * host computes from an unpacked or rebuilt folder (`orch_delta_manifest` in
 * src/host/delta.sh). Delta releases (docs/how-it-works.md "Delta releases") compare the two.
 *
 * ## Text format (`versions/<V>/.orch-manifest`), version 1
 *
 * One line per member below the bundle's top folder (the top folder itself is not
 * listed), five fields separated by one TAB, lines ending in `\n`, sorted by the bytes
 * of the path (so `LC_ALL=C sort` of the lines gives the same order: TAB sorts below
 * every character a path may hold):
 *
 * ```
 * PATH<TAB>f<TAB>MODE<TAB>SIZE<TAB>SHA256     regular file
 * PATH<TAB>d<TAB>MODE<TAB>-<TAB>-             folder
 * PATH<TAB>l<TAB>-<TAB>-<TAB>TARGET           symlink
 * ```
 *
 * PATH is relative to the top folder (`data/app.py`); MODE is the permission bits in
 * octal without leading zeros, as GNU find's `%m` prints them, after the umask 022 the
 * host's tar applies (`644`, `755`); SIZE is in bytes; SHA256 is lowercase hex. Folders
 * only implied by a member's path are listed with mode 755 (what tar creates). A path or
 * symlink target holding a control character (TAB, newline...) has no manifest: such a
 * bundle always travels as the full tarball.
 *
 * Source: the idea of a file manifest per release beside a content store is git's
 * tree + object store and casync's index + chunk store, reduced to whole files.
 */
import { createHash } from 'node:crypto';
import { t as listTar } from 'tar';
import type { ReadEntry } from 'tar';

/** One member of a bundle, relative to its top folder. */
export type ManifestEntry =
  | { path: string; type: 'f'; mode: number; size: number; sha256: string }
  | { path: string; type: 'd'; mode: number }
  | { path: string; type: 'l'; target: string };

/** A bundle's manifest: its top folder and its members in manifest order. */
export interface BundleManifest {
  /** The tarball's one top folder (`hello-1.0.0-linux-x86_64`). */
  top: string;
  entries: ManifestEntry[];
}

/** Why a tarball has no manifest (delta transfer is then not used for it). */
export class ManifestUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestUnsupportedError';
  }
}

/** Names or targets that the text format cannot carry (control characters). */
const UNSAFE_TEXT = /[\u0000-\u001f\u007f]/;

function normaliseName(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  while (n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

/** Bytewise comparison of paths (what `LC_ALL=C sort` does). */
function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Reads a bundle tarball (`.tar.gz`) and returns its manifest. Every regular member is
 * read once and hashed with sha256; `members`, when given, receives each regular
 * member's content keyed by its sha256 (for building a delta stream in the same pass).
 *
 * @throws ManifestUnsupportedError when the tarball has no single top folder, holds a
 *   member type other than file/folder/symlink, a duplicate member, or a name the text
 *   format cannot carry. Unreadable tarballs reject with node-tar's error.
 */
export async function readBundleManifest(tarball: string, members?: Map<string, Buffer>, want?: (sha256: string) => boolean): Promise<BundleManifest> {
  const raw: Array<{ name: string; entry: ManifestEntry }> = [];
  const pending: Array<Promise<void>> = [];
  let problem: string | undefined;
  await listTar({
    file: tarball,
    onReadEntry: (entry: ReadEntry) => {
      const name = normaliseName(entry.path);
      const mode = ((entry.mode ?? 0o644) & 0o7777) & ~0o022;
      if (UNSAFE_TEXT.test(name) || (entry.linkpath !== undefined && UNSAFE_TEXT.test(entry.linkpath))) {
        problem ??= `member ${JSON.stringify(entry.path)}: a control character in its name or target`;
        entry.resume();
        return;
      }
      if (entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile') {
        const hash = createHash('sha256');
        const chunks: Buffer[] = [];
        pending.push(new Promise<void>((resolve, reject) => {
          entry.on('data', (c: Buffer) => { hash.update(c); if (members) chunks.push(c); });
          entry.on('end', () => {
            const sha256 = hash.digest('hex');
            if (members && (!want || want(sha256)) && !members.has(sha256)) members.set(sha256, Buffer.concat(chunks));
            raw.push({ name, entry: { path: name, type: 'f', mode, size: entry.size ?? 0, sha256 } });
            resolve();
          });
          entry.on('error', reject);
        }));
        return;
      }
      if (entry.type === 'Directory') raw.push({ name, entry: { path: name, type: 'd', mode } });
      else if (entry.type === 'SymbolicLink') raw.push({ name, entry: { path: name, type: 'l', target: entry.linkpath ?? '' } });
      else problem ??= `member ${JSON.stringify(entry.path)}: type ${entry.type} (only files, folders and symlinks)`;
      entry.resume();
    },
  });
  await Promise.all(pending);
  if (problem) throw new ManifestUnsupportedError(problem);
  const tops = new Set(raw.map((r) => r.name.split('/')[0]).filter((n) => n !== '' && n !== '.'));
  if (tops.size !== 1) throw new ManifestUnsupportedError(`expected one top folder, found ${tops.size}`);
  const top = [...tops][0]!;
  const byPath = new Map<string, ManifestEntry>();
  for (const { name, entry } of raw) {
    if (name === top || name === '' || name === '.') continue;
    const rel = name.slice(top.length + 1);
    if (byPath.has(rel)) throw new ManifestUnsupportedError(`duplicate member ${JSON.stringify(name)}`);
    byPath.set(rel, { ...entry, path: rel });
  }
  // Folders implied by a member's path are created by tar with mode 0777 & ~umask.
  for (const rel of [...byPath.keys()]) {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, type: 'd', mode: 0o755 });
    }
  }
  const entries = [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
  return { top, entries };
}

/** One manifest line (no newline); see the format above. */
export function formatManifestEntry(e: ManifestEntry): string {
  switch (e.type) {
    case 'f': return `${e.path}\tf\t${e.mode.toString(8)}\t${e.size}\t${e.sha256}`;
    case 'd': return `${e.path}\td\t${e.mode.toString(8)}\t-\t-`;
    case 'l': return `${e.path}\tl\t-\t-\t${e.target}`;
  }
}

/** The manifest's text: one line per entry, each ending in `\n`. */
export function formatManifest(m: BundleManifest): string {
  return m.entries.map((e) => `${formatManifestEntry(e)}\n`).join('');
}

/** sha256 (hex) of the manifest's text: what the host's rebuilt folder must hash to. */
export function manifestSha256(m: BundleManifest): string {
  return createHash('sha256').update(formatManifest(m)).digest('hex');
}

/**
 * Parses manifest text (the format above) back into entries.
 * @throws Error `manifest line N: ...` naming what is wrong.
 */
export function parseManifest(text: string, top: string): BundleManifest {
  const entries: ManifestEntry[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    const f = line.split('\t');
    const where = `manifest line ${i + 1}`;
    if (f.length !== 5) throw new Error(`${where}: expected 5 TAB-separated fields, got ${f.length}`);
    const [path, type, mode, size, last] = f as [string, string, string, string, string];
    if (path === '') throw new Error(`${where}: empty path`);
    if (type === 'f') {
      if (!/^[0-7]+$/.test(mode) || !/^\d+$/.test(size) || !/^[0-9a-f]{64}$/.test(last)) throw new Error(`${where}: a file needs octal mode, size in bytes and a sha256`);
      entries.push({ path, type: 'f', mode: parseInt(mode, 8), size: Number(size), sha256: last });
    } else if (type === 'd') {
      if (!/^[0-7]+$/.test(mode)) throw new Error(`${where}: a folder needs an octal mode`);
      entries.push({ path, type: 'd', mode: parseInt(mode, 8) });
    } else if (type === 'l') {
      entries.push({ path, type: 'l', target: last });
    } else {
      throw new Error(`${where}: unknown type ${JSON.stringify(type)} (f, d or l)`);
    }
  });
  return { top, entries };
}
