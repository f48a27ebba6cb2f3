/**
 * Durations, parsed in one place for the playbook, the inventory and the command line
 *: a number of seconds (`2`, `0.5`) or a string with a unit — `ms`, `s`, `m`,
 * `h` (`500ms`, `2s`, `1.5m`, `1h`), as Kamal, Docker (`--health-interval 2s`) and systemd
 * (`TimeoutSec=1min`, but only these four units) write them. A bare number in a string
 * (`"2"`, from `-e` or a CLI flag) is seconds too. Anything else is refused with
 * {@link DURATION_EXPECTED}.
 *
 * The playbook and inventory schemas check the same form through `$defs/duration`, whose
 * `pattern` is {@link DURATION_PATTERN} (a unit test keeps them equal).
 */

/** The words every refused duration gets. */
export const DURATION_EXPECTED = 'expected a number of seconds or 500ms / 2s / 1m / 1h';

/** The accepted text form: a non-negative decimal number, optional spaces-free unit. */
export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h)?$';

const DURATION_RE = new RegExp(DURATION_PATTERN);
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Result of {@link parseDuration}: seconds, or the message saying what is wrong. */
export type DurationResult = { ok: true; seconds: number } | { ok: false; message: string };

/**
 * Parses a duration: a finite number >= 0 (seconds) or a string matching
 * {@link DURATION_PATTERN}. Returns seconds (`"500ms"` -> 0.5, `"1m"` -> 60), or
 * `{ok: false, message: '"2 sec": expected a number of seconds or 500ms / 2s / 1m / 1h'}`.
 */
export function parseDuration(value: unknown): DurationResult {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? { ok: true, seconds: value } : refuse(value);
  }
  if (typeof value !== 'string') return refuse(value);
  const m = DURATION_RE.exec(value.trim());
  if (!m) return refuse(value);
  const n = Number(m[0].slice(0, m[0].length - (m[2]?.length ?? 0)));
  const seconds = n * UNIT_SECONDS[m[2] ?? 's']!;
  // Round away float noise (0.1 * 3600 etc.) at a microsecond.
  return Number.isFinite(seconds) ? { ok: true, seconds: Math.round(seconds * 1e6) / 1e6 } : refuse(value);
}

function refuse(value: unknown): DurationResult {
  return { ok: false, message: `${JSON.stringify(value) ?? String(value)}: ${DURATION_EXPECTED}` };
}

