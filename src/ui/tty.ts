/**
 * Live per-host progress in a terminal with listr2 (the only importer of listr2): one
 * line per host saying what it does NOW — the step running and for how long
 * (`web1  shop: install shop  4 s`), or what it waits for (`waiting for batch 2 of 3 (shop)`,
 * `waiting for node db`), or `done`. listr2 starts drawing only at `start()`, after the
 * plan and the prompt (listr2 holds back other writes to the terminal while it draws,
 * so nothing else may be printed then). When the run is over, the failure block of every
 * failed step (ui/failure.ts) and the summary are printed below the host lines.
 */
import { Listr } from 'listr2';
import type { EngineEvent, RunSummary } from '../engine/events.js';
import type { Plan } from '../steps/plan.js';
import { PLAIN, type Palette } from './color.js';
import { errorHeadline, formatStepFailure, formatStepOutput, stepLabel } from './failure.js';
import type { Renderer, RendererOptions, Write } from './renderer.js';
import { formatSummary } from './summary.js';
import { formatMs } from './units.js';

interface HostLine {
  name: string;
  /** What the host does now, without the elapsed time. */
  doing: string;
  /** ms timestamp since when the current step runs (undefined = not running a step). */
  since?: number;
  setTitle?: (t: string) => void;
  /** Set for a host the run never started: listr2 skips its task (the `↓` mark), no tick. */
  skipped?: string;
  done: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
  finished: boolean;
  changed: number;
}

/** `3 s`, `1 m 05 s`. */
export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
}

export class TtyRenderer implements Renderer {
  private readonly hosts = new Map<string, HostLine>();
  private listrDone: Promise<unknown> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly failures: string[] = [];
  private readonly verboseText: string[] = [];
  private readonly p: Palette;
  private readonly verbose: boolean;
  /** Host -> phase index -> index of its last step there. */
  private readonly lastStep = new Map<string, Map<number, number>>();
  /** Phase index -> batch index of each of its hosts. */
  private readonly batchOf = new Map<number, Map<string, number>>();
  /** Hosts that finished their part of the phase that runs. */
  private readonly through = new Set<string>();

  constructor(private readonly out: Write, private readonly plan: Plan, opts: RendererOptions = {}) {
    this.p = opts.palette ?? PLAIN;
    this.verbose = opts.verbose === true;
    plan.phases.forEach((ph, pi) => {
      const batches = new Map<string, number>();
      ph.batches.forEach((b, bi) => b.forEach((h) => batches.set(h, bi)));
      this.batchOf.set(pi, batches);
      for (const st of ph.steps) {
        for (const h of Object.keys(st.tasks)) {
          let m = this.lastStep.get(h);
          if (!m) this.lastStep.set(h, (m = new Map()));
          m.set(pi, st.index);
        }
      }
    });
    for (const h of plan.targets) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      done.catch(() => undefined);
      this.hosts.set(h, { name: h, doing: 'waiting to start', done, resolve, reject, finished: false, changed: 0 });
    }
  }

  /** Starts drawing (after the plan was printed and confirmed). */
  start(unreachable: Map<string, string> = new Map()): void {
    if (this.listrDone) return;
    for (const [host, why] of unreachable) {
      const hl = this.hosts.get(host);
      if (!hl || hl.finished) continue;
      hl.finished = true;
      hl.doing = this.p.fail(`unreachable: ${errorHeadline(why)}`);
      hl.reject(new Error(hl.doing));
    }
    const listr = new Listr(
      [...this.hosts.values()].map((hl) => ({
        title: this.title(hl),
        task: async (_ctx: unknown, task: { title: string; skip: (m?: string) => void }) => {
          hl.setTitle = (t) => (task.title = t);
          hl.setTitle(this.title(hl));
          await hl.done;
          if (hl.skipped !== undefined) task.skip(hl.skipped);
        },
      })),
      // No SIGINT handler of listr2's own (it would exit 127): the CLI's Ctrl-C handling stops the run.
      { concurrent: true, exitOnError: false, registerSignalListeners: false, rendererOptions: { showErrorMessage: false, formatOutput: 'truncate' } },
    );
    this.listrDone = listr.run().catch(() => undefined);
    this.timer = setInterval(() => {
      for (const hl of this.hosts.values()) if (hl.since !== undefined && !hl.finished) this.redraw(hl);
    }, 1000);
    this.timer.unref();
  }

  private title(hl: HostLine): string {
    return `${hl.name}  ${hl.doing}${hl.since !== undefined ? `  ${this.p.dim(formatElapsed(Date.now() - hl.since))}` : ''}`;
  }

  private redraw(hl: HostLine): void {
    hl.setTitle?.(this.title(hl));
  }

  private set(hl: HostLine, doing: string, since?: number): void {
    hl.doing = doing;
    if (since === undefined) delete hl.since;
    else hl.since = since;
    this.redraw(hl);
  }

  private nodeName(pi: number): string {
    return this.plan.phases[pi]?.node || '(root)';
  }

  /** What a host does once its part of phase `pi` is over: wait for a later node, or done. */
  private afterPhase(hl: HostLine, pi: number): void {
    const next = this.plan.phases.findIndex((ph, i) => i > pi && (ph.hosts.includes(hl.name) || ph.aroundHosts?.includes(hl.name)));
    if (next >= 0) this.set(hl, `waiting for node ${this.nodeName(next)}`);
    else this.finishHost(hl, hl.changed ? this.p.change(`done, ${hl.changed} changed`) : 'done');
  }

  private finishHost(hl: HostLine, text: string): void {
    if (hl.finished) return;
    this.set(hl, text);
    hl.finished = true;
    hl.resolve();
  }

  /** A host the run ended without starting: listr2's skip mark (`↓`), never the success tick. */
  private skipHost(hl: HostLine, why: string): void {
    if (hl.finished) return;
    hl.doing = why;
    hl.finished = true;
    hl.skipped = `${hl.name}  ${why}`;
    hl.setTitle?.(this.title(hl));
    hl.resolve();
  }

  onEvent(e: EngineEvent): void {
    const hl = 'host' in e ? this.hosts.get(e.host) : undefined;
    switch (e.type) {
      case 'phase-start': {
        this.through.clear();
        const ph = this.plan.phases[e.phase];
        const nb = ph?.batches.length ?? 1;
        for (const h of this.hosts.values()) {
          if (h.finished) continue;
          if (e.hosts.includes(h.name)) this.set(h, nb > 1 ? `waiting for batch ${(this.batchOf.get(e.phase)?.get(h.name) ?? 0) + 1} of ${nb} (${this.nodeName(e.phase)})` : `${this.nodeName(e.phase)}: starting`);
          // A load balancer of the node's drain/undrain steps works around every batch.
          else if (ph?.aroundHosts?.includes(h.name)) this.set(h, `${this.nodeName(e.phase)}: drain and undrain around ${nb} batch${nb === 1 ? '' : 'es'}`);
          else this.afterPhase(h, e.phase);
        }
        break;
      }
      case 'stage-start':
        for (const n of e.hosts) {
          const h = this.hosts.get(n);
          if (h && !h.finished) this.set(h, `${this.nodeName(e.phase)}: staging the release`);
        }
        break;
      case 'bake-start':
        for (const n of e.hosts) {
          const h = this.hosts.get(n);
          if (h && !h.finished) this.set(h, `${this.nodeName(e.phase)}: baking ${formatMs(e.ms)}, then the healthchecks run again`, Date.now());
        }
        break;
      case 'batch-start': {
        const ph = this.plan.phases[e.phase];
        const nb = ph?.batches.length ?? 1;
        for (const h of this.hosts.values()) {
          if (h.finished || !ph?.hosts.includes(h.name)) continue;
          const b = this.batchOf.get(e.phase)?.get(h.name) ?? 0;
          if (b === e.batch) this.set(h, `${this.nodeName(e.phase)}: starting`);
          else if (b > e.batch) this.set(h, `waiting for batch ${b + 1} of ${nb} (${this.nodeName(e.phase)})`);
          else if (!this.through.has(h.name)) this.afterPhase(h, e.phase);
        }
        break;
      }
      case 'step-start':
        if (hl && !hl.finished) this.set(hl, stepLabel(e), Date.now());
        break;
      case 'step-end': {
        if (!hl) break;
        if (e.status === 'failed') this.failures.push(formatStepFailure(e, this.p, { withNode: true }));
        else if (this.verbose) {
          const o = formatStepOutput(e, this.p);
          if (o) this.verboseText.push(`${e.host}: ${stepLabel(e)}\n${o}`);
        }
        if (e.status === 'changed') hl.changed++;
        if (hl.finished || e.status === 'failed') break;
        if (this.lastStep.get(e.host)?.get(e.phase) === e.step) {
          this.through.add(e.host);
          this.afterPhase(hl, e.phase);
        } else this.set(hl, `${stepLabel(e)}: ${e.status}`);
        break;
      }
      case 'host-failed':
        if (hl && !hl.finished) {
          hl.finished = true;
          const why = errorHeadline(e.error);
          hl.setTitle?.(`${hl.name}  ${this.p.fail(`failed: ${why}`)}`);
          hl.reject(new Error(why));
        }
        break;
      case 'aborted':
        for (const h of this.hosts.values()) if (!h.finished) this.skipHost(h, 'not started (run aborted)');
        break;
      default:
        break;
    }
  }

  async finish(summary: RunSummary): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const r of summary.hosts) {
      const h = this.hosts.get(r.host);
      if (!h || h.finished) continue;
      if (r.status === 'failed' || r.status === 'unreachable') {
        h.finished = true;
        h.setTitle?.(`${h.name}  ${this.p.fail(`${r.status}${r.error ? `: ${errorHeadline(r.error)}` : ''}`)}`);
        h.reject(new Error(r.status));
      } else if (r.status === 'skipped') this.skipHost(h, 'not started (run aborted)');
      else this.finishHost(h, r.status);
    }
    await this.listrDone;
    if (this.verboseText.length) this.out(`\n${this.verboseText.join('\n')}`);
    if (this.failures.length) this.out(`\n${this.failures.join('\n')}`);
    this.out(formatSummary(summary, this.p));
  }
}
