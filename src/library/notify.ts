/**
 * Hooks and notifications around apply (Kamal's hooks: https://kamal-deploy.org/docs/hooks/overview/,
 * with their `KAMAL_*` environment; Capistrano's and Deployer's callbacks).
 *
 * - `hooks: {pre_apply, post_apply, on_failure, on_rollback}`: shell commands run on the
 *   control machine (`/bin/sh -c`, in the playbook's folder) with the run's summary as
 *   JSON on stdin and `ORCH_*` variables. A non-zero `pre_apply` stops the run before any
 *   host changes; the others' failures are warnings.
 * - `notify: [{webhook: URL, timeout}]`: each event (`start`, `finish`, `failure`,
 *   `rollback`) is POSTed as JSON, secrets masked. Deliveries run beside the run, in order
 *   per webhook; one event gets at most `timeout` from the moment it happened (retries
 *   included, at most 3 attempts), so a webhook that never answers delays the end of the
 *   run by at most its timeout, and a dead webhook is a warning, never a failed run.
 */
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import type { RunSummary } from '../engine/events.js';
import { OrchError } from '../model/errors.js';
import type { Plan } from '../steps/plan.js';
import type { Hooks, Webhook } from '../model/playbook.js';
import type { Masker } from '../shell/mask.js';

/** A playbook's hooks and webhooks, as a Project carries them. */
export interface RunHooks {
  hooks?: Hooks;
  notify?: Webhook[];
}

/** The events POSTed to webhooks. */
export type NotifyEvent = 'start' | 'finish' | 'failure' | 'rollback';

/** What a hook reads on stdin and a webhook receives (masked). */
export interface RunReport {
  event: NotifyEvent | 'pre_apply';
  playbook: string;
  /** The release(s) the run deploys: the single bundle's version, else `name=version` joined with `, ` (empty without bundles). */
  version: string;
  bundles: Record<string, string>;
  hosts: string[];
  /** `user@control-host`. */
  performer: string;
  /** ISO 8601. */
  recorded_at: string;
  /** Seconds since the run started (after the run). */
  runtime?: number;
  /** Totals and failed hosts with their errors (after the run). */
  summary?: { changed: number; ok: number; failed: number; unreachable: number; aborted?: string; interrupted?: boolean };
  failed_hosts?: { host: string; error: string }[];
  /** Hosts whose failed release was rolled back to the previous one. */
  rolled_back?: string[];
}

const ATTEMPTS = 3;

/** True when a host's error says its release was rolled back (src/engine/execute.ts `#rollBack`). */
const rolledBack = (error: string | undefined): boolean => error !== undefined && /; rolled back to /.test(error);

/** The version text of a plan: one bundle's version, else `name=version, ...`. */
export function planVersion(plan: Plan): string {
  const b = Object.values(plan.bundles);
  if (b.length === 1) return b[0]!.version;
  return b.map((x) => `${x.name}=${x.version}`).join(', ');
}

/** One run's hooks and notifications. Never throws from `notify` or `after`; `preApply` throws to stop the run. */
export class RunNotifier {
  readonly #started = Date.now();
  readonly #queues = new Map<Webhook, Promise<void>>();

  constructor(
    private readonly plan: Plan,
    private readonly run: RunHooks,
    private readonly masker: Masker,
    private readonly opts: { performer: string; env: NodeJS.ProcessEnv; warn: (line: string) => void; now?: () => Date },
  ) {}

  /** True when there is nothing to run or send. */
  get empty(): boolean {
    return !this.run.notify?.length && !Object.values(this.run.hooks ?? {}).some(Boolean);
  }

  /** The report of `event` (masked), with the summary after the run. */
  report(event: RunReport['event'], summary?: RunSummary): RunReport {
    const bundles = Object.fromEntries(Object.values(this.plan.bundles).map((b) => [b.name, b.version]));
    const out: RunReport = {
      event,
      playbook: this.plan.inputs.playbook,
      version: planVersion(this.plan),
      bundles,
      hosts: this.plan.targets,
      performer: this.opts.performer,
      recorded_at: (this.opts.now?.() ?? new Date()).toISOString(),
    };
    if (summary) {
      out.runtime = Math.round((Date.now() - this.#started) / 100) / 10;
      out.summary = { changed: summary.changed, ok: summary.ok, failed: summary.failed, unreachable: summary.unreachable, ...(summary.aborted !== undefined && { aborted: summary.aborted }), ...(summary.interrupted && { interrupted: true }) };
      out.failed_hosts = summary.hosts.filter((h) => h.status === 'failed' || h.status === 'unreachable').map((h) => ({ host: h.host, error: h.error ?? h.status }));
      out.rolled_back = summary.hosts.filter((h) => rolledBack(h.error)).map((h) => h.host);
    }
    return this.masker.maskDeep(out);
  }

  /**
   * Runs `pre_apply` (if any), then sends `start`. @throws OrchError `pre_apply hook failed
   * (exit N): STDERR-TAIL; nothing was changed` when the hook fails.
   */
  async preApply(): Promise<void> {
    const cmd = this.run.hooks?.pre_apply;
    if (cmd) {
      const r = await this.#hook('pre_apply', cmd, this.report('pre_apply'));
      if (r.code !== 0) throw new OrchError(this.masker.mask(`pre_apply hook failed (${r.code === null ? 'killed' : `exit ${r.code}`})${r.stderr ? `: ${r.stderr}` : ''}; nothing was changed`));
    }
    this.notify('start');
  }

  /** Queues `event` to every webhook (returns at once; `settle` waits for the deliveries). */
  notify(event: NotifyEvent, summary?: RunSummary): void {
    const body = JSON.stringify(this.report(event, summary));
    for (const w of this.run.notify ?? []) {
      const deadline = Date.now() + w.timeoutSeconds * 1000;
      const prev = this.#queues.get(w) ?? Promise.resolve();
      this.#queues.set(w, prev.then(() => this.#post(w, event, body, deadline)));
    }
  }

  /**
   * After the run: `on_failure` + `failure` when a host failed or was unreachable (also
   * `on_rollback` + `rollback` when a host rolled back), else `post_apply` + `finish`.
   * Then waits for every delivery (each bounded by its webhook's timeout). Warns, never throws.
   */
  async after(summary: RunSummary): Promise<void> {
    const failed = summary.failed > 0 || summary.unreachable > 0 || summary.aborted !== undefined;
    const rolled = summary.hosts.some((h) => rolledBack(h.error));
    const events: [NotifyEvent, keyof Hooks][] = failed ? [['failure', 'on_failure']] : [['finish', 'post_apply']];
    if (rolled) events.push(['rollback', 'on_rollback']);
    for (const [event, hook] of events) {
      this.notify(event, summary);
      const cmd = this.run.hooks?.[hook];
      if (!cmd) continue;
      const r = await this.#hook(hook, cmd, this.report(event, summary));
      if (r.code !== 0) this.opts.warn(this.masker.mask(`${hook} hook failed (${r.code === null ? 'killed' : `exit ${r.code}`})${r.stderr ? `: ${r.stderr}` : ''}`));
    }
    await this.settle();
  }

  /** Waits for every queued delivery. */
  async settle(): Promise<void> {
    await Promise.all(this.#queues.values());
  }

  /** Runs a hook: `/bin/sh -c CMD` in the playbook's folder, the report on stdin, `ORCH_*` in its environment. */
  #hook(name: string, cmd: string, report: RunReport): Promise<{ code: number | null; stderr: string }> {
    const env: NodeJS.ProcessEnv = {
      ...this.opts.env,
      ORCH_HOOK: name,
      ORCH_EVENT: report.event,
      ORCH_PLAYBOOK: report.playbook,
      ORCH_VERSION: report.version,
      ORCH_HOSTS: report.hosts.join(','),
      ORCH_PERFORMER: report.performer,
      ORCH_RECORDED_AT: report.recorded_at,
      ...(report.runtime !== undefined && { ORCH_RUNTIME: String(report.runtime) }),
      ...(report.failed_hosts && { ORCH_FAILED_HOSTS: report.failed_hosts.map((h) => h.host).join(',') }),
    };
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', cmd], { cwd: dirname(this.plan.inputs.playbook), env, stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString('utf8')).slice(-2000);
      });
      child.stdin.on('error', () => undefined); // a hook that does not read its stdin
      child.stdin.end(`${JSON.stringify(report)}\n`);
      child.on('error', (e) => resolve({ code: 127, stderr: e.message }));
      child.on('close', (code) => resolve({ code, stderr: stderr.trim().split('\n').slice(-5).join('\n') }));
    });
  }

  /** POSTs `body` to `w`, retrying a network error or a 5xx answer while the event's deadline allows (at most 3 attempts). */
  async #post(w: Webhook, event: NotifyEvent, body: string, deadline: number): Promise<void> {
    const where = this.masker.mask(shownUrl(w.webhook));
    let why = 'no time left (earlier events to it took its timeout)';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const res = await fetch(w.webhook, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'orch' }, body, signal: AbortSignal.timeout(left), redirect: 'error' });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        why = `HTTP ${res.status}`;
        if (res.status < 500) break; // the receiver refused it: trying again would not help
      } catch (e) {
        const err = e as Error & { cause?: { code?: string } };
        why = err.name === 'TimeoutError' || err.name === 'AbortError' ? `no answer within ${w.timeoutSeconds} s` : (err.cause?.code ?? err.message);
      }
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(250 * attempt, deadline - Date.now()))));
    }
    this.opts.warn(`webhook ${where}: the ${event} event was not delivered (${why}); the run goes on`);
  }
}

/** A URL without its query, fragment or credentials (which may hold a token), for messages. */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
