/**
 * The engine: runs a Plan over Transports. One connection per host for the whole run,
 * reused by every step; facts in one round trip per host; phases with barriers; serial
 * batches; max_fail; per-host isolation (a failed host leaves the active set, the others
 * go on — pyinfra `fail_hosts`, Ansible). Emits events; never prints.
 */
import { createReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import pLimit from 'p-limit';
import type { Facts } from '../compile/predict.js';
import { predictHost, probesForHost, stepLabel, type HostPrediction } from '../compile/predict.js';
import { ConnectError } from '../model/errors.js';
import type { MaxFail, Plan, PlanHost, PlanStep, PredictedStatus, Probe, StepStatus, Task } from '../model/plan.js';
import type { Masker } from '../shell/mask.js';
import { quote } from '../shell/quote.js';
import { formatStateJson, markBad, nextState, parseRegistry, parseState, type AppState, type Registry } from '../state/state.js';
import { joinPath, PRELUDE, qpath } from '../steps/common.js';
import { hostHasPayload, runsOnHost, runsWhenOk } from '../steps/index.js';
import { B64_FN } from '../shell/snippets.js';
import type { ConnectOptions, Connection, Transport } from '../transport/transport.js';
import type { EngineEvent, HostResult, RunSummary } from './events.js';
import { factsScript, parseFacts } from './facts.js';
import { acquireLock, type HeldLock } from './lock.js';

/** What a session needs from its caller. */
export interface SessionOptions {
  /** Parallel host lanes (default 50). */
  forks: number;
  /** Picks the transport of a host (`local` or `ssh`). */
  transportFor: (host: PlanHost) => Transport;
  connect: ConnectOptions;
  emit: (e: EngineEvent) => void;
  masker: Masker;
  /** Clock (history timestamps) and identity (`user@control-host`) for state.json. */
  now: () => Date;
  by: string;
  /** Per-step command timeout, ms (default none). */
  stepTimeoutMs?: number;
  /** Probes read with the facts beyond what the plan's tasks need (`--diff`: file contents). */
  extraProbes?: (host: string) => Probe[];
  /** Take the host lock before reading facts (apply, converge, rollback); `wait` in seconds. */
  lock?: { waitSeconds: number };
}

const EMPTY_COUNTS = (): Record<StepStatus, number> => ({ ok: 0, changed: 0, skipped: 0, failed: 0 });
const TAIL = 2000;

/** Keeps the last `n` characters of a text, on a line boundary when possible. */
function tail(text: string, n = TAIL): string {
  const t = text.trimEnd();
  if (t.length <= n) return t;
  const cut = t.slice(-n);
  const nl = cut.indexOf('\n');
  return nl >= 0 && nl < 200 ? cut.slice(nl + 1) : cut;
}

/**
 * A run over one plan: connections, facts, host results. Create it, call `gatherFacts`
 * (plan), then optionally `execute` (apply), then `close`.
 */
export class Session {
  readonly facts = new Map<string, Facts>();
  readonly results = new Map<string, HostResult>();
  private readonly conns = new Map<string, Promise<Connection>>();
  private readonly states = new Map<string, AppState | undefined>();
  private readonly registries = new Map<string, Registry>();
  /** Lock key (host name; `local` for every local-transport host: one machine) -> held lock. */
  private readonly locks = new Map<string, Promise<HeldLock>>();
  private readonly limit;
  private readonly started = Date.now();
  private aborted?: string;
  private emitFn: (e: EngineEvent) => void;

  /** Sends later events to `emit` instead (e.g. once the plan has been printed). */
  setEmitter(emit: (e: EngineEvent) => void): void {
    this.emitFn = emit;
  }

  private emit(e: EngineEvent): void {
    this.emitFn(e);
  }

  constructor(readonly plan: Plan, private readonly opts: SessionOptions) {
    this.emitFn = opts.emit;
    this.limit = pLimit(Math.max(1, opts.forks));
    for (const h of plan.targets) {
      this.results.set(h, { host: h, status: 'ok', counts: EMPTY_COUNTS(), changedSteps: [] });
    }
  }

  private mask(s: string): string {
    return this.opts.masker.mask(s);
  }

  /** The host's connection (opened once, memoised). Rejects with ConnectError. */
  connection(host: string): Promise<Connection> {
    let c = this.conns.get(host);
    if (!c) {
      const ph = this.plan.hosts[host]!;
      const t0 = Date.now();
      c = this.opts.transportFor(ph).connect(ph, this.opts.connect).then(
        (conn) => {
          this.emit({ type: 'connect', host, ok: true, ms: Date.now() - t0 });
          return conn;
        },
        (err: unknown) => {
          const msg = this.mask(err instanceof Error ? err.message : String(err));
          this.emit({ type: 'connect', host, ok: false, error: msg, ms: Date.now() - t0 });
          throw err instanceof ConnectError ? err : new ConnectError(host, msg);
        },
      );
      c.catch(() => undefined);
      this.conns.set(host, c);
    }
    return c;
  }

  /** Marks a host failed (it leaves every later phase). */
  private failHost(host: string, error: string, unreachable: boolean, node?: string, step?: string): void {
    const r = this.results.get(host)!;
    if (r.status === 'failed' || r.status === 'unreachable') return;
    r.status = unreachable ? 'unreachable' : 'failed';
    r.error = this.mask(error);
    this.emit({ type: 'host-failed', host, error: r.error, unreachable, ...(node !== undefined && { node }), ...(step !== undefined && { step }) });
  }

  isFailed(host: string): boolean {
    const s = this.results.get(host)?.status;
    return s === 'failed' || s === 'unreachable';
  }

  /** Connects to every target and reads its facts, in parallel (`forks` at a time). */
  async gatherFacts(): Promise<void> {
    await Promise.all(
      this.plan.targets.map((host) =>
        this.limit(async () => {
          try {
            const conn = await this.connection(host);
            const probes = [...probesForHost(this.plan, host), ...(this.opts.extraProbes?.(host) ?? [])];
            let stdout: string;
            const held = this.opts.lock ? await this.lockHost(host, conn, this.opts.lock.waitSeconds, factsScript(probes)) : undefined;
            if (held?.output) stdout = held.output;
            else {
              const res = await conn.exec(factsScript(probes), this.opts.stepTimeoutMs ? { timeoutMs: this.opts.stepTimeoutMs } : {});
              if (res.code !== 0) throw new Error(`reading facts failed (exit ${res.code}): ${tail(res.stderr.toString('utf8'), 500)}`);
              stdout = res.stdout.toString('utf8');
            }
            this.facts.set(host, parseFacts(probes, stdout));
            this.emit({ type: 'facts', host, ok: true });
          } catch (err) {
            const unreachable = err instanceof ConnectError;
            const msg = err instanceof ConnectError ? err.message.replace(`${host}: `, '') : (err as Error).message;
            this.emit({ type: 'facts', host, ok: false, error: this.mask(msg) });
            this.failHost(host, msg, unreachable);
          }
        }),
      ),
    );
  }

  /**
   * Takes the host lock once per machine (all local-transport hosts share one) and reads
   * the host's facts under it; hosts sharing a lock get `output: ''` and read their own.
   */
  private lockHost(host: string, conn: Connection, waitSeconds: number, facts: string): Promise<HeldLock> {
    const key = this.plan.hosts[host]!.transport === 'local' ? '\0local' : host;
    let l = this.locks.get(key);
    if (l) return l.then(() => ({ output: '', release: async () => undefined }));
    // The lock's session also reads this host's facts once held: one round trip for both.
    l = acquireLock(conn, waitSeconds, `${this.opts.by} pid ${process.pid} since ${this.opts.now().toISOString()}`, facts);
    l.catch(() => undefined);
    this.locks.set(key, l);
    return l;
  }

  /** Predictions per host (after gatherFacts; `offline` = no facts: `maybe`). */
  predict(offline: boolean): Map<string, HostPrediction> {
    const out = new Map<string, HostPrediction>();
    for (const h of this.plan.targets) out.set(h, predictHost(this.plan, h, offline ? undefined : this.facts.get(h)));
    if (!offline) {
      this.predictions = new Map();
      for (const [h, pred] of out) this.predictions.set(h, new Map(pred.map((p) => [`${p.phase}:${p.step}`, p.status])));
    }
    return out;
  }

  /** Predictions from fresh facts by host, then `phase:step`: steps predicted `ok` (or skipped by `creates`) are not run again. */
  private predictions?: Map<string, Map<string, PredictedStatus>>;

  private predicted(host: string, pi: number, step: PlanStep): PredictedStatus | undefined {
    return this.predictions?.get(host)?.get(`${pi}:${step.index}`);
  }

  /** Runs `bash -n` of every task script on its host (python-deployer's sandbox). Returns problems. */
  async remoteCheck(): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all(
      this.plan.targets.filter((h) => !this.isFailed(h)).map((host) =>
        this.limit(async () => {
          const conn = await this.connection(host);
          for (const phase of this.plan.phases) {
            for (const step of phase.steps) {
              const t = step.tasks[host];
              if (!t || !t.script) continue;
              // The script goes on stdin: scripts may hold secrets, and command lines are visible in ps.
              const res = await conn.exec('bash -n', { stdin: Buffer.from(t.script, 'utf8') });
              if (res.code !== 0) problems.push(this.mask(`${step.at}: node ${phase.node || '(root)'}, step "${step.name}", host ${host}: bash -n on the host: ${tail(res.stderr.toString('utf8'), 500)}`));
            }
          }
        }).catch((err: unknown) => {
          this.failHost(host, (err as Error).message, err instanceof ConnectError);
        }),
      ),
    );
    return problems;
  }

  /** Applies the plan: phases in order, batches inside, hosts in parallel lanes. */
  async execute(): Promise<void> {
    for (let pi = 0; pi < this.plan.phases.length && !this.aborted; pi++) {
      const phase = this.plan.phases[pi]!;
      const active = phase.hosts.filter((h) => !this.isFailed(h));
      this.emit({ type: 'phase-start', phase: pi, node: phase.node, hosts: active });
      for (let bi = 0; bi < phase.batches.length && !this.aborted; bi++) {
        const batch = phase.batches[bi]!.filter((h) => !this.isFailed(h));
        if (!batch.length) continue;
        this.emit({ type: 'batch-start', phase: pi, node: phase.node, batch: bi, hosts: batch });
        await Promise.all(batch.map((h) => this.limit(() => this.runLane(pi, h))));
        const failed = batch.filter((h) => this.isFailed(h)).length;
        if (phase.maxFail && exceeds(failed, batch.length, phase.maxFail)) {
          this.aborted = `node ${phase.node || '(root)'}: ${failed} of ${batch.length} hosts failed in batch ${bi + 1}, more than max_fail ${'count' in phase.maxFail ? phase.maxFail.count : `${phase.maxFail.percent}%`}; later batches and nodes were not started`;
          this.emit({ type: 'aborted', reason: this.aborted });
        }
      }
      this.emit({ type: 'phase-end', phase: pi, node: phase.node });
    }
  }

  /** A step decided without running anything on the host (`ok`/`skipped` from fresh facts, `bundle`). */
  private staticStatus(host: string, pi: number, step: PlanStep, task: Task, changed: boolean, inSegment: boolean): StepStatus | undefined {
    if (!runsOnHost(task)) return 'ok';
    if (step.when === 'changed' && !changed && !inSegment) return 'skipped';
    const predicted = this.predicted(host, pi, step);
    if (step.when === 'always' && ((predicted === 'ok' && !runsWhenOk(task)) || predicted === 'skipped')) return predicted;
    return undefined;
  }

  /**
   * One host's steps of one phase, in order. Consecutive steps run as ONE remote command
   * (a segment) that executes each step's script in turn and reports each one's status,
   * so a phase costs one round trip instead of one per step (Mitogen/pyinfra: fewer
   * round trips is what makes remote execution fast). Only a segment's first step may
   * read a payload from stdin. A segment stops early at a failure, at exit 99 ("send the
   * payload"), or when a step that writes state.json ends otherwise than expected.
   */
  private async runLane(pi: number, host: string): Promise<void> {
    const phase = this.plan.phases[pi]!;
    const items = phase.steps.flatMap((step) => (step.tasks[host] ? [{ step, task: step.tasks[host]! }] : []));
    const r = this.results.get(host)!;
    const facts = this.facts.get(host);
    let changed = false;
    let forceSend = -1;
    let i = 0;
    // step-start is emitted when the host reports that the step began (live), else with its end.
    const started = new Set<number>();
    const eventBase = (step: PlanStep, task: Task) => ({ host, phase: pi, node: phase.node, step: step.index, name: stepLabel(step, host), ...(task.label !== undefined && task.label !== step.name && { label: task.label }) });
    const start = (step: PlanStep, task: Task): void => {
      if (started.has(step.index)) return;
      started.add(step.index);
      this.emit({ type: 'step-start', ...eventBase(step, task) });
    };
    const report = (step: PlanStep, task: Task, status: StepStatus, ms: number, res?: SegmentResult): void => {
      start(step, task);
      r.counts[status]++;
      if (status === 'changed') {
        changed = true;
        r.changedSteps.push(`${phase.node || '(root)'}: ${stepLabel(step, host)}`);
        if (r.status === 'ok') r.status = 'changed';
      }
      this.emit({ type: 'step-end', ...eventBase(step, task), status, ms, ...(res && this.outputOf(res)) });
    };
    while (i < items.length && !this.isFailed(host)) {
      const head = items[i]!;
      const stat = this.staticStatus(host, pi, head.step, head.task, changed, false);
      if (stat) {
        report(head.step, head.task, stat, 0);
        i++;
        continue;
      }
      // Build the segment: the head (maybe with payload), then every following step that needs no stdin.
      const seg: SegmentEntry[] = [];
      const overlay = new Map<string, AppState>();
      let registry: Registry | undefined;
      for (let j = i; j < items.length; j++) {
        const { step, task } = items[j]!;
        const needs = task.payload !== undefined && (j === forceSend || !hostHasPayload(facts, task));
        // Small contents travel inline as an argument, so they do not end a segment.
        const inline = needs && task.payload!.kind === 'content' && task.payload!.size <= INLINE_PAYLOAD_MAX ? `b64:${(task.payload as { base64: string }).base64}` : undefined;
        const send = needs && inline === undefined;
        if (j > i && send) break;
        const s = j > i ? this.staticStatus(host, pi, step, task, changed, true) : undefined;
        if (s) {
          seg.push({ step, task, static: s });
          continue;
        }
        const predicted = this.predicted(host, pi, step);
        const args = this.stateArgs(host, task, overlay, registry);
        // Only steps whose state.json text was computed ahead need their outcome confirmed.
        const expect = args.newState ? (predicted === 'ok' || predicted === 'skipped' ? predicted : 'changed') : '-';
        if (args.newState && expect === 'changed') overlay.set(task.state!.root, args.newState);
        if (args.newRegistry) registry = args.newRegistry;
        seg.push({ step, task, send, expect, ...(inline !== undefined && { inline }), ...args });
      }
      forceSend = -1;
      let results: SegmentResult[];
      try {
        results = await this.runSegment(host, seg, changed, (k) => {
          const e = seg[k];
          if (e && !e.static) start(e.step, e.task);
        });
      } catch (err) {
        const first = seg.find((e) => !e.static)!;
        const msg = this.mask(err instanceof Error ? err.message : String(err));
        start(first.step, first.task);
        this.emit({ type: 'step-end', ...eventBase(first.step, first.task), status: 'failed', ms: 0, error: msg });
        r.counts.failed++;
        this.failHost(host, `${phase.node || '(root)'}: ${first.step.name}: ${msg}`, err instanceof ConnectError, phase.node, first.step.name);
        return;
      }
      let next = i + seg.length;
      for (let k = 0; k < seg.length; k++) {
        const e = seg[k]!;
        if (e.static) {
          report(e.step, e.task, e.static, 0);
          continue;
        }
        const res = results.find((x) => x.index === k);
        if (!res) {
          next = i + k; // not reached: the segment stopped before it
          break;
        }
        if (res.rc === 99 && !e.send) {
          forceSend = i + k;
          next = i + k;
          break;
        }
        if (res.rc !== 0) {
          const errText = tail(res.err.trim() || res.out.replace(/^::orch::.*$/gm, '').trim(), TAIL);
          let error = this.mask(`${res.rc === 124 ? `timed out after ${(this.opts.stepTimeoutMs ?? 0) / 1000} s` : `exit ${res.rc}`}${errText ? `: ${errText}` : ''}`);
          start(e.step, e.task);
          this.emit({ type: 'step-end', ...eventBase(e.step, e.task), status: 'failed', ms: res.ms, error, exitCode: res.rc, ...this.outputOf(res) });
          r.counts.failed++;
          if (e.task.rollback) error += await this.rollBack(pi, host, e.task.rollback);
          this.failHost(host, `${phase.node || '(root)'}: ${stepLabel(e.step, host)}: ${error}`, false, phase.node, stepLabel(e.step, host));
          return;
        }
        await this.finishTask(host, e, res);
        report(e.step, e.task, res.status, res.ms, res);
        if (e.expect !== '-' && res.status !== e.expect) {
          next = i + k + 1; // later steps were given state computed on another assumption
          break;
        }
      }
      i = next;
    }
  }

  /** A step's output for its step-end event: stdout without orch's `::orch::` lines, stderr tail; masked; empty ones left out. */
  private outputOf(res: SegmentResult): { stdout?: string; stderr?: string } {
    const stdout = this.mask(res.out.replace(/^::orch::.*(\n|$)/gm, '').trimEnd());
    const stderr = this.mask(res.err.trimEnd());
    return { ...(stdout && { stdout }), ...(stderr && { stderr }) };
  }

  /** state.json / registry.json texts a task writes if it changes the host. */
  private stateArgs(host: string, task: Task, overlay: Map<string, AppState>, registry: Registry | undefined): { stateArg: string; registryArg: string; newState?: AppState; newRegistry?: Registry } {
    if (!task.state || task.state.action === 'prune') return { stateArg: '', registryArg: '' };
    const facts = this.facts.get(host);
    const eff = task.state;
    const prev = overlay.get(eff.root) ?? this.stateOf(host, eff.root);
    const curLink = facts?.get(`link:${joinPath(eff.root, 'current')}`);
    const version = eff.version || (facts?.get(`link:${joinPath(eff.root, 'previous')}`) ?? '').replace(/^versions\//, '');
    const sha256 = eff.sha256 || (facts?.get(`read:${joinPath(eff.root, 'previous/.orch-installed')}`) ?? facts?.get(`read:${joinPath(eff.root, `versions/${version}/.orch-installed`)}`) ?? '').trim();
    const newState = nextState(prev, {
      action: eff.action, app: eff.app, root: eff.root, version, sha256,
      at: this.opts.now().toISOString(), by: this.opts.by,
      currentOnHost: curLink ? curLink.replace(/^versions\//, '') : null,
    });
    const out: { stateArg: string; registryArg: string; newState?: AppState; newRegistry?: Registry } = { stateArg: formatStateJson(newState), registryArg: '', newState };
    if (eff.action === 'install') {
      const reg = registry ?? this.registries.get(host) ?? parseRegistry(facts?.get('read:~/.orch/registry.json'));
      if (reg.apps[eff.app] !== eff.root) {
        out.newRegistry = { apps: { ...reg.apps, [eff.app]: eff.root } };
        out.registryArg = formatStateJson(out.newRegistry);
      }
    }
    return out;
  }

  /** Bookkeeping after a task succeeded: state.json/registry in memory; prune history. */
  private async finishTask(host: string, e: SegmentEntry, res: SegmentResult): Promise<void> {
    const task = e.task;
    if (task.check.kind === 'prune' && task.state) {
      const pruned = [...res.out.matchAll(/^::orch:: pruned=(\S+) (\S+)$/gm)];
      if (pruned.length) {
        let st = this.stateOf(host, task.state.root) ?? { app: task.state.app, root: task.state.root, current: null, previous: null, history: [] };
        for (const [, v, sha] of pruned) st = nextState(st, { action: 'prune', app: task.state.app, root: task.state.root, version: v!, sha256: sha === '-' ? '' : sha!, at: this.opts.now().toISOString(), by: this.opts.by });
        await this.writeState(host, task.state.root, st);
      }
      return;
    }
    if (res.status === 'changed' && e.newState && task.state) this.states.set(`${host}\0${task.state.root}`, e.newState);
    if (e.newRegistry && (res.status === 'changed' || res.status === 'ok')) this.registries.set(host, e.newRegistry);
  }

  /**
   * Runs a segment as one remote command (SEGMENT_SCRIPT). Resolves with the result of
   * every step it reached; rejects with ConnectError when the connection is lost.
   */
  private async runSegment(host: string, seg: SegmentEntry[], changed: boolean, onStart?: (k: number) => void): Promise<SegmentResult[]> {
    const conn = await this.connection(host);
    const timeout = this.opts.stepTimeoutMs ? Math.ceil(this.opts.stepTimeoutMs / 1000) : 0;
    const fields: string[] = [changed ? '1' : '0', String(timeout)];
    let payloadFrom: Task | undefined;
    seg.forEach((e, k) => {
      if (e.static) return;
      if (e.send) payloadFrom = e.task;
      if (e.send || e.inline !== undefined) this.payloadBytes += e.task.payload?.size ?? 0;
      fields.push(String(k), e.step.when, e.expect ?? '-', e.task.script, e.send ? '1' : (e.inline ?? '0'), e.stateArg ?? '', e.registryArg ?? '');
    });
    // Scripts and inline contents travel on stdin, never in a command line (which `ps`
    // shows to every user of the host): a length line, the NUL-separated fields, then
    // the payload, if any.
    const blob = Buffer.from(fields.map((f) => `${f}\0`).join(''), 'utf8');
    const head = Buffer.concat([Buffer.from(`${blob.length}\n`), blob]);
    let stdin: Buffer | Readable = head;
    if (payloadFrom) {
      const body = this.payloadStream(payloadFrom);
      const pass = new PassThrough();
      pass.write(head);
      if (Buffer.isBuffer(body)) pass.end(body);
      else body.on('error', (e) => pass.destroy(e)).pipe(pass);
      stdin = pass;
    }
    // `::orch-seg-start:: K` lines arrive as each step begins: live progress.
    let partial = '';
    const onStdout = onStart && ((chunk: Buffer): void => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = (lines.pop() ?? '').slice(-200);
      for (const l of lines) {
        const m = /^::orch-seg-start:: (\d+)$/.exec(l);
        if (m) onStart(Number(m[1]));
      }
    });
    const res = await conn.exec(`bash -c ${quote(SEGMENT_SCRIPT)} orch`, {
      stdin,
      ...(onStdout && { onStdout }),
      ...(this.opts.stepTimeoutMs !== undefined && { timeoutMs: this.opts.stepTimeoutMs * seg.length + 10_000 }),
    });
    const out = res.stdout.toString('utf8');
    if (res.code !== 0) throw new Error(`exit ${res.code ?? res.signal}: ${tail(res.stderr.toString('utf8'), 500)}`);
    return parseSegmentOutput(out);
  }

  /** The host's state.json for `root`: what this run wrote, else what the facts read. */
  private stateOf(host: string, root: string): AppState | undefined {
    const key = `${host}\0${root}`;
    return this.states.has(key) ? this.states.get(key) : parseState(this.facts.get(host)?.get(`read:${joinPath(root, '.orch/state.json')}`));
  }

  /** Writes state.json for `root` on the host (temp name + rename) and remembers it. */
  private async writeState(host: string, root: string, state: AppState): Promise<void> {
    const conn = await this.connection(host);
    const script = `${PRELUDE}\norch_write ${qpath(joinPath(root, '.orch/state.json'))} "$2"\n`;
    const res = await conn.exec(`bash -c ${quote(script)} orch 0 ${quote(formatStateJson(state))}`);
    if (res.code !== 0) throw new Error(`writing state.json failed: ${tail(res.stderr.toString('utf8'), 500)}`);
    this.states.set(`${host}\0${root}`, state);
  }

  /**
   * A failed healthcheck with rollback: switch `current` back to `previous`, record the
   * bad version, re-run the phase's service steps. Returns text appended to the error.
   */
  private async rollBack(pi: number, host: string, rb: NonNullable<Task['rollback']>): Promise<string> {
    try {
      const conn = await this.connection(host);
      const res = await conn.exec(`bash -c ${quote(rb.script)} orch 0 '' ''`);
      if (res.code !== 0) return `; rollback failed: ${tail(res.stderr.toString('utf8'), 500)}`;
      const to = /^::orch:: rolledback=(.*)$/m.exec(res.stdout.toString('utf8'))?.[1] ?? '?';
      const at = this.opts.now().toISOString();
      const by = this.opts.by;
      let st = nextState(this.stateOf(host, rb.root), { action: 'rollback', app: rb.app, root: rb.root, version: to, sha256: '', at, by });
      if (rb.version) st = markBad(st, rb.version, rb.sha256, at, by);
      await this.writeState(host, rb.root, st);
      for (const step of this.plan.phases[pi]!.steps) {
        const t = step.tasks[host];
        if (t && step.kind === 'service') await this.runTask(host, t, step);
      }
      return `; rolled back to ${to}${rb.version ? ` (${rb.version} recorded as bad)` : ''}`;
    } catch (err) {
      return `; rollback failed: ${(err as Error).message}`;
    }
  }

  /** Runs one task on its own (the rollback path's service restarts). */
  private async runTask(host: string, task: Task, step: PlanStep): Promise<StepStatus> {
    const send = task.payload !== undefined && !hostHasPayload(this.facts.get(host), task);
    const [res] = await this.runSegment(host, [{ step: { ...step, when: 'always' }, task, send, expect: '-', stateArg: '', registryArg: '' }], true);
    if (!res || res.rc !== 0) throw new Error(`exit ${res?.rc ?? '?'}: ${tail(res?.err ?? '', 500)}`);
    return res.status;
  }

  private payloadStream(task: Task): Buffer | Readable {
    const p = task.payload!;
    if (p.kind === 'content') return Buffer.from(p.base64, 'base64');
    if (p.kind === 'file') return createReadStream(p.path);
    return createReadStream(this.plan.bundles[p.bundle]!.path);
  }

  /** Results and totals. */
  summary(): RunSummary {
    const hosts = [...this.results.values()].sort((a, b) => (a.host < b.host ? -1 : 1));
    return {
      type: 'summary',
      hosts,
      changed: hosts.filter((h) => h.status === 'changed').length,
      failed: hosts.filter((h) => h.status === 'failed').length,
      unreachable: hosts.filter((h) => h.status === 'unreachable').length,
      ok: hosts.filter((h) => h.status === 'ok').length,
      ...(this.aborted !== undefined && { aborted: this.aborted }),
      bytesUploaded: this.payloadBytes,
      ms: Date.now() - this.started,
    };
  }

  /** Payload bytes sent to hosts (files, bundles, inline contents); scripts not counted. */
  private payloadBytes = 0;

  /** Releases host locks and closes every connection. */
  async close(): Promise<void> {
    await Promise.all([...this.locks.values()].map((l) => l.then((h) => h.release(), () => undefined)));
    await Promise.all(
      [...this.conns.values()].map(async (c) => {
        try {
          const conn = await c;
          await conn.close();
        } catch {
          /* never connected */
        }
      }),
    );
  }
}

/** max_fail: true when failures in a batch exceed the allowance. */
export function exceeds(failed: number, batchSize: number, mf: MaxFail): boolean {
  const allowed = 'count' in mf ? mf.count : (batchSize * mf.percent) / 100;
  return failed > allowed;
}

/** Largest `put` content passed inline as an argument instead of on stdin, bytes. */
export const INLINE_PAYLOAD_MAX = 64 * 1024;

/** One step of a segment: run on the host, or decided already (`static`). */
interface SegmentEntry {
  step: PlanStep;
  task: Task;
  static?: StepStatus;
  send?: boolean;
  /** `b64:DATA`: a small payload passed inline instead of on stdin. */
  inline?: string;
  /** Status a state-writing step is expected to end with (`-` = no expectation). */
  expect?: string;
  stateArg?: string;
  registryArg?: string;
  newState?: AppState;
  newRegistry?: Registry;
}

/** What the host reported for one step of a segment. */
interface SegmentResult {
  index: number;
  rc: number;
  status: StepStatus;
  ms: number;
  out: string;
  err: string;
}

/**
 * Runs steps in turn. Its fields come on stdin (so no script or secret is ever in a
 * command line): 1 when an earlier step of the node changed the host; the per-step
 * timeout in seconds (0 = none; coreutils `timeout` kills the step, which also works for
 * root sessions that sshd refuses to signal); then 7 fields per step: index, when,
 * expected status, script, payload (`1` = the rest of stdin, `b64:DATA` inline, `0`),
 * state.json, registry.json. Each script runs from a 0600 file as
 * `bash FILE PAYLOAD STATE REGISTRY` (`f:PATH` for an inline payload). Per step it prints
 * `::orch-seg-start:: INDEX` when the step begins (live progress), then
 * `::orch-seg:: INDEX RC STATUS MS B64(stdout) B64(stderr tail)` when it ends.
 */
export const SEGMENT_SCRIPT = [
  'set -u',
  'umask 077',
  'd=$(mktemp -d) || exit 70',
  "trap 'rm -rf -- \"$d\"' EXIT",
  B64_FN,
  // stdin: a length line, that many bytes of NUL-separated fields, then the payload.
  // `read` takes one byte at a time from a pipe and `head -c` never reads past its count.
  'IFS= read -r len || exit 70',
  'head -c "$len" > "$d/args"',
  "mapfile -d '' -t a < \"$d/args\"",
  'rm -f -- "$d/args"',
  'set -- "${a[@]}"; unset a',
  'changed=$1 limit=$2; shift 2',
  'umask 022',
  'while [ $# -ge 7 ]; do',
  '  idx=$1 when=$2 expect=$3 p=$5 st=$6 rg=$7',
  '  printf \'%s\' "$4" > "$d/s"',
  '  case "$p" in b64:*) printf \'%s\' "${p#b64:}" | base64 -d > "$d/in"; p="f:$d/in" ;; esac',
  '  shift 7',
  '  if [ "$when" = changed ] && [ "$changed" = 0 ]; then printf \'::orch-seg:: %s 0 skipped 0 - -\\n\' "$idx"; continue; fi',
  '  printf \'::orch-seg-start:: %s\\n\' "$idx"',
  '  t0=$(date +%s%N); rc=0',
  '  if [ "$limit" != 0 ]; then run=(timeout -k 5 "$limit" bash "$d/s" "$p" "$st" "$rg"); else run=(bash "$d/s" "$p" "$st" "$rg"); fi',
  '  if [ "$p" = 1 ]; then "${run[@]}" >"$d/o" 2>"$d/e" || rc=$?; else "${run[@]}" >"$d/o" 2>"$d/e" </dev/null || rc=$?; fi',
  '  rm -f -- "$d/in"',
  '  ms=$(( ($(date +%s%N) - t0) / 1000000 ))',
  "  status=$(sed -n 's/^::orch:: status=\\(ok\\|changed\\|skipped\\)$/\\1/p' \"$d/o\" | tail -n 1)",
  '  status=${status:-changed}',
  '  printf \'::orch-seg:: %s %s %s %s %s %s\\n\' "$idx" "$rc" "$status" "$ms" "$(b64 < "$d/o")" "$(tail -c 4000 -- "$d/e" | b64)"',
  '  [ "$rc" = 0 ] || exit 0',
  '  [ "$status" = changed ] && changed=1',
  '  if [ "$expect" != - ] && [ "$status" != "$expect" ]; then exit 0; fi',
  'done',
  '',
].join('\n');

/** Parses SEGMENT_SCRIPT output. */
export function parseSegmentOutput(stdout: string): SegmentResult[] {
  const out: SegmentResult[] = [];
  const dec = (s: string | undefined): string => (!s || s === '-' ? '' : Buffer.from(s, 'base64').toString('utf8'));
  for (const line of stdout.split('\n')) {
    const m = /^::orch-seg:: (\d+) (\d+) (ok|changed|skipped) (\d+) (\S*) (\S*)$/.exec(line);
    if (!m) continue;
    out.push({ index: Number(m[1]), rc: Number(m[2]), status: m[3] as StepStatus, ms: Number(m[4]), out: dec(m[5]), err: dec(m[6]) });
  }
  return out;
}
