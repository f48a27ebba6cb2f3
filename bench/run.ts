/**
 * `npm run bench`: orch against tuned Ansible and a bare parallel ssh script on real sshd
 * test hosts (issue 5). Measures, interleaved in one run, medians and min–max over
 * `BENCH_RUNS` repetitions:
 *
 * - fresh deploy of a 5 MiB release: orch vs ansible-playbook vs bare `ssh ... < tgz`;
 *   plus orch's own bundle build (cache warm, and cold) timed apart from the deploy;
 * - no-op redeploy with orch vs an `ssh HOST true` fan-out, and orch's `bytesUploaded`;
 * - round trips per host: wall time against added host-side latency D (tc netem, or a
 *   userspace delay proxy when the kernel lacks sch_netem), least-squares slope;
 * - `orch plan --offline` of a generated 10,000-host inventory: wall time, peak RSS;
 * - `orch --version` start-up (median of 20) against bare `node -e 0`;
 * - scale (bench/scale.ts, needs no root, runs first): `validate` and `plan --offline` of
 *   generated 1k/10k/50k-host inventories, wall time and peak RSS, and `validate` of
 *   20,000 unknown keys.
 *
 * Prints a table with the ratios and writes `bench/results.json`. Environment:
 * BENCH_HOSTS (8, 1..200), BENCH_RUNS (5), BENCH_LATENCY_RUNS (3), BENCH_LATENCY_HOSTS (1:
 * the round-trip count is per host; with many hosts on few cores, CPU queueing overlaps
 * the added wait and hides round trips), BENCH_DELAYS
 * ("0,25,50,100" ms), BENCH_PLAN_HOSTS (10000), BENCH_ORCH_FORKS (orch's default),
 * BENCH_SKIP (comma list of: ansible, bare, deploy, noop, delta, latency, plan, startup, forks1, scale),
 * BENCH_ONLY=scale (only the scale section: no root, no fleet), BENCH_SCALE_HOSTS
 * ("1000,10000,50000"), BENCH_SCALE_KEYS (20000; 0 skips), BENCH_SCALE_RUNS (3),
 * BENCH_DELTA_RATE (`100mbit`: the delta section's shaped uplink; a comma list, or `off`),
 * BENCH_OUT (results path).
 *
 * Needs root (the test-host harness). Everything it starts is stopped in `finally` and
 * on SIGINT/SIGTERM: the fleet, the delay proxy, netem and tbf qdiscs, Ansible's ControlMasters.
 * Only the fleet's addresses and loopback are contacted.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stopControlMasters } from '../test/harness/control-master.js';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../test/harness/fleet.js';
import { ensureTool, type ToolStatus } from './prereqs.js';
import { runTimed, settle, tailOf, type TimedResult } from './proc.js';
import { measureScale, type ScaleResult } from './scale.js';
import { deltaReport, measureDelta, type DeltaResults } from './delta.js';
import { parseLinkRates } from './link-shape.js';
import { formatRatios, formatTable, type Ratio, type Row } from './report.js';
import { fitLine, ratioOf, summarizeSamples, type LineFit, type SampleSummary } from './stats.js';
import {
  ansibleCfg, ansibleInventoryIni, ansiblePlaybookYaml, bareDeployScript, bigInventoryYaml, checkHost, hostListText,
  orchInventoryYaml, orchPlaybookYaml, sshTrueScript, wipeHost, writeApp, type Endpoint,
} from './workload.js';

/** The repository root (bench/build/bench/run.js -> ../../..). */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ORCH = path.join(REPO, 'bin', 'orch.js');

function intEnv(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number ${min}..${max}, got ${JSON.stringify(raw)}`);
  return n;
}

const HOSTS = intEnv('BENCH_HOSTS', 8, 1, 200);
const RUNS = intEnv('BENCH_RUNS', 5, 1, 50);
const LAT_RUNS = intEnv('BENCH_LATENCY_RUNS', 3, 1, 20);
const LAT_HOSTS_WANTED = intEnv('BENCH_LATENCY_HOSTS', 1, 1, 200);
const PLAN_HOSTS = intEnv('BENCH_PLAN_HOSTS', 10_000, 1, 100_000);
const ORCH_FORKS = process.env.BENCH_ORCH_FORKS ? intEnv('BENCH_ORCH_FORKS', 50, 1, 1000) : undefined;
const DELAYS = (process.env.BENCH_DELAYS ?? '0,25,50,100').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw new Error(`BENCH_DELAYS: expected ms values 0..1000, got ${JSON.stringify(s)}`);
  return n;
});
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').map((s) => s.trim()).filter(Boolean));
const ONLY_SCALE = process.env.BENCH_ONLY === 'scale';
/** `BENCH_ONLY=delta`: only the delta-release section (delta.ts), on the fleet. */
const ONLY_DELTA = process.env.BENCH_ONLY === 'delta';
if (process.env.BENCH_ONLY !== undefined && process.env.BENCH_ONLY !== '' && !ONLY_SCALE && !ONLY_DELTA) throw new Error(`BENCH_ONLY: "scale" or "delta", got ${JSON.stringify(process.env.BENCH_ONLY)}`);
/** `BENCH_DELTA_RATE`: the shaped uplinks the delta section also runs on (link-shape.ts); `off`: none. */
const DELTA_RATES = parseLinkRates(process.env.BENCH_DELTA_RATE || '100mbit');
if (ONLY_DELTA) for (const k of ['ansible', 'deploy', 'noop', 'latency', 'plan', 'startup', 'scale']) SKIP.add(k);
const SCALE_HOSTS = (process.env.BENCH_SCALE_HOSTS ?? '1000,10000,50000').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1 || n > 200_000) throw new Error(`BENCH_SCALE_HOSTS: expected host counts 1..200000, got ${JSON.stringify(s)}`);
  return n;
});
const SCALE_KEYS = intEnv('BENCH_SCALE_KEYS', 20_000, 0, 200_000);
const SCALE_RUNS = intEnv('BENCH_SCALE_RUNS', 3, 1, 20);
const OUT = path.resolve(process.env.BENCH_OUT ?? path.join(REPO, 'bench', 'results.json'));
const STARTUP_RUNS = 20;

const log = (s: string): void => void process.stderr.write(`bench: ${s}\n`);

/** Everything measured, written to results.json. */
interface Results {
  meta: Record<string, unknown>;
  tools: Record<string, ToolStatus>;
  deploy: Record<string, SampleSummary & { note?: string }>;
  bytesUploaded: Record<string, number[]>;
  noop: Record<string, SampleSummary>;
  latency?: {
    method: string;
    delaysMs: number[];
    points: Record<string, Array<[number, number]>>;
    medians: Record<string, Record<string, number>>;
    /** Hosts the latency runs used (the first N of the fleet). */
    hosts: number;
    /** Least squares over every (delay, ms) point. */
    fits: Record<string, LineFit>;
    /** Least squares over the fastest run at each delay (load on the machine only ever adds time). */
    minFits: Record<string, LineFit>;
  };
  scale?: ScaleResult[];
  /** Delta releases (issue 16; delta.ts). */
  delta?: DeltaResults;
  plan?: { hosts: number; wallMs: SampleSummary; maxRssMiB: SampleSummary; rssMethod: string; outputBytes: number; pipeBytes: number };
  startup: Record<string, SampleSummary>;
  ratios: Record<string, number>;
  errors: string[];
  /** Problems found in orch while measuring (not measurement failures). */
  warnings: string[];
}

const results: Results = { meta: {}, tools: {}, deploy: {}, bytesUploaded: {}, noop: {}, startup: {}, ratios: {}, errors: [], warnings: [] };

/** Cleanup actions, run once (finally, or a signal). */
const cleanups: Array<() => void> = [];
let cleaned = false;
function cleanupSync(): void {
  if (cleaned) return;
  cleaned = true;
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch {
      /* best effort */
    }
  }
}
const onSignal = (sig: NodeJS.Signals): void => {
  log(`${sig}: cleaning up`);
  cleanupSync();
  process.exit(sig === 'SIGINT' ? 130 : 143);
};

interface OrchRun {
  r: TimedResult;
  summary?: { changed: number; failed: number; unreachable: number; bytesUploaded: number; hosts: Array<{ host: string; status: string; error?: string }> };
}

function parseSummary(stdout: string): OrchRun['summary'] {
  for (const line of stdout.trim().split('\n').reverse()) {
    try {
      const o = JSON.parse(line) as { type?: string };
      if (o.type === 'summary') return o as OrchRun['summary'];
    } catch {
      /* not JSON */
    }
  }
  return undefined;
}

let scaleRows: Row[] = [];

/** The scale section (no root, no fleet): validate and plan --offline of big generated inventories. */
async function runScale(): Promise<void> {
  if (SKIP.has('scale')) return;
  results.meta.loadavgStart ??= os.loadavg();
  results.meta.scale = { hosts: SCALE_HOSTS, unknownKeys: SCALE_KEYS, runs: SCALE_RUNS, node: process.version, cpus: os.cpus().length };
  const work = await mkdtemp(path.join(os.tmpdir(), 'orch-bench-scale-'));
  cleanups.push(() => spawnSync('rm', ['-rf', work]));
  const home = path.join(work, 'home');
  await mkdir(home, { recursive: true });
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: home, XDG_CACHE_HOME: path.join(work, 'cache') };
  try {
    const r = await measureScale({ orch: ORCH, work, env, sizes: SCALE_HOSTS, unknownKeys: SCALE_KEYS, runs: SCALE_RUNS, log });
    results.scale = r.results;
    scaleRows = r.rows;
  } catch (e) {
    results.errors.push(`scale: ${(e as Error).message}`);
    log(`ERROR scale: ${(e as Error).message}`);
  }
}

async function main(): Promise<void> {
  if (!existsSync(path.join(REPO, 'build', 'cli', 'main.js'))) throw new Error('build/cli/main.js is missing: run npm run build first');
  await runScale();
  if (ONLY_SCALE) return;
  if (!canRunFleet()) throw new Error('the benchmark needs root, ip, unshare, nsenter, ssh-keygen and /usr/sbin/sshd (the test-host harness)');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // 1. Tools.
  results.tools.ssh = await ensureTool('ssh', 'openssh-client', ['-V'], log);
  results.tools.ansible = SKIP.has('ansible') ? { reason: 'skipped (BENCH_SKIP)' } : await ensureTool('ansible-playbook', 'ansible-core', ['--version'], log);
  results.tools.time = await ensureTool('time', 'time', ['--version'], log);
  if (results.tools.time.path && !(await runTimed(results.tools.time.path, ['-v', 'true'])).stderr.includes('Maximum resident')) {
    results.tools.time = { reason: `${results.tools.time.path} is not GNU time (no -v)` };
  }
  for (const [name, t] of Object.entries(results.tools)) log(`${name}: ${t.path ? `${t.version}` : `unavailable (${t.reason})`}`);
  const haveSsh = results.tools.ssh.path !== undefined && !SKIP.has('bare');
  const haveAnsible = results.tools.ansible.path !== undefined;

  results.meta = {
    ...results.meta,
    date: new Date().toISOString(),
    hosts: HOSTS,
    runs: RUNS,
    latencyRuns: LAT_RUNS,
    delaysMs: DELAYS,
    planHosts: PLAN_HOSTS,
    orchForks: ORCH_FORKS ?? 'default',
    node: process.version,
    kernel: os.release(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memMiB: Math.round(os.totalmem() / 2 ** 20),
    // Other work on the machine skews every figure; interleaving keeps the ratios fair.
    loadavgStart: os.loadavg(),
  };

  // 2. Work dir, workload, fleet.
  const work = await mkdtemp('/var/tmp/orch-bench-');
  cleanups.push(() => spawnSync('rm', ['-rf', work]));
  const home = path.join(work, 'home');
  await mkdir(home, { recursive: true });
  const orchEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: home, XDG_CACHE_HOME: path.join(work, 'cache') };
  const { tarball } = await writeApp(work, async (args) => {
    const r = await runTimed('tar', args, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`tar ${args.join(' ')}: ${tailOf(r.stderr)}`);
  });
  log(`starting ${HOSTS} sshd hosts`);
  const t0 = performance.now();
  const fleet: Fleet = await startFleet({ count: HOSTS, name: 'obench' });
  cleanups.push(() => {
    // teardown is async; its sync part (kill + ip netns del) also runs from the harness's exit hook.
    void fleet.teardown();
  });
  log(`fleet up in ${Math.round(performance.now() - t0)} ms (10.231.${fleet.subnet}.0/24)`);
  try {
    await measure(fleet, work, orchEnv, tarball, haveSsh, haveAnsible);
  } finally {
    await fleet.teardown();
  }
}

async function measure(fleet: Fleet, work: string, orchEnv: Record<string, string>, tarball: string, haveSsh: boolean, haveAnsible: boolean): Promise<void> {
  const direct: Endpoint[] = fleet.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port }));
  const forkArgs = ORCH_FORKS !== undefined ? ['--forks', String(ORCH_FORKS)] : [];
  await writeFile(path.join(work, 'inventory.yml'), orchInventoryYaml(direct, fleet.identityFile, fleet.knownHostsFile));
  await writeFile(path.join(work, 'playbook.yml'), orchPlaybookYaml('inventory.yml'));
  await writeFile(path.join(work, 'hosts.txt'), hostListText(direct));
  await writeFile(path.join(work, 'bare-deploy.sh'), bareDeployScript());
  await writeFile(path.join(work, 'ssh-true.sh'), sshTrueScript());
  const sshEnv = { PATH: orchEnv.PATH, LANG: 'C.UTF-8', HOME: orchEnv.HOME, KNOWN_HOSTS: fleet.knownHostsFile, IDENTITY: fleet.identityFile };

  const orchApply = async (pb: string, extra: string[] = [], env: Record<string, string> = {}): Promise<OrchRun> => {
    const r = await runTimed(process.execPath, [ORCH, 'apply', pb, '--json', '--yes', ...forkArgs, ...extra], { cwd: work, env: { ...orchEnv, ...env }, timeoutMs: 600_000 });
    return { r, summary: parseSummary(r.stdout) };
  };
  const wipeAll = (): Promise<unknown> => Promise.all(fleet.hosts.map((h) => wipeHost(h.dir)));
  /** Throws when a host does not have the release with `restarts` restart lines. */
  const verifyAll = async (what: string, restarts: number): Promise<void> => {
    const problems = (await Promise.all(fleet.hosts.map(async (h) => [h.name, await checkHost(h.dir, restarts)] as const))).filter(([, p]) => p);
    if (problems.length) throw new Error(`${what}: ${problems.length} host(s) wrong after the run: ${problems.slice(0, 3).map(([n, p]) => `${n}: ${p}`).join('; ')}`);
  };
  const checkOk = (what: string, r: TimedResult): void => {
    if (r.code !== 0) throw new Error(`${what} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${tailOf(r.stderr || r.stdout)}`);
  };

  // Tools as "contenders": each does one fresh deploy from a wiped fleet and is verified.
  const contenders: Array<{ key: string; label: string; run: () => Promise<number> }> = [];
  contenders.push({
    key: 'orch',
    label: 'orch apply',
    run: async () => {
      const { r, summary } = await orchApply('playbook.yml');
      checkOk('orch apply', r);
      if (!summary || summary.changed !== HOSTS) throw new Error(`orch apply: expected ${HOSTS} changed hosts, got ${JSON.stringify(summary && { changed: summary.changed, failed: summary.failed })}`);
      (results.bytesUploaded.orchFresh ??= []).push(summary.bytesUploaded);
      return r.ms;
    },
  });
  if (!SKIP.has('forks1') && HOSTS <= 32) {
    contenders.push({
      key: 'orchForks1',
      label: 'orch apply --forks 1',
      run: async () => {
        const { r, summary } = await orchApply('playbook.yml', ['--forks', '1']);
        checkOk('orch apply --forks 1', r);
        if (!summary || summary.changed !== HOSTS) throw new Error(`orch apply --forks 1: expected ${HOSTS} changed hosts`);
        return r.ms;
      },
    });
  }
  let ansible: AnsibleSetup | undefined;
  if (haveAnsible) {
    ansible = await setupAnsible(work, fleet, direct, tarball);
    const a = ansible;
    contenders.push({
      key: 'ansible',
      label: 'ansible-playbook (tuned)',
      run: async () => {
        const r = await a.run();
        checkOk('ansible-playbook', r);
        return r.ms;
      },
    });
  } else log(`ansible: unavailable (${results.tools.ansible?.reason}); skipping its rows`);
  if (haveSsh) {
    contenders.push({
      key: 'bare',
      label: 'bare parallel ssh',
      run: async () => {
        const r = await runTimed('bash', [path.join(work, 'bare-deploy.sh'), path.join(work, 'hosts.txt'), tarball], { env: sshEnv, timeoutMs: 300_000 });
        checkOk('bare ssh deploy', r);
        return r.ms;
      },
    });
  }

  // 3a. Bundle build, timed apart from the deploy (the apply below hits the same cache).
  if (!SKIP.has('deploy')) {
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      const r = await runTimed(process.execPath, [ORCH, 'bundle', 'app', '--out', 'dist-cold', '--no-cache', '--json'], { cwd: work, env: orchEnv, timeoutMs: 300_000 });
      checkOk('orch bundle --no-cache', r);
      cold.push(r.ms);
    }
    for (let i = 0; i < RUNS + 1; i++) {
      const r = await runTimed(process.execPath, [ORCH, 'bundle', 'app', '--out', 'dist', '--json'], { cwd: work, env: orchEnv, timeoutMs: 300_000 });
      checkOk('orch bundle', r);
      if (i > 0) warm.push(r.ms); // the first fills the cache
    }
    results.deploy.bundleWarm = summarizeSamples(warm);
    results.deploy.bundleCold = summarizeSamples(cold);

    // 3b. Fresh deploys, interleaved; one unmeasured warm-up round first.
    const samples: Record<string, number[]> = {};
    for (let round = 0; round <= RUNS; round++) {
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
      for (const c of order) {
        await wipeAll();
        await settle();
        try {
          const ms = await c.run();
          await verifyAll(c.label, 1);
          if (round > 0) (samples[c.key] ??= []).push(ms);
          log(`fresh deploy ${round === 0 ? 'warm-up' : `run ${round}/${RUNS}`}: ${c.label} ${ms.toFixed(0)} ms`);
        } catch (e) {
          results.errors.push(`fresh deploy, ${c.label}, round ${round}: ${(e as Error).message}`);
          log(`ERROR ${(e as Error).message}`);
        } finally {
          if (c.key === 'ansible') await ansible?.closeMasters();
        }
      }
    }
    for (const c of contenders) results.deploy[c.key] = summarizeSamples(samples[c.key] ?? []);
  }

  // 4. No-op redeploy vs ssh true.
  if (!SKIP.has('noop')) {
    await wipeAll();
    try {
      const first = await orchApply('playbook.yml');
      checkOk('orch apply (before no-op)', first.r);
      await verifyAll('orch apply (before no-op)', 1);
      const samples: Record<string, number[]> = { orchNoop: [], orchNoopPersist: [], sshTrue: [] };
      for (let round = 0; round <= RUNS; round++) {
        await settle();
        const { r, summary } = await orchApply('playbook.yml', ['--detailed-exitcodes']);
        if (r.code !== 0 || !summary || summary.changed !== 0) throw new Error(`no-op orch apply: exit ${r.code}, changed ${summary?.changed}: ${tailOf(r.stderr || r.stdout)}`);
        await verifyAll('no-op orch apply', 1);
        if (round > 0) {
          samples.orchNoop!.push(r.ms);
          (results.bytesUploaded.orchNoop ??= []).push(summary.bytesUploaded);
        }
        // The same with persistent connections (ORCH_SSH_PERSIST, as Ansible's ControlPersist above): round 0 starts the control master.
        await settle();
        const p = await orchApply('playbook.yml', ['--detailed-exitcodes'], { ORCH_SSH_PERSIST: '60' });
        if (p.r.code !== 0 || p.summary?.changed !== 0) throw new Error(`no-op orch apply (ORCH_SSH_PERSIST): exit ${p.r.code}: ${tailOf(p.r.stderr || p.r.stdout)}`);
        if (round > 0) samples.orchNoopPersist!.push(p.r.ms);
        if (haveSsh) {
          await settle();
          const t = await runTimed('bash', [path.join(work, 'ssh-true.sh'), path.join(work, 'hosts.txt')], { env: sshEnv, timeoutMs: 120_000 });
          checkOk('ssh true fan-out', t);
          if (round > 0) samples.sshTrue!.push(t.ms);
        }
        log(`no-op ${round === 0 ? 'warm-up' : `run ${round}/${RUNS}`}: orch ${r.ms.toFixed(0)} ms, bytesUploaded ${summary.bytesUploaded}; persistent ${p.r.ms.toFixed(0)} ms`);
      }
      results.noop.orch = summarizeSamples(samples.orchNoop!);
      results.noop.orchPersist = summarizeSamples(samples.orchNoopPersist!);
      results.noop.sshTrue = summarizeSamples(samples.sshTrue!);
    } catch (e) {
      results.errors.push(`no-op: ${(e as Error).message}`);
      log(`ERROR ${(e as Error).message}`);
    } finally {
      await stopControlMasters(orchEnv.HOME!);
    }
  }

  // 4b. Delta releases: a small change onto hosts holding the previous release, beside bare ssh tar x of the full tarball.
  if (!SKIP.has('delta')) {
    results.delta = await measureDelta({ fleet, work, orch: ORCH, orchEnv, runs: intEnv('BENCH_DELTA_RUNS', RUNS, 1, 50), forkArgs, haveSsh, rates: DELTA_RATES, log });
    for (const e of results.delta.errors) results.errors.push(e);
  }

  // 5. Round trips per host: wall time against added latency.
  if (!SKIP.has('latency')) {
    try {
      await measureLatency(fleet, work, orchEnv, tarball, haveSsh, forkArgs);
    } catch (e) {
      results.errors.push(`latency: ${(e as Error).message}`);
      log(`ERROR latency: ${(e as Error).message}`);
    }
  }

  // 6. plan --offline of a big inventory.
  if (!SKIP.has('plan')) {
    try {
      await measurePlan(fleet, work, orchEnv);
    } catch (e) {
      results.errors.push(`plan: ${(e as Error).message}`);
      log(`ERROR plan: ${(e as Error).message}`);
    }
  }

  // 7. Start-up.
  if (!SKIP.has('startup')) {
    const v: number[] = [];
    const n: number[] = [];
    for (let i = 0; i <= STARTUP_RUNS; i++) {
      const a = await runTimed(process.execPath, [ORCH, '--version'], { env: orchEnv, timeoutMs: 30_000 });
      checkOk('orch --version', a);
      const b = await runTimed(process.execPath, ['-e', '0'], { env: orchEnv, timeoutMs: 30_000 });
      if (i > 0) {
        v.push(a.ms);
        n.push(b.ms);
      }
    }
    results.startup.orchVersion = summarizeSamples(v);
    results.startup.nodeBare = summarizeSamples(n);
  }
}

interface AnsibleSetup {
  run(): Promise<TimedResult>;
  closeMasters(): Promise<void>;
}

/** Writes ansible.cfg, inventory and playbook; each run gets its own ControlPath dir (cold start, like orch). */
async function setupAnsible(work: string, fleet: Fleet, endpoints: Endpoint[], tarball: string): Promise<AnsibleSetup> {
  const dir = path.join(work, 'ansible');
  await mkdir(path.join(dir, 'home'), { recursive: true });
  await writeFile(path.join(dir, 'ansible.cfg'), ansibleCfg(endpoints.length, fleet.knownHostsFile, path.join(dir, 'local-tmp')));
  await writeFile(path.join(dir, 'hosts.ini'), ansibleInventoryIni(endpoints, fleet.identityFile));
  await writeFile(path.join(dir, 'deploy.yml'), ansiblePlaybookYaml(tarball));
  // ControlPath sockets must stay under 108 bytes: a short dir under /tmp on the control machine.
  const cpRoot = await mkdtemp('/tmp/obcp-');
  cleanups.push(() => {
    for (const s of safeReaddir(cpRoot)) spawnSync('ssh', ['-O', 'exit', '-o', `ControlPath=${path.join(cpRoot, s)}`, 'x'], { stdio: 'ignore', timeout: 5000 });
    spawnSync('rm', ['-rf', cpRoot]);
  });
  let seq = 0;
  let current = '';
  return {
    async run() {
      current = path.join(cpRoot, String(++seq));
      await mkdir(current);
      return runTimed(results.tools.ansible!.path!, ['-i', path.join(dir, 'hosts.ini'), path.join(dir, 'deploy.yml')], {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: path.join(dir, 'home'),
          ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg'), ANSIBLE_SSH_CONTROL_PATH_DIR: current,
        },
        timeoutMs: 600_000,
      });
    },
    async closeMasters() {
      if (!current) return;
      await Promise.all(safeReaddir(current).map((s) => runTimed('ssh', ['-O', 'exit', '-o', `ControlPath=${path.join(current, s)}`, 'x'], { timeoutMs: 10_000 })));
      await rm(current, { recursive: true, force: true });
    },
  };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Latency injection: netem on each host's eth0 when the kernel has it, else the delay proxy. */
interface Delayer {
  method: string;
  endpoints: Endpoint[];
  knownHosts: string;
  set(ms: number): Promise<void>;
  close(): Promise<void>;
}

async function startDelayer(fleet: Fleet, hosts: TestHost[], work: string): Promise<Delayer> {
  const first = hosts[0]!;
  const probe = await runTimed('ip', ['netns', 'exec', first.netns, 'tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem', 'delay', '0ms'], { timeoutMs: 10_000 });
  if (probe.code === 0) {
    const clear = (): void => {
      for (const h of hosts) spawnSync('ip', ['netns', 'exec', h.netns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root'], { stdio: 'ignore', timeout: 5000 });
    };
    cleanups.push(clear);
    return {
      method: 'tc netem delay on each host\'s eth0 (host egress)',
      endpoints: hosts.map((h) => ({ name: h.name, address: h.address, port: h.port })),
      knownHosts: fleet.knownHostsFile,
      async set(ms) {
        await Promise.all(hosts.map(async (h) => {
          const r = await runTimed('ip', ['netns', 'exec', h.netns, 'tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem', 'delay', `${ms}ms`], { timeoutMs: 10_000 });
          if (r.code !== 0) throw new Error(`tc netem on ${h.name}: ${tailOf(r.stderr)}`);
        }));
      },
      async close() {
        clear();
      },
    };
  }
  log(`tc netem unavailable (${probe.stderr.trim()}); using the userspace delay proxy on 127.0.0.1`);
  const script = path.join(REPO, 'bench', 'build', 'bench', 'delay-proxy.js');
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [script, ...hosts.map((h) => `${h.address}:${h.port}`)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const kill = (): void => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  };
  cleanups.push(kill);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout });
  const waiters: Array<(l: string) => void> = [];
  lines.on('line', (l) => waiters.shift()?.(l));
  const nextLine = (what: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`delay proxy: no answer to ${what} within 10 s: ${stderr.trim()}`)), 10_000);
      waiters.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  const { ports } = JSON.parse(await nextLine('start')) as { ports: number[] };
  const endpoints = hosts.map((h, i) => ({ name: h.name, address: '127.0.0.1', port: ports[i]! }));
  const kh = path.join(work, 'known_hosts-proxy');
  const khLines = await Promise.all(hosts.map(async (h, i) => {
    const [type, key] = (await readFile(`${h.hostKeyFile}.pub`, 'utf8')).trim().split(/\s+/);
    return `[127.0.0.1]:${ports[i]} ${type} ${key}\n`;
  }));
  await writeFile(kh, khLines.join(''));
  return {
    method: 'userspace delay proxy on 127.0.0.1 (host->client data held D ms; kernel has no sch_netem)',
    endpoints,
    knownHosts: kh,
    async set(ms) {
      child.stdin.write(`delay ${ms}\n`);
      const a = await nextLine(`delay ${ms}`);
      if (a !== `ok ${ms}`) throw new Error(`delay proxy answered ${JSON.stringify(a)}`);
    },
    async close() {
      child.stdin.end();
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          kill();
          r();
        }, 3000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
}

async function measureLatency(
  fleet: Fleet, work: string, orchEnv: Record<string, string>, tarball: string, haveSsh: boolean, forkArgs: string[],
): Promise<void> {
  const hosts = fleet.hosts.slice(0, LAT_HOSTS_WANTED);
  const wipeAll = (): Promise<unknown> => Promise.all(hosts.map((h) => wipeHost(h.dir)));
  const verifyAll = async (what: string, restarts: number): Promise<void> => {
    for (const h of hosts) {
      const p = await checkHost(h.dir, restarts);
      if (p) throw new Error(`${what}: ${h.name}: ${p}`);
    }
  };
  const d = await startDelayer(fleet, hosts, work);
  try {
    await writeFile(path.join(work, 'inventory-lat.yml'), orchInventoryYaml(d.endpoints, fleet.identityFile, d.knownHosts));
    await writeFile(path.join(work, 'playbook-lat.yml'), orchPlaybookYaml('inventory-lat.yml'));
    await writeFile(path.join(work, 'hosts-lat.txt'), hostListText(d.endpoints));
    const sshEnv = { PATH: orchEnv.PATH!, LANG: 'C.UTF-8', HOME: orchEnv.HOME!, KNOWN_HOSTS: d.knownHosts, IDENTITY: fleet.identityFile };
    const points: Record<string, Array<[number, number]>> = { orchFresh: [], orchNoop: [], orchNoopPersist: [], orchPlan: [], bareFresh: [], sshTrue: [] };
    const orch = (args: string[], env: Record<string, string> = {}): Promise<TimedResult> => runTimed(process.execPath, [ORCH, ...args, ...forkArgs], { cwd: work, env: { ...orchEnv, ...env }, timeoutMs: 600_000 });
    // The no-op with persistent connections: the control master keeps its connections across
    // the delays (netem delays them too); the first run starts it and is not measured.
    const persist = { ORCH_SSH_PERSIST: '60' };
    let masterUp = false;
    const must = (what: string, r: TimedResult, codes = [0]): void => {
      if (r.code === null || !codes.includes(r.code)) throw new Error(`${what} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${tailOf(r.stderr || r.stdout)}`);
    };
    for (const delay of DELAYS) {
      await d.set(delay);
      for (let run = 0; run < LAT_RUNS; run++) {
        if (haveSsh) {
          const t = await runTimed('bash', [path.join(work, 'ssh-true.sh'), path.join(work, 'hosts-lat.txt')], { env: sshEnv, timeoutMs: 300_000 });
          must('ssh true fan-out', t);
          points.sshTrue!.push([delay, t.ms]);
          await wipeAll();
          const b = await runTimed('bash', [path.join(work, 'bare-deploy.sh'), path.join(work, 'hosts-lat.txt'), tarball], { env: sshEnv, timeoutMs: 300_000 });
          must('bare ssh deploy', b);
          await verifyAll('bare ssh deploy (latency)', 1);
          points.bareFresh!.push([delay, b.ms]);
        }
        await wipeAll();
        const f = await orch(['apply', 'playbook-lat.yml', '--json', '--yes']);
        must('orch apply (latency)', f);
        await verifyAll('orch apply (latency)', 1);
        points.orchFresh!.push([delay, f.ms]);
        const n = await orch(['apply', 'playbook-lat.yml', '--json', '--yes', '--detailed-exitcodes']);
        must('orch no-op apply (latency)', n);
        points.orchNoop!.push([delay, n.ms]);
        if (!masterUp) must('orch no-op apply, starting the control master (latency)', await orch(['apply', 'playbook-lat.yml', '--json', '--yes', '--detailed-exitcodes'], persist));
        masterUp = true;
        await settle();
        const np = await orch(['apply', 'playbook-lat.yml', '--json', '--yes', '--detailed-exitcodes'], persist);
        must('orch no-op apply, ORCH_SSH_PERSIST (latency)', np);
        points.orchNoopPersist!.push([delay, np.ms]);
        const p = await orch(['plan', 'playbook-lat.yml', '--json']);
        must('orch plan (latency)', p);
        points.orchPlan!.push([delay, p.ms]);
        log(`latency ${delay} ms run ${run + 1}/${LAT_RUNS}: orch fresh ${f.ms.toFixed(0)}, no-op ${n.ms.toFixed(0)} (persistent ${np.ms.toFixed(0)}), plan ${p.ms.toFixed(0)} ms${haveSsh ? `; bare ${points.bareFresh!.at(-1)![1].toFixed(0)}, ssh true ${points.sshTrue!.at(-1)![1].toFixed(0)} ms` : ''}`);
      }
    }
    await d.set(0);
    const fits: Record<string, LineFit> = {};
    const minFits: Record<string, LineFit> = {};
    const medians: Record<string, Record<string, number>> = {};
    for (const [k, pts] of Object.entries(points)) {
      if (pts.length === 0) continue;
      const at = DELAYS.map((dl) => [dl, summarizeSamples(pts.filter(([x]) => x === dl).map(([, y]) => y))] as const);
      medians[k] = Object.fromEntries(at.map(([dl, sm]) => [String(dl), sm.median]));
      if (new Set(pts.map(([x]) => x)).size >= 2) {
        fits[k] = fitLine(pts);
        minFits[k] = fitLine(at.map(([dl, sm]) => [dl, sm.min] as [number, number]));
      }
    }
    results.latency = { method: d.method, delaysMs: DELAYS, hosts: hosts.length, points, medians, fits, minFits };
  } finally {
    await stopControlMasters(orchEnv.HOME!);
    await d.close();
  }
}

/** Peak RSS of `orch ARGS`: GNU time -v when present, else the child's own resourceUsage at exit. */
async function measurePlan(fleet: Fleet, work: string, orchEnv: Record<string, string>): Promise<void> {
  await writeFile(path.join(work, 'inventory-big.yml'), bigInventoryYaml(PLAN_HOSTS, fleet.identityFile, fleet.knownHostsFile));
  await writeFile(path.join(work, 'playbook-big.yml'), orchPlaybookYaml('inventory-big.yml'));
  const wrapper = path.join(work, 'rss-wrapper.mjs');
  await writeFile(wrapper, `import { writeSync } from 'node:fs';\nprocess.on('exit', () => { try { writeSync(2, '\\nBENCH_MAXRSS_KB ' + process.resourceUsage().maxRSS + '\\n'); } catch {} });\nprocess.argv.splice(1, 1);\nawait import(${JSON.stringify(ORCH)});\n`);
  const timeBin = results.tools.time?.path;
  const wall: number[] = [];
  const rss: number[] = [];
  let outputBytes = 0;
  const n = Math.min(RUNS, 5);
  const outFile = path.join(work, 'plan-big.txt');
  const args = ['plan', 'playbook-big.yml', '--offline'];
  // stdout goes to a file: through a pipe, orch's process.exit cuts a large plan short
  // (recorded below as planPipeBytes against the file's size).
  const piped = await runTimed(process.execPath, [ORCH, ...args], { cwd: work, env: orchEnv, timeoutMs: 600_000, maxOutput: 64 * 1024 });
  for (let i = 0; i <= n; i++) {
    const r = timeBin
      ? await runTimed(timeBin, ['-v', process.execPath, ORCH, ...args], { cwd: work, env: orchEnv, timeoutMs: 600_000, stdoutFile: outFile })
      : await runTimed(process.execPath, [wrapper, ORCH, ...args], { cwd: work, env: orchEnv, timeoutMs: 600_000, stdoutFile: outFile });
    if (r.code !== 0) throw new Error(`orch plan --offline of ${PLAN_HOSTS} hosts exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${tailOf(r.stderr)}`);
    const m = timeBin ? /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr) : /BENCH_MAXRSS_KB (\d+)/.exec(r.stderr);
    if (!m) throw new Error(`no peak RSS in the output of orch plan: ${tailOf(r.stderr)}`);
    // Every host gets a header line and one line per step: at least ~80 bytes a host.
    const text = await readFile(outFile, 'utf8');
    const listed = (text.match(/^n\d+ \(root@198\.18\./gm) ?? []).length;
    if (listed !== PLAN_HOSTS) throw new Error(`orch plan --offline listed ${listed} of ${PLAN_HOSTS} hosts (${text.length} bytes)`);
    outputBytes = Buffer.byteLength(text);
    log(`plan --offline ${PLAN_HOSTS} hosts ${i === 0 ? 'warm-up' : `run ${i}/${n}`}: ${r.ms.toFixed(0)} ms, ${(Number(m[1]) / 1024).toFixed(0)} MiB`);
    if (i === 0) continue;
    wall.push(r.ms);
    rss.push(Number(m[1]) / 1024);
  }
  results.plan = {
    hosts: PLAN_HOSTS,
    wallMs: summarizeSamples(wall),
    maxRssMiB: summarizeSamples(rss),
    rssMethod: timeBin ? `${timeBin} -v (Maximum resident set size)` : 'process.resourceUsage().maxRSS of the orch process at exit',
    outputBytes,
    pipeBytes: piped.stdoutBytes,
  };
  if (piped.stdoutBytes !== outputBytes) {
    results.warnings.push(`orch plan --offline of ${PLAN_HOSTS} hosts wrote ${piped.stdoutBytes} of ${outputBytes} bytes when stdout is a pipe (exit ${piped.code}): process.exit before stdout drained`);
  }
}

function printReport(): void {
  const r = results;
  const dep = (k: string): SampleSummary | undefined => (r.deploy[k]?.samples.length ? r.deploy[k] : undefined);
  const skipped = (k: string, why: string): Row => ({ label: k, note: why });
  const rows: Row[] = [];
  const ansNote = r.tools.ansible?.path ? r.tools.ansible.version : `ansible: unavailable (${r.tools.ansible?.reason})`;
  const add = (label: string, s: SampleSummary | undefined, note?: string, unit?: Row['unit']): void => {
    rows.push(s ? { label, summary: s, ...(note !== undefined && { note }), ...(unit && { unit }) } : skipped(label, note ?? 'not measured'));
  };
  add('orch bundle build, cache warm', dep('bundleWarm'), 'orch bundle app (cache hit)');
  add('orch bundle build, no cache', dep('bundleCold'), 'orch bundle app --no-cache');
  add(`fresh deploy, orch (${HOSTS} hosts)`, dep('orch'), `bytesUploaded ${r.bytesUploaded.orchFresh?.[0] ?? '?'}`);
  if (r.deploy.orchForks1) add('fresh deploy, orch --forks 1', dep('orchForks1'));
  add('fresh deploy, ansible-playbook', dep('ansible'), ansNote);
  add('fresh deploy, bare parallel ssh', dep('bare'));
  add('no-op redeploy, orch', r.noop.orch?.samples.length ? r.noop.orch : undefined, `bytesUploaded ${JSON.stringify(r.bytesUploaded.orchNoop ?? [])}`);
  add('no-op redeploy, orch, ORCH_SSH_PERSIST=60 (warm)', r.noop.orchPersist?.samples.length ? r.noop.orchPersist : undefined, 'connections held by the control master');
  add('ssh HOST true fan-out', r.noop.sshTrue?.samples.length ? r.noop.sshTrue : undefined);
  if (r.plan) {
    add(`plan --offline, ${r.plan.hosts} hosts, wall`, r.plan.wallMs);
    add(`plan --offline, ${r.plan.hosts} hosts, peak RSS`, r.plan.maxRssMiB, r.plan.rssMethod.split(' (')[0], 'MiB');
  }
  add('orch --version start-up', r.startup.orchVersion?.samples.length ? r.startup.orchVersion : undefined);
  add('node -e 0 (baseline)', r.startup.nodeBare?.samples.length ? r.startup.nodeBare : undefined);
  const delta = r.delta ? deltaReport(r.delta) : undefined;
  if (delta) rows.push(...delta.rows);
  const la = (k: string): string => ((r.meta[k] as number[] | undefined)?.[0] ?? NaN).toFixed(1);
  let text = ONLY_SCALE ? '' : formatTable(`orch benchmark: ${HOSTS} hosts, ${RUNS} runs, ${os.cpus().length} CPUs, node ${process.version}, load avg ${la('loadavgStart')} -> ${la('loadavgEnd')}`, rows);
  if (scaleRows.length) {
    text += `${text ? '\n' : ''}${formatTable(`scale: validate and plan --offline of generated inventories (no host contacted), ${SCALE_RUNS} runs, ${os.cpus().length} CPUs, load avg ${la('loadavgStart')} -> ${la('loadavgEnd')}`, scaleRows)}`;
  }

  if (r.latency) {
    const L = r.latency;
    const names: Record<string, string> = { orchFresh: 'orch fresh deploy', orchNoop: 'orch no-op redeploy', orchNoopPersist: 'orch no-op, ORCH_SSH_PERSIST=60', orchPlan: 'orch plan (connect + facts)', bareFresh: 'bare ssh fresh deploy', sshTrue: 'ssh HOST true' };
    const header = ['wall ms (median) at added delay', ...L.delaysMs.map((d) => `${d} ms`), 'RTs (all)', 'r²', 'RTs (min)', 'r²'];
    const f2 = (f: LineFit | undefined, k: 'slope' | 'r2'): string => (f ? f[k].toFixed(k === 'r2' ? 3 : 1) : '—');
    const body = Object.keys(L.medians).map((k) => [names[k] ?? k, ...L.delaysMs.map((d) => (L.medians[k]![String(d)] ?? NaN).toFixed(0)), f2(L.fits[k], 'slope'), f2(L.fits[k], 'r2'), f2(L.minFits[k], 'slope'), f2(L.minFits[k], 'r2')]);
    const w = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const fmtLine = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ');
    text += `\n== round trips per host: ${L.hosts} host(s), ${LAT_RUNS} runs per delay; slope of wall time over added delay (${L.method})\n${fmtLine(header)}\n${body.map(fmtLine).join('\n')}\n`;
  }

  const ratios: Ratio[] = [];
  const scaleOf = (cmd: string): ScaleResult | undefined => r.scale?.find((x) => x.command === cmd);
  const plan10k = scaleOf('plan --offline, 10000 hosts');
  const val50k = scaleOf('validate inventory, 50000 hosts');
  if (plan10k) {
    ratios.push({ name: 'scale: plan --offline 10000 hosts, s', value: plan10k.wallMs.median / 1000, goal: '≤ 1' });
    ratios.push({ name: 'scale: plan --offline 10000 hosts, peak MiB / 100', value: plan10k.maxRssMiB.median / 100, goal: '≤ 2' });
  }
  if (plan10k) ratios.push({ name: 'scale: plan --offline 10000 hosts, CPU s (orch process)', value: plan10k.cpuMs.median / 1000 });
  if (val50k) {
    ratios.push({ name: 'scale: validate 50000 hosts, s', value: val50k.wallMs.median / 1000, goal: '≤ 3' });
    ratios.push({ name: 'scale: validate 50000 hosts, CPU s (orch process)', value: val50k.cpuMs.median / 1000 });
  }
  if (ONLY_SCALE) {
    for (const x of ratios) r.ratios[x.name] = x.value;
    text += `\n${formatRatios(ratios)}`;
    if (r.errors.length) text += `\n== errors (${r.errors.length})\n${r.errors.map((e) => `- ${e}`).join('\n')}\n`;
    process.stdout.write(`\n${text}`);
    return;
  }
  const med = (s: SampleSummary | undefined): number => s?.median ?? NaN;
  ratios.push({ name: 'fresh deploy orch / bare ssh', value: ratioOf(med(dep('orch')), med(dep('bare'))), goal: '≤ 1.2' });
  ratios.push({ name: 'fresh deploy orch / ansible', value: ratioOf(med(dep('orch')), med(dep('ansible'))), goal: '≤ 0.1' });
  ratios.push({ name: 'fresh deploy ansible / bare ssh', value: ratioOf(med(dep('ansible')), med(dep('bare'))) });
  ratios.push({ name: 'fresh deploy (orch - bundle warm) / bare ssh', value: ratioOf(med(dep('orch')) - med(dep('bundleWarm')), med(dep('bare'))) });
  ratios.push({ name: 'no-op orch / ssh true', value: ratioOf(med(r.noop.orch), med(r.noop.sshTrue)), goal: '≤ 1.5' });
  ratios.push({ name: 'no-op orch, persistent connections / ssh true', value: ratioOf(med(r.noop.orchPersist), med(r.noop.sshTrue)), goal: '≤ 0.8' });
  if (r.latency) {
    const f = r.latency.minFits;
    ratios.push({ name: 'round trips (fastest-run fit): orch fresh deploy', value: f.orchFresh?.slope ?? NaN, goal: '≤ 3 after connect' });
    ratios.push({ name: 'round trips: orch fresh - orch plan (steps only)', value: (f.orchFresh?.slope ?? NaN) - (f.orchPlan?.slope ?? NaN) });
    ratios.push({ name: 'round trips: orch plan - ssh true (facts + handshake delta)', value: (f.orchPlan?.slope ?? NaN) - (f.sshTrue?.slope ?? NaN) });
    ratios.push({ name: 'round trips: bare ssh deploy', value: f.bareFresh?.slope ?? NaN });
    ratios.push({ name: 'round trips: ssh true', value: f.sshTrue?.slope ?? NaN });
    ratios.push({ name: 'round trips: orch no-op, persistent connections', value: f.orchNoopPersist?.slope ?? NaN, goal: '≤ 2' });
  }
  if (r.plan) {
    ratios.push({ name: `plan --offline ${r.plan.hosts} hosts, s`, value: r.plan.wallMs.median / 1000, goal: '≤ 1' });
    ratios.push({ name: `plan --offline ${r.plan.hosts} hosts, peak MiB / 100`, value: r.plan.maxRssMiB.median / 100, goal: '≤ 5' });
  }
  ratios.push({ name: 'orch --version, ms / 100', value: med(r.startup.orchVersion) / 100, goal: '≤ 1.5' });
  if (delta) ratios.push(...delta.ratios);
  for (const x of ratios) r.ratios[x.name] = x.value;
  text += `\n${formatRatios(ratios)}`;
  if (r.warnings.length) text += `\n== orch problems seen while measuring (${r.warnings.length})\n${r.warnings.map((e) => `- ${e}`).join('\n')}\n`;
  if (r.errors.length) text += `\n== errors (${r.errors.length})\n${r.errors.map((e) => `- ${e}`).join('\n')}\n`;
  process.stdout.write(`\n${text}`);
}

let exitCode = 0;
try {
  await main();
} catch (e) {
  results.errors.push(`fatal: ${(e as Error).message}`);
  log(`FATAL ${(e as Error).stack ?? (e as Error).message}`);
  exitCode = 1;
} finally {
  cleanupSync();
}
results.meta.loadavgEnd = os.loadavg();
printReport();
await writeFile(OUT, `${JSON.stringify(results, null, 2)}\n`);
log(`wrote ${OUT}`);
process.exitCode = exitCode || (results.errors.length ? 1 : 0);
