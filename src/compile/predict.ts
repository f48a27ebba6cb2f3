/**
 * Predicts what each step would do on each host from the facts read in one round trip
 * (terraform plan; Ansible check mode). Pure: facts in, statuses out.
 */
import type { Plan, PredictedStatus, Probe, Task } from '../model/plan.js';
import { joinPath, RESTART_PENDING } from './steps/common.js';

/** The sha256 recorded as bad for `version` in the state.json fact of `root`, if any. */
export function badSha(f: Facts, root: string, version: string): string | undefined {
  const text = f.get(`read:${joinPath(root, '.orch/state.json')}`);
  if (!text) return undefined;
  try {
    const bad = (JSON.parse(text) as { bad?: Record<string, string> }).bad;
    return bad?.[version];
  } catch {
    return undefined;
  }
}

/** Facts of one host: `kind:path` -> value (`null` = absent). Missing key = unknown. */
export type Facts = Map<string, string | null>;

/** Key of a probe in the facts map. */
export const factKey = (p: Probe): string => `${p.kind}:${p.path}`;

/** Every probe a host's tasks need, deduplicated, in first-use order. */
export function probesForHost(plan: Plan, host: string): Probe[] {
  const seen = new Map<string, Probe>();
  for (const phase of plan.phases) {
    for (const step of phase.steps) {
      const t = step.tasks[host];
      if (!t) continue;
      for (const p of t.probes) if (!seen.has(factKey(p))) seen.set(factKey(p), p);
    }
  }
  return [...seen.values()];
}

/** Predicted status per phase index -> step index -> status, for one host. */
export type HostPrediction = { phase: number; step: number; name: string; node: string; status: PredictedStatus }[];

/**
 * Predicts one host's steps in execution order, updating a copy of the facts as each
 * predicted change would (so `symlink` after a new `install` predicts `changed`).
 * `facts` undefined = offline: every step is `maybe` (except no-op kinds).
 */
export function predictHost(plan: Plan, host: string, facts: Facts | undefined): HostPrediction {
  const f: Facts | undefined = facts ? new Map(facts) : undefined;
  const out: HostPrediction = [];
  plan.phases.forEach((phase, pi) => {
    let nodeChanged: 'no' | 'yes' | 'maybe' = 'no';
    for (const step of phase.steps) {
      const task = step.tasks[host];
      if (!task) continue;
      let status: PredictedStatus;
      if (step.when === 'changed' && nodeChanged === 'no') status = 'skipped';
      else if (task.check.kind === 'bundle') status = 'ok';
      else if (!f) status = 'maybe';
      else {
        status = predictTask(task, f);
        if (step.when === 'changed' && nodeChanged === 'maybe' && status === 'changed') status = 'maybe';
      }
      if (status === 'changed') nodeChanged = 'yes';
      else if (status === 'maybe' && nodeChanged === 'no') nodeChanged = 'maybe';
      out.push({ phase: pi, step: step.index, name: step.name, node: phase.node, status });
    }
  });
  return out;
}

function known(f: Facts, key: string): boolean {
  return f.has(key);
}

function predictTask(task: Task, f: Facts): PredictedStatus {
  const c = task.check;
  switch (c.kind) {
    case 'put': {
      const k = `sha256:${c.dest}`;
      if (!known(f, k)) return 'maybe';
      if (f.get(k) === c.sha256) return c.meta ? 'maybe' : 'ok';
      f.set(k, c.sha256);
      return 'changed';
    }
    case 'install': {
      const k = `read:${joinPath(c.root, `versions/${c.version}/.orch-installed`)}`;
      if (!known(f, k)) return 'maybe';
      if (badSha(f, c.root, c.version) === c.sha256) return 'skipped';
      const have = f.get(k)?.trim();
      if (have === c.sha256) return 'ok';
      if (have) return 'changed'; // will fail at apply: same version, other sha256 (reported then)
      f.set(k, c.sha256);
      f.set(`exists:${c.bundleFile}`, '1');
      return 'changed';
    }
    case 'symlink': {
      const k = `link:${joinPath(c.root, 'current')}`;
      if (!known(f, k)) return 'maybe';
      if (f.get(k) === `versions/${c.version}`) return f.get(`exists:${joinPath(c.root, RESTART_PENDING)}`) ? 'changed' : 'ok';
      if (c.sha256 && badSha(f, c.root, c.version) === c.sha256) return 'skipped';
      f.set(k, `versions/${c.version}`);
      return 'changed';
    }
    case 'run': {
      if (c.creates !== undefined) {
        const k = `exists:${c.creates}`;
        if (known(f, k) && f.get(k) !== null) return 'skipped';
      }
      return c.hasUnless ? 'maybe' : 'changed';
    }
    case 'service':
      return 'changed';
    case 'rollback': {
      const cur = f.get(`link:${joinPath(c.root, 'current')}`);
      const prev = f.get(`link:${joinPath(c.root, 'previous')}`);
      const target = c.version !== undefined ? `versions/${c.version}` : prev;
      if (cur === undefined || target === undefined) return 'maybe';
      if (target !== null && cur === target) return f.get(`exists:${joinPath(c.root, RESTART_PENDING)}`) ? 'changed' : 'ok';
      if (target !== null) {
        f.set(`link:${joinPath(c.root, 'current')}`, target);
        if (cur) f.set(`link:${joinPath(c.root, 'previous')}`, cur);
      }
      return 'changed';
    }
    case 'prune':
    case 'healthcheck':
      return 'maybe';
    default:
      return 'maybe';
  }
}
