/**
 * Colour on or off, and the few colours orch uses (colorette, the library listr2 uses too).
 *
 * Decision, first match wins (the https://no-color.org and FORCE_COLOR conventions that
 * chalk/supports-color follow):
 * 1. `--no-color` on the command line: off;
 * 2. `FORCE_COLOR` set and not `0`/`false`: on (also into a pipe);
 * 3. `NO_COLOR` set and non-empty: off;
 * 4. otherwise on only when the stream is a terminal and `TERM` is not `dumb`.
 */
import { createColors, type Colorette } from 'colorette';

/** Whether to colour output written to a stream with `isTTY`. */
export function colorEnabled(isTTY: boolean, env: NodeJS.ProcessEnv, noColorFlag = false): boolean {
  if (noColorFlag) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '0' && force !== 'false') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return isTTY && env.TERM !== 'dumb';
}

/** The colours of a plan and a run: changes, additions, removals, failures. */
export interface Palette {
  /** `~` will change. */
  change: (s: string) => string;
  /** `+` added (diff lines, new files). */
  add: (s: string) => string;
  /** `-` removed (diff lines) / skipped. */
  remove: (s: string) => string;
  /** Failures and unreachable hosts. */
  fail: (s: string) => string;
  /** Quiet text: durations, "already so", hunk headers. */
  dim: (s: string) => string;
  bold: (s: string) => string;
}

/** A palette; `enabled` false gives identity functions (byte-exact plain text). */
export function makePalette(enabled: boolean): Palette {
  const c: Colorette = createColors({ useColor: enabled });
  return { change: c.yellow, add: c.green, remove: c.red, fail: c.red, dim: c.dim, bold: c.bold };
}

/** The palette for text written to stdout, from the environment and `--no-color`. */
export function paletteFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, noColorFlag = false): Palette {
  return makePalette(colorEnabled(stream.isTTY === true, env, noColorFlag));
}

/** No colour at all. */
export const PLAIN: Palette = makePalette(false);
