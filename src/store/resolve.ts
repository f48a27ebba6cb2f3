/**
 * Bundles from a store, resolved on the control machine at plan time (docs/store.md):
 *
 * - `{ url, sha256 }`: a tarball pinned by its checksum; package, version and platform
 *   come from its platter name `<package>-<version>-<platform>.tar.gz` (or, when the
 *   control machine downloads it, from the tarball itself);
 * - `{ channel, allowed_signers }`: the channel manifest and its `.sig` are read, the
 *   signature verified with `ssh-keygen -Y verify` against `allowed_signers`
 *   (namespace `orch-release`), and the manifest names the release. An unsigned
 *   manifest, a signature by another key, or a tampered manifest stops the plan.
 *
 * `fetch`: `host` — the control machine downloads nothing, each host fetches the URL
 * itself (src/host/fetch.sh); `control` — the control machine downloads once into its
 * cache (`<cache>/store/<sha256>.tar.gz`), checks it like an `artifact:`, and pushes it
 * as for any bundle; `auto` (default) — the control machine keeps a checked copy in the
 * cache too, and hosts fetch it themselves, the push being the fallback for a host that
 * has neither curl nor wget or cannot reach the store. When the control machine itself
 * cannot download (but the manifest or the file name names the release), `auto` goes on
 * as `host` for this run; wrong bytes always stop the plan.
 *
 * `s3://BUCKET/KEY` channels and tarballs (s3.ts): the control machine reads the channel
 * through the AWS SDK with its own credentials; hosts get a presigned GET URL for the
 * tarball, valid for `ORCH_S3_URL_EXPIRES` seconds (3600), never AWS credentials.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { inspectArtifact } from '../bundle/artifact.js';
import { defaultCacheDir } from '../bundle/cache.js';
import type { BundleInfo } from '../bundle/layout.js';
import { formatBundleDir } from '../bundle/layout.js';
import { MANIFEST_TIME, parseManifest, parseTarballName } from './manifest.js';
import type { ChannelManifest } from './manifest.js';
import { readRevocations, type RevokedEntry } from './revoke.js';
import { presignSeconds, S3Access, s3Presign } from './s3.js';
import { verifyData } from './sign.js';
import { StoreError } from './store-error.js';
import { DownloadMismatchError, downloadFile, isS3, readUrl, showUrl, splitCredentials, toUrl } from './transfer.js';
import type { TransferOptions } from './transfer.js';

/** The channel names a release its signed revocation list revokes (revoke.ts). */
export class RevokedReleaseError extends StoreError {
  constructor(message: string, readonly sha256: string, readonly version: string) {
    super(message);
  }
}

/** Who downloads a store bundle. */
export type FetchMode = 'host' | 'control' | 'auto';

/** A `bundles:` entry that names a store (paths already absolute or URLs). */
export interface StoreBundleRef {
  url?: string;
  sha256?: string;
  channel?: string;
  allowed_signers?: string;
  fetch?: FetchMode;
  /** `pin: VERSION` of a channel bundle: the manifest must name this version, and may be older than one accepted before. */
  pin?: string;
}

/** What a store bundle resolves to: a bundle, plus where hosts fetch it. */
export interface ResolvedStoreBundle extends BundleInfo {
  /** Tarball URL hosts fetch, without credentials. */
  url: string;
  /** `user:password` from the URL (or the channel's, for a tarball on the same origin): hosts get it on curl's stdin. */
  auth?: string;
  /**
   * An `s3://` tarball: the query of the presigned GET URL made for this run (signature,
   * key id, expiry; without `?`), a secret like `auth`; `url` is the presigned URL without it.
   */
  query?: string;
  fetch: FetchMode;
  /**
   * The verified channel manifest and its signature text, for channel bundles; with the
   * channel and package it was read as, the allowed_signers text, and whether it may be
   * older than the newest accepted (`pin` or `allowDowngrade`): hosts check it again.
   */
  manifest?: { text: string; signature: string; signer: string; value: ChannelManifest; readAs: { channel: string; package: string }; allowedSigners: string; allowOlder: boolean; revoked?: RevokedEntry };
}

export interface ResolveContext {
  env: NodeJS.ProcessEnv;
  /** Folder relative references resolve against (the playbook's). */
  baseDir: string;
  /** Bundle cache folder; default {@link defaultCacheDir}. */
  cacheDir?: string;
  transfer?: TransferOptions;
  log?: (line: string) => void;
  /** The clock manifests' `expires` is compared with (default: now). */
  now?: () => Date;
  /** `--allow-downgrade`: accept a manifest older than the newest accepted for its channel. */
  allowDowngrade?: boolean;
  /**
   * converge: a revoked release is returned with `manifest.revoked` set instead of refused,
   * so the run can roll back the hosts that run it (src/cli/lifecycle.ts).
   */
  keepRevoked?: boolean;
}

/** What the control machine remembers of a channel: the newest manifest it accepted. */
interface ChannelHighWater { channel: string; published_at: string; version: string; sha256: string }

/** `<cache>/store/channels/<sha256 of the channel URL without credentials>.json`. */
function highWaterFile(cacheDir: string, shownUrl: string): string {
  return join(cacheDir, 'store', 'channels', `${createHash('sha256').update(shownUrl).digest('hex')}.json`);
}

async function readHighWater(file: string): Promise<ChannelHighWater | undefined> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as ChannelHighWater;
    return typeof v.published_at === 'string' && MANIFEST_TIME.test(v.published_at) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `file` atomically (temp name + rename), mode 0600. */
async function writeHighWater(file: string, v: ChannelHighWater): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  await writeFile(tmp, `${JSON.stringify(v)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/**
 * Reads and verifies a channel: the manifest at `channel` and its signature at
 * `channel + ".sig"`, then what the signature binds: the manifest must name the
 * channel and package of its place (`<store>/<package>/<channel>.json`), must not be
 * past `expires`, must name `pin` when one is given, and must not be older
 * (`published_at`) than the newest manifest accepted for this channel URL before, kept
 * in `<cache>/store/channels/` (unless `pin` names its version or `ctx.allowDowngrade`).
 * An accepted newer manifest moves that mark.
 * @throws StoreError unreachable channel, no signature ("unsigned channel refused"),
 *   signature refused, malformed or format 1 manifest, "package mismatch refused",
 *   "channel mismatch refused", "expired manifest refused", "pinned version mismatch",
 *   "downgrade refused"; RevokedReleaseError ("revoked release refused") when the
 *   channel's signed revocation list names the manifest's sha256, StoreError
 *   ("revocation list refused") when that list's signature does not verify.
 */
export async function readChannel(channel: string, allowedSigners: string, ctx: ResolveContext, pin?: string): Promise<NonNullable<ResolvedStoreBundle['manifest']> & { url: URL }> {
  const url = toUrl(channel, ctx.baseDir);
  const shown = showUrl(url);
  const opts = { ...ctx.transfer, env: ctx.env };
  const text = (await readUrl(url, { ...opts, maxBytes: 64 * 1024 }))!;
  const sigUrl = new URL(url);
  sigUrl.pathname += '.sig';
  const sig = await readUrl(sigUrl, { ...opts, maxBytes: 64 * 1024, missingOk: true });
  if (!sig) throw new StoreError(`${shown}: unsigned channel refused: no signature at ${showUrl(sigUrl)} (publish with --sign KEY)`);
  let allowedText: string;
  try {
    allowedText = await readFile(allowedSigners, 'utf8');
  } catch {
    throw new StoreError(`allowed_signers ${allowedSigners}: not found`);
  }
  const signer = await verifyData(text, sig.toString('utf8'), allowedSigners, shown, ctx.env);
  const value = parseManifest(text.toString('utf8'), shown);
  // A signature vouches for the manifest's bytes, not for where they were found: a validly
  // signed manifest of another package or channel copied to `<store>/<package>/<channel>.json`
  // would otherwise install that package (and run its install.sh) in this package's root,
  // or the beta on the hosts that follow stable.
  const parts = url.pathname.split('/');
  const pathPackage = decodeURIComponent(parts[parts.length - 2] ?? '');
  const pathChannel = decodeURIComponent(parts[parts.length - 1] ?? '').replace(/\.json$/, '');
  if (pathPackage !== '' && value.package !== pathPackage) {
    throw new StoreError(`${shown}: package mismatch refused: the signed manifest names package ${value.package}, but the channel is <store>/${pathPackage}/<channel>.json (a manifest copied from another package)`);
  }
  if (value.channel !== pathChannel) {
    throw new StoreError(`${shown}: channel mismatch refused: the signed manifest is for channel ${value.channel}, but it was read as channel ${pathChannel} (a manifest copied from another channel)`);
  }
  const now = (ctx.now ?? (() => new Date()))();
  if (Date.parse(value.expires) <= now.getTime()) {
    throw new StoreError(`${shown}: expired manifest refused: ${value.package} ${value.version} expired at ${value.expires} (now ${now.toISOString()}); a store serving an old manifest forever is a freeze attack. If the channel is right, publish it again (orch publish ... --channel ${value.channel} --sign KEY [--expires 30d])`);
  }
  if (pin !== undefined && value.version !== pin) {
    throw new StoreError(`${shown}: pinned version mismatch: the channel names ${value.package} ${value.version}, the playbook pins ${pin}`);
  }
  // The channel's signed revocation list (revoke.ts): a release revoked fleet-wide is never installed.
  const revoked = (await readRevocations(url, { channel: pathChannel, package: pathPackage || value.package }, allowedSigners, opts)).revoked.find((e) => e.sha256 === value.sha256);
  if (revoked && ctx.keepRevoked) {
    ctx.log?.(`channel ${shown}: ${value.package} ${value.version} is revoked (${revoked.reason}); hosts running it roll back`);
    return {
      url, text: text.toString('utf8'), signature: sig.toString('utf8'), signer, value, revoked,
      readAs: { channel: pathChannel, package: pathPackage || value.package }, allowedSigners: allowedText, allowOlder: pin !== undefined || ctx.allowDowngrade === true,
    };
  }
  if (revoked) {
    throw new RevokedReleaseError(`${shown}: revoked release refused: ${value.package} ${value.version} (sha256 ${value.sha256}) was revoked at ${revoked.at}${revoked.reason ? ` (${revoked.reason})` : ''}; publish a fixed release, or publish the previous good one again (orch publish ... --channel ${value.channel} --sign KEY)`, value.sha256, value.version);
  }
  const mark = highWaterFile(ctx.cacheDir ?? defaultCacheDir(ctx.env), shown);
  const seen = await readHighWater(mark);
  if (seen && value.published_at < seen.published_at) {
    if (pin === undefined && !ctx.allowDowngrade) {
      throw new StoreError(`${shown}: downgrade refused: the manifest names ${value.package} ${value.version} published ${value.published_at}, older than ${seen.version} published ${seen.published_at} already accepted for this channel (a replayed manifest); pin the version in the playbook (pin: ${value.version}) or run with --allow-downgrade to go back on purpose`);
    }
    ctx.log?.(`channel ${shown}: going back to ${value.version} (published ${value.published_at}), older than ${seen.version} (${pin !== undefined ? 'pinned' : '--allow-downgrade'})`);
  } else if (!seen || value.published_at > seen.published_at) {
    await writeHighWater(mark, { channel: shown, published_at: value.published_at, version: value.version, sha256: value.sha256 });
  }
  return {
    url, text: text.toString('utf8'), signature: sig.toString('utf8'), signer, value,
    readAs: { channel: pathChannel, package: pathPackage || value.package }, allowedSigners: allowedText, allowOlder: pin !== undefined || ctx.allowDowngrade === true,
  };
}

/**
 * Resolves a store bundle (see the module doc).
 * @throws StoreError for everything that stops the plan: channel problems, a name that
 *   is not `<package>-<version>-<platform>.tar.gz` with `fetch: host`, a download whose
 *   sha256 or size differs, a tarball whose PACKAGE/VERSION/PLATFORM differ from the
 *   manifest. BundleError when the downloaded tarball fails the artifact check.
 */
export async function resolveStoreBundle(ref: StoreBundleRef, ctx: ResolveContext): Promise<ResolvedStoreBundle> {
  if (ctx.transfer?.s3) return resolveWith(ref, ctx);
  const s3 = new S3Access({}, ctx.env);
  try {
    return await resolveWith(ref, { ...ctx, transfer: { ...ctx.transfer, s3 } });
  } finally {
    s3.close();
  }
}

async function resolveWith(ref: StoreBundleRef, ctx: ResolveContext): Promise<ResolvedStoreBundle> {
  const fetch = ref.fetch ?? 'auto';
  let url: URL;
  let want: { package: string; version: string; platform: string; sha256: string; size?: number };
  let manifest: ResolvedStoreBundle['manifest'];
  if (ref.channel !== undefined) {
    if (ref.allowed_signers === undefined) throw new StoreError('a channel bundle needs allowed_signers: the file of keys whose signatures are trusted (unsigned channels are refused)');
    const ch = await readChannel(ref.channel, ref.allowed_signers, ctx, ref.pin);
    const { url: chUrl, ...m } = ch;
    manifest = m;
    url = new URL(m.value.url, chUrl);
    want = m.value;
    ctx.log?.(`channel ${showUrl(chUrl)}: ${m.value.package} ${m.value.version} (${m.value.platform}), signed by ${m.signer}`);
  } else if (ref.url !== undefined && ref.sha256 !== undefined) {
    url = toUrl(ref.url, ctx.baseDir);
    const name = decodeURIComponent(url.pathname.split('/').pop() ?? '');
    const parts = parseTarballName(name);
    if (!parts && fetch === 'host') {
      throw new StoreError(`${showUrl(url)}: with fetch: host the file must be named <package>-<version>-<platform>.tar.gz (the control machine does not download it); or use fetch: control|auto`);
    }
    want = { ...(parts ?? { package: '', version: '', platform: '' }), sha256: ref.sha256 };
  } else {
    throw new StoreError('a store bundle needs "url" and "sha256", or "channel" and "allowed_signers"');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'file:' && !isS3(url)) throw new StoreError(`${showUrl(url)}: unsupported URL scheme`);
  // S3: hosts (and the control machine's download) use a presigned GET URL; its query is
  // the secret part, kept apart so nothing prints or saves it.
  let query: string | undefined;
  if (isS3(url)) {
    const signed = await s3Presign(ctx.transfer!.s3!, url, presignSeconds(ctx.env));
    url = new URL(signed.url);
    query = signed.query;
  }
  // Credentials never travel inside the URL (plans, messages, a host's command line).
  // A tarball on the channel's origin is fetched with the channel's credentials.
  if (!url.username && !url.password && ref.channel !== undefined) {
    const ch = toUrl(ref.channel, ctx.baseDir);
    if (ch.origin === url.origin && (ch.username || ch.password)) {
      url.username = ch.username;
      url.password = ch.password;
    }
  }
  const { url: bare, auth } = splitCredentials(url);
  const where = { url: bare.toString(), ...(auth !== undefined && { auth }), ...(query !== undefined && { query }) };
  if (fetch === 'host') {
    return {
      package: want.package, version: want.version, platform: want.platform, sha256: want.sha256,
      size: want.size ?? 0, path: '', dir: formatBundleDir(want.package, want.version, want.platform),
      ...where, fetch, ...(manifest && { manifest }),
    };
  }
  const cacheDir = ctx.cacheDir ?? defaultCacheDir(ctx.env);
  const path = join(cacheDir, 'store', `${want.sha256}.tar.gz`);
  const have = await stat(path).then((s) => s.isFile(), () => false);
  if (!have) {
    ctx.log?.(`downloading ${showUrl(url)} into ${path}`);
    try {
      const from = new URL(url);
      if (query !== undefined) from.search = query;
      await downloadFile(from, path, { sha256: want.sha256, ...(want.size !== undefined && { size: want.size }) }, { ...ctx.transfer, env: ctx.env });
    } catch (err) {
      // auto: a store only the hosts can reach still works, without the push fallback.
      // Wrong bytes are never excused: the store is corrupt or tampered with.
      if (fetch !== 'auto' || err instanceof DownloadMismatchError || want.package === '') throw err;
      ctx.log?.(`${(err as Error).message}; the hosts fetch it themselves (no push fallback in this run)`);
      return {
        package: want.package, version: want.version, platform: want.platform, sha256: want.sha256,
        size: want.size ?? 0, path: '', dir: formatBundleDir(want.package, want.version, want.platform),
        ...where, fetch: 'host', ...(manifest && { manifest }),
      };
    }
  }
  const info = await inspectArtifact(path);
  if (info.sha256 !== want.sha256) throw new StoreError(`${path}: cached copy has sha256 ${info.sha256}, want ${want.sha256} (remove it and plan again)`);
  if (want.package !== '' && (info.package !== want.package || info.version !== want.version || info.platform !== want.platform)) {
    throw new StoreError(`${showUrl(url)}: the tarball holds ${info.package} ${info.version} (${info.platform}), but ${manifest ? 'the manifest' : 'its name'} says ${want.package} ${want.version} (${want.platform})`);
  }
  return { ...info, ...where, fetch, ...(manifest && { manifest }) };
}
