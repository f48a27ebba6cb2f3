/**
 * `--diff` (ansible --check --diff, terraform plan): what each predicted change would do
 * to a host, as data for `plan --json` and as text under the plan's step lines. Each step
 * kind owns its diff (`StepKind.diffProbes` and `StepKind.diff`, src/steps/kind.ts: a
 * put's unified diff (old contents of a file not world-readable on the host hidden unless
 * `--diff-private`), a symlink's `current 1.0.0 -> 1.1.0`, an install's files added,
 * removed and changed); this module gives them what they read on the control machine and
 * renders the result. Not pure: it reads a put's local source file and runs `tar -xzO` to
 * read a bundle's info.json (`bundleFilesReader`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import type { Facts } from '../compile/predict.js';
import type { PayloadRef, Plan, Probe, Task } from '../steps/plan.js';
import type { Masker } from '../shell/mask.js';
import { infoFiles } from '../steps/common.js';
import { isStepKind, kindOfTask, STEP_KINDS } from '../steps/index.js';
import type { StepDiff } from '../steps/kind.js';
import { PLAIN, type Palette } from './color.js';
import { formatBytes } from './units.js';

export type { StepDiff } from '../steps/kind.js';

/** The `files` map (path -> sha256) of a bundle's info.json, read from its tarball; undefined when it has none. */
export type BundleFiles = (bundle: string) => Record<string, string> | undefined;

/** Reads `<dir>/info.json` from a bundle tarball on the control machine (tar -xzO), memoised per path. */
export function bundleFilesReader(plan: Plan): BundleFiles {
  const cache = new Map<string, Record<string, string> | undefined>();
  return (name) => {
    const b = plan.bundles[name];
    if (!b) return undefined;
    if (!cache.has(b.path)) {
      const r = spawnSync('tar', ['-xzOf', b.path, `${b.dir}/info.json`], { maxBuffer: 64 * 1024 * 1024 });
      cache.set(b.path, r.status === 0 ? infoFiles(r.stdout.toString('utf8')) : undefined);
    }
    return cache.get(b.path);
  };
}

/** The probes `--diff` adds for a host: what each task's kind reads to show its change (`StepKind.diffProbes`). */
export function diffProbes(plan: Plan, host: string): Probe[] {
  const out: Probe[] = [];
  for (const phase of plan.phases) {
    for (const step of phase.steps) {
      const task = step.tasks[host];
      if (task) out.push(...(kindOfTask(task)?.diffProbes?.(task) ?? []));
    }
  }
  return out;
}

/** A payload's bytes on the control machine: inline content, or its local file when it exists. */
function payloadBytes(p: PayloadRef): Buffer | undefined {
  if (p.kind === 'content') return Buffer.from(p.base64, 'base64');
  if (p.kind === 'file' && statSync(p.path, { throwIfNoEntry: false })) return readFileSync(p.path);
  return undefined;
}

/** The diff of one task on one host (its kind's `diff`), or undefined when there is nothing to show. */
export function diffTask(task: Task, facts: Facts | undefined, masker: Masker, bundleFiles?: BundleFiles, opts: { showPrivate?: boolean } = {}): StepDiff | undefined {
  return kindOfTask(task)?.diff?.(task, facts, {
    mask: (text) => masker.mask(text),
    showPrivate: opts.showPrivate === true,
    bundleFiles: (bundle) => bundleFiles?.(bundle),
    payloadBytes,
  });
}

/** Text of a step's diff, indented under its plan line (the kind that made it renders it: `StepKind.formatDiff`); `+` green, `-` red. */
export function formatDiff(d: StepDiff, p: Palette = PLAIN, indent = '      '): string[] {
  const kind = isStepKind(d.kind) ? STEP_KINDS[d.kind] : undefined;
  return (kind?.formatDiff?.(d, { add: p.add, remove: p.remove, change: p.change, dim: p.dim, bytes: formatBytes }) ?? []).map((l) => `${indent}${l}`);
}
