/**
 * `npm run bench` (second part), or `npm run bench:store`: push vs fetch at scale
 * (issue 15). On 8, 50 and 200 real sshd test hosts (test/harness/fleet.ts) with a 20 MiB
 * incompressible release served by Debian's nginx in its own network namespace
 * (test/harness/store.ts), interleaved, from wiped hosts every run:
 *
 * - `orch apply` of an `artifact:` bundle (push: the control machine sends every byte);
 * - `orch apply` of a signed `channel:` bundle with `fetch: host` (each host runs curl);
 * - a bare parallel `ssh HOST 'tar xz' < release.tar.gz` fan-out (the push baseline);
 * - a bare parallel `ssh HOST 'curl URL | tar xz'` fan-out (the fetch baseline).
 *
 * Measured: wall time; bytes the control machine sent into the test subnet per host
 * (tx_bytes of the fleet's bridge device, which counts only what this machine itself
 * transmits — bridged store->host traffic never passes it), next to orch's own
 * `bytesUploaded`; the per-host increment (ms/host) as the least-squares slope of wall
 * time over host count; peak RSS (VmHWM) and open file descriptors of the orch process,
 * sampled every 20 ms from /proc, at each size.
 *
 * Environment: BENCH_STORE_HOSTS ("8,50,200"), BENCH_STORE_RUNS (1), BENCH_STORE_WARMUP
 * (1; 0 = no unmeasured round first), BENCH_SEED (1: the
 * release's bytes), BENCH_SKIP (`store` skips this part), BENCH_STORE_OUT
 * (bench/results-store.json). Never fails on a time; exits 1 only when a measurement
 * could not be taken. Needs root and nginx (apt-get install nginx-light).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canRunFleet, startFleet, type Fleet } from '../test/harness/fleet.js';
import { canRunStore, startStore, type TestStore } from '../test/harness/store.js';
import { runTimed, tailOf } from './proc.js';
import { fitLine, summarizeSamples, type SampleSummary } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ORCH = path.join(REPO, 'bin', 'orch.js');
const log = (s: string): void => void process.stderr.write(`bench-store: ${s}\n`);

const SIZES = (process.env.BENCH_STORE_HOSTS ?? '8,50,200').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`BENCH_STORE_HOSTS: host counts 1..200, got ${JSON.stringify(s)}`);
  return n;
});
const RUNS = Number(process.env.BENCH_STORE_RUNS ?? 1);
/** Unmeasured warm-up rounds before the measured ones (0 or 1). */
const WARMUP = process.env.BENCH_STORE_WARMUP === '0' ? 0 : 1;
const SEED = process.env.BENCH_SEED ?? '1';
const OUT = path.resolve(process.env.BENCH_STORE_OUT ?? path.join(REPO, 'bench', 'results-store.json'));
const BLOB = 20 * 1024 * 1024;
const CONTENDERS = ['orchPush', 'orchFetch', 'bareSsh', 'bareCurl'] as const;
type Contender = (typeof CONTENDERS)[number];
const LABEL: Record<Contender, string> = {
  orchPush: 'orch apply, push (artifact:)',
  orchFetch: 'orch apply, fetch: host (channel:)',
  bareSsh: 'bare parallel ssh < tarball',
  bareCurl: 'bare parallel ssh curl | tar',
};

interface Sample { ms: number; txBytes: number; bytesUploaded?: number; peakRssMiB?: number; peakFds?: number }
interface SizeResult { hosts: number; samples: Record<Contender, Sample[]>; errors: string[] }

const results: { meta: Record<string, unknown>; sizes: SizeResult[]; errors: string[] } = {
  meta: { seed: SEED, blobBytes: BLOB, cpus: os.cpus().length, node: process.version, loadavgStart: os.loadavg() },
  sizes: [],
  errors: [],
};

/** `orch ARGS` with /proc sampling of its peak RSS and open fds. */
function runOrchSampled(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number; peakRssMiB: number; peakFds: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [ORCH, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let rss = 0;
    let fds = 0;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const sample = (): void => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) rss = Math.max(rss, Number(m[1]) / 1024);
        fds = Math.max(fds, readdirSync(`/proc/${child.pid}/fd`).length);
      } catch {
        /* exited between samples */
      }
    };
    const timer = setInterval(sample, 20);
    const kill = setTimeout(() => child.kill('SIGKILL'), 900_000);
    child.on('close', (code) => {
      clearInterval(timer);
      clearTimeout(kill);
      resolve({ code, stdout, stderr, ms: performance.now() - t0, peakRssMiB: rss, peakFds: fds });
    });
  });
}

const txBytes = (fleet: Fleet): number => Number(readFileSync(`/sys/class/net/orb${fleet.subnet}/statistics/tx_bytes`, 'utf8'));

function fanoutScript(remote: string, stdinFile: boolean): string {
  return `#!/bin/bash
set -u
opts=(-F /dev/null -o BatchMode=yes -o ControlMaster=no -o ControlPath=none -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o IdentitiesOnly=yes -i "$IDENTITY" -o LogLevel=ERROR -o ConnectTimeout=30)
pids=()
while read -r addr; do
  ssh "\${opts[@]}" "root@$addr" '${remote}' ${stdinFile ? '< "$2"' : '< /dev/null'} &
  pids+=($!)
done < "$1"
rc=0
for p in "\${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
`;
}

async function writeRelease(work: string): Promise<string> {
  const src = path.join(work, 'src', 'app');
  await mkdir(src, { recursive: true });
  await writeFile(path.join(src, 'VERSION'), '1.0.0\n');
  const blocks: Buffer[] = [];
  for (let i = 0; i < BLOB / 32; i++) blocks.push(createHash('sha256').update(`${SEED}:${i}`).digest());
  await writeFile(path.join(src, 'blob'), Buffer.concat(blocks));
  return src;
}

async function measureSize(n: number, work: string, tarball: string, key: string, allowed: string, env: NodeJS.ProcessEnv): Promise<SizeResult> {
  const res: SizeResult = { hosts: n, samples: { orchPush: [], orchFetch: [], bareSsh: [], bareCurl: [] }, errors: [] };
  let fleet: Fleet | undefined;
  let store: TestStore | undefined;
  try {
    log(`${n} hosts: starting fleet and nginx store`);
    fleet = await startFleet({ count: n, name: 'orchsb' });
    store = await startStore(fleet);
    const pub = await runTimed(process.execPath, [ORCH, 'publish', tarball, '--to', store.baseUrl, '--channel', 'stable', '--sign', key], { env, cwd: work });
    if (pub.code !== 0) throw new Error(`orch publish: ${tailOf(pub.stderr)}`);
    const dir = path.join(work, `n${n}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'inventory.yml'), fleet.inventoryYaml());
    await writeFile(path.join(dir, 'allowed_signers'), await readFile(allowed));
    const pb = (bundle: string): string => `inventory: inventory.yml\nvars: { app: app, root: /srv/app }\nbundles:\n  app: ${bundle}\nnodes:\n  app:\n    steps:\n      - install: { bundle: app }\n      - symlink: {}\n`;
    await writeFile(path.join(dir, 'push.yml'), pb(`{ artifact: ${tarball} }`));
    await writeFile(path.join(dir, 'fetch.yml'), pb(`{ channel: ${store.baseUrl}app/stable.json, allowed_signers: allowed_signers, fetch: host }`));
    await writeFile(path.join(dir, 'hosts.txt'), fleet.hosts.map((h) => `${h.address}\n`).join(''));
    const url = `${store.baseUrl}app/${path.basename(tarball)}`;
    const untar = 'set -e; mkdir -p /srv/app/versions/1.0.0; tar xzf - -C /srv/app/versions/1.0.0; ln -sfn versions/1.0.0 /srv/app/current.tmp; mv -T /srv/app/current.tmp /srv/app/current';
    await writeFile(path.join(dir, 'bare-ssh.sh'), fanoutScript(untar, true));
    await writeFile(path.join(dir, 'bare-curl.sh'), fanoutScript(`set -e; mkdir -p /srv/app/versions/1.0.0; curl -fsS ${url} | tar xzf - -C /srv/app/versions/1.0.0; ln -sfn versions/1.0.0 /srv/app/current.tmp; mv -T /srv/app/current.tmp /srv/app/current`, false));
    const sshEnv = { ...env, KNOWN_HOSTS: fleet.knownHostsFile, IDENTITY: fleet.identityFile };
    for (let run = 1 - WARMUP; run <= RUNS; run++) {
      const order = CONTENDERS.map((_, i) => CONTENDERS[(i + run) % CONTENDERS.length]!);
      for (const c of order) {
        await Promise.all(fleet.hosts.map(async (h) => {
          await rm(path.join(h.dir, 'srv', 'app'), { recursive: true, force: true });
          await rm(path.join(h.dir, 'root', '.orch'), { recursive: true, force: true });
        }));
        const tx0 = txBytes(fleet);
        let sample: Sample;
        if (c === 'orchPush' || c === 'orchFetch') {
          const r = await runOrchSampled(['apply', c === 'orchPush' ? 'push.yml' : 'fetch.yml', '--yes', '--json', '--forks', String(n)], env, dir);
          if (r.code !== 0) throw new Error(`${LABEL[c]} exited ${r.code}: ${tailOf(r.stderr || r.stdout)}`);
          const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { bytesUploaded: number };
          sample = { ms: r.ms, txBytes: txBytes(fleet) - tx0, bytesUploaded: summary.bytesUploaded, peakRssMiB: r.peakRssMiB, peakFds: r.peakFds };
        } else {
          const r = await runTimed('bash', [path.join(dir, c === 'bareSsh' ? 'bare-ssh.sh' : 'bare-curl.sh'), path.join(dir, 'hosts.txt'), tarball], { env: sshEnv, timeoutMs: 900_000 });
          if (r.code !== 0) throw new Error(`${LABEL[c]} exited ${r.code}: ${tailOf(r.stderr)}`);
          sample = { ms: r.ms, txBytes: txBytes(fleet) - tx0 };
        }
        const missing = fleet.hosts.filter((h) => !existsSync(path.join(h.dir, 'srv', 'app', 'current'))).length;
        if (missing) throw new Error(`${LABEL[c]}: ${missing} of ${n} hosts have no current link afterwards`);
        log(`${n} hosts ${run === 0 ? 'warm-up' : `run ${run}/${RUNS}`}: ${LABEL[c]} ${sample.ms.toFixed(0)} ms, control sent ${(sample.txBytes / n / 1024).toFixed(0)} KiB/host${sample.peakRssMiB ? `, orch peak ${sample.peakRssMiB.toFixed(0)} MiB, ${sample.peakFds} fds` : ''}`);
        if (run > 0) res.samples[c].push(sample);
      }
    }
  } catch (e) {
    res.errors.push((e as Error).message);
    log(`ERROR at ${n} hosts: ${(e as Error).message}`);
  } finally {
    await store?.teardown().catch(() => undefined);
    await fleet?.teardown().catch(() => undefined);
  }
  return res;
}

function printReport(): void {
  const med = (xs: number[]): number => summarizeSamples(xs).median;
  const sum = (s: SizeResult, c: Contender): SampleSummary => summarizeSamples(s.samples[c].map((x) => x.ms));
  const lines: string[] = [];
  lines.push(`== push vs fetch: 20 MiB release, nginx store in its own netns, ${RUNS} run(s) per size, ${os.cpus().length} CPUs, seed ${SEED}, load avg ${(results.meta.loadavgStart as number[])[0]!.toFixed(1)} -> ${os.loadavg()[0]!.toFixed(1)}`);
  const head = ['hosts', ...CONTENDERS.map((c) => LABEL[c]), 'ctl KiB/host push', 'ctl KiB/host fetch', 'orch peak RSS push/fetch', 'orch fds push/fetch'];
  const rows = results.sizes.map((s) => {
    if (s.errors.length) return [String(s.hosts), `error: ${s.errors[0]!.slice(0, 100)}`];
    const kib = (c: Contender): string => (med(s.samples[c].map((x) => x.txBytes)) / s.hosts / 1024).toFixed(1);
    const rss = (c: Contender): string => med(s.samples[c].map((x) => x.peakRssMiB ?? NaN)).toFixed(0);
    const fds = (c: Contender): string => med(s.samples[c].map((x) => x.peakFds ?? NaN)).toFixed(0);
    return [String(s.hosts), ...CONTENDERS.map((c) => `${(sum(s, c).median / 1000).toFixed(2)} s`), kib('orchPush'), kib('orchFetch'), `${rss('orchPush')} / ${rss('orchFetch')} MiB`, `${fds('orchPush')} / ${fds('orchFetch')}`];
  });
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]): string => r.map((x, i) => (i === 0 ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join('  ').trimEnd();
  lines.push(fmt(head), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(fmt));
  const ok = results.sizes.filter((s) => !s.errors.length);
  if (ok.length >= 2) {
    lines.push('', '== per-host increment: least-squares slope of wall time over hosts (ms/host)');
    for (const c of CONTENDERS) {
      const f = fitLine(ok.map((s) => [s.hosts, sum(s, c).median] as [number, number]));
      lines.push(`${LABEL[c].padEnd(40)} ${f.slope.toFixed(1).padStart(8)} ms/host   (intercept ${f.intercept.toFixed(0)} ms, r² ${f.r2.toFixed(3)})`);
    }
  }
  for (const s of ok) {
    const up = med(s.samples.orchFetch.map((x) => x.bytesUploaded ?? NaN));
    lines.push(`${s.hosts} hosts: orch fetch: bytesUploaded ${up} (payload), control machine sent ${(med(s.samples.orchFetch.map((x) => x.txBytes)) / s.hosts / 1024).toFixed(1)} KiB/host in all (scripts, SSH, TCP); push sent ${(med(s.samples.orchPush.map((x) => x.txBytes)) / s.hosts / 1024 / 1024).toFixed(1)} MiB/host`);
  }
  if (results.errors.length) lines.push('', ...results.errors.map((e) => `error: ${e}`));
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  if ((process.env.BENCH_SKIP ?? '').split(',').map((s) => s.trim()).includes('store')) {
    log('skipped (BENCH_SKIP=store)');
    return;
  }
  if (!canRunFleet()) throw new Error('needs root, ip, unshare, nsenter, ssh-keygen and sshd (the test-host harness)');
  if (!canRunStore()) throw new Error('needs nginx: apt-get install nginx-light');
  log(`seed ${SEED}, sizes ${SIZES.join(', ')}, ${RUNS} run(s) each${WARMUP ? ' after a warm-up' : ''}`);
  const work = await mkdtemp(path.join(os.tmpdir(), 'orch-bench-store-'));
  try {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.join(work, 'home'), XDG_CACHE_HOME: path.join(work, 'cache'), LANG: 'C.UTF-8' };
    await mkdir(env.HOME, { recursive: true });
    const src = await writeRelease(work);
    const b = await runTimed(process.execPath, [ORCH, 'bundle', src, '--out', path.join(work, 'dist'), '--json'], { env, cwd: work });
    if (b.code !== 0) throw new Error(`orch bundle: ${tailOf(b.stderr)}`);
    const tarball = (JSON.parse(b.stdout) as { path: string; size: number }).path;
    const key = path.join(work, 'release_key');
    const kg = await runTimed('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', key]);
    if (kg.code !== 0) throw new Error(`ssh-keygen: ${kg.stderr}`);
    const [type, b64] = (await readFile(`${key}.pub`, 'utf8')).trim().split(' ');
    const allowed = path.join(work, 'allowed_signers');
    await writeFile(allowed, `bench namespaces="orch-release" ${type} ${b64}\n`);
    for (const n of SIZES) results.sizes.push(await measureSize(n, work, tarball, key, allowed, env));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  results.errors.push((e as Error).message);
  code = 1;
}
if (results.sizes.length || results.errors.length) {
  printReport();
  await writeFile(OUT, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${OUT}`);
}
process.exitCode = code || (results.sizes.some((s) => s.errors.length) ? 1 : 0);
