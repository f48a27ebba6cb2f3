/**
 * Fleet-wide revocation of a release published to a channel. Beside the channel
 * manifest `<store>/<package>/<channel>.json` the store keeps
 * ```
 * <store>/<package>/<channel>.revoked        the revocation list (JSON, below)
 * <store>/<package>/<channel>.revoked.sig    its ssh-keygen signature (namespace orch-release)
 * ```
 * signed with the same key and the same `ssh-keygen -Y sign` as the manifest (sign.ts),
 * and verified against the bundle's `allowed_signers`. Every run that reads the channel
 * reads the list too (resolve.ts `readChannel`): a revoked release is refused there, in
 * `plan`, `apply` and every pull-mode `converge`. A list that is present but unsigned or
 * signed by another key is refused (the channel is not used), so nobody can lift a
 * revocation by deleting or rewriting the signature.
 *
 * Format (keys in this order, one entry per revoked tarball, oldest first):
 * ```json
 * {"format":1,"channel":"stable","package":"shop","revoked":[
 *   {"sha256":"…","version":"2.0.0","at":"2026-12-06T23:50:00.000Z","reason":"healthcheck failed on h1"}]}
 * ```
 * Written signature first, then the list (each atomically), as publish writes a manifest.
 * Source: the certificate revocation lists of X.509 (a signed list of what is no longer
 * trusted, published beside what it revokes), TUF's targets metadata.
 */
import { parseManifest } from './manifest.js';
import { signData, verifyData } from './sign.js';
import { StoreError } from './store-error.js';
import { parseStore, putText, readUrl, showUrl, type TransferOptions } from './transfer.js';

/** One revoked tarball. */
export interface RevokedEntry {
  /** sha256 (hex) of the release tarball. */
  sha256: string;
  version: string;
  /** When it was revoked, ISO 8601 UTC. */
  at: string;
  reason: string;
}

/** A channel's revocation list. */
export interface RevocationList {
  format: 1;
  channel: string;
  package: string;
  revoked: RevokedEntry[];
}

const SHA256_RE = /^[0-9a-f]{64}$/;

/** `…/<package>/<channel>.json` -> `…/<package>/<channel>.revoked` (same origin, credentials kept). */
export function revokedUrlOf(channelUrl: URL): URL {
  const u = new URL(channelUrl);
  u.pathname = u.pathname.replace(/\.json$/, '') + '.revoked';
  return u;
}

/** The list's text: stable key order, one line, newline at the end. */
export function formatRevocations(l: RevocationList): string {
  return `${JSON.stringify({ format: 1, channel: l.channel, package: l.package, revoked: l.revoked.map((e) => ({ sha256: e.sha256, version: e.version, at: e.at, reason: e.reason })) })}\n`;
}

/**
 * Parses a revocation list's text.
 * @throws StoreError `<origin>: malformed revocation list: …`.
 */
export function parseRevocations(text: string, origin: string): RevocationList {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new StoreError(`${origin}: malformed revocation list: ${(e as Error).message}`);
  }
  const o = v as Partial<RevocationList>;
  if (!o || typeof o !== 'object' || o.format !== 1 || typeof o.channel !== 'string' || typeof o.package !== 'string' || !Array.isArray(o.revoked)
    || !o.revoked.every((e) => e && typeof e === 'object' && typeof e.sha256 === 'string' && SHA256_RE.test(e.sha256) && typeof e.version === 'string')) {
    throw new StoreError(`${origin}: malformed revocation list: expected {"format":1,"channel","package","revoked":[{"sha256","version","at","reason"}]}`);
  }
  return o as RevocationList;
}

/**
 * Reads and verifies the revocation list of the channel at `channelUrl` against the
 * `allowedSigners` file. No list: nothing is revoked.
 * @returns the list (empty when there is none).
 * @throws StoreError `revocation list refused: …` for a list without a signature, signed
 *   by a key not in `allowedSigners`, tampered, malformed, or for another channel/package.
 */
export async function readRevocations(channelUrl: URL, expect: { channel: string; package: string }, allowedSigners: string, opts: TransferOptions): Promise<RevocationList> {
  const url = revokedUrlOf(channelUrl);
  const shown = showUrl(url);
  const text = await readUrl(url, { ...opts, maxBytes: 1024 * 1024, missingOk: true });
  if (!text) return { format: 1, channel: expect.channel, package: expect.package, revoked: [] };
  const sigUrl = new URL(url);
  sigUrl.pathname += '.sig';
  const sig = await readUrl(sigUrl, { ...opts, maxBytes: 64 * 1024, missingOk: true });
  if (!sig) throw new StoreError(`${shown}: revocation list refused: no signature at ${showUrl(sigUrl)} (a list is written by orch revoke or apply with the channel's signing key)`);
  try {
    await verifyData(text, sig.toString('utf8'), allowedSigners, shown, opts.env);
  } catch (e) {
    throw new StoreError((e as Error).message.replace('signature refused', 'revocation list refused: signature refused'));
  }
  const list = parseRevocations(text.toString('utf8'), shown);
  if (list.channel !== expect.channel || list.package !== expect.package) {
    throw new StoreError(`${shown}: revocation list refused: it is for ${list.package} channel ${list.channel}, read as ${expect.package} channel ${expect.channel}`);
  }
  return list;
}

/** What to revoke, and how. */
export interface RevokeRequest {
  /** The channel manifest's URL (`…/<package>/<channel>.json`). */
  channelUrl: URL;
  /** A sha256 (64 hex digits) or a version the channel names now. */
  release: string;
  /** Private key for `ssh-keygen -Y sign` (the channel's publishing key). */
  signKey: string;
  reason: string;
  now: () => Date;
  transfer?: TransferOptions;
  /** Version of the release when known (apply knows it). */
  version?: string;
}

/**
 * Appends a release to its channel's revocation list (read, append, sign, write the
 * signature then the list). Revoking a release already listed changes nothing.
 * A version is resolved through the channel's current manifest (a version the channel
 * no longer names needs its sha256).
 * @returns the list as written and whether the release was new to it.
 * @throws StoreError unreachable channel, a version the manifest does not name, a
 *   malformed list, a signing failure, or a store write error.
 */
export async function revokeRelease(req: RevokeRequest): Promise<{ list: RevocationList; added: boolean; entry: RevokedEntry; url: URL }> {
  const opts = req.transfer ?? {};
  const shownChannel = showUrl(req.channelUrl);
  const manifestText = await readUrl(req.channelUrl, { ...opts, maxBytes: 64 * 1024 });
  const m = parseManifest(manifestText!.toString('utf8'), shownChannel);
  let sha256: string;
  let version: string;
  if (SHA256_RE.test(req.release)) {
    sha256 = req.release;
    version = req.version ?? (m.sha256 === sha256 ? m.version : '');
  } else if (req.release === m.version) {
    sha256 = m.sha256;
    version = m.version;
  } else {
    throw new StoreError(`${shownChannel} names ${m.package} ${m.version}, not ${req.release}: give the sha256 of the release to revoke (64 hex digits)`);
  }
  const url = revokedUrlOf(req.channelUrl);
  const prev = await readUrl(url, { ...opts, maxBytes: 1024 * 1024, missingOk: true });
  const list: RevocationList = prev ? parseRevocations(prev.toString('utf8'), showUrl(url)) : { format: 1, channel: m.channel, package: m.package, revoked: [] };
  const old = list.revoked.find((e) => e.sha256 === sha256);
  if (old) return { list, added: false, entry: old, url };
  const entry: RevokedEntry = { sha256, version, at: req.now().toISOString(), reason: req.reason };
  list.revoked.push(entry);
  const text = formatRevocations(list);
  const sig = await signData(text, req.signKey, opts.env);
  // The store is the folder of the channel: `<store>/<package>/`.
  const store = parseStore(new URL('./', req.channelUrl).toString(), process.cwd(), opts.env ?? process.env);
  const name = url.pathname.split('/').pop()!;
  await putText(store, `${name}.sig`, sig, opts);
  await putText(store, name, text, opts);
  return { list, added: true, entry, url };
}
