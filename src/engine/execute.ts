/**
 * Stage 4, execute: one host's steps of one phase, in order, through the host's agent.
 * Consecutive steps run as ONE segment (one round trip: see segment.ts); only a
 * segment's first step may read a payload. A segment stops early at a failure, at exit
 * 99 ("send the payload"), or when a state-writing step ends otherwise than expected.
 * Takes what the predict stage returned; nothing here reads a map an earlier call filled.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { hasRole } from '../compile/lifecycle.js';
import { stepLabel, type Facts } from '../compile/predict.js';
import { changesAlone, hostHasPayload, runsOnHost, runsWhenOk } from '../steps/index.js';
import { joinPath, STATE_FILE, qpath } from '../host/layout.js';
import { ConnectError, RemoteCommandError } from '../model/errors.js';
import type { Plan, PlanStep, PredictedStatus, StepStatus, Task } from '../steps/plan.js';
import { PRELUDE_SH, PROTOCOL_SH } from '../host/embedded.generated.js';
import { EXIT, protocolLines, withoutProtocolLines } from '../host/protocol.js';
import { formatStateJson, markBad, type AppState, type Registry } from '../state/state.js';
import type { HostAgent } from './agent.js';
import type { EngineEvent } from './events.js';
import type { PayloadBook } from './payloads.js';
import type { RunRecord } from './record.js';
import { encodeSegment, INLINE_PAYLOAD_MAX, parseSegmentOutput, STATE_CONFLICT_EXIT, tail, type OwnStep, type OwnTask, type SegmentEntry, type SegmentResult } from './segment.js';
import { badReleaseMessage } from './bad-release.js';
import type { StateBook } from './state-book.js';

/** What the predict stage hands to execute: fresh facts and predictions by host. */
export interface Predicted {
  readonly facts: ReadonlyMap<string, Facts>;
  /** host -> `phase:step` -> predicted status (steps predicted `ok`/`skipped` are not run again). */
  readonly statuses: ReadonlyMap<string, ReadonlyMap<string, PredictedStatus>>;
}

/** What execute needs from the run. */
export interface ExecuteContext {
  plan: Plan;
  predicted: Predicted;
  record: RunRecord;
  book: StateBook;
  /** The host's agent (started with the facts, or on first use). Rejects with ConnectError. */
  agentOf(host: string): Promise<HostAgent>;
  emit(e: EngineEvent): void;
  mask(s: string): string;
  stepTimeoutMs?: number;
  /** Delta payloads of installs (payloads.ts); without it every install sends its tarball. */
  payloads?: PayloadBook;
  /** converge: a release recorded bad is skipped quietly (cron), not a failed host. */
  skipBad?: boolean;
}

/** Runs host lanes of a plan (one instance per run). */
export class Executor {
  /** `host\0root` of every app whose `current` this run switched (service-failure rollbacks). */
  readonly #switched = new Set<string>();
  /** `phase\0host` of every lane in which a step changed the host so far. */
  readonly #changedLanes = new Set<string>();

  constructor(private readonly ctx: ExecuteContext) {}

  #predicted(host: string, pi: number, step: PlanStep): PredictedStatus | undefined {
    return this.ctx.predicted.statuses.get(host)?.get(`${pi}:${step.index}`);
  }

  /** A step decided without running anything on the host (`ok`/`skipped` from fresh facts, `bundle`). */
  #staticStatus(host: string, pi: number, step: PlanStep, task: Task, changed: boolean, inSegment: boolean): StepStatus | undefined {
    if (!runsOnHost(task)) return 'ok';
    if (step.when === 'changed' && !changed && !inSegment && !changesAlone(this.ctx.predicted.facts.get(host), task)) return 'skipped';
    const predicted = this.#predicted(host, pi, step);
    if (step.when === 'always' && ((predicted === 'ok' && !runsWhenOk(task)) || predicted === 'skipped')) return predicted;
    return undefined;
  }

  /**
   * One host's steps of phase `pi` at positions `from` to `to` - 1 (all by default: a
   * rolling phase runs its staged steps first, the rest in its batch; see lanes.ts).
   * Whether an earlier part changed the host carries over (`when: changed`).
   * Failures are recorded in the run record, never thrown.
   */
  async runLane(pi: number, host: string, from = 0, to?: number): Promise<void> {
    const { plan, record } = this.ctx;
    const phase = plan.phases[pi]!;
    const items = phase.steps.slice(from, to).flatMap((step) => (step.tasks[host] ? [{ step, task: step.tasks[host]! }] : []));
    const facts = this.ctx.predicted.facts.get(host);
    const laneKey = `${pi}\0${host}`;
    let changed = this.#changedLanes.has(laneKey);
    let forceSend = -1;
    let i = 0;
    const started = new Set<number>();
    const labels = new Map(items.map(({ step, task }) => [step.index, task.label]));
    const base = (step: PlanStep) => {
      const label = labels.get(step.index);
      return { host, phase: pi, node: phase.node, step: step.index, name: stepLabel(step, host), ...(label !== undefined && label !== step.name && { label }) };
    };
    const start = (step: PlanStep): void => {
      if (started.has(step.index)) return;
      started.add(step.index);
      this.ctx.emit({ type: 'step-start', ...base(step) });
    };
    const report = (step: PlanStep, status: StepStatus, ms: number, res?: SegmentResult): void => {
      start(step);
      record.count(host, phase.node, stepLabel(step, host), status);
      if (status === 'changed') {
        changed = true;
        this.#changedLanes.add(laneKey);
      }
      this.ctx.emit({ type: 'step-end', ...base(step), status, ms, ...(res && this.#outputOf(res)) });
    };
    // A release recorded bad on this host is refused loudly, never silently skipped.
    const bad = !this.ctx.skipBad && facts && badReleaseMessage(host, items.map((x) => x.task), facts);
    if (bad) {
      record.count(host, phase.node, '', 'failed');
      record.failHost(host, `${phase.node || '(root)'}: ${bad}`, false, phase.node);
      return;
    }
    while (i < items.length && !record.isFailed(host)) {
      if (record.interrupted) {
        record.failHost(host, 'interrupted', false, phase.node);
        return;
      }
      const head = items[i]!;
      const stat = this.#staticStatus(host, pi, head.step, head.task, changed, false);
      if (stat) {
        report(head.step, stat, 0);
        i++;
        continue;
      }
      // The segment: the head (maybe with payload), then every following step that needs no stdin.
      const seg: SegmentEntry[] = [];
      const overlay = new Map<string, AppState>();
      let registry: Registry | undefined;
      for (let j = i; j < items.length; j++) {
        const { step, task } = items[j]!;
        const needs = task.payload !== undefined && (j === forceSend || !hostHasPayload(facts, task));
        // Small contents travel inline in the fields, so they do not end a segment.
        const inline = needs && task.payload!.kind === 'content' && task.payload!.size <= INLINE_PAYLOAD_MAX ? `b64:${(task.payload as { base64: string }).base64}` : undefined;
        const send = needs && inline === undefined;
        if (j > i && send) break;
        const s = j > i ? this.#staticStatus(host, pi, step, task, changed, true) : undefined;
        if (s) {
          seg.push({ step, task, static: s });
          continue;
        }
        const predicted = this.#predicted(host, pi, step);
        const args = this.ctx.book.argsFor(host, task, overlay, registry);
        // Only steps whose state.json text was computed ahead need their outcome confirmed.
        const expect = args.newState ? (predicted === 'ok' || predicted === 'skipped' ? predicted : 'changed') : '-';
        if (args.newState && expect === 'changed') overlay.set(task.state!.root, args.newState);
        if (args.newRegistry) registry = args.newRegistry;
        // An install on a host holding releases gets a delta; after its 99, the tarball.
        const delta = send && j !== forceSend ? await this.ctx.payloads?.deltaFor(host, `${pi}:${step.index}`, task) : undefined;
        // A step with a change of its own (a differing unit file) runs whatever its node did.
        const own = step.when === 'changed' && changesAlone(facts, task) ? { ...step, when: 'always' as const } : step;
        seg.push({ step: own, task, send, expect, ...(inline !== undefined && { inline }), ...(delta && { delta: { arg: delta.arg, stream: delta.stream } }), ...args });
      }
      forceSend = -1;
      let results: SegmentResult[];
      try {
        results = await this.#runSegment(host, seg, changed, (k) => {
          const e = seg[k];
          if (e && !e.static) start(e.step);
        });
      } catch (err) {
        const first = seg.find((e) => !e.static)!;
        const msg = this.ctx.mask(record.interrupted ? 'interrupted' : err instanceof Error ? err.message : String(err));
        start(first.step);
        this.ctx.emit({ type: 'step-end', ...base(first.step), status: 'failed', ms: 0, error: msg });
        record.count(host, phase.node, first.step.name, 'failed');
        record.failHost(host, `${phase.node || '(root)'}: ${stepLabel(first.step, host)}: ${msg}`, err instanceof ConnectError && !record.interrupted, phase.node, stepLabel(first.step, host));
        return;
      }
      let next = i + seg.length;
      for (let k = 0; k < seg.length; k++) {
        const e = seg[k]!;
        if (e.static) {
          report(e.step, e.static, 0);
          continue;
        }
        const res = results.find((x) => x.index === k);
        if (!res) {
          next = i + k; // not reached: the segment stopped before it
          break;
        }
        // 99 after a delta: the rebuilt folder did not match its manifest; the tarball goes instead.
        if (res.rc === EXIT.NEED_PAYLOAD && (!e.send || e.delta)) {
          forceSend = i + k;
          next = i + k;
          break;
        }
        if (res.rc !== 0) {
          const errText = tail(res.err.trim() || withoutProtocolLines(res.out).trim());
          const why = res.rc === 124 ? `timed out after ${(this.ctx.stepTimeoutMs ?? 0) / 1000} s` : res.rc === STATE_CONFLICT_EXIT ? 'state conflict' : `exit ${res.rc}`;
          let error = this.ctx.mask(`${why}${errText ? `: ${errText}` : ''}`);
          start(e.step);
          this.ctx.emit({ type: 'step-end', ...base(e.step), status: 'failed', ms: res.ms, error, exitCode: res.rc, ...this.#outputOf(res) });
          record.count(host, phase.node, e.step.name, 'failed');
          if (e.task.rollback) error += await this.#rollBack(pi, host, e.task.rollback, e.step.kind);
          record.failHost(host, `${phase.node || '(root)'}: ${stepLabel(e.step, host)}: ${error}`, false, phase.node, stepLabel(e.step, host));
          return;
        }
        try {
          await this.#finishTask(host, e, res);
        } catch (err) {
          const error = this.ctx.mask((err as Error).message.replace(`${host}: `, ''));
          start(e.step);
          this.ctx.emit({ type: 'step-end', ...base(e.step), status: 'failed', ms: res.ms, error });
          record.count(host, phase.node, e.step.name, 'failed');
          record.failHost(host, `${phase.node || '(root)'}: ${e.step.name}: ${error}`, err instanceof ConnectError, phase.node, e.step.name);
          return;
        }
        report(e.step, res.status, res.ms, res);
        if (e.expect !== '-' && res.status !== e.expect) {
          next = i + k + 1; // later steps were given state computed on another assumption
          break;
        }
      }
      i = next;
    }
  }

  /**
   * The bake's re-check (src/engine/stages.ts): runs the node's healthcheck steps of phase
   * `pi` again on `host`, each on its own, whatever the facts predicted. A failure is what
   * it is during the batch: the step fails, the healthcheck's rollback runs (the host goes
   * back to the release before; the new one is recorded bad), the host fails.
   * Failures are recorded in the run record, never thrown.
   */
  async recheck(pi: number, host: string): Promise<void> {
    const { plan, record } = this.ctx;
    const phase = plan.phases[pi]!;
    for (const step of phase.steps) {
      const task = step.tasks[host];
      if (!task || !hasRole(step, 'verify') || record.isFailed(host)) continue;
      const base = { host, phase: pi, node: phase.node, step: step.index, name: stepLabel(step, host), ...(task.label !== undefined && task.label !== step.name && { label: task.label }) };
      this.ctx.emit({ type: 'step-start', ...base });
      let res: SegmentResult | undefined;
      let lost: unknown;
      try {
        [res] = await this.#runSegment(host, [{ step: { ...step, when: 'always' }, task, send: false, expect: '-', stateArg: '', registryArg: '' }], true);
      } catch (err) {
        lost = err;
      }
      if (res && res.rc === 0) {
        record.count(host, phase.node, stepLabel(step, host), res.status);
        this.ctx.emit({ type: 'step-end', ...base, status: res.status, ms: res.ms, ...this.#outputOf(res) });
        continue;
      }
      const errText = res ? tail(res.err.trim() || withoutProtocolLines(res.out).trim()) : '';
      const why = lost !== undefined ? (record.interrupted ? 'interrupted' : lost instanceof Error ? lost.message : String(lost)) : res ? (res.rc === 124 ? `timed out after ${(this.ctx.stepTimeoutMs ?? 0) / 1000} s` : `exit ${res.rc}`) : 'no result';
      let error = this.ctx.mask(`after the bake time: ${why}${errText ? `: ${errText}` : ''}`);
      this.ctx.emit({ type: 'step-end', ...base, status: 'failed', ms: res?.ms ?? 0, error, ...(res && { exitCode: res.rc, ...this.#outputOf(res) }) });
      record.count(host, phase.node, step.name, 'failed');
      if (task.rollback && lost === undefined) error += await this.#rollBack(pi, host, task.rollback, step.kind);
      record.failHost(host, `${phase.node || '(root)'}: ${stepLabel(step, host)}: ${error}`, lost instanceof ConnectError && !record.interrupted, phase.node, stepLabel(step, host));
      return;
    }
  }

  /** A step's output for its step-end event: stdout without orch's `::orch::` lines, stderr tail; masked; empty ones left out. */
  #outputOf(res: SegmentResult): { stdout?: string; stderr?: string } {
    const stdout = this.ctx.mask(withoutProtocolLines(res.out).trimEnd());
    const stderr = this.ctx.mask(res.err.trimEnd());
    return { ...(stdout && { stdout }), ...(stderr && { stderr }) };
  }

  /** Bookkeeping after a task succeeded: state.json/registry in the book; prune history written. */
  async #finishTask(host: string, e: SegmentEntry, res: SegmentResult): Promise<void> {
    const task = e.task;
    const book = this.ctx.book;
    // A prune's state effect: the host reports what it removed, and the history records it.
    if (task.state?.action === 'prune') {
      const pruned = protocolLines(res.out).flatMap((l) => (l.type === 'pruned' ? [l] : []));
      if (pruned.length && book.known(host, task.state.root)) {
        const root = task.state.root;
        let st = book.stateOf(host, root) ?? { app: task.state.app, root, current: null, previous: null, history: [] };
        for (const p of pruned) st = book.next(host, root, { action: 'prune', app: task.state.app, version: p.version, sha256: p.sha256 ?? '' }, st);
        await this.#writeState(host, root, st);
      }
      return;
    }
    if (res.status === 'changed' && e.newState && task.state) book.confirm(host, task.state.root, e.newState, res.stateSha);
    if (res.status === 'changed' && (task.state?.action === 'switch' || task.state?.action === 'rollback')) this.#switched.add(`${host}\0${task.state.root}`);
    if (e.newRegistry && (res.status === 'changed' || res.status === 'ok')) book.wroteRegistry(host, e.newRegistry);
  }

  /**
   * Runs a segment through the host's agent. Resolves with the result of every step it
   * reached; rejects with ConnectError when the connection is lost.
   */
  async #runSegment(host: string, seg: SegmentEntry<OwnStep, OwnTask>[], changed: boolean, onStart?: (k: number) => void): Promise<SegmentResult[]> {
    const agent = await this.ctx.agentOf(host);
    const limit = this.ctx.stepTimeoutMs ? Math.ceil(this.ctx.stepTimeoutMs / 1000) : 0;
    let payload: Buffer | Readable | undefined;
    for (const e of seg) {
      if (e.static) continue;
      if (e.send) payload = e.delta?.stream ?? this.#payloadStream(e.task);
      if (e.send || e.inline !== undefined) this.ctx.record.payloadBytes += e.delta ? e.delta.stream.length : (e.task.payload?.size ?? 0);
    }
    const out = await agent.runSegment(encodeSegment(seg, changed, limit), payload, onStart);
    if (out.rc !== 0) throw new RemoteCommandError(host, 'the segment runner', out.rc, '');
    return parseSegmentOutput(out.text);
  }

  /** Writes state.json for `root` on the host (temp name + rename; text on the agent's stdin, never a command line). */
  async #writeState(host: string, root: string, state: AppState): Promise<void> {
    const book = this.ctx.book;
    const script = `${PROTOCOL_SH}${PRELUDE_SH}orch_write ${qpath(joinPath(root, STATE_FILE))} "$2"\n`;
    const [res] = await this.#runSegment(host, [{ step: { when: 'always' }, task: { script }, expect: '-', stateArg: formatStateJson(state), registryArg: '', stateBase: book.baseOf(host, root) }], true);
    if (!res || res.rc !== 0) throw new RemoteCommandError(host, `writing ${joinPath(root, STATE_FILE)}`, res?.rc ?? null, tail(res?.err ?? '', 500));
    book.wrote(host, root, state);
  }

  /**
   * A failed healthcheck or service step (`reason`: the step kind) with rollback: switch
   * `current` back to `previous`, record the bad version with the reason, re-run the
   * phase's service steps. A service step's rollback (`afterSwitch`) happens only when
   * this run switched `current` on the host. Returns text appended to the error.
   */
  async #rollBack(pi: number, host: string, rb: NonNullable<Task['rollback']>, reason: string): Promise<string> {
    if (rb.afterSwitch && !this.#switched.has(`${host}\0${rb.root}`)) return '';
    try {
      const [res] = await this.#runSegment(host, [{ step: { when: 'always' }, task: { script: rb.script }, expect: '-', stateArg: '', registryArg: '' }], true);
      if (!res || res.rc !== 0) return `; rollback failed: ${tail(res?.err ?? '', 500)}`;
      const to = protocolLines(res.out).flatMap((l) => (l.type === 'rolledback' ? [l.version] : []))[0] ?? '?';
      const book = this.ctx.book;
      let st = book.next(host, rb.root, { action: 'rollback', app: rb.app, version: to, sha256: '' });
      if (rb.version) st = markBad(st, rb.version, rb.sha256, book.clock.now().toISOString(), book.clock.by, reason);
      await this.#writeState(host, rb.root, st);
      if (rb.version) this.ctx.record.recordedBad.push({ host, version: rb.version, sha256: rb.sha256, reason });
      const done = `; rolled back to ${to}${rb.version ? ` (${rb.version} recorded as bad)` : ''}`;
      for (const s of this.ctx.plan.phases[pi]!.steps) {
        const t = s.tasks[host];
        if (!t || !hasRole(s, 'start')) continue;
        // The old release's start failing too is reported, not hidden behind the first failure.
        try {
          await this.#runTask(host, t, s);
        } catch (err) {
          return `${done}, but ${s.name} failed there too: ${(err as Error).message.replace(`${host}: `, '')}`;
        }
      }
      return done;
    } catch (err) {
      return `; rollback failed: ${(err as Error).message.replace(`${host}: `, '')}`;
    }
  }

  /** Runs one task on its own (the rollback path's service restarts). */
  async #runTask(host: string, task: Task, step: PlanStep): Promise<StepStatus> {
    const send = task.payload !== undefined && !hostHasPayload(this.ctx.predicted.facts.get(host), task);
    const [res] = await this.#runSegment(host, [{ step: { ...step, when: 'always' }, task, send, expect: '-', stateArg: '', registryArg: '' }], true);
    if (!res || res.rc !== 0) throw new RemoteCommandError(host, step.name, res?.rc ?? null, tail(res?.err ?? '', 500));
    return res.status;
  }

  #payloadStream(task: OwnTask): Buffer | Readable {
    const p = task.payload!;
    if (p.kind === 'content') return Buffer.from(p.base64, 'base64');
    if (p.kind === 'file') return createReadStream(p.path);
    return createReadStream(this.ctx.plan.bundles[p.bundle]!.path);
  }
}
