/**
 * `npm run bench:compare [REF] [--quick]`: the working tree against REF (a git commit-ish,
 * default `main`), interleaved in one run, so that a regression shows as a ratio measured
 * under the same machine load rather than as two figures taken at different times.
 *
 * REF is checked out with `git worktree add --detach` into a temporary folder, its
 * `node_modules` is a symlink to this tree's (so a REF with different dependencies needs
 * `--npm-ci`, which runs `npm ci` there instead), and it is built with `npm run build`.
 * The worktree is removed in `finally` (also on SIGINT/SIGTERM).
 *
 * Scenarios (no root, no host contacted: addresses in 198.18.0.0/15, RFC 2544's benchmarking
 * range): `plan --offline` of a generated N-host inventory, `validate` of the same
 * inventory, and `validate` of a playbook with N `nodes:` entries that are not maps (exit 1). Each repetition runs REF then the working tree (alternating which goes first);
 * one warm-up each. Prints medians (ms), ratio new/old, and `WORSE` for a ratio above 1.15.
 * Exit code 0 always (a report, not a gate), 2 on bad arguments or a failed build.
 *
 * Fleet scenarios (as root, when the test-host harness can run; `--no-fleet` leaves them
 * out): fresh deploy and no-op redeploy of the bench's 5 MiB workload on `--fleet-hosts N`
 * sshd test hosts (default 8), beside a bare `ssh … tar x` fan-out and an `ssh true`
 * fan-out (fleet-compare.ts), interleaved with the same rotation; each side again with
 * persistent connections (`ORCH_SSH_PERSIST=60`, its own control master, warm after the
 * unmeasured first round).
 *
 * Options: `--quick` (3 repetitions, 2,000 hosts, 4 fleet hosts), `--runs N` (default 5),
 * `--hosts N` (default 10000), `--fleet-hosts N` (default 8), `--no-fleet`, `--npm-ci`.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopControlMasters } from '../test/harness/control-master.js';
import { canRunFleet, startFleet } from '../test/harness/fleet.js';
import { measureFleet, type FleetSamples } from './fleet-compare.js';
import { runTimed, tailOf } from './proc.js';
import { scaleInventoryYaml } from './scale.js';
import { summarizeSamples } from './stats.js';
import { orchPlaybookYaml } from './workload.js';

/** The repository root (bench/build/bench/compare.js -> ../../..). */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Args { ref: string; runs: number; hosts: number; npmCi: boolean; fleetHosts: number; fleet: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { ref: 'main', runs: 5, hosts: 10000, npmCi: false, fleetHosts: 8, fleet: true };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    const num = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error(`${v} needs a whole number 1..1000000, got ${JSON.stringify(argv[i])}`);
      return n;
    };
    if (v === '--quick') { a.runs = 3; a.hosts = 2000; a.fleetHosts = 4; }
    else if (v === '--fleet-hosts') a.fleetHosts = Math.min(num(), 200);
    else if (v === '--no-fleet') a.fleet = false;
    else if (v === '--runs') a.runs = num();
    else if (v === '--hosts') a.hosts = num();
    else if (v === '--npm-ci') a.npmCi = true;
    else if (v.startsWith('-')) throw new Error(`unknown option ${v} (known: --quick, --runs N, --hosts N, --fleet-hosts N, --no-fleet, --npm-ci)`);
    else a.ref = v;
  }
  return a;
}

function sh(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd} (exit ${r.status})`);
}

async function main(): Promise<number> {
  let args: Args;
  try { args = parseArgs(process.argv.slice(2)); } catch (e) { console.error(`bench:compare: ${(e as Error).message}`); return 2; }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'orch-bench-compare-'));
  const refTree = path.join(tmp, 'ref');
  const work = path.join(tmp, 'work');
  const cleanup = (): void => {
    spawnSync('git', ['worktree', 'remove', '--force', refTree], { cwd: REPO, stdio: 'ignore' });
    spawnSync('rm', ['-rf', tmp], { stdio: 'ignore' });
  };
  const onSignal = (): void => { cleanup(); process.exit(130); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    sh('git', ['worktree', 'add', '--detach', refTree, args.ref], REPO);
    if (args.npmCi) sh('npm', ['ci', '--no-audit', '--no-fund'], refTree);
    else await symlink(path.join(REPO, 'node_modules'), path.join(refTree, 'node_modules'));
    sh('npm', ['run', 'build', '--silent'], refTree);
    sh('npm', ['run', 'build', '--silent'], REPO);

    await rm(work, { recursive: true, force: true });
    await mkdir(path.join(work, 'app'), { recursive: true });
    await writeFile(path.join(work, 'app', 'VERSION'), '1.0.0\n');
    await writeFile(path.join(work, 'app', 'run'), '#!/bin/sh\necho app\n');
    const inv = `inventory-${args.hosts}.yml`;
    const pb = `playbook-${args.hosts}.yml`;
    await writeFile(path.join(work, inv), scaleInventoryYaml(args.hosts));
    await writeFile(path.join(work, pb), orchPlaybookYaml(inv));
    // A playbook whose `nodes:` holds N entries that are not maps: N diagnostics (exit 1).
    const bad = `invalid-nodes-${args.hosts}.yml`;
    await writeFile(path.join(work, bad), `inventory: ${inv}\nnodes:\n${Array.from({ length: args.hosts }, (_, i) => `  n${i}: 5\n`).join('')}`);

    const scenarios: { label: string; argv: string[]; code?: number }[] = [
      { label: `plan --offline, ${args.hosts} hosts`, argv: ['plan', pb, '--offline'] },
      { label: `validate inventory, ${args.hosts} hosts`, argv: ['validate', inv] },
      { label: `validate, ${args.hosts} invalid nodes`, argv: ['validate', bad], code: 1 },
    ];
    const sides = [{ name: 'old', orch: path.join(refTree, 'bin', 'orch.js') }, { name: 'new', orch: path.join(REPO, 'bin', 'orch.js') }];
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', NO_COLOR: '1' };
    const rows: string[] = [];
    let worse = 0;
    for (const sc of scenarios) {
      const samples: Record<string, number[]> = { old: [], new: [] };
      for (let i = 0; i <= args.runs; i++) {
        const order = i % 2 === 0 ? sides : [...sides].reverse();
        for (const side of order) {
          const r = await runTimed(process.execPath, [side.orch, ...sc.argv], { cwd: work, env, timeoutMs: 300_000, stdoutFile: path.join(work, 'out.txt'), maxOutput: 64 * 1024 });
          if (r.code !== (sc.code ?? 0)) throw new Error(`${side.name}: orch ${sc.argv.join(' ')} exited ${r.code}: ${tailOf(r.stderr)}`);
          console.error(`bench:compare: ${sc.label}, ${side.name}, ${i === 0 ? 'warm-up' : `run ${i}/${args.runs}`}: ${r.ms.toFixed(0)} ms`);
          if (i > 0) samples[side.name]!.push(r.ms);
        }
      }
      const o = summarizeSamples(samples.old!).median;
      const n = summarizeSamples(samples.new!).median;
      const ratio = n / o;
      if (ratio > 1.15) worse++;
      rows.push(`| ${sc.label} | ${o.toFixed(0)} | ${n.toFixed(0)} | ${ratio.toFixed(2)}${ratio > 1.15 ? ' WORSE' : ''} |`);
    }
    let fleetSamples: FleetSamples | undefined;
    let fleetNote = '';
    if (!args.fleet) fleetNote = 'fleet scenarios left out (--no-fleet)';
    else if (!canRunFleet()) fleetNote = 'fleet scenarios left out: they need root, ip, unshare, nsenter, ssh-keygen and /usr/sbin/sshd';
    else {
      const fleet = await startFleet({ count: args.fleetHosts, name: 'obcmp' });
      try {
        const fw = path.join(tmp, 'fleet');
        await mkdir(fw, { recursive: true });
        const persist = sides.map((s) => ({ ...s, name: `${s.name}-persist`, env: { ORCH_SSH_PERSIST: '60' } }));
        fleetSamples = await measureFleet({ fleet, work: fw, sides: [...sides, ...persist], runs: args.runs, log: (s) => console.error(`bench:compare: ${s}`) })
          .finally(() => Promise.all(persist.map((s) => stopControlMasters(path.join(fw, `home-${s.name}`)))));
      } finally {
        await fleet.teardown();
      }
      const med = (k: string): number => summarizeSamples(fleetSamples![k] ?? []).median;
      const fleetRows = [
        ['fresh', '', `fresh deploy, 5 MiB, ${args.fleetHosts} hosts`], ['noop', '', `no-op redeploy, ${args.fleetHosts} hosts`],
        ['fresh', '-persist', `fresh deploy, ORCH_SSH_PERSIST=60`], ['noop', '-persist', `no-op redeploy, ORCH_SSH_PERSIST=60`],
      ] as const;
      for (const [what, side, label] of fleetRows) {
        const o = med(`${what}:old${side}`);
        const n = med(`${what}:new${side}`);
        const ratio = n / o;
        if (ratio > 1.15) worse++;
        rows.push(`| ${label} | ${o.toFixed(0)} | ${n.toFixed(0)} | ${ratio.toFixed(2)}${ratio > 1.15 ? ' WORSE' : ''} |`);
      }
      fleetNote = [
        `fresh deploy: bare parallel ssh tar x ${med('fresh:bare').toFixed(0)} ms; old/bare ${(med('fresh:old') / med('fresh:bare')).toFixed(2)}, new/bare ${(med('fresh:new') / med('fresh:bare')).toFixed(2)}`,
        `no-op: ssh true fan-out ${med('noop:ssh-true').toFixed(0)} ms; old/ssh-true ${(med('noop:old') / med('noop:ssh-true')).toFixed(2)}, new/ssh-true ${(med('noop:new') / med('noop:ssh-true')).toFixed(2)}`,
        `with ORCH_SSH_PERSIST=60: fresh old/bare ${(med('fresh:old-persist') / med('fresh:bare')).toFixed(2)}, new/bare ${(med('fresh:new-persist') / med('fresh:bare')).toFixed(2)}; no-op old/ssh-true ${(med('noop:old-persist') / med('noop:ssh-true')).toFixed(2)}, new/ssh-true ${(med('noop:new-persist') / med('noop:ssh-true')).toFixed(2)}`,
      ].join('\n');
    }
    console.log(`\nbench:compare: working tree (new) against ${args.ref} (old), medians of ${args.runs}, interleaved\n`);
    console.log('| scenario | old ms | new ms | new/old |');
    console.log('|---|---|---|---|');
    for (const r of rows) console.log(r);
    if (fleetNote) console.log(`\n${fleetNote}`);
    if (worse > 0) console.log(`\n${worse} scenario(s) more than 15 % worse than ${args.ref}.`);
    return 0;
  } catch (e) {
    console.error(`bench:compare: ${(e as Error).message}`);
    return 2;
  } finally {
    cleanup();
  }
}

process.exitCode = await main();
