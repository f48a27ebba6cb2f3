/**
 * `npm run bench:quick`: the working tree's fresh deploy and no-op redeploy against bare ssh
 * on 4 sshd test hosts, 3 interleaved repetitions after a warm-up (fleet-compare.ts), for
 * the CI log: it prints the medians and the ratios orch/bare-ssh-tar-x and orch/ssh-true,
 * without and with persistent connections (ORCH_SSH_PERSIST=60),
 * and never fails on a time (exit 0; also when it cannot measure, with the reason).
 * Environment: BENCH_HOSTS (4, 1..50), BENCH_RUNS (3, 1..20). Needs root (network namespaces).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopControlMasters } from '../test/harness/control-master.js';
import { canRunFleet, startFleet } from '../test/harness/fleet.js';
import { measureFleet } from './fleet-compare.js';
import { summarizeSamples } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function intEnv(name: string, def: number, max: number): number {
  const n = Number(process.env[name] || def);
  return Number.isInteger(n) && n >= 1 && n <= max ? n : def;
}

async function main(): Promise<void> {
  const hosts = intEnv('BENCH_HOSTS', 4, 50);
  const runs = intEnv('BENCH_RUNS', 3, 20);
  if (!canRunFleet()) {
    console.log('bench:quick: not measured (needs root, ip, unshare, nsenter, ssh-keygen and /usr/sbin/sshd)');
    return;
  }
  const work = await mkdtemp(path.join(os.tmpdir(), 'orch-bench-quick-'));
  const fleet = await startFleet({ count: hosts, name: 'obquick' });
  try {
    const orch = path.join(REPO, 'bin', 'orch.js');
    // `persist`: connections held by the control master between runs (the warm-up starts it).
    const sides = [{ name: 'orch', orch }, { name: 'persist', orch, env: { ORCH_SSH_PERSIST: '60' } }];
    const s = await measureFleet({ fleet, work, sides, runs, log: (l) => console.error(`bench:quick: ${l}`) }).finally(() => stopControlMasters(path.join(work, 'home-persist')));
    const med = (k: string): number => summarizeSamples(s[k] ?? []).median;
    console.log(`\nbench:quick: ${hosts} hosts, medians of ${runs} interleaved runs (load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ratios, not times, are comparable)`);
    console.log('| scenario | orch ms | bare ms | orch/bare |');
    console.log('|---|---|---|---|');
    console.log(`| fresh deploy, 5 MiB (bare: parallel ssh tar x) | ${med('fresh:orch').toFixed(0)} | ${med('fresh:bare').toFixed(0)} | ${(med('fresh:orch') / med('fresh:bare')).toFixed(2)} |`);
    console.log(`| no-op redeploy (bare: ssh true) | ${med('noop:orch').toFixed(0)} | ${med('noop:ssh-true').toFixed(0)} | ${(med('noop:orch') / med('noop:ssh-true')).toFixed(2)} |`);
    console.log(`| fresh deploy, ORCH_SSH_PERSIST=60 | ${med('fresh:persist').toFixed(0)} | ${med('fresh:bare').toFixed(0)} | ${(med('fresh:persist') / med('fresh:bare')).toFixed(2)} |`);
    console.log(`| no-op redeploy, ORCH_SSH_PERSIST=60 | ${med('noop:persist').toFixed(0)} | ${med('noop:ssh-true').toFixed(0)} | ${(med('noop:persist') / med('noop:ssh-true')).toFixed(2)} |`);
  } finally {
    await fleet.teardown();
    await rm(work, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  console.log(`bench:quick: not measured: ${(e as Error).message}`);
}
