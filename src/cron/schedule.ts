/**
 * Cron schedules for `orch cron install` (docs/reference/cli.md): `--every 15m|1h|1d` shorthands
 * and validated raw expressions (`--cron "M H DOM MON DOW"`). Pure: no fs, no clock, no env.
 *
 * Source: the five-field syntax and ranges of Vixie cron / Debian `cron` (crontab(5));
 * spreading fixed-time jobs by a hash of a stable name is Jenkins' `H` symbol
 * ("hash" schedules), so a fleet of control machines does not fire at :00 all at once.
 */
import { createHash } from 'node:crypto';
import { cmdlineDiagnostic, type Diagnostic } from '../model/diagnostics.js';

/** Result of resolving a schedule: `expr` is set only when `diagnostics` is empty. */
export interface ScheduleResult {
  /** A crontab schedule: five fields (`"*\/15 * * * *"`) or a macro (`"@daily"`). */
  expr?: string;
  diagnostics: Diagnostic[];
}

/** Schedule flags as given on the command line. */
export interface ScheduleInput {
  /** `--every`: `Nm` (N divides 60), `Nh` (N divides 24) or `1d`. */
  every?: string;
  /** `--cron`: a raw five-field expression or a macro (`@hourly`, `@daily`...). */
  cron?: string;
}

/** Minute counts `--every Nm` accepts: 1..59 dividing 60. */
export const EVERY_MINUTES: readonly number[] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];
/** Hour counts `--every Nh` accepts: 1..23 dividing 24. */
export const EVERY_HOURS: readonly number[] = [1, 2, 3, 4, 6, 8, 12];
/** Macros of Vixie/Debian cron accepted by `--cron` (`@reboot` is not a convergence schedule). */
export const CRON_MACROS: readonly string[] = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

const cmdline = cmdlineDiagnostic;

/**
 * A minute (0..59) and an hour (0..23) derived from the sha256 of `key` (the absolute
 * playbook path): the same key always gives the same time, different keys spread out.
 * Minute = first 4 bytes (big-endian) mod 60; hour = next 4 bytes mod 24.
 *
 * Source: Jenkins' `H` cron symbol (a hash of the job name picks the slot).
 */
export function spreadTime(key: string): { minute: number; hour: number } {
  const h = createHash('sha256').update(key).digest();
  return { minute: h.readUInt32BE(0) % 60, hour: h.readUInt32BE(4) % 24 };
}

/**
 * Turns `--every` into a five-field schedule; `key` (the absolute playbook path) picks
 * the minute/hour of hour- and day-based schedules through `spreadTime`.
 *
 * - `Nm`, N in `EVERY_MINUTES` → `*\/N * * * *`
 * - `Nh`, N in `EVERY_HOURS` → `M *\/N * * *`
 * - `1d` → `M H * * *`
 *
 * @returns `{expr}`, or one diagnostic at `<command line>` path `--every` explaining which
 *   values work, e.g. `7m does not divide an hour evenly: use 1m, 2m, 3m, 4m, 5m, 6m, 10m,
 *   12m, 15m, 20m or 30m (or --cron "EXPR" for any other schedule)`.
 */
export function scheduleFromEvery(every: string, key: string): ScheduleResult {
  const m = /^([0-9]+)([mhd])$/.exec(every);
  const other = 'or --cron "EXPR" for any other schedule';
  if (!m) {
    return { diagnostics: [cmdline('--every', `${JSON.stringify(every)} is not a schedule: use Nm (minutes dividing 60, e.g. 15m), Nh (hours dividing 24, e.g. 2h) or 1d, ${other}`)] };
  }
  const n = Number(m[1]);
  const { minute, hour } = spreadTime(key);
  switch (m[2]) {
    case 'm':
      if (EVERY_MINUTES.includes(n) && m[1] === String(n)) return { expr: `*/${n} * * * *`, diagnostics: [] };
      return { diagnostics: [cmdline('--every', `${every} does not divide an hour evenly: use ${list(EVERY_MINUTES, 'm')} (or ${list(EVERY_HOURS, 'h')}, 1d, ${other})`)] };
    case 'h':
      if (EVERY_HOURS.includes(n) && m[1] === String(n)) return { expr: `${minute} */${n} * * *`, diagnostics: [] };
      return { diagnostics: [cmdline('--every', `${every} does not divide a day evenly: use ${list(EVERY_HOURS, 'h')} (or 1d, ${other})`)] };
    default:
      if (m[1] === '1') return { expr: `${minute} ${hour} * * *`, diagnostics: [] };
      return { diagnostics: [cmdline('--every', `${every}: only 1d is supported for days (${other})`)] };
  }
}

function list(ns: readonly number[], unit: string): string {
  const words = ns.map((n) => `${n}${unit}`);
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** One field of a five-field expression: name (as crontab(5) says it), range, names allowed. */
interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  // 0 and 7 are both Sunday (crontab(5)).
  { name: 'day-of-week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

/** Value of one bound (`5`, `jan`), or an error message. */
function boundValue(word: string, f: FieldSpec): number | string {
  if (/^[0-9]+$/.test(word)) {
    const v = Number(word);
    return v < f.min || v > f.max ? `${word} is out of range ${f.min}-${f.max}` : v;
  }
  const i = f.names?.indexOf(word.toLowerCase()) ?? -1;
  if (i >= 0) return f.name === 'month' ? i + 1 : i;
  return f.names
    ? `${JSON.stringify(word)} is neither a number ${f.min}-${f.max} nor a name (${f.names.join(' ')})`
    : `${JSON.stringify(word)} is not a number ${f.min}-${f.max}`;
}

/** Checks one field against crontab(5) grammar: items `*`, `N`, `N-M`, `*\/S`, `N-M/S` joined by `,`. */
function checkField(text: string, f: FieldSpec): string | undefined {
  for (const item of text.split(',')) {
    const m = /^(?:(\*)|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:\/([0-9]+))?$/.exec(item);
    if (!m) return `${f.name} field ${JSON.stringify(text)}: ${JSON.stringify(item)} is not *, N, N-M, */S or N-M/S`;
    const [, star, lo, hi, step] = m;
    if (step !== undefined && !star && hi === undefined) return `${f.name} field ${JSON.stringify(text)}: a step /${step} needs * or a range N-M before it`;
    if (step !== undefined && Number(step) < 1) return `${f.name} field ${JSON.stringify(text)}: the step must be at least 1`;
    if (star) continue;
    const a = boundValue(lo!, f);
    if (typeof a === 'string') return `${f.name} field ${JSON.stringify(text)}: ${a}`;
    if (hi === undefined) continue;
    const b = boundValue(hi, f);
    if (typeof b === 'string') return `${f.name} field ${JSON.stringify(text)}: ${b}`;
    if (a > b) return `${f.name} field ${JSON.stringify(text)}: the range ${lo}-${hi} runs backwards`;
  }
  return undefined;
}

/**
 * Validates a raw cron expression (`--cron`): exactly five whitespace-separated fields
 * (minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or jan..dec, day-of-week 0-7
 * or sun..sat), each a comma list of `*`, `N`, `N-M`, `*\/S`, `N-M/S`; or one of
 * `CRON_MACROS`. Fields are re-joined with single spaces.
 *
 * @returns `{expr}` or every problem found, as diagnostics at `<command line>` path `--cron`,
 *   e.g. `"*\/5 * * *" has 4 fields; a cron expression has 5: minute hour day-of-month month day-of-week`.
 * Source: crontab(5) of Vixie/Debian cron.
 */
export function validateCronExpression(expr: string): ScheduleResult {
  const t = expr.trim();
  if (t.startsWith('@')) {
    if (CRON_MACROS.includes(t)) return { expr: t, diagnostics: [] };
    return { diagnostics: [cmdline('--cron', `${JSON.stringify(t)} is not a cron macro: use ${CRON_MACROS.join(', ')}, or five fields`)] };
  }
  const fields = t === '' ? [] : t.split(/[ \t]+/);
  if (fields.length !== 5) {
    return { diagnostics: [cmdline('--cron', `${JSON.stringify(expr)} has ${fields.length} field${fields.length === 1 ? '' : 's'}; a cron expression has 5: ${FIELDS.map((f) => f.name).join(' ')}`)] };
  }
  const diagnostics: Diagnostic[] = [];
  fields.forEach((text, i) => {
    const problem = checkField(text, FIELDS[i]!);
    if (problem) diagnostics.push(cmdline('--cron', problem));
  });
  return diagnostics.length ? { diagnostics } : { expr: fields.join(' '), diagnostics };
}

/**
 * Resolves the schedule flags of `orch cron install`: exactly one of `--every` and
 * `--cron`. `key` is the absolute playbook path (see `scheduleFromEvery`).
 *
 * @returns `{expr}` or diagnostics at `<command line>` (neither / both given, or the
 *   problems of the one given).
 */
export function resolveSchedule(input: ScheduleInput, key: string): ScheduleResult {
  if (input.every !== undefined && input.cron !== undefined) {
    return { diagnostics: [cmdline('--every', 'give either --every or --cron, not both')] };
  }
  if (input.every !== undefined) return scheduleFromEvery(input.every, key);
  if (input.cron !== undefined) return validateCronExpression(input.cron);
  return { diagnostics: [cmdline('--every', 'give a schedule: --every 15m|1h|1d, or --cron "M H DOM MON DOW"')] };
}
