/** Text summaries shared by renderers. */
import type { RunSummary } from '../engine/events.js';
import { PLAIN, type Palette } from './color.js';
import { errorHeadline } from './failure.js';
import { plural } from './plan-text.js';
import { formatBytes } from './units.js';

/** `PLAY RECAP`-style per-host lines plus totals. */
export function formatSummary(s: RunSummary, p: Palette = PLAIN): string {
  const lines = ['', 'Summary:'];
  const w = Math.max(4, ...s.hosts.map((h) => h.host.length));
  const status = (st: string): string => {
    const padded = st.padEnd(11);
    return st === 'failed' || st === 'unreachable' ? p.fail(padded) : st === 'changed' ? p.change(padded) : padded;
  };
  for (const h of s.hosts) {
    const c = h.counts;
    lines.push(`  ${h.host.padEnd(w)}  ${status(h.status === 'skipped' ? 'not started' : h.status)} ok=${c.ok} changed=${c.changed} skipped=${c.skipped} failed=${c.failed}${h.error ? `  ${errorHeadline(h.error)}` : ''}`);
  }
  if (s.aborted) lines.push(`  ${p.fail('aborted')}: ${s.aborted}`);
  lines.push(`  ${plural(s.hosts.length, 'host')}: ${s.changed} changed, ${s.ok} ok, ${s.failed} failed, ${s.unreachable} unreachable; ${formatBytes(s.bytesUploaded)} uploaded; ${(s.ms / 1000).toFixed(2)} s`);
  return `${lines.join('\n')}\n`;
}

export { formatBytes };
