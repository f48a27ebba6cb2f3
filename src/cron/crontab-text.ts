/**
 * Editing crontab text by marker (pure: strings in, strings out). orch owns exactly the
 * blocks it marked — a `# orch:<playbook>` line and the job line right below it — and
 * keeps every other line byte for byte, in place.
 *
 * Source: Ansible's `cron` module (a `#Ansible: NAME` comment above each job it manages;
 * re-running replaces the job under the comment instead of adding one).
 */
import { MARKER_PREFIX } from './entry.js';

/** One orch block found in a crontab. */
export interface OrchCronEntry {
  /** The playbook path written after `# orch:`. */
  playbook: string;
  /** The schedule (five fields, or a macro such as `@daily`); null when the marker has no job line under it. */
  schedule: string | null;
  /** The command after the schedule, as written (with cron's `\%` escapes); null without a job line. */
  command: string | null;
  /** 1-based line number of the marker. */
  line: number;
}

/** Lines of `text` without the final newline's empty tail; `''` gives `[]`. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return body.split('\n');
}

/** Joins lines back, always ending in a newline (crontab(1) refuses a last line without one). */
function joinLines(lines: string[]): string {
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** A job line (not blank, not a comment, not `NAME=value`): starts with a digit, `*` or `@`. */
function isJobLine(line: string | undefined): line is string {
  return line !== undefined && /^[ \t]*[0-9*@]/.test(line);
}

/** Splits a job line into schedule and command (`@macro CMD` or five fields then CMD). */
function splitJobLine(line: string): { schedule: string; command: string } {
  const t = line.replace(/^[ \t]+/, '');
  const n = t.startsWith('@') ? 1 : 5;
  const m = new RegExp(`^((?:[^ \\t]+[ \\t]+){${n - 1}}[^ \\t]+)[ \\t]+(.*)$`).exec(t);
  if (!m) return { schedule: t, command: '' };
  return { schedule: m[1]!.split(/[ \t]+/).join(' '), command: m[2]! };
}

/** Indexes of the marker lines, and the block length (2 with a job line under it, else 1). */
function findBlocks(lines: string[], playbook?: string): { at: number; size: 1 | 2 }[] {
  const out: { at: number; size: 1 | 2 }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l.startsWith(MARKER_PREFIX)) continue;
    if (playbook !== undefined && l !== `${MARKER_PREFIX}${playbook}`) continue;
    const size = isJobLine(lines[i + 1]) ? 2 : 1;
    out.push({ at: i, size });
    i += size - 1;
  }
  return out;
}

/**
 * Every orch block in `text`, in file order: the playbook after `# orch:`, and the job
 * line under it split into schedule and command.
 */
export function listOrchEntries(text: string): OrchCronEntry[] {
  const lines = splitLines(text);
  return findBlocks(lines).map(({ at, size }) => {
    const playbook = lines[at]!.slice(MARKER_PREFIX.length);
    if (size === 1) return { playbook, schedule: null, command: null, line: at + 1 };
    return { playbook, ...splitJobLine(lines[at + 1]!), line: at + 1 };
  });
}

/**
 * Puts the block `[marker, job]` for `playbook` into `text`: the first existing block of
 * that playbook is replaced in place, any further ones (hand-made duplicates) are
 * removed; without one, the block is appended at the end. Other lines are untouched;
 * the result always ends with a newline.
 *
 * @returns the new text and what happened: `added`, `replaced`, or `unchanged` (the same
 *   block was already there, alone).
 */
export function upsertOrchEntry(text: string, playbook: string, block: [marker: string, job: string]): { text: string; action: 'added' | 'replaced' | 'unchanged' } {
  const lines = splitLines(text);
  const blocks = findBlocks(lines, playbook);
  const first = blocks[0];
  if (!first) return { text: joinLines([...lines, ...block]), action: 'added' };
  const same = blocks.length === 1 && first.size === 2 && lines[first.at] === block[0] && lines[first.at + 1] === block[1] && text.endsWith('\n');
  if (same) return { text, action: 'unchanged' };
  for (const b of blocks.slice(1).reverse()) lines.splice(b.at, b.size);
  lines.splice(first.at, first.size, ...block);
  return { text: joinLines(lines), action: 'replaced' };
}

/**
 * Removes every block (marker and the job line under it) of `playbook` from `text`.
 * Other lines are untouched. When nothing matched, `text` comes back as it was.
 *
 * @returns the new text and how many blocks were removed.
 */
export function removeOrchEntry(text: string, playbook: string): { text: string; removed: number } {
  const lines = splitLines(text);
  const blocks = findBlocks(lines, playbook);
  if (!blocks.length) return { text, removed: 0 };
  for (const b of [...blocks].reverse()) lines.splice(b.at, b.size);
  return { text: joinLines(lines), removed: blocks.length };
}
