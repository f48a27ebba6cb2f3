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

/** `(exit 1)`, `(timed out ...)` or the error's first line when the step never ended on the host. */
function why(e: StepEnd): string {
  if (e.exitCode !== undefined) return e.exitCode === 124 && /^timed out/.test(e.error ?? '') ? (e.error ?? '').split('\n')[0]! : `exit ${e.exitCode}`;
  return (e.error ?? 'failed').split('\n')[0]!;
}

/** The last `n` lines of `text` with a `(last n of m lines)` note when cut. */
export function tailLines(text: string, n = TAIL_LINES): { lines: string[]; total: number } {
  const all = text.replace(/\r\n/g, '\n').split('\n');
  while (all.length && all[all.length - 1] === '') all.pop();
  return { lines: all.slice(-n), total: all.length };
}

function block(title: string, text: string | undefined, indent: string, p: Palette, n: number): string[] {
  if (!text) return [];
  const { lines, total } = tailLines(text, n);
  const head = `${indent}${p.dim(`${title}${total > lines.length ? ` (last ${lines.length} of ${total} lines)` : ''}:`)}`;
  return [head, ...lines.map((l) => `${indent}  ${l}`)];
}

/**
 * The failure block of one failed step:
 * ```
 * web1: FAILED shop: migrate db (exit 1)
 *   stderr (last 20 of 31 lines):
 *     Traceback (most recent call last):
 *     ...
 *     ValueError: no such table
 *   stdout:
 *     migrating...
 * ```
 * When the step never reported output (lost connection), the error's text is shown instead.
 */
export function formatStepFailure(e: StepEnd, p: Palette = PLAIN, n = TAIL_LINES): string {
  const lines = [`${e.host}: ${p.fail('FAILED')} ${stepLabel(e)} ${p.dim(`(${why(e)})`)}`];
  if (e.stderr || e.stdout) {
    lines.push(...block('stderr', e.stderr, '  ', p, n), ...block('stdout', e.stdout, '  ', p, n));
  } else {
    const rest = (e.error ?? '').split('\n').slice(e.exitCode === undefined ? 1 : 0);
    const text = rest.join('\n').replace(/^exit \d+: /, '');
    lines.push(...block('output', text, '  ', p, n));
  }
  return `${lines.join('\n')}\n`;
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
