/**
 * The segment protocol (src/host/segment.sh runs it on the host): consecutive steps of
 * one host run as ONE remote round trip that executes each step's script in turn and
 * reports each one's status (Mitogen/pyinfra: fewer round trips is what makes remote
 * execution fast). This module builds a segment's fields and parses its output.
 */
import { EXIT } from '../host/protocol.js';
import type { PlanStep, StepStatus, Task } from '../steps/plan.js';
import type { AppState, Registry } from '../state/state.js';

/** What a segment reads of a step: whether it runs without an earlier change. */
export type OwnStep = Pick<PlanStep, 'when'>;
/** What a segment reads of a task: its script and the payload fed to it. */
export type OwnTask = Pick<Task, 'script' | 'payload'>;

/** Largest `put` content passed inline in the fields instead of as a payload, bytes. */
export const INLINE_PAYLOAD_MAX = 64 * 1024;

/** Exit code segment.sh gives a step whose state.json changed since the facts were read. */
export const STATE_CONFLICT_EXIT = EXIT.STATE_CONFLICT;

/**
 * One step of a segment: run on the host, or decided already (`static`). `S` and `T`
 * are a plan's step and task; orch's own bookkeeping scripts (state.json writes, a
 * rollback) run as entries with only the parts the segment reads (`when`, `script`,
 * `payload`), never as a made-up step of some kind.
 */
export interface SegmentEntry<S extends OwnStep = PlanStep, T extends OwnTask = Task> {
  step: S;
  task: T;
  static?: StepStatus;
  /** The payload follows the fields (only a segment's first run entry). */
  send?: boolean;
  /** An install's delta (engine/payloads.ts): PAYLOAD `d:BASE:MANIFEST_SHA256`, the stream as the payload. */
  delta?: { arg: string; stream: Buffer };
  /** `b64:DATA`: a small payload passed inline instead of as data frames. */
  inline?: string;
  /** Status a state-writing step is expected to end with (`-` = no expectation). */
  expect?: string;
  stateArg?: string;
  registryArg?: string;
  /** `SHA PATH` the state.json at PATH must match before the step runs (`0` = absent), or `-`. */
  stateBase?: string;
  newState?: AppState;
  newRegistry?: Registry;
}

/** What the host reported for one step of a segment. */
export interface SegmentResult {
  /** Position in the segment's entries. */
  index: number;
  rc: number;
  status: StepStatus;
  ms: number;
  out: string;
  err: string;
  /** sha256 of the entry's state.json after it ran (`0` = absent), when it had a compare-and-swap base. */
  stateSha?: string;
}

/**
 * segment.sh's fields: CHANGED LIMIT, then 8 per run entry (INDEX WHEN EXPECT SCRIPT
 * PAYLOAD STATE REGISTRY BASE), each NUL-terminated. Static entries are left out.
 */
export function encodeSegment<S extends OwnStep, T extends OwnTask>(entries: SegmentEntry<S, T>[], changed: boolean, limitSeconds: number): Buffer {
  const fields: string[] = [changed ? '1' : '0', String(limitSeconds)];
  entries.forEach((e, k) => {
    if (e.static) return;
    fields.push(String(k), e.step.when, e.expect ?? '-', e.task.script, e.send ? (e.delta?.arg ?? '1') : (e.inline ?? '0'), e.stateArg ?? '', e.registryArg ?? '', e.stateBase ?? '-');
  });
  return Buffer.from(fields.map((f) => `${f}\0`).join(''), 'utf8');
}

/** Parses segment.sh's `::orch-seg:: INDEX RC STATUS MS B64OUT B64ERR STATE_SHA` lines. */
export function parseSegmentOutput(stdout: string): SegmentResult[] {
  const out: SegmentResult[] = [];
  const dec = (s: string | undefined): string => (!s || s === '-' ? '' : Buffer.from(s, 'base64').toString('utf8'));
  for (const line of stdout.split('\n')) {
    const m = /^::orch-seg:: (\d+) (\d+) (ok|changed|skipped) (\d+) (\S*) (\S*)(?: (\S+))?$/.exec(line);
    if (!m) continue;
    const r: SegmentResult = { index: Number(m[1]), rc: Number(m[2]), status: m[3] as StepStatus, ms: Number(m[4]), out: dec(m[5]), err: dec(m[6]) };
    if (m[7] !== undefined && m[7] !== '-') r.stateSha = m[7];
    out.push(r);
  }
  return out;
}

/** Keeps the last `n` characters of a text, on a line boundary when possible. */
export function tail(text: string, n = 2000): string {
  const t = text.trimEnd();
  if (t.length <= n) return t;
  const cut = t.slice(-n);
  const nl = cut.indexOf('\n');
  return nl >= 0 && nl < 200 ? cut.slice(nl + 1) : cut;
}
