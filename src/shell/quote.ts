/**
 * The one place values enter shell text (DESIGN convention 2).
 *
 * Source: pyinfra's `QuoteString` and Python's `shlex.quote`: a value is either left bare
 * when it is made only of characters no POSIX shell treats specially, or wrapped in
 * single quotes, where every byte is literal except `'` itself, which is written as
 * `'\''` (close, escaped quote, reopen). The combinators follow kamal's command builders
 * (`lib/kamal/commands/base.rb`: `combine`, `chain`, `pipe`): they return plain strings
 * and never run anything.
 */
import { OrchError } from '../model/errors.js';

/** Characters that are literal in every POSIX shell word (Python `shlex.quote`'s safe set). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
/**
 * A bare word of this shape would be an assignment (`NAME=value`) at command position,
 * and zsh expands a word starting with `=`; both are quoted even though every character
 * is in the safe set.
 */
const ASSIGNMENT_LIKE = /^(?:[A-Za-z_][A-Za-z0-9_]*=|=)/;

/**
 * Quotes `value` as one POSIX shell word that expands to exactly `value`, byte for byte,
 * whatever it contains (newlines, quotes, `$( )`, backticks, globs, `~`, `!`, unicode,
 * a leading `-`...). Plainly safe values (`^[A-Za-z0-9_@%+=:,./-]+$`, not shaped like an
 * assignment `NAME=...` and not starting with `=`) stay bare; the empty string is `''`.
 *
 * Quoting does not stop a value that starts with `-` from being read as an option by the
 * program receiving it: put `--` before such arguments where the program supports it.
 *
 * @example quote("it's") === `'it'\\''s'`; quote("/srv/app") === "/srv/app"; quote("") === "''"
 * @throws OrchError when `value` contains a NUL byte (no shell string can hold one).
 * Source: Python `shlex.quote`, pyinfra `QuoteString`.
 */
export function quote(value: string): string {
  const nul = value.indexOf('\0');
  if (nul !== -1) {
    throw new OrchError(`cannot quote a value containing a NUL byte (at offset ${nul}) for the shell`);
  }
  if (value === '') return "''";
  if (SAFE_WORD.test(value) && !ASSIGNMENT_LIKE.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Characters after which a command cannot simply be followed by ` && next`:
 * list operators, pipes, newlines (multi-line scripts, heredocs) and `#` (a comment
 * would swallow the rest of the line). A command containing one is grouped first.
 */
const NEEDS_GROUP = /[;&|\n#]/;

/**
 * Wraps a command in a brace group `{ CMD\n}` so it acts as one command inside `&&`,
 * `||` and `|` chains. The closing brace is on its own line so a trailing `&` or comment
 * in CMD cannot break the group. Commands with no list operator, pipe, newline or `#`
 * are returned unchanged.
 *
 * @example group("a; b") === "{ a; b\n}"; group("echo hi") === "echo hi"
 */
export function group(command: string): string {
  return NEEDS_GROUP.test(command) ? `{ ${command}\n}` : command;
}

function present(commands: readonly string[]): string[] {
  return commands.filter((c) => c !== '');
}

/**
 * `a && b && c`: runs each command only if every earlier one exited 0; exits with the
 * status of the first failure. Empty strings are skipped (so `and(flag ? x : '', y)`
 * works); with no command left the result is `true`. Compound commands are grouped
 * with {@link group}.
 */
export function and(...commands: string[]): string {
  const cs = present(commands);
  return cs.length === 0 ? 'true' : cs.length === 1 ? cs[0]! : cs.map(group).join(' && ');
}

/**
 * `a || b || c`: runs each command only if every earlier one failed. Empty strings are
 * skipped; with no command left the result is `false`. Compound commands are grouped.
 */
export function or(...commands: string[]): string {
  const cs = present(commands);
  return cs.length === 0 ? 'false' : cs.length === 1 ? cs[0]! : cs.map(group).join(' || ');
}

/**
 * Runs the commands one after the other regardless of their status, one per line
 * (a newline is a `;` that also ends comments and tolerates a trailing `&`). Empty
 * strings are skipped; with no command left the result is `true`.
 */
export function seq(...commands: string[]): string {
  const cs = present(commands);
  return cs.length === 0 ? 'true' : cs.join('\n');
}

/**
 * `a | b | c`: stdout of each command feeds the next one's stdin. Empty strings are
 * skipped; with no command left the result is `true`. Compound commands are grouped.
 * The pipeline's status is the last command's unless the script runs `set -o pipefail`.
 */
export function pipe(...commands: string[]): string {
  const cs = present(commands);
  return cs.length === 0 ? 'true' : cs.length === 1 ? cs[0]! : cs.map(group).join(' | ');
}

/**
 * A simple command: `program` and every argument, each {@link quote}d, separated by
 * spaces. Use it for every command built from values.
 *
 * @example cmd("mkdir", "-p", "/srv/my app") === "mkdir -p '/srv/my app'"
 * @throws OrchError when a word contains a NUL byte.
 */
export function cmd(program: string, ...args: string[]): string {
  return [program, ...args].map(quote).join(' ');
}
