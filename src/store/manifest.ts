/**
 * The channel manifest (format 2): one small JSON file per channel,
 * `<store>/<package>/<channel>.json`, naming the release the channel points at, and
 * binding that statement to its place and its time:
 *
 * ```json
 * {"format":2,"channel":"stable","package":"shop","version":"1.2.0","platform":"any",
 *  "sha256":"<64 hex>","size":20971520,"url":"http://store/shop/shop-1.2.0-any.tar.gz",
 *  "published_at":"2026-12-01T10:00:00.000Z","expires":"2026-12-31T10:00:00.000Z"}
 * ```
 *
 * Signed with `ssh-keygen -Y sign -n orch-release` into `<channel>.json.sig` beside it
 * (see sign.ts): every field is under the signature. `channel` and `package` stop a
 * signed manifest from being copied to another channel or package; `published_at` lets a
 * reader refuse an older manifest than one it already accepted (replay, downgrade);
 * `expires` stops a store from serving one old manifest forever (freeze). Times are
 * always `YYYY-MM-DDTHH:MM:SS.sssZ` (JavaScript's `toISOString`), so they compare as
 * strings, also in bash on a host. `url` may be relative: readers resolve it against the
 * manifest's URL. Format 1 manifests (no `format`, `channel`, `expires`) are refused.
 * Source: TUF's timestamp/snapshot expiry and version rules
 * (https://theupdateframework.github.io/specification/latest/#detailed-client-workflow),
 * apt's Release files (`Valid-Until`, a signed index naming content by checksum).
 */
import { NAME_PATTERN } from '../bundle/layout.js';
import { StoreError } from './store-error.js';

/** The manifest format `orch publish` writes and readers accept. */
export const MANIFEST_FORMAT = 2;

/** The time form of `published_at` and `expires` (`Date.prototype.toISOString`). */
export const MANIFEST_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A channel manifest as written by `orch publish`. */
export interface ChannelManifest {
  /** The channel file's name without `.json` (`stable`). */
  channel: string;
  package: string;
  version: string;
  platform: string;
  /** sha256 (64 lowercase hex) of the tarball. */
  sha256: string;
  /** Tarball size in bytes. */
  size: number;
  /** Where the tarball is: absolute URL (http, https, file) or relative to the manifest's URL. */
  url: string;
  /** UTC time of publication, {@link MANIFEST_TIME}. */
  published_at: string;
  /** UTC time after which readers refuse the manifest, {@link MANIFEST_TIME}. */
  expires: string;
}

const KEYS = ['channel', 'package', 'version', 'platform', 'sha256', 'size', 'url', 'published_at', 'expires'] as const;

/** The manifest's bytes as published: one line of JSON, `format` then the keys in a fixed order, `\n`-terminated. */
export function formatManifest(m: ChannelManifest): string {
  return `${JSON.stringify({ format: MANIFEST_FORMAT, ...Object.fromEntries(KEYS.map((k) => [k, m[k]])) })}\n`;
}

/**
 * Parses and checks a manifest's text.
 * @param origin where it came from, for messages (the channel URL).
 * @throws StoreError `<origin>: not a channel manifest: <what is wrong>`; for a format 1
 *   manifest, `<origin>: format 1 channel manifest refused: ...` with how to republish.
 */
export function parseManifest(text: string, origin: string): ChannelManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new StoreError(`${origin}: not a channel manifest: invalid JSON (${(err as Error).message})`);
  }
  const bad = (what: string): never => {
    throw new StoreError(`${origin}: not a channel manifest: ${what} (want {format: 2, ${KEYS.join(', ')}})`);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return bad('not a JSON object');
  const o = doc as Record<string, unknown>;
  if (o.format === undefined && typeof o.package === 'string' && o.channel === undefined) {
    throw new StoreError(`${origin}: format 1 channel manifest refused: it signs neither its channel nor an expiry, so it could be replayed or copied to another channel; republish the release with this orch: orch publish ${o.package}-<version>-<platform>.tar.gz --to STORE --channel CHANNEL --sign KEY`);
  }
  if (o.format !== MANIFEST_FORMAT) bad(`"format" must be ${MANIFEST_FORMAT}`);
  for (const k of ['channel', 'package', 'version', 'platform'] as const) {
    if (typeof o[k] !== 'string' || !NAME_PATTERN.test(o[k])) bad(`"${k}" must be a name of letters, digits, '.', '_', '+', '-'`);
  }
  if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) bad('"sha256" must be 64 lowercase hex digits');
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) bad('"size" must be a whole number of bytes');
  if (typeof o.url !== 'string' || o.url === '') bad('"url" must be a non-empty string');
  for (const k of ['published_at', 'expires'] as const) {
    if (typeof o[k] !== 'string' || !MANIFEST_TIME.test(o[k]) || Number.isNaN(Date.parse(o[k]))) bad(`"${k}" must be a UTC time like 2026-12-01T10:00:00.000Z`);
  }
  return Object.fromEntries(KEYS.map((k) => [k, o[k]])) as unknown as ChannelManifest;
}

/**
 * Splits a platter tarball name `<package>-<version>-<platform>.tar.gz`: the version is
 * the first `-`-separated part that starts with a digit and holds no `-` itself; the
 * rest is the platform (`any`, `linux-x86_64`). `shop-2-1.2.0-linux-x86_64.tar.gz` is
 * read as package `shop`, version `2`: such names need the manifest or a download.
 * @returns undefined when the name does not have that shape.
 */
export function parseTarballName(fileName: string): { package: string; version: string; platform: string } | undefined {
  const m = /^(.+?)-(\d[^-]*)-(.+)\.tar\.gz$/.exec(fileName);
  if (!m || ![m[1], m[2], m[3]].every((p) => NAME_PATTERN.test(p!))) return undefined;
  return { package: m[1]!, version: m[2]!, platform: m[3]! };
}
