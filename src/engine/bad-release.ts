/**
 * A release recorded bad (docs/how-it-works.md "What orch leaves on a host", state.json `bad` entries) is refused loudly:
 * plan and apply name it per host instead of a silent `skipped` (Kamal keeps
 * the old container when the new one fails its healthcheck and says so).
 */
import { kindsWithRole, stageCheck } from '../compile/lifecycle.js';
import { badSha, type Facts } from '../compile/predict.js';
import { joinPath, STATE_FILE } from '../host/layout.js';
import type { Plan, Task } from '../steps/plan.js';
import { RELEASE_RULE } from '../steps/install.js';

/** The newest `bad` history entry of `version` in the host's state.json under `root`, if readable. */
function badEntry(facts: Facts, root: string, version: string): { at?: string; reason?: string } | undefined {
  try {
    const st = JSON.parse(facts.get(`read:${joinPath(root, STATE_FILE)}`) ?? '{}') as { bad?: Record<string, string>; history?: { action: string; version: string; at?: string; reason?: string }[] };
    if (st.bad?.[version] === undefined) return undefined;
    return st.history?.filter((h) => h.action === 'bad' && h.version === version).at(-1) ?? {};
  } catch {
    return undefined;
  }
}

/**
 * `1.0.3 failed its healthcheck on h1 at T` from a bad entry; the reason is the kind of
 * the step that failed, and an entry without one (older state.json) failed a verify step.
 */
const failedText = (version: string, host: string, entry: { at?: string; reason?: string } | undefined): string =>
  `${version} failed its ${entry?.reason ?? kindsWithRole('verify').join(' or ')} on ${host}${entry?.at ? ` at ${entry.at}` : ''}`;

/**
 * Why apply refuses `tasks` on `host`, else undefined: a task installs a version whose
 * sha256 the host's state.json (read into `facts`) records as bad — `1.0.3 failed its
 * healthcheck on h1 at T; not deployed again; one version is one release: …` — or an
 * `orch rollback --to` a version recorded bad without `--force`. The reason (`healthcheck`
 * or `service`) and time come from the newest `bad` history entry of that version.
 */
export function badReleaseMessage(host: string, tasks: readonly Task[], facts: Facts): string | undefined {
  for (const t of tasks) {
    const c = t.check;
    if (c.kind === 'rollback' && c.version !== undefined && !c.force) {
      const entry = badEntry(facts, c.root, c.version);
      if (entry) return `${failedText(c.version, host, entry)}; rollback --to ${c.version} refused (--force switches to it anyway)`;
    }
    // Only a staged release can be recorded bad (src/compile/lifecycle.ts).
    const stage = stageCheck(c);
    if (!stage || badSha(facts, stage.root, stage.version) !== stage.sha256) continue;
    return `${failedText(stage.version, host, badEntry(facts, stage.root, stage.version))}; not deployed again; ${RELEASE_RULE}`;
  }
  return undefined;
}

/** `orch rollback --to V --force` to a version `host` records bad: the plan's warning, else undefined. */
export function forcedRollbackWarning(host: string, tasks: readonly Task[], facts: Facts): string | undefined {
  for (const t of tasks) {
    const c = t.check;
    if (c.kind !== 'rollback' || c.version === undefined || !c.force) continue;
    const entry = badEntry(facts, c.root, c.version);
    if (entry) return `${failedText(c.version, host, entry)}; rolling back to it anyway (--force)`;
  }
  return undefined;
}

/**
 * A host that apply will refuse: from phase `phase` on nothing runs there (the host fails).
 * With `warn` it is a warning only (a forced rollback to a bad version): the steps run.
 */
export interface Refusal {
  phase: number;
  message: string;
  warn?: boolean;
}

/** Hosts whose facts record a release of the plan as bad, with the first phase that installs (or rolls back to) it; forced rollbacks as warnings. */
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
      const warning = forcedRollbackWarning(host, tasks, f);
      if (warning) {
        out.set(host, { phase: pi, message: warning, warn: true });
        break;
      }
    }
  }
  return out;
}
