/**
 * `orch publish (BUNDLE.tar.gz | SOURCE [builder options]) --to STORE [--channel NAME]
 * [--sign KEY] [--base-url URL] [--json]`: puts a release into an artifact store and
 * points a channel at it (src/store/publish.ts has the layout and the order of writes).
 * A `.tar.gz` argument is checked like an `artifact:`; a folder is built first, exactly
 * as `orch bundle` would (same options, same cache).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { inspectArtifact } from '../bundle/artifact.js';
import { buildBundle } from '../bundle/build.js';
import type { BundleInfo } from '../bundle/layout.js';
import { buildFlags, type BundleCliOptions } from './bundle.js';
import { OrchError } from '../model/errors.js';
import { parseDuration } from '../model/duration.js';
import { formatManifest } from '../store/manifest.js';
import { CHANNEL_PATTERN, publishBundle } from '../store/publish.js';
import { S3Access } from '../store/s3.js';
import { parseStore, showUrl } from '../store/transfer.js';

/** Options of `orch publish`: the store's, plus `orch bundle`'s builder options for a SOURCE. */
export interface PublishCliOptions extends Pick<BundleCliOptions, 'builder' | 'out' | 'python' | 'requirements' | 'pipOption' | 'prebuildScript' | 'postbuildScript' | 'cache' | 'cacheDir'> {
  to?: string;
  channel?: string;
  sign?: string;
  baseUrl?: string;
  /** `--expires DURATION`: how long the channel manifest is valid (default 30d). */
  expires?: string;
  /** `--s3-endpoint URL`: an S3-compatible server for an `s3://` store (default: AWS, or AWS_ENDPOINT_URL_S3). */
  s3Endpoint?: string;
  /** `--s3-region NAME`: the region of an `s3://` store (default: AWS_REGION, the AWS config files). */
  s3Region?: string;
  json?: boolean;
}

/**
 * `--expires DURATION` -> seconds: `30d`, `12h`, `90m`, `3600` (seconds), more than 0.
 * @throws OrchError naming the flag and the accepted forms.
 */
export function parseExpires(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(d)$/.exec(v.trim());
  const r = m ? { ok: true as const, seconds: Number(m[1]) * 86400 } : parseDuration(v);
  if (!r.ok || !(r.seconds > 0)) throw new OrchError(`--expires ${JSON.stringify(v)}: expected a duration greater than 0 like 30d, 12h, 90m or seconds`);
  return r.seconds;
}

/**
 * Runs `orch publish`. Prints the tarball URL and (with `--channel`) the channel and
 * version it now names; `--json` prints `{url, manifest_url, manifest, signed, bytesUploaded}`.
 * @throws OrchError (exit 1) for usage errors; StoreError/BundleError for store and bundle problems.
 */
export async function runPublish(what: string, opts: PublishCliOptions): Promise<void> {
  if (!opts.to) throw new OrchError('publish needs --to STORE (a folder, file:///path, s3://BUCKET/PREFIX, or http(s)://server/path accepting PUT)');
  const store = parseStore(opts.to, process.cwd(), process.env);
  if ((opts.s3Endpoint !== undefined || opts.s3Region !== undefined) && store.kind !== 's3') {
    throw new OrchError(`--s3-endpoint and --s3-region are for an s3://BUCKET/PREFIX store, not ${showUrl(store.base)}`);
  }
  if (opts.s3Endpoint !== undefined && !/^https?:\/\/[^/]/.test(opts.s3Endpoint)) throw new OrchError(`--s3-endpoint ${JSON.stringify(opts.s3Endpoint)}: expected an http(s):// URL like http://127.0.0.1:9000`);
  if (opts.channel !== undefined && !CHANNEL_PATTERN.test(opts.channel)) {
    throw new OrchError(`--channel ${JSON.stringify(opts.channel)}: use letters, digits, '.', '_', '-' (e.g. stable, beta)`);
  }
  const expiresSeconds = opts.expires === undefined ? undefined : parseExpires(opts.expires);
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  let st;
  try {
    st = await stat(what);
  } catch {
    throw new OrchError(`${what}: no such bundle tarball or source folder`);
  }
  let bundle: BundleInfo;
  if (st.isDirectory()) {
    bundle = await buildBundle(
      { source: what, ...buildFlags(opts) },
      { env: process.env, now: () => new Date(), cwd: process.cwd(), log },
    );
  } else {
    bundle = await inspectArtifact(what);
  }
  const s3 = store.kind === 's3' ? new S3Access({ ...(opts.s3Endpoint !== undefined && { endpoint: opts.s3Endpoint }), ...(opts.s3Region !== undefined && { region: opts.s3Region }) }, process.env) : undefined;
  const res = await publishBundle({
    bundle, store,
    ...(opts.channel !== undefined && { channel: opts.channel }),
    ...(opts.sign !== undefined && { signKey: resolve(opts.sign) }),
    ...(opts.baseUrl !== undefined && { baseUrl: opts.baseUrl }),
    ...(expiresSeconds !== undefined && { expiresSeconds }),
    now: () => new Date(),
    transfer: { env: process.env, ...(s3 && { s3 }) },
    log,
  }).finally(() => s3?.close());
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ url: showUrl(res.url), manifest_url: res.manifestUrl && showUrl(res.manifestUrl), manifest: res.manifest && JSON.parse(formatManifest(res.manifest)), signed: res.signed, bytesUploaded: res.bytesUploaded })}\n`);
    return;
  }
  process.stdout.write(`${showUrl(res.url)}\n`);
  if (res.manifestUrl) process.stdout.write(`  channel ${opts.channel} -> ${bundle.package} ${bundle.version} (${bundle.platform}), ${res.signed ? 'signed' : 'UNSIGNED (hosts refuse it: publish with --sign KEY)'}: ${showUrl(res.manifestUrl)}\n`);
}
