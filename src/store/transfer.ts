/**
 * Reading and writing an artifact store from the control machine: a folder (a path or a
 * `file://` URL), an HTTP(S) server that accepts WebDAV `PUT` and `MOVE` (nginx
 * `dav_methods PUT MOVE;`, Apache mod_dav, Artifactory/Nexus raw repositories), or an
 * S3 bucket (`s3://BUCKET/PREFIX`, through the AWS SDK loaded on first use: s3.ts).
 *
 * Every write is atomic for readers: the bytes go to a temp name beside the target
 * (`.<name>.tmp-<random>`), then a rename (folder) or `MOVE` (HTTP) puts them in place.
 * A server that refuses MOVE (405/501) gets a direct PUT instead (nginx and most
 * WebDAV servers write a PUT body to a temp file and rename it themselves).
 *
 * Every request has a timeout and is retried a bounded number of times on network
 * errors and 5xx answers (not on 4xx: those are the caller's mistake).
 * Credentials: `https://user:pass@host/...` becomes a Basic `Authorization` header;
 * `ORCH_STORE_TOKEN` in the environment a Bearer one. URLs in messages never show them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { S3Access, s3PutFile, s3ReadObject } from './s3.js';
import { StoreError } from './store-error.js';

/** Where a store is: its base URL always ends with `/`. */
export interface StoreLocation {
  kind: 'dir' | 'http' | 's3';
  /** `file:///abs/path/`, `http(s)://host/path/` or `s3://bucket/prefix/`, credentials removed. */
  base: URL;
  /** Headers sent with every HTTP request (Authorization). */
  headers: Record<string, string>;
}

/** Retry and timeout settings (defaults in parentheses). */
export interface TransferOptions {
  /** Attempts per request, first included (3). */
  attempts?: number;
  /** Milliseconds without progress before a request is abandoned (30,000). */
  idleTimeoutMs?: number;
  /** Delay before the k-th retry: `retryDelayMs * 2^(k-1)` (500). */
  retryDelayMs?: number;
  /** Environment (ORCH_STORE_TOKEN). */
  env?: NodeJS.ProcessEnv;
  /** The S3 client of this command, for `s3://` URLs (made on first use from the environment when absent). */
  s3?: S3Access;
}

const DEFAULTS = { attempts: 3, idleTimeoutMs: 30_000, retryDelayMs: 500 };

/** A URL as shown in messages: without user and password, and without the query of a presigned S3 URL (its signature). */
export function showUrl(u: URL | string): string {
  const url = new URL(String(u));
  url.username = '';
  url.password = '';
  if (/(^|&)X-Amz-(Signature|Credential)=/i.test(url.search.slice(1))) url.search = '';
  return url.protocol === 'file:' ? fileURLToPath(url) : url.toString();
}

/** True for an `s3://` URL. */
export function isS3(u: URL): boolean {
  return u.protocol === 's3:';
}

/**
 * Splits the credentials off a URL (`http://user:pass@host/x`).
 * @returns the URL without them, and `user:password` (percent-decoded) when it had some.
 * @throws StoreError for credentials holding a line break (they go into curl's config
 *   on the host, one per line).
 */
export function splitCredentials(u: URL): { url: URL; auth?: string } {
  const url = new URL(u);
  if (!url.username && !url.password) return { url };
  const auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  if (/[\r\n\0]/.test(auth)) throw new StoreError(`${showUrl(url)}: the user or password in the URL holds a line break or NUL`);
  return { url, auth };
}

/** A URL or path as written (`channel:`, `url:`) without credentials; a path is returned as is. */
export function withoutCredentials(ref: string): string {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(ref)) return ref;
  try {
    return splitCredentials(new URL(ref)).url.toString();
  } catch {
    return ref.replace(/\/\/[^/@]*@/, '//');
  }
}

function authHeaders(url: URL, env: NodeJS.ProcessEnv): Record<string, string> {
  if (url.username || url.password) {
    const creds = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    return { authorization: `Basic ${Buffer.from(creds).toString('base64')}` };
  }
  return env.ORCH_STORE_TOKEN ? { authorization: `Bearer ${env.ORCH_STORE_TOKEN}` } : {};
}

/**
 * Parses `--to STORE`: `http(s)://...`, `file:///...`, `s3://BUCKET/PREFIX`, or a path
 * (relative to `cwd`).
 * @throws StoreError for another URL scheme, or an `s3://` URL without a bucket.
 */
export function parseStore(to: string, cwd: string, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(to)) {
    let url: URL;
    try {
      url = new URL(to);
    } catch {
      throw new StoreError(`${to}: not a valid store URL`);
    }
    if (isS3(url)) {
      if (!url.hostname || url.username || url.password || url.search) throw new StoreError(`${showUrl(url)}: an S3 store is s3://BUCKET or s3://BUCKET/PREFIX (credentials come from the AWS environment, not the URL)`);
      if (!url.pathname.endsWith('/')) url.pathname += '/';
      return { kind: 's3', base: url, headers: {} };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'file:') {
      throw new StoreError(`${showUrl(url)}: unsupported store (${url.protocol}//): use a folder, file://, s3://BUCKET/PREFIX, or an http(s):// server that accepts PUT`);
    }
    const headers = authHeaders(url, env);
    url.username = '';
    url.password = '';
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return { kind: url.protocol === 'file:' ? 'dir' : 'http', base: url, headers };
  }
  const dir = pathToFileURL(resolvePath(cwd, to));
  if (!dir.pathname.endsWith('/')) dir.pathname += '/';
  return { kind: 'dir', base: dir, headers: {} };
}

/**
 * A URL or path as written in a playbook or inventory (`channel:`, `url:`): relative
 * paths resolve against `baseDir` and become `file://` URLs.
 * @returns the URL (credentials kept, for the request) .
 */
export function toUrl(ref: string, baseDir: string): URL {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(ref)) {
    const url = new URL(ref);
    if (!['http:', 'https:', 'file:', 's3:'].includes(url.protocol)) throw new StoreError(`${showUrl(url)}: unsupported URL scheme ${url.protocol}// (http, https, file or s3)`);
    return url;
  }
  return pathToFileURL(resolvePath(baseDir, ref));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A download whose bytes are wrong (size or sha256): the store is corrupt or tampered with. */
export class DownloadMismatchError extends StoreError {
  override name = 'DownloadMismatchError';
}

class HttpStatusError extends StoreError {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Runs `attempt` up to `attempts` times; retries network errors and 5xx, never 4xx or StoreErrors without status. */
async function withRetries<T>(what: string, opts: TransferOptions, attempt: (signal: AbortSignal, touch: () => void) => Promise<T>): Promise<T> {
  const attempts = opts.attempts ?? DEFAULTS.attempts;
  const idle = opts.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs;
  let last: unknown;
  for (let k = 1; k <= attempts; k++) {
    const ac = new AbortController();
    let timer = setTimeout(() => ac.abort(new Error(`no progress for ${idle} ms`)), idle);
    const touch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => ac.abort(new Error(`no progress for ${idle} ms`)), idle);
    };
    try {
      return await attempt(ac.signal, touch);
    } catch (err) {
      last = err;
      const retryable = err instanceof HttpStatusError ? err.status >= 500 : !(err instanceof StoreError);
      if (!retryable || k === attempts) break;
      await sleep((opts.retryDelayMs ?? DEFAULTS.retryDelayMs) * 2 ** (k - 1));
    } finally {
      clearTimeout(timer);
    }
  }
  if (last instanceof StoreError) throw last;
  const e = last as Error & { cause?: Error };
  const reason = ac_reason(e);
  throw new StoreError(`${what}: ${reason} (after ${attempts} attempt${attempts > 1 ? 's' : ''})`);
}

function ac_reason(e: Error & { cause?: Error }): string {
  const cause = e.cause?.message ?? '';
  return cause && cause !== e.message ? `${e.message}: ${cause}` : e.message;
}

async function httpRequest(url: URL, init: RequestInit & { duplex?: 'half' }, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  return fetch(url, { ...init, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) }, signal, redirect: 'follow' });
}

/** The S3 client of `opts`, or a new one from its environment (closed by the caller: {@link TransferOptions.s3}). */
function s3Of(opts: TransferOptions): S3Access {
  return opts.s3 ?? new S3Access({}, opts.env ?? process.env);
}

/**
 * Puts the local file `file` at `rel` (a `/`-separated path under the store's base)
 * atomically (temp name, then rename, MOVE, or S3 CopyObject).
 * @returns the final URL, and the bytes sent (`uploaded`: 0 when an S3 store already
 *   held the same bytes there).
 * @throws StoreError naming the URL and the server's status/answer.
 */
export async function putFileCounted(store: StoreLocation, rel: string, file: string, opts: TransferOptions = {}): Promise<{ url: URL; uploaded: number }> {
  const target = new URL(rel, store.base);
  if (store.kind === 's3') return { url: target, uploaded: await s3PutFile(s3Of(opts), target, file) };
  return { url: await putFile(store, rel, file, opts), uploaded: (await stat(file)).size };
}

/**
 * Puts the local file `file` at `rel` (a `/`-separated path under the store's base)
 * atomically (temp name, then rename or MOVE; S3: see {@link putFileCounted}).
 * @returns the final URL.
 * @throws StoreError naming the URL and the server's status/answer.
 */
export async function putFile(store: StoreLocation, rel: string, file: string, opts: TransferOptions = {}): Promise<URL> {
  const target = new URL(rel, store.base);
  if (store.kind === 's3') {
    await s3PutFile(s3Of(opts), target, file);
    return target;
  }
  const tmpName = `.${rel.split('/').pop()}.tmp-${randomBytes(6).toString('hex')}`;
  const tmp = new URL(tmpName, target);
  if (store.kind === 'dir') {
    const dest = fileURLToPath(target);
    const tmpPath = fileURLToPath(tmp);
    try {
      await mkdir(dirname(dest), { recursive: true });
      await copyFile(file, tmpPath);
      await rename(tmpPath, dest);
    } catch (err) {
      await rm(tmpPath, { force: true });
      throw new StoreError(`cannot write ${dest}: ${(err as Error).message}`);
    }
    return target;
  }
  const size = (await stat(file)).size;
  await withRetries(`PUT ${showUrl(tmp)}`, opts, async (signal, touch) => {
    const body = Readable.toWeb(createReadStream(file).on('data', touch)) as ReadableStream;
    const res = await httpRequest(tmp, { method: 'PUT', body, duplex: 'half', headers: { 'content-length': String(size) } }, store.headers, signal);
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new HttpStatusError(res.status, `PUT ${showUrl(tmp)}: HTTP ${res.status} ${res.statusText}${res.status === 405 ? ' (does the server accept PUT? nginx: dav_methods PUT MOVE;)' : ''}`);
  });
  try {
    await withRetries(`MOVE ${showUrl(tmp)}`, opts, async (signal) => {
      const res = await httpRequest(tmp, { method: 'MOVE', headers: { destination: target.toString(), overwrite: 'T' } }, store.headers, signal);
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new HttpStatusError(res.status, `MOVE ${showUrl(tmp)} -> ${showUrl(target)}: HTTP ${res.status} ${res.statusText}`);
    });
  } catch (err) {
    if (!(err instanceof HttpStatusError) || (err.status !== 405 && err.status !== 501)) throw err;
    // No MOVE on this server: PUT straight to the name (the server's own temp + rename).
    await withRetries(`PUT ${showUrl(target)}`, opts, async (signal, touch) => {
      const body = Readable.toWeb(createReadStream(file).on('data', touch)) as ReadableStream;
      const res = await httpRequest(target, { method: 'PUT', body, duplex: 'half', headers: { 'content-length': String(size) } }, store.headers, signal);
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new HttpStatusError(res.status, `PUT ${showUrl(target)}: HTTP ${res.status} ${res.statusText}`);
    });
    await withRetries(`DELETE ${showUrl(tmp)}`, { ...opts, attempts: 1 }, async (signal) => {
      const res = await httpRequest(tmp, { method: 'DELETE' }, store.headers, signal);
      await res.arrayBuffer().catch(() => undefined);
    }).catch(() => undefined);
  }
  return target;
}

/** {@link putFile} for a small text. */
export async function putText(store: StoreLocation, rel: string, text: string, opts: TransferOptions = {}): Promise<URL> {
  const dir = join(opts.env?.TMPDIR || '/tmp', `orch-put-${process.pid}-${randomBytes(6).toString('hex')}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const f = join(dir, 'body');
    await writeFile(f, text);
    return await putFile(store, rel, f, opts);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Reads a small file (manifest, signature) from a URL (`file:`, `http(s):`, `s3:`).
 * @param maxBytes refuse anything larger (a manifest is a few hundred bytes).
 * @returns the bytes, or `undefined` when it does not exist (404 / ENOENT) and `missingOk`.
 * @throws StoreError naming the URL: unreachable, HTTP status, too large.
 */
export async function readUrl(url: URL, opts: TransferOptions & { maxBytes?: number; missingOk?: boolean } = {}): Promise<Buffer | undefined> {
  const max = opts.maxBytes ?? 1024 * 1024;
  if (isS3(url)) return s3ReadObject(s3Of(opts), url, max, opts.missingOk === true);
  if (url.protocol === 'file:') {
    const p = fileURLToPath(url);
    try {
      const st = await stat(p);
      if (st.size > max) throw new StoreError(`${p}: larger than ${max} bytes`);
      return await readFile(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && opts.missingOk) return undefined;
      if (err instanceof StoreError) throw err;
      throw new StoreError(`cannot read ${p}: ${(err as Error).message}`);
    }
  }
  const headers = authHeaders(url, opts.env ?? process.env);
  const clean = new URL(url);
  clean.username = '';
  clean.password = '';
  return withRetries(`GET ${showUrl(url)}`, opts, async (signal) => {
    const res = await httpRequest(clean, { method: 'GET' }, headers, signal);
    if (res.status === 404 && opts.missingOk) {
      await res.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    if (!res.ok) {
      await res.arrayBuffer().catch(() => undefined);
      throw new HttpStatusError(res.status, `GET ${showUrl(url)}: HTTP ${res.status} ${res.statusText}`);
    }
    // Read while counting: an endless or huge answer is cut at max+1 bytes, never buffered whole.
    const declared = Number(res.headers.get('content-length') ?? NaN);
    const tooLarge = (): StoreError => new StoreError(`GET ${showUrl(url)}: refused: larger than ${max} bytes`);
    if (declared > max) {
      await res.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    const parts: Buffer[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > max) {
          await reader.cancel().catch(() => undefined);
          throw tooLarge();
        }
        parts.push(Buffer.from(value));
      }
    }
    return Buffer.concat(parts);
  });
}

/**
 * Downloads `url` to `dest` through a temp name beside it, checking size and sha256
 * before the rename: `dest` exists only with the right bytes.
 * @throws StoreError `<url>: sha256 mismatch: got X, want Y` / size mismatch / HTTP status.
 */
export async function downloadFile(url: URL, dest: string, want: { sha256: string; size?: number }, opts: TransferOptions = {}): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const headers = authHeaders(url, opts.env ?? process.env);
  const clean = new URL(url);
  clean.username = '';
  clean.password = '';
  try {
    await withRetries(`GET ${showUrl(url)}`, opts, async (signal, touch) => {
      const hash = createHash('sha256');
      let size = 0;
      // The stream is aborted at the first byte past the manifest's size: a hostile store
      // cannot fill the disk (the temp file is removed below).
      const tooLong = new AbortController();
      const count = (c: Buffer): void => {
        hash.update(c);
        size += c.length;
        touch();
        if (want.size !== undefined && size > want.size && !tooLong.signal.aborted) {
          tooLong.abort(new DownloadMismatchError(`${showUrl(url)}: refused: the store sends more than the ${want.size} bytes the manifest names (download stopped)`));
        }
      };
      const stopped = (err: unknown): never => {
        if (tooLong.signal.aborted) throw tooLong.signal.reason;
        throw err;
      };
      if (url.protocol === 'file:') {
        const src = createReadStream(fileURLToPath(url)).on('data', (c) => count(c as Buffer));
        try {
          await pipeline(src, createWriteStream(tmp), { signal: tooLong.signal });
        } catch (err) {
          if (tooLong.signal.aborted) throw tooLong.signal.reason;
          throw new StoreError(`cannot read ${showUrl(url)}: ${(err as Error).message}`);
        }
      } else {
        const res = await httpRequest(clean, { method: 'GET' }, headers, signal);
        if (!res.ok || !res.body) {
          await res.arrayBuffer().catch(() => undefined);
          throw new HttpStatusError(res.status, `GET ${showUrl(url)}: HTTP ${res.status} ${res.statusText}`);
        }
        const declared = Number(res.headers.get('content-length') ?? NaN);
        if (want.size !== undefined && declared > want.size) {
          await res.body.cancel().catch(() => undefined);
          throw new DownloadMismatchError(`${showUrl(url)}: refused: the store announces ${declared} bytes, the manifest names ${want.size}`);
        }
        const src = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream).on('data', (c) => count(c as Buffer));
        await pipeline(src, createWriteStream(tmp), { signal: tooLong.signal }).catch(stopped);
      }
      const got = hash.digest('hex');
      if (want.size !== undefined && size !== want.size) throw new DownloadMismatchError(`${showUrl(url)}: size mismatch: got ${size} bytes, want ${want.size} (truncated or replaced download)`);
      if (got !== want.sha256) throw new DownloadMismatchError(`${showUrl(url)}: sha256 mismatch: got ${got}, want ${want.sha256}`);
    });
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
}
