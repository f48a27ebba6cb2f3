/**
 * Stage 5, record: per-host results as the run goes (a failed host leaves the active
 * set: pyinfra `fail_hosts`), and the run's summary.
 */
import type { StepStatus } from '../model/plan.js';
import type { Masker } from '../shell/mask.js';
import type { EngineEvent, HostResult, RunSummary } from './events.js';

const EMPTY_COUNTS = (): Record<StepStatus, number> => ({ ok: 0, changed: 0, skipped: 0, failed: 0 });

/** Results of one run, by host. */
export class RunRecord {
  readonly results = new Map<string, HostResult>();
  readonly #started = Date.now();
  /** Payload bytes sent to hosts (files, bundles, inline contents); scripts not counted. */
  payloadBytes = 0;
  aborted?: string;
  interrupted = false;
  /** Releases recorded bad on a host by this run (rollbacks after a failed start or healthcheck). */
  readonly recordedBad: { host: string; version: string; sha256: string; reason: string }[] = [];

  constructor(targets: string[], private readonly emit: (e: EngineEvent) => void, private readonly masker: Masker) {
    for (const h of targets) this.results.set(h, { host: h, status: 'ok', counts: EMPTY_COUNTS(), changedSteps: [] });
  }

  isFailed(host: string): boolean {
    const s = this.results.get(host)?.status;
    return s === 'failed' || s === 'unreachable';
  }

  /** Marks a host failed (it leaves every later phase); the first failure wins. */
  failHost(host: string, error: string, unreachable: boolean, node?: string, step?: string): void {
    const r = this.results.get(host);
    if (!r || r.status === 'failed' || r.status === 'unreachable') return;
    r.status = unreachable ? 'unreachable' : 'failed';
    r.error = this.masker.mask(error);
    this.emit({ type: 'host-failed', host, error: r.error, unreachable, ...(node !== undefined && { node }), ...(step !== undefined && { step }) });
  }

  /** Counts a step's outcome; `changed` marks the host changed. */
  count(host: string, node: string, stepName: string, status: StepStatus): void {
    const r = this.results.get(host)!;
    r.counts[status]++;
    if (status === 'changed') {
      r.changedSteps.push(`${node || '(root)'}: ${stepName}`);
      if (r.status === 'ok') r.status = 'changed';
    }
  }

  /**
   * The run's summary. After an abort (max_fail, interrupt) a host that ran no step at all
   * is `skipped` — not started — never `ok`.
   */
  summary(): RunSummary {
    const idle = (h: HostResult): boolean => h.status === 'ok' && Object.values(h.counts).every((n) => n === 0);
    const hosts = [...this.results.values()].map((h) => (this.aborted !== undefined && idle(h) ? { ...h, status: 'skipped' as const } : h)).sort((a, b) => (a.host < b.host ? -1 : 1));
    return {
      type: 'summary',
      hosts,
      changed: hosts.filter((h) => h.status === 'changed').length,
      failed: hosts.filter((h) => h.status === 'failed').length,
      unreachable: hosts.filter((h) => h.status === 'unreachable').length,
      ok: hosts.filter((h) => h.status === 'ok').length,
      ...(this.aborted !== undefined && { aborted: this.aborted }),
      ...(this.interrupted && { interrupted: true }),
      ...(this.recordedBad.length > 0 && { recordedBad: [...this.recordedBad] }),
      bytesUploaded: this.payloadBytes,
      ms: Date.now() - this.#started,
    };
  }
}
