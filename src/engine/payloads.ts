/**
 * What each host will receive (docs/how-it-works.md "Delta releases"): for an install whose host
 * already holds releases of the app (its `delta` fact), the delta stream of
 * src/bundle/delta.ts instead of the tarball. Computed once per host and step from the
 * facts of stage 2, so `plan` shows the bytes that `apply` then sends (the same
 * buffers), and the summary's `bytesUploaded` counts what really went.
 *
 * A delta is used when the host holds objects or the kept tree of its current release,
 * the bundle has a manifest (src/bundle/manifest.ts) and the stream is smaller than
 * the tarball; otherwise the tarball travels. After the host's exit 99 (the rebuilt
 * folder did not match the manifest) execute.ts sends the tarball.
 */
import { buildDeltaStream } from '../bundle/delta.js';
import { ManifestUnsupportedError, manifestSha256, parseManifest, readBundleManifest, type BundleManifest } from '../bundle/manifest.js';
import { stageCheck } from '../compile/lifecycle.js';
import type { Facts } from '../compile/predict.js';
import type { HostPrediction } from '../compile/predict.js';
import type { Plan, Task } from '../steps/plan.js';
import { hostHasPayload } from '../steps/index.js';
import { unescapeFactText } from './facts.js';
import { INLINE_PAYLOAD_MAX } from './segment.js';

/** An install's delta payload: `$1` of the install script and the stream fed on stdin. */
export interface DeltaSend {
  /** `d:BASE:MANIFEST_SHA256` (BASE empty without a kept base tree). */
  arg: string;
  stream: Buffer;
  /** The full tarball's size, bytes (what a full send costs). */
  fullBytes: number;
}

/** Bytes one planned step sends to its host. */
export interface StepBytes {
  phase: number;
  step: number;
  /** Bytes of payload on the wire (delta stream, tarball, file or inline content). */
  bytes: number;
  /** `delta` = a delta stream instead of the tarball (`fullBytes` is the tarball's size). */
  how: 'delta' | 'full' | 'inline';
  fullBytes?: number;
}

/** Per host: the steps that send a payload, and their total. */
export interface HostBytes {
  bytes: number;
  steps: StepBytes[];
}

/** A bundle's manifest and the bytes of its files (what a delta stream is built from). */
export interface ReadManifest {
  manifest: BundleManifest;
  content: Map<string, Buffer>;
}

/**
 * Bundle manifests of one run, each tarball read once (src/bundle/manifest.ts). The
 * Session starts reading them with the facts (`prefetch`), so a delta's stream is ready
 * when the facts arrive instead of after them.
 */
export class BundleManifests {
  readonly #reads = new Map<string, Promise<ReadManifest>>();

  /** The manifest of tarball `path` (read on first use; rejects like readBundleManifest). */
  get(path: string): Promise<ReadManifest> {
    let read = this.#reads.get(path);
    if (!read) {
      const content = new Map<string, Buffer>();
      read = readBundleManifest(path, content).then((manifest) => ({ manifest, content }));
      read.catch(() => undefined);
      this.#reads.set(path, read);
    }
    return read;
  }

  /**
   * Starts reading the tarball of every install of `host` that will send a delta: the
   * install is pending in `pred` and the host holds releases of the app (its `delta`
   * fact). Called as each host's facts arrive, so the read overlaps the other hosts'
   * facts; a no-op run or a first deploy reads nothing. Errors surface on `get`.
   */
  prefetchFor(plan: Plan, host: string, facts: Facts, pred: HostPrediction): void {
    for (const p of pred) {
      if (p.status !== 'changed' && p.status !== 'maybe') continue;
      const task = plan.phases[p.phase]?.steps.find((s) => s.index === p.step)?.tasks[host];
      const pay = task?.payload;
      const stage = stageCheck(task?.check);
      if (!stage || pay?.kind !== 'bundle' || pay.lazy || !facts.get(`delta:${stage.root}`)) continue;
      const info = plan.bundles[pay.bundle];
      if (info?.path) void this.get(info.path);
    }
  }
}

/** Delta payloads of one run, memoised per host and step; bundle manifests read once. */
export class PayloadBook {
  readonly #deltas = new Map<string, Promise<DeltaSend | undefined>>();
  /** By bundle and fact text: hosts of one release hold the same store, so they share one stream. */
  readonly #byFact = new Map<string, Promise<DeltaSend | undefined>>();

  constructor(private readonly plan: Plan, private readonly factsOf: (host: string) => Facts | undefined, private readonly manifests = new BundleManifests()) {}

  /**
   * The delta to send instead of `task`'s tarball to `host` (memoised by the task's
   * phase and step index `key`), or undefined when the tarball goes (see the module
   * docstring). Rejects only on an unreadable tarball.
   */
  deltaFor(host: string, key: string, task: Task): Promise<DeltaSend | undefined> {
    const k = `${host}\0${key}`;
    let d = this.#deltas.get(k);
    if (!d) {
      d = this.#compute(host, task);
      this.#deltas.set(k, d);
    }
    return d;
  }

  async #compute(host: string, task: Task): Promise<DeltaSend | undefined> {
    const p = task.payload;
    // A delta stream carries a staged release's bundle (src/compile/lifecycle.ts).
    const stage = stageCheck(task.check);
    if (!stage || p?.kind !== 'bundle' || p.lazy) return undefined;
    const fact = this.factsOf(host)?.get(`delta:${stage.root}`);
    if (!fact) return undefined;
    const info = this.plan.bundles[p.bundle];
    if (!info) return undefined;
    const k = `${info.path}\0${p.size}\0${fact}`;
    let d = this.#byFact.get(k);
    if (!d) {
      d = this.#build(fact, info.path, p.size);
      this.#byFact.set(k, d);
    }
    return d;
  }

  async #build(fact: string, bundlePath: string, size: number): Promise<DeltaSend | undefined> {
    const parsed = parseDeltaFact(fact);
    const have = parsed.have;
    try {
      const { manifest, content } = await this.manifests.get(bundlePath);
      let base: { version: string; manifest: BundleManifest; infoJson?: Buffer } | undefined;
      if (parsed.base) {
        try {
          base = { version: parsed.base.version, manifest: parseManifest(parsed.base.manifest, manifest.top), ...(parsed.base.infoJson && { infoJson: parsed.base.infoJson }) };
        } catch {
          base = undefined;
        }
      }
      if (!have.size && !base) return undefined;
      const d = buildDeltaStream(manifest, have, content, base);
      // A delta no smaller than the tarball is not worth the rebuild.
      if (d.stream.length >= size) return undefined;
      return { arg: `d:${d.base ?? ''}:${manifestSha256(manifest)}`, stream: d.stream, fullBytes: size };
    } catch (err) {
      if (err instanceof ManifestUnsupportedError) return undefined;
      throw err;
    }
  }

  /**
   * The payload bytes each host will receive for the steps `predictions` says will (or
   * may) change: what execute counts in `bytesUploaded` when no host asks for a tarball
   * after a failed delta (exit 99). Hosts without facts (offline, unreachable) are left out.
   */
  async bytesByHost(predictions: ReadonlyMap<string, HostPrediction>): Promise<Map<string, HostBytes>> {
    const out = new Map<string, HostBytes>();
    for (const [host, pred] of predictions) {
      const facts = this.factsOf(host);
      if (!facts) continue;
      const steps: StepBytes[] = [];
      for (const p of pred) {
        if (p.status !== 'changed' && p.status !== 'maybe') continue;
        const task = this.plan.phases[p.phase]?.steps.find((s) => s.index === p.step)?.tasks[host];
        if (!task?.payload || task.payload.kind === 'bundle' && task.payload.lazy) continue;
        if (hostHasPayload(facts, task)) continue;
        if (task.payload.kind === 'content' && task.payload.size <= INLINE_PAYLOAD_MAX) {
          steps.push({ phase: p.phase, step: p.step, bytes: task.payload.size, how: 'inline' });
          continue;
        }
        const d = await this.deltaFor(host, `${p.phase}:${p.step}`, task);
        steps.push(d
          ? { phase: p.phase, step: p.step, bytes: d.stream.length, how: 'delta', fullBytes: d.fullBytes }
          : { phase: p.phase, step: p.step, bytes: task.payload.size, how: 'full' });
      }
      out.set(host, { bytes: steps.reduce((n, s) => n + s.bytes, 0), steps });
    }
    return out;
  }
}

/**
 * The delta fact of a root (src/host/facts.sh orch_fact_delta): the objects the host
 * has (`O SHA256` lines), and, when `current`'s bundle folder is kept, the base: its
 * version (`B VERSION`), its .orch-manifest (the text after that line) and its
 * info.json (`K TEXT`, escaped as a `T` fact, or `J BASE64`).
 */
export function parseDeltaFact(fact: string): { have: Set<string>; base?: { version: string; manifest: string; infoJson?: Buffer } } {
  const have = new Set<string>();
  const lines = fact.split('\n');
  const b = lines.findIndex((l) => l.startsWith('B '));
  const head = b < 0 ? lines : lines.slice(0, b);
  for (const l of head) if (/^O [0-9a-f]{64}$/.test(l)) have.add(l.slice(2));
  if (b < 0) return { have };
  const k = head.find((l) => l.startsWith('K '));
  const j = head.find((l) => l.startsWith('J '));
  const infoJson = k !== undefined ? Buffer.from(unescapeFactText(k.slice(2)), 'utf8') : j !== undefined ? Buffer.from(j.slice(2), 'base64') : undefined;
  return { have, base: { version: lines[b]!.slice(2), manifest: lines.slice(b + 1).join('\n'), ...(infoJson && { infoJson }) } };
}
