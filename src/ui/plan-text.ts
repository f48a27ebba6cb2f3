/** Prints a plan: per host, each step and what would change (terraform plan's view). */
import type { HostPrediction } from '../compile/predict.js';
import type { HostBytes, StepBytes } from '../engine/payloads.js';
import type { Refusal } from '../engine/bad-release.js';
import type { Plan } from '../steps/plan.js';
import { PLAIN, type Palette } from './color.js';
import { formatDiff, type StepDiff } from './diff.js';
import { formatBytes, formatMs } from './units.js';

/** `--diff`: host -> `phase:step` -> what the step would change there. */
export type PlanDiffs = Map<string, Map<string, StepDiff>>;

const MARK: Record<string, string> = { changed: '~', ok: ' ', skipped: '-', maybe: '?', failed: '!' };

/** This host's label of a predicted step: the task's rendered label, else the step's name. */
export function plannedLabel(plan: Plan, host: string, p: { phase: number; step: number; name: string }): string {
  const step = plan.phases[p.phase]?.steps.find((s) => s.index === p.step);
  return step?.tasks[host]?.label ?? p.name;
}

/**
 * What a host will receive, for its header line: `receives 20.3 KiB (delta; 5.0 MiB in
 * full)`, `receives 5.0 MiB`; empty when nothing is sent.
 */
export function formatHostBytes(b: HostBytes | undefined): string {
  if (!b || b.bytes === 0) return '';
  const deltas = b.steps.filter((s: StepBytes) => s.how === 'delta');
  const full = b.steps.reduce((n, s) => n + (s.fullBytes ?? s.bytes), 0);
  return `receives ${formatBytes(b.bytes)}${deltas.length ? ` (delta; ${formatBytes(full)} in full)` : ''}`;
}

/**
 * Text of the plan; `unreachable` hosts are listed with their error. Colours from
 * `palette` (default none); `diffs` (--diff) under their steps; `bytes` (engine/payloads.ts)
 * adds what each host receives to its header line, and the total before the last line.
 * A `refused` host (a release recorded bad there: apply fails it, exit 4) gets a `!`
 * line with the reason in place of its steps from the refused node on; a warning (`warn`)
 * gets its `!` line before those steps, which are listed as usual. A node in more than one
 * batch (`serial`) gets a line with its batches in order.
 */
export function formatPlan(plan: Plan, predictions: Map<string, HostPrediction>, unreachable: Map<string, string>, offline: boolean, palette: Palette = PLAIN, diffs?: PlanDiffs, bytes?: Map<string, HostBytes>, refused?: Map<string, Refusal>): string {
  const c = palette;
  const lines: string[] = [];
  let changes = 0;
  let maybe = 0;
  let failing = 0;
  // plannedLabel's lookup, with each phase's steps by index found once (not per host and step).
  const stepsByIndex = plan.phases.map((ph) => {
    const m = new Map<number, (typeof ph.steps)[number]>();
    for (const s of ph.steps) if (!m.has(s.index)) m.set(s.index, s);
    return m;
  });
  const labelOf = (host: string, p: { phase: number; step: number; name: string }): string => stepsByIndex[p.phase]?.get(p.step)?.tasks[host]?.label ?? p.name;
  // A step's line is the same on every host with the same label and status: made once.
  const made = new Map<string, string>();
  const stepLine = (phase: number, node: string, label: string, status: string): string => {
    const key = `${phase}\0${status}\0${label}`;
    let line = made.get(key);
    if (line === undefined) {
      const text = `${MARK[status] ?? ' '} ${node ? `${node}: ` : ''}${label}  ${status === 'maybe' ? 'may change' : status === 'changed' ? 'will change' : status}`;
      const paint = status === 'changed' || status === 'maybe' ? c.change : status === 'failed' ? c.fail : status === 'skipped' ? c.dim : (t: string) => t;
      made.set(key, (line = `  ${paint(text)}`));
    }
    return line;
  };
  for (const host of plan.targets) {
    const ph = plan.hosts[host]!;
    const where = ph.transport === 'local' ? 'local' : `${ph.user ? `${ph.user}@` : ''}${ph.address}${ph.port && ph.port !== 22 ? `:${ph.port}` : ''}`;
    const receives = formatHostBytes(bytes?.get(host));
    lines.push(`${c.bold(host)} (${where})${receives ? `  ${receives}` : ''}`);
    const err = unreachable.get(host);
    if (err) {
      lines.push(`  ${c.fail(`! unreachable: ${err}`)}`);
      continue;
    }
    // A release recorded bad on this host: apply fails the host (exit 4), so say so here.
    const no = refused?.get(host);
    let said = false;
    for (const p of predictions.get(host) ?? []) {
      if (no?.warn && p.phase >= no.phase && !said) {
        lines.push(`  ${c.fail(`! ${p.node ? `${p.node}: ` : ''}${no.message}`)}`);
        said = true;
      }
      if (no && !no.warn && p.phase >= no.phase) {
        if (!said) lines.push(`  ${c.fail(`! ${p.node ? `${p.node}: ` : ''}${no.message}; apply fails this host`)}`);
        said = true;
        continue;
      }
      if (p.status === 'changed') changes++;
      if (p.status === 'maybe') maybe++;
      if (p.status === 'failed') failing++;
      lines.push(stepLine(p.phase, p.node, labelOf(host, p), p.status));
      if (p.reason) lines.push(`    ${c.fail(p.reason)}`);
      if (p.note) lines.push(`    - ${p.note}`);
      const d = diffs?.get(host)?.get(`${p.phase}:${p.step}`);
      if (d) lines.push(...formatDiff(d, c));
    }
  }
  lines.push('');
  // A rolling node (`serial`): its stages in order, as apply will run them, and the bake after each.
  for (const ph of plan.phases) {
    const bake = ph.bake ? `, each baked ${formatMs(ph.bake)} then healthchecked again` : '';
    if (ph.batches.length < 2) {
      if (bake) lines.push(`Node ${ph.node || '(root)'} runs in 1 batch${bake}`);
      continue;
    }
    lines.push(`Node ${ph.node || '(root)'} runs in ${ph.batches.length} batches (serial)${bake}: ${ph.batches.map((b, i) => `${i + 1}) ${b.join(', ')}`).join('  ')}`);
  }
  let total = 0;
  let full = 0;
  let to = 0;
  for (const b of bytes?.values() ?? []) {
    total += b.bytes;
    full += b.steps.reduce((n, s) => n + (s.fullBytes ?? s.bytes), 0);
    if (b.bytes) to++;
  }
  if (total > 0) lines.push(`Upload: ${formatBytes(total)} to ${plural(to, 'host')}${full > total ? ` (${formatBytes(full)} without deltas)` : ''}.`);
  lines.push(offline
    ? `Plan (offline): ${plural(plan.targets.length, 'host')}, ${plural(maybe, 'step')} may change.`
    : `Plan: ${plural(plan.targets.length, 'host')}, ${plural(changes, 'step')} to change${maybe ? `, ${maybe} may change` : ''}${failing ? `, ${c.fail(`${plural(failing, 'step')} will fail`)}` : ''}${unreachable.size ? `, ${c.fail(`${unreachable.size} unreachable`)}` : ''}.`);
  return `${lines.join('\n')}\n`;
}

/** Counts steps predicted `failed` (refused from the facts) over every host. */
export function countFailing(predictions: Map<string, HostPrediction>): number {
  let n = 0;
  for (const p of predictions.values()) for (const s of p) if (s.status === 'failed') n++;
  return n;
}

/** Counts pending changes (changed or maybe) over every host. */
export function countPending(predictions: Map<string, HostPrediction>): number {
  let n = 0;
  for (const p of predictions.values()) for (const s of p) if (s.status === 'changed' || s.status === 'maybe') n++;
  return n;
}

/** `1 host`, `2 hosts`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
