/**
 * `--diff` (ansible --check --diff, terraform plan): what each predicted change would do
 * to a host, as data for `plan --json` and as text under the plan's step lines.
 * - `put`: a unified diff (npm `diff`) of the host's file against the new contents; the
 *   host's file is read with the facts only under `--diff` (a `content` probe, at most
 *   256 KiB), binary files say `binary differs`, larger ones `too large to diff`; mode and
 *   owner changes (`mode 644 -> 640`). A secret never appears: when the new contents hold
 *   a secret value, only `(contents changed; hidden: uses a secret)` is shown, and the
 *   host's contents are masked too. The old contents of a file that is not
 *   world-readable on the host (no `o+r`) are not shown either:
 *   `(old contents hidden: mode 0600 on the host)`, unless `showPrivate` (`--diff-private`).
 * - `symlink`: `current 1.0.0 -> 1.1.0`.
 * - `install`: the files of the new release against the one `current` runs, from both
 *   releases' info.json `files` maps (path -> sha256: added, removed, changed), and the
 *   bundle's size.
 * Plan, facts and masker in, data out. Not pure: it reads a put's local source file and
 * runs `tar -xzO` on the control machine to read a bundle's info.json (`bundleFilesReader`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { structuredPatch } from 'diff';
import type { Facts } from '../compile/predict.js';
import type { Plan, Probe, Task } from '../model/plan.js';
import type { Masker } from '../shell/mask.js';
import { PLAIN, type Palette } from './color.js';
import { formatBytes } from './units.js';

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
      contents?: 'new file' | 'binary differs' | 'too large to diff' | 'hidden: uses a secret' | 'hidden: private on the host';
      /** With `contents: 'hidden: private on the host'`: the host file's mode (octal, e.g. `600`). */
      hostMode?: string;
      mode?: { from: string; to: string };
      owner?: { from: string; to: string };
    }
  | { kind: 'symlink'; current: { from: string | null; to: string } }
  | {
      kind: 'install';
      /** The version `current` runs now (null: none), and the one installed. */
      from: string | null;
      to: string;
      /** Files of the new release against the current one (from both releases' info.json `files`, by sha256). */
      added: string[];
      removed: string[];
      changed: string[];
      /** Size of the bundle tarball, bytes. */
      bytes: number;
    };

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
      cache.set(b.path, r.status === 0 ? filesOf(r.stdout.toString('utf8')) : undefined);
    }
    return cache.get(b.path);
  };
}

/** `files` of an info.json text, or undefined. */
function filesOf(text: string | null | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  try {
    const f = (JSON.parse(text) as { files?: unknown }).files;
    return f && typeof f === 'object' && !Array.isArray(f) ? (f as Record<string, string>) : undefined;
  } catch {
    return undefined;
  }
}

/** The probes `--diff` adds for a host: the current contents of every file a `put` writes. */
export function diffProbes(plan: Plan, host: string): Probe[] {
  const out: Probe[] = [];
  for (const phase of plan.phases) {
    for (const step of phase.steps) {
      const c = step.tasks[host]?.check;
      if (c?.kind === 'put') out.push({ kind: 'content', path: c.dest });
      if (c?.kind === 'install') out.push({ kind: 'read', path: `${c.root.replace(/\/+$/, '')}/current/info.json` }, { kind: 'link', path: `${c.root.replace(/\/+$/, '')}/current` });
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
export function diffTask(task: Task, facts: Facts | undefined, masker: Masker, bundleFiles?: BundleFiles, opts: { showPrivate?: boolean } = {}): StepDiff | undefined {
  const c = task.check;
  if (c.kind === 'install') {
    const root = c.root.replace(/\/+$/, '');
    const link = facts?.get(`link:${root}/current`);
    const from = link ? link.replace(/^versions\//, '') : null;
    const now = filesOf(facts?.get(`read:${root}/current/info.json`)) ?? {};
    const next = task.payload?.kind === 'bundle' ? bundleFiles?.(task.payload.bundle) : undefined;
    if (!next) return undefined;
    const names = (xs: string[]): string[] => xs.sort().map((x) => masker.mask(x));
    return {
      kind: 'install', from, to: c.version,
      added: names(Object.keys(next).filter((f) => !(f in now))),
      removed: names(Object.keys(now).filter((f) => !(f in next))),
      changed: names(Object.keys(next).filter((f) => f in now && now[f] !== next[f])),
      bytes: task.payload?.size ?? 0,
    };
  }
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
    else if (!opts.showPrivate && (parseInt(have.mode, 8) & 0o004) === 0) {
      d.contents = 'hidden: private on the host';
      d.hostMode = have.mode;
    }
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
  if (d.kind === 'install') {
    const n = (k: number, w: string): string => `${k} ${w}`;
    const out = [`${indent}release ${d.from ?? '(none)'} -> ${d.to}: ${n(d.added.length, 'added')}, ${n(d.removed.length, 'removed')}, ${n(d.changed.length, 'changed')} file${d.added.length + d.removed.length + d.changed.length === 1 ? '' : 's'}; bundle ${formatBytes(d.bytes)}`];
    const rows = [...d.added.map((f) => p.add(`+ ${f}`)), ...d.removed.map((f) => p.remove(`- ${f}`)), ...d.changed.map((f) => p.change(`~ ${f}`))];
    out.push(...rows.slice(0, 20).map((r) => `${indent}  ${r}`));
    if (rows.length > 20) out.push(`${indent}  ... ${rows.length - 20} more`);
    return out;
  }
  const out: string[] = [];
  if (d.contents === 'hidden: uses a secret') out.push(`${indent}(contents changed; hidden: uses a secret)`);
  else if (d.contents === 'new file') out.push(`${indent}(new file)`);
  else if (d.contents === 'hidden: private on the host') out.push(`${indent}(old contents hidden: mode ${(d.hostMode ?? '').padStart(4, '0')} on the host)`);
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
