/**
 * Issue 6, row 12: network impairment with `tc netem` on one host's link (both
 * directions: the host's eth0 and the bridge-side veth): 500 ms ± 100 ms delay, 5 % and
 * 20 % loss, 1 Mbit/s. Each run either completes with verified checksums or fails that
 * host — never a corrupted install (`.orch-installed` present ⇒ files match the bundle).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { hostOk, makeWork, onHost, orch, summaryOf, writeApp, writeFile, type Work } from './helpers.js';

const ROOT = '/srv/slow';

describe.skipIf(!canRunFleet())('netem (issue 6 row 12)', () => {
  let fleet: Fleet;
  let work: Work;
  let pb: string;
  const h = (i: number): TestHost => fleet.hosts[i - 1]!;
  const veth = (): string => `ov${fleet.subnet}-1`;

  beforeAll(async () => {
    fleet = await startFleet({ count: 2, name: 'orchnet' });
    work = makeWork('netem');
    writeFile(work, 'inventory.yml', fleet.inventoryYaml());
    pb = writeFile(work, 'slow.yml', `inventory: inventory.yml\nvars: { app: slow, root: ${ROOT} }\nbundles:\n  slow: { source: slow, builder: dir }\nsteps:\n  - install: {}\n  - symlink: {}\n  - put: { dest: ${ROOT}/shared/blob.bin, src: slow/blob.bin }\n`);
  }, 120_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  /**
   * Impairs h1's link both ways. With `sch_netem` in the kernel: netem on the host's eth0
   * and on the bridge-side veth. Without it (e.g. a VM kernel without modules): loss with
   * iptables' `statistic` match in the host's netns, rate with `tbf`; delay needs netem.
   * Returns a function undoing it, or undefined when this kernel cannot do it.
   */
  const impair = async (netem: string): Promise<(() => Promise<void>) | undefined> => {
    const both = async (qdisc: string): Promise<() => Promise<void>> => {
      await hostOk(fleet, h(1), `tc qdisc replace dev eth0 root ${qdisc}`);
      const tc = spawnSync('tc', ['qdisc', 'replace', 'dev', veth(), 'root', ...qdisc.split(' ')], { encoding: 'utf8' });
      if (tc.status !== 0) throw new Error(tc.stderr);
      return async () => {
        await hostOk(fleet, h(1), 'tc qdisc del dev eth0 root');
        spawnSync('tc', ['qdisc', 'del', 'dev', veth(), 'root']);
      };
    };
    if ((await fleet.hostExec(h(1), 'tc qdisc replace dev lo root netem delay 1ms && tc qdisc del dev lo root')).code === 0) return both(`netem ${netem}`);
    const loss = /^loss (\d+)%$/.exec(netem);
    if (loss) {
      const p = Number(loss[1]) / 100;
      await hostOk(fleet, h(1), `iptables -A INPUT -m statistic --mode random --probability ${p} -j DROP && iptables -A OUTPUT -m statistic --mode random --probability ${p} -j DROP`);
      return async () => void (await hostOk(fleet, h(1), 'iptables -F'));
    }
    if (netem === 'rate 1mbit') return both('tbf rate 1mbit burst 32kbit latency 400ms');
    const delay = /^delay (\d+)ms (\d+)ms$/.exec(netem);
    if (delay) return delayThroughProxy(Number(delay[1]), Number(delay[2]));
    return undefined;
  };

  /**
   * Without netem: h1 is reached through a TCP proxy on loopback that holds every chunk,
   * both ways, `base ± jitter` ms (order kept), so each round trip grows by ~2 x base.
   * The inventory points h1 at the proxy; its host key is pinned for the proxy's address.
   */
  const delayThroughProxy = async (base: number, jitter: number): Promise<() => Promise<void>> => {
    const sockets = new Set<Socket>();
    const held = (from: Socket, to: Socket): void => {
      let due = 0;
      const send = (chunk: Buffer | null): void => {
        due = Math.max(due, Date.now() + base + (Math.random() * 2 - 1) * jitter);
        setTimeout(() => (chunk === null ? to.end() : to.write(chunk)), Math.max(0, due - Date.now()));
      };
      from.on('data', (c: Buffer) => send(c));
      from.on('end', () => send(null));
      from.on('error', () => to.destroy());
    };
    const server = createServer((client) => {
      const upstream = connect(h(1).port, h(1).address);
      sockets.add(client).add(upstream);
      held(client, upstream);
      held(upstream, client);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const key = readFileSync(fleet.knownHostsFile, 'utf8').split('\n').find((l) => l.startsWith(`${h(1).address} `))!.split(' ').slice(1).join(' ');
    const known = writeFile(work, 'proxy_known_hosts', `${readFileSync(fleet.knownHostsFile, 'utf8')}[127.0.0.1]:${port} ${key}\n`);
    const inventory = join(work.dir, 'inventory.yml');
    const original = readFileSync(inventory, 'utf8');
    writeFileSync(inventory, fleet.inventoryYaml({ hosts: { h1: { address: '127.0.0.1', port, known_hosts: known } } }));
    console.log(`row 12: no sch_netem: h1 through a userspace proxy holding data ${base} ± ${jitter} ms each way`);
    return async () => {
      writeFileSync(inventory, original);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    };
  };

  it.each([
    ['500ms ± 100ms delay', 'delay 500ms 100ms'],
    ['5 % loss', 'loss 5%'],
    ['20 % loss', 'loss 20%'],
    ['1 Mbit/s', 'rate 1mbit'],
  ] as const)('%s on h1: completes with verified files, or fails h1 — never a corrupted install', async (_name, netem) => {
    const version = `1.0.${netem.length}${netem.charCodeAt(0)}`;
    const blob = randomBytes(256 * 1024);
    writeApp(work, 'slow', version, { 'blob.bin': blob });
    const undo = await impair(netem);
    if (!undo) throw new Error(`cannot impose ${netem} on this machine`);
    let r;
    try {
      r = await orch(['apply', pb, '--json'], work.env, { cwd: work.dir, timeoutMs: 300_000 });
    } finally {
      await undo();
    }
    expect(r.code, r.stdout.slice(-2000) + r.stderr).not.toBeNull(); // finished on its own
    const s = summaryOf(r.stdout);
    const h1 = s.hosts.find((x) => x.host === 'h1')!;
    console.log(`row 12: ${netem}: exit ${r.code} in ${r.ms} ms; h1 ${h1.status}${h1.error ? `: ${h1.error.slice(0, 120)}` : ''}`);
    expect(s.hosts.find((x) => x.host === 'h2')!.status).toBe('changed');
    if (r.code === 0) expect(h1.status).toBe('changed');
    else {
      expect(r.code).toBe(4);
      expect(['failed', 'unreachable']).toContain(h1.status);
    }
    // Never corrupted: a version with its marker holds exactly the bundle's files; current is complete.
    for (const host of fleet.hosts) {
      const vdir = onHost(host, `${ROOT}/versions/${version}`);
      if (existsSync(join(vdir, '.orch-installed'))) expect(readFileSync(join(vdir, 'blob.bin')).equals(blob)).toBe(true);
      if (existsSync(onHost(host, `${ROOT}/current`))) expect(existsSync(onHost(host, `${ROOT}/${readlinkSync(onHost(host, `${ROOT}/current`))}/.orch-installed`))).toBe(true);
      const shared = onHost(host, `${ROOT}/shared/blob.bin`);
      if (host.name === 'h2' || h1.status === 'changed') expect(readFileSync(shared).equals(blob)).toBe(true);
    }
  }, 320_000);
});
