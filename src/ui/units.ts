/** Units shown in summaries and diffs (a leaf module: imported by summary.ts and diff.ts, imports nothing). */

/** Bytes as `N B`, `N.N KiB` or `N.N MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A duration in ms as the playbook writes it: `500ms`, `5s`, `1.5m`, `2h`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(3)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(2)}m`;
  return `${+(ms / 3_600_000).toFixed(2)}h`;
}
