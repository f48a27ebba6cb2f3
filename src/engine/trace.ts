/**
 * Developer trace of where a run's wall time goes: with `ORCH_TRACE=1` in the environment,
 * every timed phase (node start, prepare, connect, agent start, lock + facts, predict,
 * execute, record; per host where it is per host) is written to stderr as one line when it
 * ends, and a table of every phase (count, first start, last end, min / median / max
 * duration) when the process exits. Times are milliseconds since the process started
 * (`performance.now()`, whose origin is the process's start: https://nodejs.org/api/perf_hooks.html).
 * Off (the default), every call is a no-op costing one boolean test.
 *
 * Line format: `orch trace: START..END ms  DURATION ms  PHASE [HOST]`.
 */
import { performance } from 'node:perf_hooks';

/** Whether tracing is on (`ORCH_TRACE` set to anything but "" or "0"). */
export const TRACE = (process.env.ORCH_TRACE ?? '') !== '' && process.env.ORCH_TRACE !== '0';

interface Span { phase: string; host?: string; start: number; end: number }

const spans: Span[] = [];

/** Milliseconds since the process started. */
export function now(): number {
  return performance.now();
}

/** Records that `phase` (of `host`, when per host) ran from `start` (a {@link now} value) until now. */
export function span(phase: string, start: number, host?: string): void {
  if (!TRACE) return;
  const s: Span = { phase, start, end: performance.now(), ...(host !== undefined && { host }) };
  spans.push(s);
  process.stderr.write(`orch trace: ${s.start.toFixed(0)}..${s.end.toFixed(0)} ms  ${(s.end - s.start).toFixed(1)} ms  ${phase}${host !== undefined ? ` ${host}` : ''}\n`);
}

/** Runs `fn` and records its time as `phase` (also when it throws). */
export async function timed<T>(phase: string, fn: () => Promise<T>, host?: string): Promise<T> {
  if (!TRACE) return fn();
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    span(phase, t0, host);
  }
}

/** The exit table: one row per phase in order of first start. */
export function traceTable(): string {
  const by = new Map<string, Span[]>();
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    const l = by.get(s.phase) ?? [];
    l.push(s);
    by.set(s.phase, l);
  }
  const rows = ['orch trace: phase               n   first start   last end     min      median   max (ms)'];
  for (const [phase, l] of by) {
    const d = l.map((s) => s.end - s.start).sort((a, b) => a - b);
    const med = d.length % 2 ? d[d.length >> 1]! : (d[d.length / 2 - 1]! + d[d.length / 2]!) / 2;
    const f = (x: number, w: number): string => x.toFixed(1).padStart(w);
    rows.push(`orch trace: ${phase.padEnd(18)} ${String(l.length).padStart(3)} ${f(Math.min(...l.map((s) => s.start)), 12)} ${f(Math.max(...l.map((s) => s.end)), 10)} ${f(d[0]!, 7)} ${f(med, 8)} ${f(d[d.length - 1]!, 8)}`);
  }
  return `${rows.join('\n')}\n`;
}

if (TRACE) {
  span('node start', 0);
  process.once('exit', () => {
    span('exit', spans.length ? Math.max(...spans.map((s) => s.end)) : 0);
    process.stderr.write(traceTable());
  });
}
