import { describe, expect, it } from 'vitest';
import { fitLine, ratioOf, summarizeSamples } from '../stats.js';
import { formatRatios, formatTable } from '../report.js';

describe('summarizeSamples', () => {
  it.each([
    [[5], 5, 5, 5],
    [[3, 1, 2], 2, 1, 3],
    [[4, 1, 3, 2], 2.5, 1, 4],
    [[10, 10, 1000, 10, 11], 10, 10, 1000],
  ])('%j -> median %d, min %d, max %d', (samples, median, min, max) => {
    const s = summarizeSamples(samples);
    expect(s).toEqual({ samples, median, min, max });
  });

  it('keeps the samples in measured order and does not reorder the input', () => {
    const input = [3, 1, 2];
    expect(summarizeSamples(input).samples).toEqual([3, 1, 2]);
    expect(input).toEqual([3, 1, 2]);
  });

  it('an empty list gives NaN fields', () => {
    const s = summarizeSamples([]);
    expect([s.median, s.min, s.max].every(Number.isNaN)).toBe(true);
  });
});

describe('fitLine', () => {
  it('recovers slope and intercept of points on a line (slope = round trips)', () => {
    // 7 round trips over a 300 ms base, at 0/25/50/100 ms added delay.
    const pts = [0, 25, 50, 100].map((d) => [d, 300 + 7 * d] as [number, number]);
    const f = fitLine(pts);
    expect(f.slope).toBeCloseTo(7, 10);
    expect(f.intercept).toBeCloseTo(300, 10);
    expect(f.r2).toBeCloseTo(1, 10);
    expect(f.n).toBe(4);
  });

  it('fits noisy points by least squares', () => {
    const f = fitLine([[0, 1], [1, 3], [2, 2], [3, 5]]);
    // x̄ = 1.5, ȳ = 2.75, Sxy = 5.5, Sxx = 5 -> slope 1.1, intercept 1.1
    expect(f.slope).toBeCloseTo(1.1, 10);
    expect(f.intercept).toBeCloseTo(1.1, 10);
    // residuals -0.1, 0.8, -1.3, 0.6 -> SSE 2.7; Syy 8.75
    expect(f.r2).toBeCloseTo(1 - 2.7 / 8.75, 10);
  });

  it.each([
    [[[1, 2]], 'fitLine needs at least 2 points, got 1'],
    [[[1, 2], [1, 3]], 'fitLine needs at least 2 distinct x values'],
  ])('%j throws %s', (pts, message) => {
    expect(() => fitLine(pts as Array<[number, number]>)).toThrow(message);
  });
});

describe('ratioOf', () => {
  it.each([
    [3, 2, 1.5],
    [1, 0, NaN],
    [NaN, 2, NaN],
  ])('%d / %d = %d', (a, b, want) => {
    expect(ratioOf(a, b)).toEqual(want);
  });
});

describe('report formatting', () => {
  it('prints medians, ranges, counts and skipped rows with their reason', () => {
    const text = formatTable('t', [
      { label: 'orch', summary: summarizeSamples([1200, 1000, 1100]) },
      { label: 'ansible', note: 'ansible: unavailable (no apt)' },
      { label: 'rss', summary: summarizeSamples([300.25]), unit: 'MiB' },
    ]);
    expect(text).toBe(
      [
        '== t',
        'measurement     median  min – max          n  note',
        '-----------  ---------  -----------------  -  -----------------------------',
        'orch           1100 ms  1000 ms – 1200 ms  3',
        'ansible        skipped                        ansible: unavailable (no apt)',
        'rss          300.3 MiB                     1',
        '',
      ].join('\n'),
    );
  });

  it('prints ratios with their goals and a dash for a missing one', () => {
    expect(formatRatios([{ name: 'a / b', value: 1.234, goal: '≤ 1.2' }, { name: 'c', value: NaN }])).toBe(
      '== ratios (medians)\na / b     1.23   goal ≤ 1.2\nc            —\n',
    );
  });
});
