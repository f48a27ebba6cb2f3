/**
 * `orch rollback`: turns a compiled deploy plan into a rollback plan. Every node that
 * switches `current` (has a `symlink` step) gets a rollback step that points `current`
 * at the target version — `--to VERSION`, else the host's `previous` link — followed by
 * the node's `service` steps (restart on change). Other steps and nodes are dropped.
 * Pure. The script and prediction are the internal `rollback` kind's
 * (src/steps/rollback.ts). Source: platter's automation recipe (versioned folders make
 * rollback a link switch), Capistrano's `deploy:rollback`.
 */
import { CURRENT_LINK, INSTALLED_MARKER, PREVIOUS_LINK, STATE_FILE, versionDir } from '../host/layout.js';
import type { Plan, PlanPhase, PlanStep, Task } from '../steps/plan.js';
import { hasRole, startFollows, switchCheck } from './lifecycle.js';
import { joinPath, RESTART_PENDING, VERSION_RE } from '../steps/common.js';
import { rollbackSwitchScript } from '../steps/rollback.js';

export { rollbackSwitchScript };

/** Where the rollback target's completeness marker is, for the pre-check (through the `previous` link when no --to). */
export function targetMarker(root: string, to: string | undefined): string {
  return to !== undefined ? joinPath(root, `${versionDir(to)}/${INSTALLED_MARKER}`) : joinPath(root, `${PREVIOUS_LINK}/${INSTALLED_MARKER}`);
}

/**
 * The release `orch rollback` goes back to without `--to` (Capistrano's
 * rollback to the release before current): from the host's state.json text, the newest
 * version installed before `current` was installed that is still there (not pruned), not
 * `current` and not recorded bad. Undefined when there is none (or no readable state).
 */
export function pickRollbackTarget(stateText: string | null | undefined): string | undefined {
  if (!stateText) return undefined;
  let st: { current?: string | null; bad?: Record<string, string>; history?: { action: string; version: string; at: string }[] };
  try {
    st = JSON.parse(stateText);
  } catch {
    return undefined;
  }
  const cur = st.current ?? undefined;
  const installedAt = new Map<string, string>();
  for (const h of st.history ?? []) {
    if (h.action === 'install') installedAt.set(h.version, h.at);
    else if (h.action === 'prune') installedAt.delete(h.version);
  }
  const curAt = cur !== undefined ? installedAt.get(cur) : undefined;
  let best: [string, string] | undefined;
  for (const [v, at] of installedAt) {
    if (v === cur || st.bad?.[v] !== undefined) continue;
    if (curAt !== undefined && at > curAt) continue;
    if (!best || at > best[1]) best = [v, at];
  }
  return best?.[0];
}

/** Points a host's rollback task at `target` (the precheck's choice when no --to was given). */
export function retargetRollback(task: Task, target: string, restartFollows: boolean): void {
  if (task.check.kind !== 'rollback' || !task.state) return;
  task.script = rollbackSwitchScript(task.check.root, target, restartFollows);
  task.check = { ...task.check, version: target };
  task.state = { ...task.state, version: target };
  task.label = `rollback current -> ${target}`;
}

/**
 * The node's service/healthcheck tasks in a rollback plan: a failure there switches the
 * host back to the release it ran before this rollback (their `previous` link after the
 * switch; only when this run switched), restarts, and records nothing bad (`version: ''`).
 */
function backToBefore(tasks: Record<string, Task>): Record<string, Task> {
  return Object.fromEntries(Object.entries(tasks).map(([h, t]) => {
    const { rollback: rb, ...rest } = t;
    return [h, rb ? { ...rest, rollback: { ...rb, version: '', sha256: '', afterSwitch: true } } : rest];
  }));
}

/**
 * Builds the rollback plan, or returns an error message. `force` (`--force`): `--to` a
 * version the host records bad is switched to (with a warning in the plan), not refused.
 */
export function makeRollbackPlan(plan: Plan, to: string | undefined, force = false): Plan | string {
  if (to !== undefined && !VERSION_RE.test(to)) return `--to ${JSON.stringify(to)} is not a valid version`;
  const phases: PlanPhase[] = [];
  const memo = new Map<string, string>();
  for (const phase of plan.phases) {
    // Rollback is the inverse of the phase's switch, then its start and verify steps again (src/compile/lifecycle.ts).
    const sym = phase.steps.find((s) => hasRole(s, 'switch'));
    if (!sym) continue;
    const tasks: Record<string, Task> = {};
    const restartFollows = startFollows(phase.steps);
    for (const [host, t] of Object.entries(sym.tasks)) {
      const sw = switchCheck(t.check);
      if (!sw || !t.state) continue;
      const root = sw.root;
      tasks[host] = {
        script: rollbackSwitchScript(root, to, restartFollows, memo),
        probes: [
          { kind: 'link', path: joinPath(root, CURRENT_LINK) },
          { kind: 'link', path: joinPath(root, PREVIOUS_LINK) },
          { kind: 'read', path: targetMarker(root, to) },
          { kind: 'read', path: joinPath(root, STATE_FILE) },
          { kind: 'exists', path: joinPath(root, RESTART_PENDING) },
        ],
        check: { kind: 'rollback', root, ...(to !== undefined && { version: to }), ...(force && { force: true }) },
        state: { action: 'rollback', app: t.state.app, root, version: to ?? '', sha256: '' },
      };
    }
    const steps: PlanStep[] = [{ ...sym, name: `rollback current -> ${to ?? 'the last good release'}`, tasks, when: 'always' }];
    for (const s of phase.steps) if (hasRole(s, 'start')) steps.push({ ...s, when: 'changed', tasks: backToBefore(s.tasks) });
    // The node's healthchecks judge the release rolled back to; an unhealthy one fails the
    // host (exit 4) and puts it back on the release it ran before.
    for (const s of phase.steps) if (hasRole(s, 'verify')) steps.push({ ...s, when: 'always', tasks: backToBefore(s.tasks) });
    phases.push({ ...phase, steps });
  }
  if (!phases.length) return 'the playbook has no symlink step, so there is nothing to roll back';
  const targets = [...new Set(phases.flatMap((p) => p.steps.flatMap((s) => Object.keys(s.tasks))))].sort();
  return { ...plan, targets, phases };
}

/** The sha256 of the release `current` names, from a host's state.json text (its last install entry of that version). */
export function currentSha256(stateText: string | null | undefined): string | undefined {
  if (!stateText) return undefined;
  try {
    const st = JSON.parse(stateText) as { current?: string | null; history?: { action: string; version: string; sha256?: string }[] };
    if (!st.current) return undefined;
    return (st.history ?? []).filter((h) => h.action === 'install' && h.version === st.current).at(-1)?.sha256 || undefined;
  } catch {
    return undefined;
  }
}

/**
 * A rollback plan (from {@link makeRollbackPlan}) narrowed to the hosts that run a
 * revoked release (converge after `orch revoke`, src/store/revoke.ts): a host whose
 * `current` (per its state.json text, `stateOf(host, root)`) is one of `revoked`
 * (sha256s) goes back to its last good release ({@link pickRollbackTarget}); every other
 * host loses its tasks in that phase and is left alone. Mutates `rb`.
 * @returns `host (root)` of hosts that run a revoked release and have no good release to go back to (left alone too).
 */
export function narrowToRevoked(rb: Plan, revoked: ReadonlySet<string>, stateOf: (host: string, root: string) => string | null | undefined): string[] {
  const stuck: string[] = [];
  for (const phase of rb.phases) {
    for (const host of phase.hosts) {
      let keep = false;
      for (const step of phase.steps) {
        const t = step.tasks[host];
        if (t?.check.kind !== 'rollback') continue;
        const text = stateOf(host, t.check.root);
        const sha = currentSha256(text);
        const target = sha !== undefined && revoked.has(sha) ? pickRollbackTarget(text) : undefined;
        if (sha !== undefined && revoked.has(sha) && target === undefined) stuck.push(`${host} (${t.check.root})`);
        if (target === undefined) delete step.tasks[host];
        else {
          retargetRollback(t, target, startFollows(phase.steps));
          keep = true;
        }
      }
      if (!keep) for (const step of phase.steps) delete step.tasks[host];
    }
  }
  return stuck;
}
