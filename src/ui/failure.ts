/**
 * What is shown under a failed host (Ansible's `fatal: [host]: FAILED! => {stderr, stdout}`,
 * cut to what a reader takes in): the step's label, its exit code, and the last
 * `TAIL_LINES` lines of its stderr and of its stdout, every line indented under the host.
 * The text is already masked by the engine. `--json` keeps the full text in the event.
 */
import type { EngineEvent } from '../engine/events.js';
import { PLAIN, type Palette } from './color.js';

/** Lines of stderr and of stdout shown under a failed step. */
export const TAIL_LINES = 20;

type StepEnd = Extract<EngineEvent, { type: 'step-end' }>;

/** The label a step is shown with: the host's rendered label, else the step's name, after its node. */
export function stepLabel(e: { node: string; name: string; label?: string }): string {
  return `${e.node ? `${e.node}: ` : ''}${e.label ?? e.name}`;
}

function block(title: string, text: string | undefined, indent: string, p: Palette, n: number): string[] {
  if (!text) return [];
  const { lines, total } = tailLines(text, n);
  const head = `${indent}${p.dim(`${title}${total > lines.length ? ` (last ${lines.length} of ${total} lines)` : ''}:`)}`;
  return [head, ...lines.map((l) => `${indent}  ${l}`)];
}

/** The last `n` lines of `text` with a `(last n of m lines)` note when cut. */
export function tailLines(text: string, n = TAIL_LINES): { lines: string[]; total: number } {
  const all = text.replace(/\r\n/g, '\n').split('\n');
  while (all.length && all[all.length - 1] === '') all.pop();
  return { lines: all.slice(-n), total: all.length };
}

/**
 * The failure block of one failed step (the plain renderer's `HOST: STEP: status` line,
 * then the exit code and the output tails, indented under it):
 * ```
 * web1: migrate db: failed
 *     exit 1
 *     stderr (last 20 of 31 lines):
 *       Traceback (most recent call last):
 *       ...
 *       ValueError: no such table
 *     stdout:
 *       migrating...
 * ```
 * `withNode` puts the node before the label (`shop: migrate db`), for views without the
 * plain renderer's `== node` headers. A step that never ended on the host (lost
 * connection) shows its error instead of an exit code.
 */
export function formatStepFailure(e: StepEnd, p: Palette = PLAIN, opts: { withNode?: boolean; lines?: number } = {}): string {
  const n = opts.lines ?? TAIL_LINES;
  const label = opts.withNode ? stepLabel(e) : (e.label ?? e.name);
  const out = [`${e.host}: ${label}: ${p.fail('failed')}`];
  const error = (e.error ?? '').trimEnd();
  if (e.exitCode !== undefined) out.push(`    ${e.exitCode === 124 && /^timed out/.test(error) ? error.split('\n')[0]! : `exit ${e.exitCode}`}`);
  if (e.stderr || e.stdout) out.push(...block('stderr', e.stderr, '    ', p, n), ...block('stdout', e.stdout, '    ', p, n));
  else if (e.exitCode === undefined) {
    const { lines } = tailLines(error || 'failed', n);
    out.push(...lines.map((l) => `    ${l}`));
  }
  return `${out.join('\n')}\n`;
}

/** `--verbose`: a step's whole output under it, indented (empty when it printed nothing). */
export function formatStepOutput(e: StepEnd, p: Palette = PLAIN): string {
  const lines = [...block('stderr', e.stderr, '    ', p, Number.MAX_SAFE_INTEGER), ...block('stdout', e.stdout, '    ', p, Number.MAX_SAFE_INTEGER)];
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * One line for a host's error (summary, live host line): the first line up to `exit N`,
 * then the error's last non-empty line, where the cause usually is (a traceback's
 * `ValueError: ...`): `migrate: migrate db: exit 1: ValueError: no such table: users`.
 */
export function errorHeadline(error: string): string {
  const lines = error.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  if (lines.length <= 1) return lines[0] ?? '';
  const first = lines[0]!;
  const last = lines[lines.length - 1]!.trim();
  const m = /^(.*?(?:exit \d+|timed out after [\d.]+ s))(?::|$)/.exec(first);
  return m ? `${m[1]}: ${last}` : `${first} ... ${last}`;
}
