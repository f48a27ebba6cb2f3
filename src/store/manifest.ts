/**
 * The channel manifest (SPEC section 7, "Bundles from a store"): one small JSON file per
 * channel, `<store>/<package>/<channel>.json`, naming the release the channel points at:
 *
 * ```json
 * {"package":"shop","version":"1.2.0","platform":"any","sha256":"<64 hex>","size":20971520,
 *  "url":"http://store/shop/shop-1.2.0-any.tar.gz","published_at":"2026-12-01T10:00:00.000Z"}
 * ```
 *
 * Signed with `ssh-keygen -Y sign -n orch-release` into `<channel>.json.sig` beside it
 * (see sign.ts). `url` may be relative: readers resolve it against the manifest's URL.
 * Source: apt's Release/InRelease files (a signed index naming content by checksum),
 * the `latest.json` channel files of Electron/Tauri updaters.
 */
import { NAME_PATTERN } from '../bundle/layout.js';
import { StoreError } from './store-error.js';

/** A channel manifest as written by `orch publish`. */
export interface ChannelManifest {
  package: string;
  version: string;
  platform: string;
  /** sha256 (64 lowercase hex) of the tarball. */
  sha256: string;
  /** Tarball size in bytes. */
  size: number;
  /** Where the tarball is: absolute URL (http, https, file) or relative to the manifest's URL. */
  url: string;
  /** ISO 8601 UTC time of publication. */
  published_at: string;
}

const KEYS = ['package', 'version', 'platform', 'sha256', 'size', 'url', 'published_at'] as const;

/** The manifest's bytes as published: one line of JSON, keys in SPEC order, `\n`-terminated. */
export function formatManifest(m: ChannelManifest): string {
  return `${JSON.stringify(Object.fromEntries(KEYS.map((k) => [k, m[k]])))}\n`;
}

/**
 * Parses and checks a manifest's text.
 * @param origin where it came from, for messages (the channel URL).
 * @throws StoreError `<origin>: not a channel manifest: <what is wrong>`.
 */
export function parseManifest(text: string, origin: string): ChannelManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new StoreError(`${origin}: not a channel manifest: invalid JSON (${(err as Error).message})`);
  }
  const bad = (what: string): never => {
    throw new StoreError(`${origin}: not a channel manifest: ${what} (want {package, version, platform, sha256, size, url, published_at})`);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return bad('not a JSON object');
  const o = doc as Record<string, unknown>;
  for (const k of ['package', 'version', 'platform'] as const) {
    if (typeof o[k] !== 'string' || !NAME_PATTERN.test(o[k])) bad(`"${k}" must be a name of letters, digits, '.', '_', '+', '-'`);
  }
  if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) bad('"sha256" must be 64 lowercase hex digits');
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) bad('"size" must be a whole number of bytes');
  if (typeof o.url !== 'string' || o.url === '') bad('"url" must be a non-empty string');
  if (typeof o.published_at !== 'string' || Number.isNaN(Date.parse(o.published_at))) bad('"published_at" must be an ISO 8601 time');
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
