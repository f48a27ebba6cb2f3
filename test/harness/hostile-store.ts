/**
 * A hostile artifact store on loopback (node:http, 127.0.0.1, ephemeral port) for the
 * bounded-read and credential tests: it streams far more bytes than asked for and counts
 * what it managed to send before the client hung up.
 *
 * - `GET /endless/<name>?mib=N`: N MiB (default 300) of `x`, chunked (no length announced),
 *   1 MiB per write, waiting for the socket to drain;
 * - `GET /declared/<name>?mib=N`: the same with `content-length` announced;
 * - `GET /private/<name>`: `files[name]` (else `body`; 404 when that is empty) when the
 *   request has `Authorization: Basic <user:password>`, else 401;
 * - `GET /signed/<name>?...&X-Amz-Signature=good`: like a presigned S3 URL, `files[name]`
 *   (else `body`) only with that query parameter, else 403; every query is kept in `queries`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HostileStore {
  /** `http://127.0.0.1:PORT/` */
  base: string;
  /** Bytes written for each finished request, by path (written when its socket closed). */
  sent: Map<string, number>;
  /** Authorization headers received on /private/. */
  auth: string[];
  /** Query strings received on /signed/. */
  queries: string[];
  /** The files /private/ serves (may be filled after start). */
  files: Record<string, Buffer>;
  /** Resolves once the answer to `path` has ended (client gone or body done). */
  finished(path: string): Promise<number>;
  close(): Promise<void>;
}

const MIB = 1024 * 1024;

export async function startHostileStore(opts: { user: string; password: string; body: Buffer; files?: Record<string, Buffer> }): Promise<HostileStore> {
  const sent = new Map<string, number>();
  const files = opts.files ?? {};
  const waiters = new Map<string, ((n: number) => void)[]>();
  const auth: string[] = [];
  const queries: string[] = [];
  const done = (path: string, n: number): void => {
    sent.set(path, n);
    for (const w of waiters.get(path) ?? []) w(n);
    waiters.delete(path);
  };
  const chunk = Buffer.alloc(MIB, 'x');
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/signed/')) {
      queries.push(url.search);
      if (url.searchParams.get('X-Amz-Signature') !== 'good') {
        res.writeHead(403).end();
        return;
      }
      const body = files[url.pathname.slice('/signed/'.length)] ?? opts.body;
      res.writeHead(200, { 'content-length': body.length }).end(body);
      return;
    }
    if (url.pathname.startsWith('/private/')) {
      auth.push(req.headers.authorization ?? '');
      const want = `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}`;
      if (req.headers.authorization !== want) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="orch"' }).end();
        return;
      }
      const body = files[url.pathname.slice('/private/'.length)] ?? opts.body;
      if (body.length === 0) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
      return;
    }
    const endless = url.pathname.startsWith('/endless/');
    if (!endless && !url.pathname.startsWith('/declared/')) {
      res.writeHead(404).end();
      return;
    }
    const total = Number(url.searchParams.get('mib') ?? 300) * MIB;
    res.writeHead(200, endless ? {} : { 'content-length': total });
    let n = 0;
    let closed = false;
    res.on('close', () => {
      closed = true;
      done(url.pathname, n);
    });
    const pump = (): void => {
      // Bounded: at most total / 1 MiB writes.
      while (!closed && n < total) {
        n += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!closed) res.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}/`,
    sent,
    auth,
    queries,
    files,
    finished: (path) => {
      const have = sent.get(path);
      if (have !== undefined) return Promise.resolve(have);
      return new Promise((r) => waiters.set(path, [...(waiters.get(path) ?? []), r]));
    },
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
