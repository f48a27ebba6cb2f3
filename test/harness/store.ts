/**
 * A real artifact store for tests and the bench: Debian's nginx with WebDAV PUT/MOVE
 * (`dav_methods PUT DELETE MOVE`), serving a temp folder, in its own network namespace
 * attached to a fleet's bridge at `10.231.<subnet>.250:80` — so the fleet's hosts and the
 * control side (this process, through the bridge address) both reach it.
 *
 * Usage: `const store = await startStore(fleet); ... await store.teardown();` (before the
 * fleet's teardown, which deletes the bridge). `stop()`/`start()` take the server down and
 * up; `blockHost(host)` makes the store unreachable from one host (an `unreachable`
 * route in that host's netns). Every process is ended by its own pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import path from 'node:path';
import type { Fleet, TestHost } from './fleet.js';
import { findExecutable } from './fleet.js';

export interface TestStore {
  /** `http://10.231.S.250/` */
  baseUrl: string;
  address: string;
  /** The folder nginx serves (and PUT writes into). */
  root: string;
  /** nginx's access log (one line per request: `METHOD URI STATUS BYTES`). */
  accessLog: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Makes the store unreachable (`true`) or reachable again (`false`) from `host`. */
  blockHost(host: TestHost, blocked: boolean): Promise<void>;
  teardown(): Promise<void>;
}

/** True when nginx (Debian's nginx-light or nginx) is installed. */
export function canRunStore(): boolean {
  return findExecutable('nginx') !== undefined;
}

let seq = 0;

function nginxConf(dir: string, address: string): string {
  return `worker_processes 2;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 2048; }
http {
  log_format orch '$request_method $uri $status $body_bytes_sent "$http_user_agent"';
  access_log ${dir}/access.log orch;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  sendfile on;
  types { application/json json; application/gzip gz; }
  server {
    listen ${address}:80;
    root ${dir}/root;
    client_max_body_size 0;
    location / {
      dav_methods PUT DELETE MOVE;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`;
}

async function waitForTcp(address: string, port: number, timeoutMs: number, dead: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host: address, port });
      s.setTimeout(300);
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('timeout', () => { s.destroy(); resolve(false); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    const d = dead();
    if (d) throw new Error(d);
    if (Date.now() > deadline) throw new Error(`nginx on ${address}:${port} did not accept TCP within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts nginx in netns `orchnginx-<pid>-<n>` on `fleet`'s bridge.
 * @throws Error when nginx is missing or does not come up within 5 s (with its error log).
 */
export async function startStore(fleet: Fleet): Promise<TestStore> {
  const nginx = findExecutable('nginx');
  if (!nginx) throw new Error('startStore needs nginx (apt-get install nginx-light)');
  const n = ++seq;
  const netns = `orchnginx-${process.pid}-${n}`;
  const veth = `os${fleet.subnet}-${n}`;
  const peer = `os${fleet.subnet}p${n}`;
  const address = `10.231.${fleet.subnet}.${250 - n + 1}`;
  const dir = await mkdtemp(`/var/tmp/orch-store-${process.pid}-${n}-`);
  for (const d of ['root', 'body', 'proxy', 'fastcgi']) await mkdir(path.join(dir, d), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(conf, nginxConf(dir, address));
  const ip = (...args: string[]): void => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  const created: string[] = [];
  try {
    ip('netns', 'add', netns);
    created.push('netns');
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', peer);
    created.push('veth');
    ip('link', 'set', peer, 'netns', netns);
    ip('link', 'set', veth, 'master', `orb${fleet.subnet}`, 'up');
    ip('-n', netns, 'link', 'set', peer, 'name', 'eth0');
    ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', netns, 'link', 'set', 'eth0', 'up');
    ip('-n', netns, 'link', 'set', 'lo', 'up');
  } catch (e) {
    if (created.includes('netns')) spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
    if (created.includes('veth')) spawnSync('ip', ['link', 'del', veth], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  let child: ChildProcess | undefined;
  let torn = false;
  const kill = (): void => {
    const r = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
    const pids = new Set(r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p > 0));
    if (child?.pid !== undefined) pids.add(child.pid);
    for (const p of pids) {
      try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    }
  };
  const start = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const log = openSync(path.join(dir, 'stderr.log'), 'a');
    const c = spawn('ip', ['netns', 'exec', netns, nginx, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', log, log] });
    closeSync(log);
    child = c;
    let exited: string | undefined;
    c.once('exit', (code, sig) => {
      const err = existsSync(path.join(dir, 'error.log')) ? readFileSync(path.join(dir, 'error.log'), 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
      exited = `nginx exited (${code ?? sig}): ${err} ${readFileSync(path.join(dir, 'stderr.log'), 'utf8').trim()}`;
    });
    await waitForTcp(address, 80, 5000, () => exited);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    kill();
    if (c && c.exitCode === null && c.signalCode === null) await new Promise<void>((r) => c.once('exit', () => r()));
    child = undefined;
  };
  const cleanupSync = (): void => {
    if (torn) return;
    torn = true;
    process.removeListener('exit', cleanupSync);
    kill();
    spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', veth], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanupSync);
  try {
    await start();
  } catch (e) {
    cleanupSync();
    throw e;
  }
  return {
    baseUrl: `http://${address}/`,
    address,
    root: path.join(dir, 'root'),
    accessLog: path.join(dir, 'access.log'),
    start,
    stop,
    async blockHost(host, blocked) {
      const r = await fleet.hostExec(host, `ip route ${blocked ? 'add' : 'del'} unreachable ${address}/32`);
      if (r.code !== 0) throw new Error(`blockHost ${host.name}: ${r.stderr.trim()}`);
    },
    async teardown() {
      await stop();
      cleanupSync();
    },
  };
}
