/**
 * Checks every rendered script with `bash -n` on the control machine before anything
 * runs (python-deployer's sandbox mode). Identical scripts are checked once; scripts
 * are checked in batches (each wrapped in a function) and a failing batch is re-checked
 * script by script to name the culprits.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plan } from '../steps/plan.js';

/** A script that fails `bash -n`, with where it comes from. */
export interface SyntaxProblem {
  at: string;
  node: string;
  step: string;
  hosts: string[];
  message: string;
}

/**
 * `bash -n` of `text`, given as bash's stdin from a regular file: bash reads a pipe one
 * byte per read(2) (so that a script's commands could read the rest of stdin), which
 * costs a syscall per byte; a file it reads in blocks. The file is private (mode 0600 in
 * a fresh mkdtemp folder) and unlinked before bash starts: only the open descriptor
 * holds the text (scripts may hold secrets), so nothing is left on disk.
 */
async function bashN(text: string): Promise<{ ok: boolean; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'orch-check-'));
  let fd: number | undefined;
  try {
    const file = join(dir, 'script');
    await writeFile(file, text, { mode: 0o600 });
    fd = openSync(file, 'r');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const input = fd;
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-n'], { stdio: [input, 'ignore', 'pipe'] });
    closeSync(input);
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
    p.on('error', reject);
    p.on('close', (code) => resolve({ ok: code === 0, stderr: err }));
  });
}

const BATCH = 200;

/** Runs `bash -n` over every task script of the plan; returns the problems (empty = fine). */
export async function checkPlanSyntax(plan: Plan): Promise<SyntaxProblem[]> {
  // Per distinct script, its hosts grouped by step (a host name pushed per use, nothing else).
  // The step itself, not its `at`: a step's position is found when first read (compile-plan.ts).
  type Use = { planStep: { at: string; name: string }; node: string; hosts: string[] };
  type Entry = { script: string; uses: Use[] };
  const entries: Entry[] = [];
  const byText = new Map<string, Entry>();
  for (const phase of plan.phases) {
    for (const step of phase.steps) {
      // Hosts of one step usually share a few scripts: compare against those first
      // (string equality is a memcmp, or a pointer compare for one shared string); hash
      // whole texts only past a handful.
      const local: { entry: Entry; use: Use }[] = [];
      for (const host in step.tasks) {
        const script = step.tasks[host]!.script;
        if (!script) continue;
        let l = local.find((e) => e.entry.script === script);
        if (!l) {
          let entry = byText.get(script);
          if (!entry) {
            entry = { script, uses: [] };
            byText.set(script, entry);
            entries.push(entry);
          }
          const use: Use = { planStep: step, node: phase.node || '(root)', hosts: [] };
          entry.uses.push(use);
          l = { entry, use };
          if (local.length < 8) local.push(l);
        }
        l.use.hosts.push(host);
      }
    }
  }
  const bad: { entry: (typeof entries)[number]; message: string }[] = [];
  for (let i = 0; i < entries.length; i += BATCH) {
    const batch = entries.slice(i, i + BATCH);
    const text = batch.map((e, k) => `__orch_check_${k}() {\n${e.script}\n}\n`).join('');
    const res = await bashN(text);
    if (res.ok) continue;
    for (const e of batch) {
      const one = await bashN(e.script);
      if (!one.ok) bad.push({ entry: e, message: one.stderr.trim().replace(/^bash: /gm, '').replace(/line (\d+)/g, 'script line $1') });
    }
  }
  const problems: SyntaxProblem[] = [];
  for (const { entry, message } of bad) {
    const groups = new Map<string, SyntaxProblem>();
    for (const u of entry.uses) {
      const { at, name } = u.planStep;
      const key = `${at}\0${u.node}\0${name}`;
      let p = groups.get(key);
      if (!p) groups.set(key, (p = { at, node: u.node, step: name, hosts: [], message }));
      p.hosts.push(...u.hosts);
    }
    problems.push(...groups.values());
  }
  return problems;
}
