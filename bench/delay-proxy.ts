/**
 * A latency-injecting TCP proxy, for kernels without `sch_netem` (`tc qdisc ... netem`
 * fails with "Specified qdisc kind is unknown"). Run as a child process:
 *
 *   node delay-proxy.js ADDR:PORT...      (one listener on 127.0.0.1 per target)
 *
 * It prints one line `{"ports":[P1,...]}` once listening (127.0.0.1:Pi forwards to the
 * i-th target), then reads commands on stdin, one a line: `delay MS` sets the delay for
 * data received from now on and answers `ok MS`. It exits when stdin closes, so it never
 * outlives the benchmark.
 *
 * Model: like `tc netem delay D` on the host's egress only — every chunk the host (server)
 * sends is held for D ms before it is passed to the client; the client's data goes
 * through at once, so each application round trip grows by D. Unlike netem, TCP's own
 * ACKs and slow start are not delayed (the proxy terminates TCP on loopback), so the
 * measured slope counts protocol round trips (SSH channel opens, window adjusts,
 * requests), not TCP congestion-window round trips. Nagle is off on both sides.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

/** Parses `ADDR:PORT` arguments. @throws Error on a malformed target. */
function parseTargets(args: readonly string[]): Array<{ host: string; port: number }> {
  return args.map((a) => {
    const m = /^([^:]+):(\d+)$/.exec(a);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`delay-proxy: expected ADDR:PORT, got ${JSON.stringify(a)}`);
    return { host: m[1]!, port: Number(m[2]) };
  });
}

let delayMs = 0;
const sockets = new Set<Socket>();

/** Pipes `from` to `to`, holding each chunk `delay()` ms (order kept: one FIFO per direction). */
function pipeDelayed(from: Socket, to: Socket, delay: () => number): void {
  const queue: Array<{ due: number; chunk: Buffer | null }> = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0]!.due <= now + 0.5) {
      const { chunk } = queue.shift()!;
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (queue.length) timer = setTimeout(flush, Math.max(0, queue[0]!.due - performance.now()));
  };
  const push = (chunk: Buffer | null): void => {
    const d = delay();
    if (d <= 0 && queue.length === 0) {
      if (chunk === null) to.end();
      else to.write(chunk);
      return;
    }
    queue.push({ due: performance.now() + d, chunk });
    if (!timer) timer = setTimeout(flush, Math.max(0, queue[0]!.due - performance.now()));
  };
  from.on('data', (c: Buffer) => push(c));
  from.on('end', () => push(null));
}

function serve(target: { host: string; port: number }): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect({ host: target.host, port: target.port });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    // client -> host: at once; host -> client: held delayMs (host-side egress delay).
    pipeDelayed(client, upstream, () => 0);
    pipeDelayed(upstream, client, () => delayMs);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main(): Promise<void> {
  const targets = parseTargets(process.argv.slice(2));
  const servers = await Promise.all(targets.map((t) => serve(t)));
  process.stdout.write(`${JSON.stringify({ ports: servers.map((s) => (s.address() as { port: number }).port) })}\n`);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const m = /^delay (\d+)$/.exec(line.trim());
    if (!m) {
      process.stdout.write(`error ${JSON.stringify(line)}\n`);
      return;
    }
    delayMs = Number(m[1]);
    process.stdout.write(`ok ${delayMs}\n`);
  });
  rl.on('close', () => {
    for (const s of servers) s.close();
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
