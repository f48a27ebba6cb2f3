/** Schedules for `orch cron install`: --every shorthands, hash-spread times, raw --cron validation. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import { resolveSchedule, scheduleFromEvery, spreadTime, validateCronExpression } from '../../../src/cron/schedule.js';

const KEY = '/srv/ops/playbooks/site.yml';

/** Minute and hour from the real `sha256sum`, independent of node:crypto. */
function sha256Time(key: string): { minute: number; hour: number } {
  const hex = execFileSync('sha256sum', { input: key }).toString().slice(0, 16);
  return { minute: parseInt(hex.slice(0, 8), 16) % 60, hour: parseInt(hex.slice(8, 16), 16) % 24 };
}

const errorsOf = (r: { diagnostics: Parameters<typeof formatDiagnostic>[0][] }): string[] => r.diagnostics.map(formatDiagnostic);

describe('spreadTime', () => {
  it('takes minute and hour from the sha256 of the key (checked against sha256sum)', () => {
    for (const key of [KEY, '/home/deploy/shop.yml', '/a b/c%d.yml']) expect(spreadTime(key)).toEqual(sha256Time(key));
  });

  it('spreads different playbooks over the hour', () => {
    const minutes = new Set(Array.from({ length: 200 }, (_, i) => spreadTime(`/srv/pb-${i}.yml`).minute));
    expect(minutes.size).toBeGreaterThan(40);
  });
});

describe('scheduleFromEvery', () => {
  const { minute, hour } = sha256Time(KEY);

  it.each([
    ['1m', '*/1 * * * *'],
    ['5m', '*/5 * * * *'],
    ['15m', '*/15 * * * *'],
    ['30m', '*/30 * * * *'],
    ['1h', `${minute} */1 * * *`],
    ['2h', `${minute} */2 * * *`],
    ['12h', `${minute} */12 * * *`],
    ['1d', `${minute} ${hour} * * *`],
  ])('%s -> %s', (every, expr) => {
    expect(scheduleFromEvery(every, KEY)).toEqual({ expr, diagnostics: [] });
  });

  const other = 'or --cron "EXPR" for any other schedule';
  it.each([
    ['7m', `7m does not divide an hour evenly: use 1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m or 30m (or 1h, 2h, 3h, 4h, 6h, 8h or 12h, 1d, ${other})`],
    ['60m', `60m does not divide an hour evenly: use 1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m or 30m (or 1h, 2h, 3h, 4h, 6h, 8h or 12h, 1d, ${other})`],
    ['0m', `0m does not divide an hour evenly: use 1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m or 30m (or 1h, 2h, 3h, 4h, 6h, 8h or 12h, 1d, ${other})`],
    ['05m', `05m does not divide an hour evenly: use 1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m or 30m (or 1h, 2h, 3h, 4h, 6h, 8h or 12h, 1d, ${other})`],
    ['5h', `5h does not divide a day evenly: use 1h, 2h, 3h, 4h, 6h, 8h or 12h (or 1d, ${other})`],
    ['24h', `24h does not divide a day evenly: use 1h, 2h, 3h, 4h, 6h, 8h or 12h (or 1d, ${other})`],
    ['2d', `2d: only 1d is supported for days (${other})`],
    ['15', `"15" is not a schedule: use Nm (minutes dividing 60, e.g. 15m), Nh (hours dividing 24, e.g. 2h) or 1d, ${other}`],
    ['1w', `"1w" is not a schedule: use Nm (minutes dividing 60, e.g. 15m), Nh (hours dividing 24, e.g. 2h) or 1d, ${other}`],
    ['', `"" is not a schedule: use Nm (minutes dividing 60, e.g. 15m), Nh (hours dividing 24, e.g. 2h) or 1d, ${other}`],
  ])('%j is refused', (every, message) => {
    expect(errorsOf(scheduleFromEvery(every, KEY))).toEqual([`<command line>:1:1: --every: ${message}`]);
  });
});

describe('validateCronExpression', () => {
  it.each([
    ['*/5 * * * *', '*/5 * * * *'],
    ['  0   3 * *  1-5 ', '0 3 * * 1-5'],
    ['0,30 8-18/2 1,15 jan-mar MON-fri', '0,30 8-18/2 1,15 jan-mar MON-fri'],
    ['59 23 31 12 7', '59 23 31 12 7'],
    ['0 0 1 1 0', '0 0 1 1 0'],
    ['@daily', '@daily'],
    ['@hourly', '@hourly'],
  ])('%j is accepted as %j', (input, expr) => {
    expect(validateCronExpression(input)).toEqual({ expr, diagnostics: [] });
  });

  it.each([
    ['*/5 * * *', ['"*/5 * * *" has 4 fields; a cron expression has 5: minute hour day-of-month month day-of-week']],
    ['', ['"" has 0 fields; a cron expression has 5: minute hour day-of-month month day-of-week']],
    ['* * * * * echo hi', ['"* * * * * echo hi" has 7 fields; a cron expression has 5: minute hour day-of-month month day-of-week']],
    ['60 * * * *', ['minute field "60": 60 is out of range 0-59']],
    ['* 24 0 13 8', [
      'hour field "24": 24 is out of range 0-23',
      'day-of-month field "0": 0 is out of range 1-31',
      'month field "13": 13 is out of range 1-12',
      'day-of-week field "8": 8 is out of range 0-7',
    ]],
    ['5/10 * * * *', ['minute field "5/10": a step /10 needs * or a range N-M before it']],
    ['*/0 * * * *', ['minute field "*/0": the step must be at least 1']],
    ['30-10 * * * *', ['minute field "30-10": the range 30-10 runs backwards']],
    ['* * * foo *', ['month field "foo": "foo" is neither a number 1-12 nor a name (jan feb mar apr may jun jul aug sep oct nov dec)']],
    ['mon * * * *', ['minute field "mon": "mon" is not a number 0-59']],
    ['$(id) * * * *', ['minute field "$(id)": "$(id)" is not *, N, N-M, */S or N-M/S']],
    ['1,,2 * * * *', ['minute field "1,,2": "" is not *, N, N-M, */S or N-M/S']],
    ['@reboot', ['"@reboot" is not a cron macro: use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, or five fields']],
  ])('%j is refused', (input, messages) => {
    expect(errorsOf(validateCronExpression(input))).toEqual(messages.map((m) => `<command line>:1:1: --cron: ${m}`));
  });
});

describe('resolveSchedule', () => {
  it.each([
    [{}, '<command line>:1:1: --every: give a schedule: --every 15m|1h|1d, or --cron "M H DOM MON DOW"'],
    [{ every: '15m', cron: '* * * * *' }, '<command line>:1:1: --every: give either --every or --cron, not both'],
  ])('%j is refused', (input, message) => {
    expect(errorsOf(resolveSchedule(input, KEY))).toEqual([message]);
  });

  it('uses whichever one flag is given', () => {
    expect(resolveSchedule({ every: '20m' }, KEY)).toEqual({ expr: '*/20 * * * *', diagnostics: [] });
    expect(resolveSchedule({ cron: '1 2 * * *' }, KEY)).toEqual({ expr: '1 2 * * *', diagnostics: [] });
  });
});
