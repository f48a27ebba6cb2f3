/**
 * The delta payload of a release (docs/how-it-works.md "Delta releases"): ONE tar stream that the
 * host unpacks in `<root>/.orch/` with GNU tar, rebuilding the bundle folder from the
 * objects it already holds plus the members it lacks. The stream is gzip'd unless that
 * saves less than an eighth of its bytes (an incompressible object and a few headers):
 * then it travels plain and the host starts no gzip for it (the host tells the two
 * apart by gzip's magic bytes, src/host/delta.sh).
 *
 * ## Stream format (version 1), member order as listed
 *
 * ```
 * objects/<sha256>                regular file: a member's content the host lacks (once per sha256)
 * unpack.delta/<top>/             folder (mode)
 * unpack.delta/<top>/<path>/      folder (mode)
 * unpack.delta/<top>/<path>       hard link to objects/<sha256>: a regular member
 * unpack.delta/<top>/<path>       symlink (target)
 * unpack.delta.remove             (with a base tree) NUL-separated paths to delete from the base copy
 * unpack.delta.info.json.patch    (with a base tree) line patch turning the base's info.json into this one's
 * ```
 *
 * `info.json` lists the sha256 of every data file and changes with every build (version,
 * built_at, source hash): with 2,000 files it is 170 KB that would travel whole each
 * release. When the host sent its base's `info.json` with the facts, the stream carries
 * a line patch instead (one op line each, applied by awk on the host):
 * `= N` copy N lines of the base, `- N` skip N lines, `+ N` then N new lines. The result
 * is checked like every other member (the rebuilt folder's manifest hash).
 *
 * With a base (a release whose bundle folder the host keeps in `<root>/.orch/trees/<V>`,
 * hard links to its objects), the host first copies that tree with `cp -al` (one
 * process), deletes the paths of `unpack.delta.remove`, and the stream lists only the
 * members that changed: an upgrade with one changed file costs one object and one link.
 * Without a base, every member is listed.
 *
 * Unpacking it (`tar -xf STREAM` in <root>/.orch) puts new objects into the content store
 * and hard-links every file of the release folder to its object in one process (no
 * fork per file). The host then checks the listing and computes the rebuilt folder's
 * manifest (`orch_delta_manifest`): its sha256 must equal the one the control machine
 * computed from the tarball (`manifestSha256`), so a missing, corrupted or differently
 * moded object is detected and the full tarball is sent instead (exit 99).
 * The manifest text itself never travels: the host writes the one it computed, which
 * is byte for byte the control machine's when the hashes agree.
 *
 * Source: GNU tar's hard-link members (typeflag '1', link name relative to the
 * extraction folder); rsync's "send only what the receiver lacks" at file granularity.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { diffArrays } from 'diff';
import { Header, Pax } from 'tar';
import type { HeaderData } from 'tar';
import type { BundleManifest, ManifestEntry } from './manifest.js';
import { ManifestUnsupportedError } from './manifest.js';

/** Folder (under `<root>/.orch/`) the stream rebuilds the bundle's top folder in. */
export const DELTA_UNPACK_DIR = 'unpack.delta';
/** Folder (under `<root>/.orch/`) of the content store. */
export const OBJECTS_DIR = 'objects';

const MTIME = new Date('2000-01-01T00:00:00Z');

function headerBlocks(data: HeaderData): Buffer[] {
  const full: HeaderData = { uid: 0, gid: 0, mtime: MTIME, size: 0, ...data };
  const block = Buffer.alloc(512);
  const h = new Header(full);
  if (!h.encode(block, 0)) return [block];
  const pax = new Pax({ path: full.path, linkpath: full.linkpath, mtime: full.mtime, size: full.size, mode: full.mode, uid: 0, gid: 0 }).encode();
  return [pax, block];
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

/**
 * The least part of a delta stream's bytes gzip must save for the stream to be sent
 * gzip'd (1/8); below it the host's gzip processes cost more than the bytes.
 */
export const GZIP_MIN_SAVING = 1 / 8;

/** What a delta sends to one host. */
export interface DeltaPayload {
  /** The tar stream (format above), gzip'd unless that saves less than {@link GZIP_MIN_SAVING} of it. */
  stream: Buffer;
  /** sha256 of the objects it carries (the host lacked them). */
  sent: string[];
  /** Uncompressed bytes of those objects' content. */
  contentBytes: number;
}

/**
 * The sha256 of every regular member the host lacks (`have` = the objects it holds),
 * each once, in manifest order.
 */
export function missingObjects(m: BundleManifest, have: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const e of m.entries) {
    if (e.type !== 'f' || have.has(e.sha256) || seen.has(e.sha256)) continue;
    seen.add(e.sha256);
    out.push(e.sha256);
  }
  return out;
}

/** Paths removed from a base tree before the stream's members are unpacked over it. */
export const DELTA_REMOVE_FILE = 'unpack.delta.remove';
/** The member of the bundle sent as a line patch over the base's copy, and the patch's name in the stream. */
export const PATCHED_MEMBER = 'info.json';
export const DELTA_PATCH_FILE = 'unpack.delta.info.json.patch';

/**
 * A line patch from `base` to `next` (format in the module docstring), or undefined
 * when either is not newline-terminated text without NUL bytes. Bytes are kept as they
 * are (latin1 round trip). Source: the edit script of Myers' diff (npm `diff`'s diffArrays).
 */
export function linePatch(base: Buffer, next: Buffer): Buffer | undefined {
  if (base.includes(0) || next.includes(0)) return undefined;
  const a = base.toString('latin1');
  const b = next.toString('latin1');
  if (!a.endsWith('\n') || !b.endsWith('\n')) return undefined;
  let out = '';
  for (const part of diffArrays(a.slice(0, -1).split('\n'), b.slice(0, -1).split('\n'))) {
    if (part.added) out += `+ ${part.value.length}\n${part.value.map((l) => `${l}\n`).join('')}`;
    else if (part.removed) out += `- ${part.value.length}\n`;
    else out += `= ${part.value.length}\n`;
  }
  return Buffer.from(out, 'latin1');
}

function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'f' && b.type === 'f') return a.sha256 === b.sha256 && a.mode === b.mode;
  if (a.type === 'l' && b.type === 'l') return a.target === b.target;
  if (a.type === 'd' && b.type === 'd') return a.mode === b.mode;
  return false;
}

/**
 * What changes from `base` to `next`: `remove` = paths (relative to the top folder) to
 * delete from a copy of the base tree (gone, or changed), `add` = entries to unpack over
 * it. `undefined` when a folder changes mode or type (then the stream lists everything).
 */
export function diffManifests(base: BundleManifest, next: BundleManifest): { remove: string[]; add: ManifestEntry[] } | undefined {
  const old = new Map(base.entries.map((e) => [e.path, e]));
  const now = new Map(next.entries.map((e) => [e.path, e]));
  const remove: string[] = [];
  const add: ManifestEntry[] = [];
  for (const e of base.entries) {
    const n = now.get(e.path);
    if (n && sameEntry(e, n)) continue;
    if (e.type === 'd' && n) return undefined;
    if (n?.type === 'd') return undefined;
    // A removed folder's members go with it: list only the outermost removed path.
    if (!remove.some((r) => e.path.startsWith(`${r}/`))) remove.push(e.path);
  }
  for (const e of next.entries) {
    const o = old.get(e.path);
    if (!o || !sameEntry(o, e)) add.push(e);
  }
  return { remove, add };
}

/**
 * Builds the delta stream for a host holding the objects `have` and, when `base` is
 * given, the bundle folder of that release in `<root>/.orch/trees/<base.version>`.
 * With a base the stream carries only what changed: `unpack.delta.remove` (NUL-separated
 * paths the host deletes from its hard-linked copy of the base tree) and the changed
 * members; without one, every member (hard links to objects). `content` maps sha256 to
 * bytes for (at least) every missing object, as `readBundleManifest(file, content)`
 * fills it.
 *
 * @throws ManifestUnsupportedError when two members share content but not mode (one
 *   inode cannot carry both modes: the full tarball is used), or a missing object's
 *   content was not given.
 */
export function buildDeltaStream(m: BundleManifest, have: ReadonlySet<string>, content: ReadonlyMap<string, Buffer>, base?: { version: string; manifest: BundleManifest; infoJson?: Buffer }): DeltaPayload & { base?: string } {
  const modeOf = new Map<string, number>();
  for (const e of m.entries) {
    if (e.type !== 'f') continue;
    const seen = modeOf.get(e.sha256);
    if (seen !== undefined && seen !== e.mode) throw new ManifestUnsupportedError(`members with the same content but modes ${seen.toString(8)} and ${e.mode.toString(8)} (${e.path})`);
    modeOf.set(e.sha256, e.mode);
  }
  const diff = base && diffManifests(base.manifest, m);
  // info.json as a line patch over the base's copy (the host sent it; its hash is checked).
  let patch: Buffer | undefined;
  if (diff && base.infoJson) {
    const was = base.manifest.entries.find((e) => e.path === PATCHED_MEMBER);
    const now = m.entries.find((e) => e.path === PATCHED_MEMBER);
    const body = now?.type === 'f' ? content.get(now.sha256) : undefined;
    if (was?.type === 'f' && now?.type === 'f' && was.mode === now.mode && body && was.sha256 !== now.sha256
      && createHash('sha256').update(base.infoJson).digest('hex') === was.sha256) {
      const p = linePatch(base.infoJson, body);
      if (p && p.length < body.length / 2) {
        patch = p;
        diff.remove = diff.remove.filter((r) => r !== PATCHED_MEMBER);
        diff.add = diff.add.filter((e) => e.path !== PATCHED_MEMBER);
      }
    }
  }
  const patchedSha = patch ? (m.entries.find((e) => e.path === PATCHED_MEMBER) as { sha256: string }).sha256 : undefined;
  const parts: Buffer[] = [];
  // The patched member's object is made on the host (orch_delta_record), unless another member needs it.
  const sent = missingObjects(m, have).filter((sha) => sha !== patchedSha || m.entries.some((e) => e.type === 'f' && e.sha256 === sha && e.path !== PATCHED_MEMBER));
  let contentBytes = 0;
  for (const sha of sent) {
    const body = content.get(sha);
    if (!body) throw new ManifestUnsupportedError(`content of object ${sha} not available`);
    parts.push(...headerBlocks({ path: `${OBJECTS_DIR}/${sha}`, type: 'File', mode: modeOf.get(sha)!, size: body.length }), body, pad(body.length));
    contentBytes += body.length;
  }
  const top = `${DELTA_UNPACK_DIR}/${m.top}`;
  if (diff) {
    const list = Buffer.from(diff.remove.map((p) => `${p}\0`).join(''));
    parts.push(...headerBlocks({ path: DELTA_REMOVE_FILE, type: 'File', mode: 0o644, size: list.length }), list, pad(list.length));
    if (patch) parts.push(...headerBlocks({ path: DELTA_PATCH_FILE, type: 'File', mode: 0o644, size: patch.length }), patch, pad(patch.length));
  } else {
    parts.push(...headerBlocks({ path: `${top}/`, type: 'Directory', mode: 0o755 }));
  }
  for (const e of diff ? diff.add : m.entries) {
    const path = `${top}/${e.path}`;
    if (e.type === 'd') parts.push(...headerBlocks({ path: `${path}/`, type: 'Directory', mode: e.mode }));
    else if (e.type === 'l') parts.push(...headerBlocks({ path, type: 'SymbolicLink', mode: 0o777, linkpath: e.target }));
    else parts.push(...headerBlocks({ path, type: 'Link', mode: e.mode, linkpath: `${OBJECTS_DIR}/${e.sha256}` }));
  }
  parts.push(Buffer.alloc(1024));
  const plain = Buffer.concat(parts);
  const zipped = gzipSync(plain, { level: 9 });
  const stream = plain.length - zipped.length < plain.length * GZIP_MIN_SAVING ? plain : zipped;
  return { stream, sent, contentBytes, ...(diff && { base: base.version }) };
}
