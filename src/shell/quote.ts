/**
 * The one place values enter shell text (pyinfra's `QuoteString`/`MaskString` idea).
 *
 * Source: pyinfra's `QuoteString` and Python's `shlex.quote`: a value is either left bare
 * when it is made only of characters no POSIX shell treats specially, or wrapped in
 * single quotes, where every byte is literal except `'` itself, which is written as
 * `'\''` (close, escaped quote, reopen).
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
