/**
 * Fleet scenarios shared by `npm run bench:compare` and `npm run bench:quick`: on real
 * sshd test hosts (test/harness/fleet.ts), for each orch build ("side", e.g. `old` = a git
 * ref and `new` = the working tree) a fresh deploy of the bench's workload (workload.ts:
 * a `dir` app with a 5 MiB random blob, install + symlink + restart) from wiped hosts and
 * then a no-op redeploy of the same playbook; beside them the bare parallel
 * `ssh … tar x` deploy and an `ssh HOST true` fan-out.
 *
 * One repetition runs every contender once, in an order that rotates every repetition
 * (so that machine load at any moment is shared), after one unmeasured warm-up
 * repetition. Every run is checked on every host (link, blob size, restart count), and
 * the no-op must report no changed host and 0 bytes uploaded; a failed check is an error
 * (thrown), never a sample. Each side has its own HOME and bundle cache.
 */
import path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Fleet } from '../test/harness/fleet.js';
import { runTimed, settle, tailOf, type TimedResult } from './proc.js';
import {
  bareDeployScript, checkHost, hostListText, orchInventoryYaml, orchPlaybookYaml, sshTrueScript, wipeHost, writeApp, type Endpoint,
} from './workload.js';

/** One orch build to measure: `orch` is the path of its `bin/orch.js`. */
export interface Side {
  name: string;
  orch: string;
  /** More environment for this side's runs (e.g. ORCH_SSH_PERSIST). */
  env?: Record<string, string>;
}

/** Options of {@link measureFleet}. */
export interface FleetCompareOptions {
  fleet: Fleet;
  /** An empty folder for the inputs (app, tarball, playbooks, per-side HOME). */
  work: string;
  sides: readonly Side[];
  /** Measured repetitions (after one warm-up). */
  runs: number;
  log: (s: string) => void;
}

/**
 * Samples in ms, keyed `fresh:<side>`, `noop:<side>`, `fresh:bare` and `noop:ssh-true`.
 */
export type FleetSamples = Record<string, number[]>;

interface Summary { changed: number; failed: number; bytesUploaded: number }

function parseSummary(stdout: string): Summary | undefined {
  for (const line of stdout.trim().split('\n').reverse()) {
    try {
      const o = JSON.parse(line) as { type?: string };
      if (o.type === 'summary') return o as unknown as Summary;
    } catch {
      /* not JSON */
    }
  }
  return undefined;
}

function checkOk(what: string, r: TimedResult): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${tailOf(r.stderr || r.stdout)}`);
}

/**
 * Runs the fresh-deploy and no-op scenarios for every side and the bare ssh contenders,
 * interleaved. Throws on the first failed run or host check.
 */
export async function measureFleet(o: FleetCompareOptions): Promise<FleetSamples> {
  const { fleet, work, sides, runs, log } = o;
  const n = fleet.hosts.length;
  const { tarball } = await writeApp(work, async (args) => {
    const r = await runTimed('tar', args, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`tar ${args.join(' ')}: ${tailOf(r.stderr)}`);
  });
  const direct: Endpoint[] = fleet.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port }));
  await writeFile(path.join(work, 'inventory.yml'), orchInventoryYaml(direct, fleet.identityFile, fleet.knownHostsFile));
  await writeFile(path.join(work, 'playbook.yml'), orchPlaybookYaml('inventory.yml'));
  await writeFile(path.join(work, 'hosts.txt'), hostListText(direct));
  await writeFile(path.join(work, 'bare-deploy.sh'), bareDeployScript());
  await writeFile(path.join(work, 'ssh-true.sh'), sshTrueScript());
  const basePath = process.env.PATH ?? '/usr/bin:/bin';
  const sshEnv = { PATH: basePath, LANG: 'C.UTF-8', HOME: path.join(work, 'home-ssh'), KNOWN_HOSTS: fleet.knownHostsFile, IDENTITY: fleet.identityFile };
  await mkdir(sshEnv.HOME, { recursive: true });

  const wipeAll = (): Promise<unknown> => Promise.all(fleet.hosts.map((h) => wipeHost(h.dir)));
  const verifyAll = async (what: string, restarts: number): Promise<void> => {
    const problems = (await Promise.all(fleet.hosts.map(async (h) => [h.name, await checkHost(h.dir, restarts)] as const))).filter(([, p]) => p);
    if (problems.length) throw new Error(`${what}: ${problems.length} host(s) wrong after the run: ${problems.slice(0, 3).map(([h, p]) => `${h}: ${p}`).join('; ')}`);
  };

  type Contender = { label: string; run: () => Promise<Array<[string, number]>> };
  const contenders: Contender[] = [];
  for (const side of sides) {
    const home = path.join(work, `home-${side.name}`);
    await mkdir(home, { recursive: true });
    const env = { PATH: basePath, LANG: 'C.UTF-8', HOME: home, XDG_CACHE_HOME: path.join(home, 'cache'), NO_COLOR: '1', ...side.env };
    const apply = async (extra: string[]): Promise<{ r: TimedResult; s: Summary | undefined }> => {
      await settle();
      const r = await runTimed(process.execPath, [side.orch, 'apply', 'playbook.yml', '--json', '--yes', ...extra], { cwd: work, env, timeoutMs: 600_000 });
      return { r, s: parseSummary(r.stdout) };
    };
    contenders.push({
      label: `orch (${side.name})`,
      run: async () => {
        await wipeAll();
        const fresh = await apply([]);
        checkOk(`orch apply (${side.name})`, fresh.r);
        if (fresh.s?.changed !== n) throw new Error(`orch apply (${side.name}): expected ${n} changed hosts, got ${JSON.stringify(fresh.s)}`);
        await verifyAll(`orch apply (${side.name})`, 1);
        const noop = await apply(['--detailed-exitcodes']);
        checkOk(`no-op orch apply (${side.name})`, noop.r);
        if (noop.s?.changed !== 0 || noop.s.bytesUploaded !== 0) throw new Error(`no-op orch apply (${side.name}): ${JSON.stringify(noop.s)}`);
        await verifyAll(`no-op orch apply (${side.name})`, 1);
        return [[`fresh:${side.name}`, fresh.r.ms], [`noop:${side.name}`, noop.r.ms]];
      },
    });
  }
  contenders.push({
    label: 'bare ssh',
    run: async () => {
      await wipeAll();
      await settle();
      const r = await runTimed('bash', [path.join(work, 'bare-deploy.sh'), path.join(work, 'hosts.txt'), tarball], { env: sshEnv, timeoutMs: 300_000 });
      checkOk('bare ssh deploy', r);
      await verifyAll('bare ssh deploy', 1);
      await settle();
      const t = await runTimed('bash', [path.join(work, 'ssh-true.sh'), path.join(work, 'hosts.txt')], { env: sshEnv, timeoutMs: 120_000 });
      checkOk('ssh true fan-out', t);
      return [['fresh:bare', r.ms], ['noop:ssh-true', t.ms]];
    },
  });

  const samples: FleetSamples = {};
  for (let round = 0; round <= runs; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length]!;
      const got = await c.run();
      log(`${c.label}, ${round === 0 ? 'warm-up' : `run ${round}/${runs}`}: ${got.map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`).join(', ')}`);
      if (round > 0) for (const [k, ms] of got) (samples[k] ??= []).push(ms);
    }
  }
  return samples;
}
