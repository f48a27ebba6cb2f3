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
 * range): `plan --offline` of a generated N-host inventory, and `validate` of the same
 * inventory. Each repetition runs REF then the working tree (alternating which goes first);
 * one warm-up each. Prints medians (ms), ratio new/old, and `WORSE` for a ratio above 1.15.
 * Exit code 0 always (a report, not a gate), 2 on bad arguments or a failed build.
 *
 * Options: `--quick` (3 repetitions, 2,000 hosts), `--runs N` (default 5), `--hosts N`
 * (default 10000), `--npm-ci`. The fleet scenarios of `npm run bench` (fresh deploy, no-op,
 * round trips) are not yet part of this comparison.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTimed, tailOf } from './proc.js';
import { scaleInventoryYaml } from './scale.js';
import { summarizeSamples } from './stats.js';
import { orchPlaybookYaml } from './workload.js';

/** The repository root (bench/build/bench/compare.js -> ../../..). */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Args { ref: string; runs: number; hosts: number; npmCi: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { ref: 'main', runs: 5, hosts: 10000, npmCi: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    const num = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error(`${v} needs a whole number 1..1000000, got ${JSON.stringify(argv[i])}`);
      return n;
    };
    if (v === '--quick') { a.runs = 3; a.hosts = 2000; }
    else if (v === '--runs') a.runs = num();
    else if (v === '--hosts') a.hosts = num();
    else if (v === '--npm-ci') a.npmCi = true;
    else if (v.startsWith('-')) throw new Error(`unknown option ${v} (known: --quick, --runs N, --hosts N, --npm-ci)`);
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

    const scenarios: { label: string; argv: string[] }[] = [
      { label: `plan --offline, ${args.hosts} hosts`, argv: ['plan', pb, '--offline'] },
      { label: `validate inventory, ${args.hosts} hosts`, argv: ['validate', inv] },
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
          if (r.code !== 0) throw new Error(`${side.name}: orch ${sc.argv.join(' ')} exited ${r.code}: ${tailOf(r.stderr)}`);
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
    console.log(`\nbench:compare: working tree (new) against ${args.ref} (old), medians of ${args.runs}, interleaved\n`);
    console.log('| scenario | old ms | new ms | new/old |');
    console.log('|---|---|---|---|');
    for (const r of rows) console.log(r);
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
