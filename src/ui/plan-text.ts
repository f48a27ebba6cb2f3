/** Prints a plan: per host, each step and what would change (terraform plan's view). */
import type { HostPrediction } from '../compile/predict.js';
import type { Plan } from '../model/plan.js';

const MARK: Record<string, string> = { changed: '~', ok: ' ', skipped: '-', maybe: '?', failed: '!' };

/** Text of the plan; `unreachable` hosts are listed with their error. */
export function formatPlan(plan: Plan, predictions: Map<string, HostPrediction>, unreachable: Map<string, string>, offline: boolean): string {
  const lines: string[] = [];
  let changes = 0;
  let maybe = 0;
  for (const host of plan.targets) {
    const ph = plan.hosts[host]!;
    const where = ph.transport === 'local' ? 'local' : `${ph.user ? `${ph.user}@` : ''}${ph.address}${ph.port && ph.port !== 22 ? `:${ph.port}` : ''}`;
    lines.push(`${host} (${where})`);
    const err = unreachable.get(host);
    if (err) {
      lines.push(`  ! unreachable: ${err}`);
      continue;
    }
    for (const p of predictions.get(host) ?? []) {
      if (p.status === 'changed') changes++;
      if (p.status === 'maybe') maybe++;
      lines.push(`  ${MARK[p.status] ?? ' '} ${p.node ? `${p.node}: ` : ''}${p.name}  ${p.status === 'maybe' ? 'may change' : p.status === 'changed' ? 'will change' : p.status}`);
    }
  }
  lines.push('');
  lines.push(offline
    ? `Plan (offline): ${plural(plan.targets.length, 'host')}, ${plural(maybe, 'step')} may change.`
    : `Plan: ${plural(plan.targets.length, 'host')}, ${plural(changes, 'step')} to change${maybe ? `, ${maybe} may change` : ''}${unreachable.size ? `, ${unreachable.size} unreachable` : ''}.`);
  return `${lines.join('\n')}\n`;
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
