/**
 * S3 stores (`s3://BUCKET/PREFIX`) through the AWS SDK for JavaScript v3
 * (`@aws-sdk/client-s3`, `@aws-sdk/s3-request-presigner`), loaded with `import()` the
 * first time an `s3://` URL is used: the SDK is about 140 packages, and every other
 * command starts without it (scripts/bundle-cli.mjs leaves it out of the CLI bundle).
 *
 * - Credentials and region come from the SDK's standard chain: `AWS_ACCESS_KEY_ID` /
 *   `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_PROFILE` with `~/.aws/credentials`
 *   and `~/.aws/config`, SSO, container and instance roles; `AWS_REGION`
 *   (https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html).
 * - An S3-compatible server (MinIO, Ceph, Garage, s3rver) is named by `--s3-endpoint URL`
 *   or the standard `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`; with an endpoint, requests
 *   use path-style addressing (`http://server/BUCKET/KEY`), which every such server
 *   accepts, and the region defaults to `us-east-1`.
 * - Writes are atomic for readers as for the other stores: PUT under a temp key beside
 *   the target, `CopyObject` into place, then the temp key is deleted. Every object
 *   carries its sha256 as user metadata (`x-amz-meta-sha256`); before a PUT, a HEAD of
 *   the target skips the upload when the store already holds those bytes
 *   (content-addressed: publishing the same release again uploads nothing).
 * - Reads on the control machine go through the SDK (`GetObject`), cut at `maxBytes`
 *   while streaming, like HTTP reads in transfer.ts.
 * - Hosts never get AWS credentials: they fetch a presigned GET URL
 *   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html),
 *   valid for {@link presignSeconds} and for that one object. Its query (signature,
 *   access key id, session token) is a secret of the run: kept apart from the URL,
 *   masked in output and saved plans, and given to curl/wget on standard input.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { StoreError } from './store-error.js';

/** Where the S3 API is: `--s3-endpoint` and `--s3-region` (else the standard AWS chain). */
export interface S3Options {
  /** Endpoint URL of an S3-compatible server (`http://127.0.0.1:9000`); AWS itself when unset. */
  endpoint?: string;
  /** Region (`eu-west-1`); default from `AWS_REGION` / the AWS config files, `us-east-1` with an endpoint. */
  region?: string;
}

/** How long a presigned GET URL given to hosts is valid by default: 3600 s (`ORCH_S3_URL_EXPIRES` overrides, 60..604800). */
export const PRESIGN_SECONDS = 3600;

/** Seconds a presigned URL is valid: `ORCH_S3_URL_EXPIRES` (60 to 604800, SigV4's maximum of 7 days) or {@link PRESIGN_SECONDS}. */
export function presignSeconds(env: NodeJS.ProcessEnv): number {
  const v = env.ORCH_S3_URL_EXPIRES;
  if (v === undefined || v === '') return PRESIGN_SECONDS;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 60 || n > 604800) throw new StoreError(`ORCH_S3_URL_EXPIRES=${JSON.stringify(v)}: expected whole seconds from 60 to 604800 (7 days)`);
  return n;
}

/** `s3://BUCKET/KEY` split; the key has no leading `/`. */
export function splitS3Url(url: URL): { bucket: string; key: string } {
  const bucket = url.hostname;
  if (!bucket) throw new StoreError(`${url.toString()}: an S3 URL needs a bucket: s3://BUCKET/PREFIX`);
  return { bucket, key: decodeURIComponent(url.pathname.replace(/^\/+/, '')) };
}

type Sdk = typeof import('@aws-sdk/client-s3');
type Presigner = typeof import('@aws-sdk/s3-request-presigner');
type Client = InstanceType<Sdk['S3Client']>;

/** The loaded SDK modules and one client per endpoint+region, for one command (no global state). */
export class S3Access {
  #sdk: Promise<{ sdk: Sdk; presigner: Presigner }> | undefined;
  readonly #clients = new Map<string, Client>();
  constructor(readonly options: S3Options = {}, readonly env: NodeJS.ProcessEnv = process.env) {}

  async #load(): Promise<{ sdk: Sdk; presigner: Presigner }> {
    // The SDK warns on every start under Node 20 that its releases after January 2027
    // need Node >= 22 (README "Artifact store"); orch says so in its docs instead.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    // Required (their CommonJS builds), not import()ed: the CLI bundle runs as a vm.Script
    // with V8's code cache (bin/load-bundle.cjs), where Node 20 gives a cached script no
    // dynamic import ("A dynamic import callback was not specified").
    this.#sdk ??= Promise.resolve().then(() => {
      const require = createRequire(import.meta.url);
      return [require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3'), require('@aws-sdk/s3-request-presigner') as typeof import('@aws-sdk/s3-request-presigner')] as const;
    }).then(
      ([sdk, presigner]) => ({ sdk, presigner }),
      (err: Error) => {
        throw new StoreError(`s3:// stores need @aws-sdk/client-s3 and @aws-sdk/s3-request-presigner (installed with orch): ${err.message}`);
      },
    );
    return this.#sdk;
  }

  /** The endpoint in use: `--s3-endpoint`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else AWS. */
  endpoint(): string | undefined {
    return this.options.endpoint ?? (this.env.AWS_ENDPOINT_URL_S3 || this.env.AWS_ENDPOINT_URL || undefined);
  }

  async client(): Promise<{ sdk: Sdk; presigner: Presigner; client: Client }> {
    const { sdk, presigner } = await this.#load();
    const endpoint = this.endpoint();
    const region = this.options.region ?? (this.env.AWS_REGION || this.env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : undefined));
    const id = `${endpoint ?? ''}\0${region ?? ''}`;
    let client = this.#clients.get(id);
    if (!client) {
      client = new sdk.S3Client({
        ...(endpoint !== undefined && { endpoint, forcePathStyle: true }),
        ...(region !== undefined && { region }),
        // Checksums only where S3 requires them: S3-compatible servers often refuse the
        // newer default (CRC32 trailers with aws-chunked bodies); orch checks sha256 itself.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 3,
      });
      this.#clients.set(id, client);
    }
    return { sdk, presigner, client };
  }

  /** Closes the clients' sockets (the process can then exit at once). */
  close(): void {
    for (const c of this.#clients.values()) c.destroy();
    this.#clients.clear();
  }
}

/** An SDK error as one line: `GetObject s3://b/k: AccessDenied (HTTP 403): message`. */
function sdkError(what: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as Error & { $metadata?: { httpStatusCode?: number }; Code?: string };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name && e.name !== 'Error' ? e.name : e.Code ?? 'error';
  const hint = name === 'CredentialsProviderError' ? ' (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)'
    : /region/i.test(e.message ?? '') ? ' (set AWS_REGION or --s3-region)' : '';
  return new StoreError(`${what}: ${name}${status ? ` (HTTP ${status})` : ''}${e.message && e.message !== name ? `: ${e.message}` : ''}${hint}`);
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

/** sha256 (hex) of a file, streamed. */
async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * Puts `file` at `s3://BUCKET/KEY` atomically, unless the object there already has the
 * same sha256 (its `sha256` metadata) and size.
 * @returns the bytes uploaded (0 when the store had them).
 * @throws StoreError naming the S3 URL, the operation and the SDK's error.
 */
export async function s3PutFile(s3: S3Access, target: URL, file: string): Promise<number> {
  const { bucket, key } = splitS3Url(target);
  const { sdk, client } = await s3.client();
  const [size, sha256] = await Promise.all([stat(file).then((s) => s.size), fileSha256(file)]);
  const shown = target.toString();
  try {
    const head = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key }));
    if (head.Metadata?.sha256 === sha256 && head.ContentLength === size) return 0;
  } catch (err) {
    if (!isNotFound(err)) throw sdkError(`HeadObject ${shown}`, err);
  }
  const slash = key.lastIndexOf('/');
  const tmpKey = `${key.slice(0, slash + 1)}.${key.slice(slash + 1)}.tmp-${sha256.slice(0, 12)}-${process.pid}`;
  try {
    await client.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: tmpKey, Body: createReadStream(file), ContentLength: size, Metadata: { sha256 } }));
  } catch (err) {
    throw sdkError(`PutObject s3://${bucket}/${tmpKey}`, err);
  }
  try {
    await client.send(new sdk.CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: `${bucket}/${tmpKey.split('/').map(encodeURIComponent).join('/')}`, MetadataDirective: 'COPY' }));
  } catch (err) {
    throw sdkError(`CopyObject s3://${bucket}/${tmpKey} -> ${shown}`, err);
  } finally {
    await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: tmpKey })).catch(() => undefined);
  }
  return size;
}

/**
 * Reads a small object (manifest, signature) through the SDK, cut at `maxBytes` while
 * streaming (an announced larger `Content-Length` is refused before the first byte).
 * @returns the bytes, or `undefined` when there is no such object and `missingOk`.
 * @throws StoreError `GetObject s3://...: refused: larger than N bytes`, or the SDK's error.
 */
export async function s3ReadObject(s3: S3Access, url: URL, maxBytes: number, missingOk: boolean): Promise<Buffer | undefined> {
  const { bucket, key } = splitS3Url(url);
  const { sdk, client } = await s3.client();
  const shown = `${url.protocol}//${url.host}${url.pathname}`;
  let res;
  try {
    res = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    if (missingOk && isNotFound(err)) return undefined;
    throw sdkError(`GetObject ${shown}`, err);
  }
  const body = res.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  const tooLarge = (): StoreError => {
    body?.destroy?.();
    return new StoreError(`GetObject ${shown}: refused: larger than ${maxBytes} bytes`);
  };
  if ((res.ContentLength ?? 0) > maxBytes) throw tooLarge();
  const parts: Buffer[] = [];
  let size = 0;
  if (body) {
    for await (const c of body) {
      size += c.length;
      if (size > maxBytes) throw tooLarge();
      parts.push(Buffer.from(c));
    }
  }
  return Buffer.concat(parts);
}

/**
 * A presigned GET URL for `s3://BUCKET/KEY`, split into the URL hosts may show
 * (`https://endpoint/BUCKET/KEY`, no query) and its query (the secret part, without `?`).
 * @throws StoreError when the SDK cannot sign (no credentials, no region).
 */
export async function s3Presign(s3: S3Access, url: URL, seconds: number): Promise<{ url: string; query: string }> {
  const { bucket, key } = splitS3Url(url);
  const { sdk, presigner, client } = await s3.client();
  let signed: string;
  try {
    signed = await presigner.getSignedUrl(client, new sdk.GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: seconds });
  } catch (err) {
    throw sdkError(`presign GetObject ${url.toString()}`, err);
  }
  const u = new URL(signed);
  const query = u.search.replace(/^\?/, '');
  u.search = '';
  return { url: u.toString(), query };
}
