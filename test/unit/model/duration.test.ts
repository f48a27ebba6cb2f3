import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DURATION_EXPECTED, DURATION_PATTERN, parseDuration } from '../../../src/model/duration.js';

describe('parseDuration', () => {
  it.each<[unknown, number]>([
    [0, 0],
    [2, 2],
    [0.5, 0.5],
    ['2', 2],
    ['0.2', 0.2],
    ['500ms', 0.5],
    ['1ms', 0.001],
    ['2s', 2],
    ['0.2s', 0.2],
    ['1m', 60],
    ['1.5m', 90],
    ['1h', 3600],
    ['0.1h', 360],
    [' 2s ', 2],
  ])('%j -> %d seconds', (value, seconds) => {
    expect(parseDuration(value)).toEqual({ ok: true, seconds });
  });

  it.each<[unknown, string]>([
    ['2 sec', '"2 sec"'],
    ['2sec', '"2sec"'],
    ['2 s', '"2 s"'],
    ['1d', '"1d"'],
    ['-1s', '"-1s"'],
    ['.5s', '".5s"'],
    ['1e3', '"1e3"'],
    ['', '""'],
    ['s', '"s"'],
    ['2S', '"2S"'],
    [-1, '-1'],
    [Number.NaN, 'null'],
    [Number.POSITIVE_INFINITY, 'null'],
    [true, 'true'],
    [null, 'null'],
    [[2], '[2]'],
  ])('%j is refused', (value, shown) => {
    expect(parseDuration(value)).toEqual({ ok: false, message: `${shown}: ${DURATION_EXPECTED}` });
  });

  it('says what would be right', () => {
    expect(parseDuration('2 sec')).toEqual({ ok: false, message: '"2 sec": expected a number of seconds or 500ms / 2s / 1m / 1h' });
  });

  it('is the form the playbook schema accepts ($defs/duration)', () => {
    const schema = JSON.parse(readFileSync('schema/playbook.schema.json', 'utf8')) as { $defs: Record<string, { anyOf: { pattern?: string }[] }> };
    expect(schema.$defs.duration!.anyOf.find((b) => b.pattern)!.pattern).toBe(DURATION_PATTERN);
  });

  it('is the form the inventory schema accepts ($defs/duration, for give_up)', () => {
    const schema = JSON.parse(readFileSync('schema/inventory.schema.json', 'utf8')) as { $defs: Record<string, { anyOf: { pattern?: string }[] }> };
    expect(schema.$defs.duration!.anyOf.find((b) => b.pattern)!.pattern).toBe(DURATION_PATTERN);
  });
});
