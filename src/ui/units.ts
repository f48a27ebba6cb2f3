/** Units shown in summaries and diffs (a leaf module: imported by summary.ts and diff.ts, imports nothing). */

/** Bytes as `N B`, `N.N KiB` or `N.N MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
