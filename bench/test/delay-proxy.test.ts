/**
 * The latency proxy, run for real (the compiled child process) in front of a real TCP
 * echo server on loopback: added round-trip time, byte-exact ordering, exit on stdin EOF.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROXY = path.join(BENCH, 'build', 'bench', 'delay-proxy.js');

let echo: Server;
let echoPort: number;
let proxy: ChildProcessWithoutNullStreams;
let lines: Interface;
let proxyPort: number;
const waiting: Array<(l: string) => void> = [];
const nextLine = (): Promise<string> => new Promise((r) => waiting.push(r));

beforeAll(async () => {
  const tsc = spawnSync(process.execPath, [path.join(BENCH, '..', 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(BENCH, 'tsconfig.json')], { encoding: 'utf8' });
  expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  echo = createServer((s) => {
    s.setNoDelay(true);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
  proxy = spawn(process.execPath, [PROXY, `127.0.0.1:${echoPort}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  lines = createInterface({ input: proxy.stdout });
  lines.on('line', (l) => waiting.shift()?.(l));
  const first = JSON.parse(await nextLine()) as { ports: number[] };
  expect(first.ports).toHaveLength(1);
  proxyPort = first.ports[0]!;
});

afterAll(async () => {
  if (proxy && proxy.exitCode === null) proxy.kill('SIGKILL');
  await new Promise((r) => echo?.close(r));
});

async function setDelay(ms: number): Promise<void> {
  proxy.stdin.write(`delay ${ms}\n`);
  expect(await nextLine()).toBe(`ok ${ms}`);
}

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: proxyPort }, () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  });
}

/** Sends `payload` and resolves with the echoed bytes and the time to get them all back. */
function roundTrip(s: Socket, payload: Buffer): Promise<{ ms: number; back: Buffer }> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let n = 0;
    const t0 = performance.now();
    const onData = (c: Buffer): void => {
      got.push(c);
      n += c.length;
      if (n >= payload.length) {
        s.off('data', onData);
        resolve({ ms: performance.now() - t0, back: Buffer.concat(got) });
      }
    };
    s.on('data', onData);
    s.write(payload);
  });
}

describe('delay proxy', () => {
  it('adds the set delay to each round trip (host -> client direction only)', async () => {
    const s = await open();
    await setDelay(0);
    const fast = await roundTrip(s, Buffer.from('ping'));
    await setDelay(80);
    const slow = [await roundTrip(s, Buffer.from('ping')), await roundTrip(s, Buffer.from('pong'))];
    s.destroy();
    expect(fast.ms).toBeLessThan(40);
    for (const r of slow) {
      expect(r.back.toString()).toMatch(/^p[io]ng$/);
      expect(r.ms).toBeGreaterThanOrEqual(79);
      expect(r.ms).toBeLessThan(80 + 60);
    }
  });

  it('passes 4 MiB byte-exact and in order while delaying', async () => {
    await setDelay(20);
    const s = await open();
    const payload = randomBytes(4 * 1024 * 1024);
    const { back } = await roundTrip(s, payload);
    s.destroy();
    expect(back.length).toBe(payload.length);
    expect(back.equals(payload)).toBe(true);
  });

  it('answers an unknown command with an error line', async () => {
    proxy.stdin.write('slow down\n');
    expect(await nextLine()).toBe('error "slow down"');
  });

  it('rejects a malformed target with a message and exit 1', () => {
    const r = spawnSync(process.execPath, [PROXY, 'nope'], { encoding: 'utf8', input: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('delay-proxy: expected ADDR:PORT, got "nope"\n');
  });

  it('exits 0 when its stdin closes (never outlives the benchmark)', async () => {
    const exited = new Promise<number | null>((r) => proxy.once('exit', (code) => r(code)));
    proxy.stdin.end();
    expect(await exited).toBe(0);
  });
});
