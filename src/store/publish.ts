/**
 * `orch publish`: puts a checked bundle tarball into an artifact store, then (with a
 * channel) points the channel at it.
 *
 * Store layout (`<store>` = the `--to` base):
 * ```
 * <store>/<package>/<package>-<version>-<platform>.tar.gz    the release (never rewritten with other bytes)
 * <store>/<package>/<channel>.json                           the channel manifest (manifest.ts)
 * <store>/<package>/<channel>.json.sig                       its ssh-keygen signature (namespace orch-release)
 * ```
 * `<store>` is a folder, an HTTP(S) server accepting PUT, or `s3://BUCKET/PREFIX` (transfer.ts, s3.ts).
 * Order: the tarball first, then the signature, then the manifest, each atomically, so
 * a reader that sees a manifest finds its tarball. Between the last two renames a reader
 * may pair the new signature with the old manifest (or the reverse): that pair fails
 * verification and the reader tries again on its next run; it never installs unsigned bytes.
 * Source: apt repositories (pool first, then the signed index), Kamal's registry push
 * before deploy.
 */
import type { BundleInfo } from '../bundle/layout.js';
import { formatManifest, parseManifest } from './manifest.js';
import type { ChannelManifest } from './manifest.js';
import { signData } from './sign.js';
import { StoreError } from './store-error.js';
import { putFileCounted, putText, readUrl, showUrl } from './transfer.js';
import type { StoreLocation, TransferOptions } from './transfer.js';

/** How long a channel manifest is valid by default: 30 days (`orch publish --expires`). */
export const DEFAULT_EXPIRES_SECONDS = 30 * 24 * 3600;

/** Channel names: a file name without `/`. */
export const CHANNEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface PublishRequest {
  bundle: BundleInfo;
  store: StoreLocation;
  /** Channel to point at the bundle (`stable`); none = only the tarball is stored. */
  channel?: string;
  /** Private key for `ssh-keygen -Y sign` (the manifest is unsigned without it). */
  signKey?: string;
  /**
   * Base URL written into the manifest's `url` instead of the store's (hosts may reach
   * the store under another name than the publisher).
   */
  baseUrl?: string;
  /** Seconds the manifest stays valid after publishing ({@link DEFAULT_EXPIRES_SECONDS}). */
  expiresSeconds?: number;
  now: () => Date;
  transfer?: TransferOptions;
  log?: (line: string) => void;
}

export interface PublishResult {
  /** Where the tarball is, as hosts will fetch it. */
  url: string;
  /** The channel manifest's URL, when a channel was written. */
  manifestUrl?: string;
  manifest?: ChannelManifest;
  signed: boolean;
  /**
   * Bytes of the release tarball sent to the store: its size, or 0 when an S3 store
   * already held the same bytes under that name (HEAD before PUT). The manifest and its
   * signature (under 1 KiB) are not counted.
   */
  bytesUploaded: number;
}

/**
 * Publishes `req.bundle` (see the module doc for the layout and order).
 * @throws StoreError for a bad channel name, a channel that already names the same
 *   version with other bytes (a version is immutable: bump it), or any store error.
 */
export async function publishBundle(req: PublishRequest): Promise<PublishResult> {
  const { bundle, store } = req;
  const log = req.log ?? (() => {});
  if (req.channel !== undefined && !CHANNEL_PATTERN.test(req.channel)) {
    throw new StoreError(`--channel ${JSON.stringify(req.channel)}: use letters, digits, '.', '_', '-' (e.g. stable, beta)`);
  }
  const rel = `${bundle.package}/${bundle.dir}.tar.gz`;
  const manifestRel = req.channel === undefined ? undefined : `${bundle.package}/${req.channel}.json`;
  if (manifestRel !== undefined) {
    const prev = await readUrl(new URL(manifestRel, store.base), { ...req.transfer, missingOk: true });
    if (prev) {
      const old = (() => {
        try {
          return parseManifest(prev.toString('utf8'), showUrl(new URL(manifestRel, store.base)));
        } catch {
          return undefined; // a broken manifest is simply replaced
        }
      })();
      if (old && old.version === bundle.version && old.platform === bundle.platform && old.sha256 !== bundle.sha256) {
        throw new StoreError(`channel ${req.channel} already names ${bundle.package} ${bundle.version} (${bundle.platform}) with other bytes (sha256 ${old.sha256}, this bundle ${bundle.sha256}): a published version is immutable, give the new release a new version (orch version bump)`);
      }
    }
  }
  const { url: tarUrl, uploaded } = await putFileCounted(store, rel, bundle.path, req.transfer);
  log(uploaded === 0 && bundle.size > 0
    ? `${showUrl(tarUrl)} already holds these bytes (sha256 ${bundle.sha256}): nothing uploaded`
    : `published ${showUrl(tarUrl)} (${bundle.size} bytes, sha256 ${bundle.sha256})`);
  const publicUrl = req.baseUrl === undefined ? showUrl(tarUrl) : new URL(rel, req.baseUrl.endsWith('/') ? req.baseUrl : `${req.baseUrl}/`).toString();
  const url = tarUrl.protocol === 'file:' && req.baseUrl === undefined ? tarUrl.toString() : publicUrl;
  if (manifestRel === undefined || req.channel === undefined) return { url, signed: false, bytesUploaded: uploaded };
  const published = req.now();
  const manifest: ChannelManifest = {
    channel: req.channel,
    package: bundle.package,
    version: bundle.version,
    platform: bundle.platform,
    sha256: bundle.sha256,
    size: bundle.size,
    url,
    published_at: published.toISOString(),
    expires: new Date(published.getTime() + (req.expiresSeconds ?? DEFAULT_EXPIRES_SECONDS) * 1000).toISOString(),
  };
  const text = formatManifest(manifest);
  if (req.signKey !== undefined) {
    const sig = await signData(text, req.signKey, req.transfer?.env);
    await putText(store, `${manifestRel}.sig`, sig, req.transfer);
  }
  const manifestUrl = await putText(store, manifestRel, text, req.transfer);
  log(`channel ${req.channel} -> ${bundle.package} ${bundle.version}: ${showUrl(manifestUrl)}${req.signKey ? ' (signed)' : ' (unsigned)'}, expires ${manifest.expires}`);
  return { url, manifestUrl: manifestUrl.toString(), manifest, signed: req.signKey !== undefined, bytesUploaded: uploaded };
}
