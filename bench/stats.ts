/**
 * Statistics for the benchmark: medians with min–max over repeated samples, and a
 * least-squares line for "wall time against added latency" (the slope of that line,
 * in ms of wall time per ms of added round-trip time, is the effective number of
 * sequential round trips — the method of Mitogen's and pyinfra's latency comparisons).
 * Pure functions; no I/O.
 */

/** Summary of repeated samples of one measurement. Times in milliseconds. */
export interface SampleSummary {
  /** Every sample, in the order measured. */
  samples: number[];
  /** Median (mean of the two middle values for an even count); NaN when there is no sample. */
  median: number;
  /** Smallest and largest sample; NaN when there is no sample. */
  min: number;
  max: number;
}

/**
 * Median, min and max of `samples`. An empty list gives NaN fields (a row whose every
 * run failed prints as "—", it never throws).
 */
export function summarizeSamples(samples: readonly number[]): SampleSummary {
  if (samples.length === 0) return { samples: [], median: NaN, min: NaN, max: NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { samples: [...samples], median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** A least-squares line `y = intercept + slope * x`. */
export interface LineFit {
  slope: number;
  intercept: number;
  /** Coefficient of determination (1 = every point on the line); NaN when y is constant. */
  r2: number;
  /** Number of points fitted. */
  n: number;
}

/**
 * Ordinary least squares over `(x, y)` points.
 * @throws Error when fewer than 2 points are given or every x is equal (no slope exists).
 */
export function fitLine(points: ReadonlyArray<readonly [number, number]>): LineFit {
  const n = points.length;
  if (n < 2) throw new Error(`fitLine needs at least 2 points, got ${n}`);
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  if (sxx === 0) throw new Error('fitLine needs at least 2 distinct x values');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  for (const [x, y] of points) sse += (y - (intercept + slope * x)) ** 2;
  return { slope, intercept, r2: syy === 0 ? NaN : 1 - sse / syy, n };
}

/** `a / b` of two medians, NaN when either is missing or `b` is 0. */
export function ratioOf(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}
