/**
 * The benchmark's printed table: one row per measurement (median, min–max, runs) and
 * the ratios the issue asks for. Pure formatting; the caller prints.
 */
import type { SampleSummary } from './stats.js';

/** One printed row. */
export interface Row {
  label: string;
  /** Samples in ms, or undefined for a skipped row (printed with `note` as the reason). */
  summary?: SampleSummary;
  /** Unit of the summary values: `ms` (default), `MiB`, `RT` (round trips) or `B`. */
  unit?: 'ms' | 'MiB' | 'RT' | 'B' | 'x';
  note?: string;
}

function fmt(v: number, unit: Row['unit']): string {
  if (!Number.isFinite(v)) return '—';
  switch (unit) {
    case 'MiB':
      return `${v.toFixed(1)} MiB`;
    case 'RT':
      return v.toFixed(1);
    case 'B':
      return `${Math.round(v)} B`;
    case 'x':
      return `${v.toFixed(2)}×`;
    default:
      return v >= 10_000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 100 ? 1 : 0)} ms`;
  }
}

/** Formats `rows` as a fixed-width text table (title line, then one line per row). */
export function formatTable(title: string, rows: readonly Row[]): string {
  const cells = rows.map((r) => {
    if (!r.summary) return [r.label, 'skipped', '', '', r.note ?? ''];
    const s = r.summary;
    const range = s.samples.length > 1 ? `${fmt(s.min, r.unit)} – ${fmt(s.max, r.unit)}` : '';
    return [r.label, fmt(s.median, r.unit), range, String(s.samples.length), r.note ?? ''];
  });
  const head = ['measurement', 'median', 'min – max', 'n', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 1 || i === 3 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd();
  return [`== ${title}`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n') + '\n';
}

/** A named ratio with the goal it is measured against. */
export interface Ratio {
  name: string;
  value: number;
  /** e.g. "≤ 1.2" */
  goal?: string;
}

/** Formats ratios as `name  value  (goal ...)` lines. */
export function formatRatios(ratios: readonly Ratio[]): string {
  const w = Math.max(...ratios.map((r) => r.name.length));
  return ['== ratios (medians)', ...ratios.map((r) => `${r.name.padEnd(w)}  ${Number.isFinite(r.value) ? r.value.toFixed(2).padStart(7) : '      —'}${r.goal ? `   goal ${r.goal}` : ''}`)].join('\n') + '\n';
}
