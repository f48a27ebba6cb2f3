/**
 * The front end at scale (issue 18): `orch validate` and `orch plan --offline` of
 * generated inventories of 1,000 / 10,000 / 50,000 SSH hosts (by default), each run
 * timed (wall) with its peak RSS (the orch process's own `resourceUsage().maxRSS` at
 * exit; its CPU time too, which other work on the machine disturbs less). No host is contacted: the addresses are in 198.18.0.0/15 (RFC 2544's
 * benchmarking range) and `--offline` / `validate` never connect. Needs no root.
 *
 * Rows per size: `validate INVENTORY` (load + schema + rules), `validate PLAYBOOK`
 * (that, plus the playbook compiled for every host and `bash -n`), `plan --offline`.
 * Plus `validate` of an inventory with `keys` unknown keys (every one a diagnostic).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runTimed, tailOf } from './proc.js';
import type { Row } from './report.js';
import { summarizeSamples, type SampleSummary } from './stats.js';
import { orchPlaybookYaml } from './workload.js';

/** One measured command at one size. */
export interface ScaleResult {
  hosts: number;
  command: string;
  wallMs: SampleSummary;
  /** User + system CPU time of the orch process (not its children, e.g. bash -n), ms. */
  cpuMs: SampleSummary;
  maxRssMiB: SampleSummary;
  exitCode: number | null;
}

/** Options of {@link measureScale}. */
export interface ScaleOptions {
  /** Absolute path of bin/orch.js. */
  orch: string;
  /** Scratch folder (created). */
  work: string;
  env: Record<string, string>;
  /** Host counts, e.g. [1000, 10000, 50000]. */
  sizes: number[];
  /** Unknown keys for the diagnostics row (0 = skip). */
  unknownKeys: number;
  /** Measured runs per command (after one warm-up run). */
  runs: number;
  log: (line: string) => void;
}

/**
 * Inventory YAML of `count` SSH hosts `n1..nCOUNT` (flow maps, one per line, as people
 * write big inventories), a role over all of them, and a group of every tenth host.
 */
export function scaleInventoryYaml(count: number): string {
  const lines = ['defaults:', '  user: deploy', '  port: 22', 'hosts:'];
  for (let i = 1; i <= count; i++) lines.push(`  n${i}: { address: 198.18.${(i >> 8) & 255}.${i & 255} }`);
  lines.push('roles:', '  app: ["n*"]', 'groups:', '  tenth:', '    hosts:');
  for (let i = 10; i <= count; i += 10) lines.push(`      - n${i}`);
  return `${lines.join('\n')}\n`;
}

/** An inventory whose one host carries `count` unknown keys (each a diagnostic). */
export function unknownKeysInventoryYaml(count: number): string {
  const lines = ['hosts:', '  h1:', '    address: 198.18.0.1'];
  for (let i = 1; i <= count; i++) lines.push(`    bogus${i}: 1`);
  return `${lines.join('\n')}\n`;
}

/** Runs every scale measurement; returns the results and the table rows. */
export async function measureScale(opts: ScaleOptions): Promise<{ results: ScaleResult[]; rows: Row[] }> {
  await mkdir(path.join(opts.work, 'app'), { recursive: true });
  await writeFile(path.join(opts.work, 'app', 'VERSION'), '1.0.0\n');
  await writeFile(path.join(opts.work, 'app', 'run'), '#!/bin/sh\necho app\n');
  const wrapper = path.join(opts.work, 'rss-wrapper.mjs');
  await writeFile(wrapper, `import { writeSync } from 'node:fs';\nprocess.on('exit', () => { try { const u = process.resourceUsage(); writeSync(2, '\\nBENCH_MAXRSS_KB ' + u.maxRSS + ' BENCH_CPU_US ' + (u.userCPUTime + u.systemCPUTime) + '\\n'); } catch {} });\nprocess.argv.splice(1, 1);\nawait import(${JSON.stringify(opts.orch)});\n`);
  const results: ScaleResult[] = [];
  const rows: Row[] = [];

  const measure = async (hosts: number, label: string, args: string[], expectExit: number): Promise<void> => {
    const wall: number[] = [];
    const rss: number[] = [];
    const cpu: number[] = [];
    let code: number | null = null;
    for (let i = 0; i <= opts.runs; i++) {
      const r = await runTimed(process.execPath, [wrapper, opts.orch, ...args], {
        cwd: opts.work, env: opts.env, timeoutMs: 600_000, stdoutFile: path.join(opts.work, 'out.txt'), maxOutput: 64 * 1024,
      });
      code = r.code;
      if (r.code !== expectExit) throw new Error(`orch ${args.join(' ')} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}, expected ${expectExit}: ${tailOf(r.stderr)}`);
      const m = /BENCH_MAXRSS_KB (\d+) BENCH_CPU_US (\d+)/.exec(r.stderr);
      if (!m) throw new Error(`no peak RSS from orch ${args.join(' ')}: ${tailOf(r.stderr)}`);
      opts.log(`scale: ${label} ${i === 0 ? 'warm-up' : `run ${i}/${opts.runs}`}: ${r.ms.toFixed(0)} ms wall, ${(Number(m[2]) / 1000).toFixed(0)} ms CPU, ${(Number(m[1]) / 1024).toFixed(0)} MiB`);
      if (i === 0) continue;
      wall.push(r.ms);
      cpu.push(Number(m[2]) / 1000);
      rss.push(Number(m[1]) / 1024);
    }
    const res: ScaleResult = { hosts, command: label, wallMs: summarizeSamples(wall), cpuMs: summarizeSamples(cpu), maxRssMiB: summarizeSamples(rss), exitCode: code };
    results.push(res);
    rows.push({ label: `${label}, wall`, summary: res.wallMs });
    rows.push({ label: `${label}, CPU (orch process)`, summary: res.cpuMs, note: 'user + system; less sensitive to other load' });
    rows.push({ label: `${label}, peak RSS`, summary: res.maxRssMiB, unit: 'MiB' });
  };

  for (const n of opts.sizes) {
    const inv = `scale-inventory-${n}.yml`;
    const pb = `scale-playbook-${n}.yml`;
    await writeFile(path.join(opts.work, inv), scaleInventoryYaml(n));
    await writeFile(path.join(opts.work, pb), orchPlaybookYaml(inv));
    await measure(n, `validate inventory, ${n} hosts`, ['validate', inv], 0);
    await measure(n, `validate playbook (compiled), ${n} hosts`, ['validate', pb], 0);
    await measure(n, `plan --offline, ${n} hosts`, ['plan', pb, '--offline'], 0);
  }
  if (opts.unknownKeys > 0) {
    const f = `scale-unknown-keys-${opts.unknownKeys}.yml`;
    await writeFile(path.join(opts.work, f), unknownKeysInventoryYaml(opts.unknownKeys));
    await measure(1, `validate, ${opts.unknownKeys} unknown keys (exit 1)`, ['validate', f], 1);
  }
  return { results, rows };
}
