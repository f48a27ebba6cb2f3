/**
 * A release recorded bad (SPEC section 6, state.json `bad` entries) is refused loudly:
 * plan and apply name it per host instead of a silent `skipped` (issue 11; Kamal keeps
 * the old container when the new one fails its healthcheck and says so).
 */
import { stageCheck } from '../compile/lifecycle.js';
import { badSha, type Facts } from '../compile/predict.js';
import { joinPath, STATE_FILE } from '../host/layout.js';
import type { Plan, Task } from '../model/plan.js';

/**
 * `1.0.3 failed its healthcheck on h1 at T; not deployed again (...)` when one of `tasks`
 * installs a version whose sha256 the host's state.json (read into `facts`) records as
 * bad; else undefined. The reason (`healthcheck` or `service`) and time come from the
 * newest `bad` history entry of that version.
 */
export function badReleaseMessage(host: string, tasks: readonly Task[], facts: Facts): string | undefined {
  for (const t of tasks) {
    // Only a staged release can be recorded bad (src/compile/lifecycle.ts).
    const c = stageCheck(t.check);
    if (!c || badSha(facts, c.root, c.version) !== c.sha256) continue;
    let entry: { at?: string; reason?: string } | undefined;
    try {
      const st = JSON.parse(facts.get(`read:${joinPath(c.root, STATE_FILE)}`) ?? '{}') as { history?: { action: string; version: string; at?: string; reason?: string }[] };
      entry = st.history?.filter((h) => h.action === 'bad' && h.version === c.version).at(-1);
    } catch { /* badSha read it; keep the message without a time */ }
    return `${c.version} failed its ${entry?.reason ?? 'healthcheck'} on ${host}${entry?.at ? ` at ${entry.at}` : ''}; not deployed again (a new bundle sha256 for it is a new release)`;
  }
  return undefined;
}

/** A host that apply will refuse: from phase `phase` on nothing runs there (the host fails). */
export interface Refusal {
  phase: number;
  message: string;
}

/** Hosts whose facts record a release of the plan as bad, with the first phase that installs it. */
export function refusedHosts(plan: Plan, facts: ReadonlyMap<string, Facts>): Map<string, Refusal> {
  const out = new Map<string, Refusal>();
  for (const host of plan.targets) {
    const f = facts.get(host);
    if (!f) continue;
    for (let pi = 0; pi < plan.phases.length; pi++) {
      const tasks = plan.phases[pi]!.steps.flatMap((s) => (s.tasks[host] ? [s.tasks[host]!] : []));
      const message = badReleaseMessage(host, tasks, f);
      if (message) {
        out.set(host, { phase: pi, message });
        break;
      }
    }
  }
  return out;
}
