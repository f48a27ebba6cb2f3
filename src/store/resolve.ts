/**
 * Bundles from a store, resolved on the control machine at plan time (SPEC section 7):
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
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectArtifact } from '../bundle/artifact.js';
import { defaultCacheDir } from '../bundle/cache.js';
import type { BundleInfo } from '../bundle/layout.js';
import { formatBundleDir } from '../bundle/layout.js';
import { parseManifest, parseTarballName } from './manifest.js';
import type { ChannelManifest } from './manifest.js';
import { verifyData } from './sign.js';
import { StoreError } from './store-error.js';
import { DownloadMismatchError, downloadFile, readUrl, showUrl, toUrl } from './transfer.js';
import type { TransferOptions } from './transfer.js';

/** Who downloads a store bundle. */
export type FetchMode = 'host' | 'control' | 'auto';

/** A `bundles:` entry that names a store (paths already absolute or URLs). */
export interface StoreBundleRef {
  url?: string;
  sha256?: string;
  channel?: string;
  allowed_signers?: string;
  fetch?: FetchMode;
}

/** What a store bundle resolves to: a bundle, plus where hosts fetch it. */
export interface ResolvedStoreBundle extends BundleInfo {
  /** Tarball URL hosts fetch (credentials kept: it is not printed). */
  url: string;
  fetch: FetchMode;
  /** The verified channel manifest and its signature text, for channel bundles. */
  manifest?: { text: string; signature: string; signer: string; value: ChannelManifest };
}

export interface ResolveContext {
  env: NodeJS.ProcessEnv;
  /** Folder relative references resolve against (the playbook's). */
  baseDir: string;
  /** Bundle cache folder; default {@link defaultCacheDir}. */
  cacheDir?: string;
  transfer?: TransferOptions;
  log?: (line: string) => void;
}

/**
 * Reads and verifies a channel: the manifest at `channel` and its signature at
 * `channel + ".sig"`.
 * @throws StoreError unreachable channel, no signature ("unsigned channels are
 *   refused"), signature refused, malformed manifest, a manifest naming another
 *   package than the channel's folder ("package mismatch refused").
 */
export async function readChannel(channel: string, allowedSigners: string, ctx: ResolveContext): Promise<NonNullable<ResolvedStoreBundle['manifest']> & { url: URL }> {
  const url = toUrl(channel, ctx.baseDir);
  const shown = showUrl(url);
  const opts = { ...ctx.transfer, env: ctx.env };
  const text = (await readUrl(url, { ...opts, maxBytes: 64 * 1024 }))!;
  const sigUrl = new URL(url);
  sigUrl.pathname += '.sig';
  const sig = await readUrl(sigUrl, { ...opts, maxBytes: 64 * 1024, missingOk: true });
  if (!sig) throw new StoreError(`${shown}: unsigned channel refused: no signature at ${showUrl(sigUrl)} (publish with --sign KEY)`);
  try {
    await stat(allowedSigners);
  } catch {
    throw new StoreError(`allowed_signers ${allowedSigners}: not found`);
  }
  const signer = await verifyData(text, sig.toString('utf8'), allowedSigners, shown, ctx.env);
  const value = parseManifest(text.toString('utf8'), shown);
  // A signature vouches for the manifest's bytes, not for where they were found: a validly
  // signed manifest of another package copied to `<store>/<package>/<channel>.json` would
  // otherwise install that package (and run its install.sh) in this package's root.
  const parts = url.pathname.split('/');
  const pathPackage = decodeURIComponent(parts[parts.length - 2] ?? '');
  if (/\.json$/.test(parts[parts.length - 1] ?? '') && pathPackage !== '' && value.package !== pathPackage) {
    throw new StoreError(`${shown}: package mismatch refused: the signed manifest names package ${value.package}, but the channel is <store>/${pathPackage}/<channel>.json (a manifest copied from another package)`);
  }
  return { url, text: text.toString('utf8'), signature: sig.toString('utf8'), signer, value };
}

/**
 * Resolves a store bundle (see the module doc).
 * @throws StoreError for everything that stops the plan: channel problems, a name that
 *   is not `<package>-<version>-<platform>.tar.gz` with `fetch: host`, a download whose
 *   sha256 or size differs, a tarball whose PACKAGE/VERSION/PLATFORM differ from the
 *   manifest. BundleError when the downloaded tarball fails the artifact check.
 */
export async function resolveStoreBundle(ref: StoreBundleRef, ctx: ResolveContext): Promise<ResolvedStoreBundle> {
  const fetch = ref.fetch ?? 'auto';
  let url: URL;
  let want: { package: string; version: string; platform: string; sha256: string; size?: number };
  let manifest: ResolvedStoreBundle['manifest'];
  if (ref.channel !== undefined) {
    if (ref.allowed_signers === undefined) throw new StoreError('a channel bundle needs allowed_signers: the file of keys whose signatures are trusted (unsigned channels are refused)');
    const ch = await readChannel(ref.channel, ref.allowed_signers, ctx);
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
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'file:') throw new StoreError(`${showUrl(url)}: unsupported URL scheme`);
  if (fetch === 'host') {
    return {
      package: want.package, version: want.version, platform: want.platform, sha256: want.sha256,
      size: want.size ?? 0, path: '', dir: formatBundleDir(want.package, want.version, want.platform),
      url: url.toString(), fetch, ...(manifest && { manifest }),
    };
  }
  const cacheDir = ctx.cacheDir ?? defaultCacheDir(ctx.env);
  const path = join(cacheDir, 'store', `${want.sha256}.tar.gz`);
  const have = await stat(path).then((s) => s.isFile(), () => false);
  if (!have) {
    ctx.log?.(`downloading ${showUrl(url)} into ${path}`);
    try {
      await downloadFile(url, path, { sha256: want.sha256, ...(want.size !== undefined && { size: want.size }) }, { ...ctx.transfer, env: ctx.env });
    } catch (err) {
      // auto: a store only the hosts can reach still works, without the push fallback.
      // Wrong bytes are never excused: the store is corrupt or tampered with.
      if (fetch !== 'auto' || err instanceof DownloadMismatchError || want.package === '') throw err;
      ctx.log?.(`${(err as Error).message}; the hosts fetch it themselves (no push fallback in this run)`);
      return {
        package: want.package, version: want.version, platform: want.platform, sha256: want.sha256,
        size: want.size ?? 0, path: '', dir: formatBundleDir(want.package, want.version, want.platform),
        url: url.toString(), fetch: 'host', ...(manifest && { manifest }),
      };
    }
  }
  const info = await inspectArtifact(path);
  if (info.sha256 !== want.sha256) throw new StoreError(`${path}: cached copy has sha256 ${info.sha256}, want ${want.sha256} (remove it and plan again)`);
  if (want.package !== '' && (info.package !== want.package || info.version !== want.version || info.platform !== want.platform)) {
    throw new StoreError(`${showUrl(url)}: the tarball holds ${info.package} ${info.version} (${info.platform}), but ${manifest ? 'the manifest' : 'its name'} says ${want.package} ${want.version} (${want.platform})`);
  }
  return { ...info, url: url.toString(), fetch, ...(manifest && { manifest }) };
}
