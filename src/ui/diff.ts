/**
 * `--diff` (ansible --check --diff, terraform plan): what each predicted change would do
 * to a host, as data for `plan --json` and as text under the plan's step lines.
 * - `put`: a unified diff (npm `diff`) of the host's file against the new contents; the
 *   host's file is read with the facts only under `--diff` (a `content` probe, at most
 *   256 KiB), binary files say `binary differs`, larger ones `too large to diff`; mode and
 *   owner changes (`mode 644 -> 640`). A secret never appears: when the new contents hold
 *   a secret value, only `(contents changed; hidden: uses a secret)` is shown, and the
 *   host's contents are masked too.
 * - `symlink`: `current 1.0.0 -> 1.1.0`.
 * Pure: plan, facts and masker in, data out.
 */
import { readFileSync, statSync } from 'node:fs';
import { structuredPatch } from 'diff';
import type { Facts } from '../compile/predict.js';
import type { Plan, Probe, Task } from '../model/plan.js';
import type { Masker } from '../shell/mask.js';
import { PLAIN, type Palette } from './color.js';

/** Largest file diffed, bytes (both sides). */
export const DIFF_LIMIT = 256 * 1024;

/** The change of one step on one host. */
export type StepDiff =
  | {
      kind: 'put';
      path: string;
      /** Unified diff hunks (`@@ ... @@` and `+`/`-`/` ` lines), absent when the contents are equal or not shown. */
      unified?: string;
      /** Why no unified diff is shown although the contents differ. */
      contents?: 'new file' | 'binary differs' | 'too large to diff' | 'hidden: uses a secret';
      mode?: { from: string; to: string };
      owner?: { from: string; to: string };
    }
  | { kind: 'symlink'; current: { from: string | null; to: string } };

/** The probes `--diff` adds for a host: the current contents of every file a `put` writes. */
export function diffProbes(plan: Plan, host: string): Probe[] {
  const out: Probe[] = [];
  for (const phase of plan.phases) {
    for (const step of phase.steps) {
      const c = step.tasks[host]?.check;
      if (c?.kind === 'put') out.push({ kind: 'content', path: c.dest });
    }
  }
  return out;
}

/** Parses a `content` fact: `MODE USER:GROUP SIZE\nBYTES`. */
function parseContent(value: string | null | undefined): { mode: string; owner: string; size: number; text?: string } | undefined {
  if (value === null || value === undefined) return undefined;
  const nl = value.indexOf('\n');
  const [mode = '', owner = '', size = '0'] = value.slice(0, nl < 0 ? undefined : nl).split(' ');
  const n = Number(size);
  return { mode, owner, size: n, ...(n <= DIFF_LIMIT && nl >= 0 && { text: value.slice(nl + 1) }) };
}

const isBinary = (s: string): boolean => s.includes('\0') || s.includes('\uFFFD');

/** The new contents of a put task (inline content or a local file), or why not. */
function newContents(task: Task): { text?: string; why?: 'too large to diff' | 'binary differs' } {
  const p = task.payload;
  if (!p) return {};
  if (p.size > DIFF_LIMIT) return { why: 'too large to diff' };
  let buf: Buffer;
  if (p.kind === 'content') buf = Buffer.from(p.base64, 'base64');
  else if (p.kind === 'file' && statSync(p.path, { throwIfNoEntry: false })) buf = readFileSync(p.path);
  else return {};
  const text = buf.toString('utf8');
  return isBinary(text) ? { why: 'binary differs' } : { text };
}

/** Normalises a mode to 3-4 octal digits without a leading zero (`0640` -> `640`). */
const octal = (m: string): string => parseInt(m, 8).toString(8);

/** The diff of one task on one host, or undefined when there is nothing to show. */
export function diffTask(task: Task, facts: Facts | undefined, masker: Masker): StepDiff | undefined {
  const c = task.check;
  if (c.kind === 'symlink') {
    const link = facts?.get(`link:${c.root.replace(/\/+$/, '')}/current`);
    const from = link ? link.replace(/^versions\//, '') : null;
    return from === c.version ? undefined : { kind: 'symlink', current: { from, to: c.version } };
  }
  if (c.kind !== 'put') return undefined;
  const have = parseContent(facts?.get(`content:${c.dest}`));
  const d: StepDiff & { kind: 'put' } = { kind: 'put', path: c.dest };
  if (have && c.mode !== undefined && octal(c.mode) !== have.mode) d.mode = { from: have.mode, to: octal(c.mode) };
  if (have && (c.owner || c.group)) {
    const [hu = '', hg = ''] = have.owner.split(':');
    const to = `${c.owner ?? hu}:${c.group ?? hg}`;
    if (to !== have.owner) d.owner = { from: have.owner, to };
  }
  const want = newContents(task);
  const sameSha = facts?.get(`sha256:${c.dest}`) === c.sha256;
  if (!sameSha) {
    if (want.text !== undefined && masker.mask(want.text) !== want.text) d.contents = 'hidden: uses a secret';
    else if (!have) d.contents = 'new file';
    else if (want.why) d.contents = want.why;
    else if (have.text === undefined) d.contents = 'too large to diff';
    else if (isBinary(have.text)) d.contents = 'binary differs';
    else if (want.text !== undefined) {
      const patch = structuredPatch(c.dest, c.dest, masker.mask(have.text), want.text, '', '', { context: 3 });
      const lines = patch.hunks.flatMap((h) => [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines]);
      if (lines.length) d.unified = lines.join('\n');
    }
  }
  return d.unified !== undefined || d.contents !== undefined || d.mode || d.owner ? d : undefined;
}

/** Text of a step's diff, indented under its plan line; `+` green, `-` red. */
export function formatDiff(d: StepDiff, p: Palette = PLAIN, indent = '      '): string[] {
  if (d.kind === 'symlink') return [`${indent}current ${d.current.from ?? '(none)'} -> ${d.current.to}`];
  const out: string[] = [];
  if (d.contents === 'hidden: uses a secret') out.push(`${indent}(contents changed; hidden: uses a secret)`);
  else if (d.contents === 'new file') out.push(`${indent}(new file)`);
  else if (d.contents) out.push(`${indent}(${d.contents})`);
  if (d.unified) {
    out.push(`${indent}${p.remove(`--- ${d.path} (on the host)`)}`, `${indent}${p.add(`+++ ${d.path} (new)`)}`);
    for (const l of d.unified.split('\n')) {
      out.push(`${indent}${l.startsWith('@@') ? p.dim(l) : l.startsWith('+') ? p.add(l) : l.startsWith('-') ? p.remove(l) : l}`);
    }
  }
  if (d.mode) out.push(`${indent}mode ${d.mode.from} -> ${d.mode.to}`);
  if (d.owner) out.push(`${indent}owner ${d.owner.from} -> ${d.owner.to}`);
  return out;
}
