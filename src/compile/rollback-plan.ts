/**
 * `orch rollback`: turns a compiled deploy plan into a rollback plan. Every node that
 * switches `current` (has a `symlink` step) gets a rollback step that points `current`
 * at the target version — `--to VERSION`, else the host's `previous` link — followed by
 * the node's `service` steps (restart on change). Other steps and nodes are dropped.
 * Pure. Source: platter's automation recipe (versioned folders make rollback a link
 * switch), Capistrano's `deploy:rollback`.
 */
import type { Plan, PlanPhase, PlanStep, Task } from '../model/plan.js';
import { quote } from '../shell/quote.js';
import { joinPath, qpath, RESTART_PENDING, script, VERSION_RE } from './steps/common.js';

/** The script: switch `current` to TARGET (a version, or the `previous` link's). */
export function rollbackSwitchScript(root: string, to: string | undefined, restartFollows = false): string {
  return script(
    `root=${qpath(root)}`,
    to !== undefined ? `target=${quote(to)}` : 'target=$(readlink -- "$root/previous" 2>/dev/null || true); target=${target#versions/}',
    '[ -n "$target" ] || orch_fail "no previous version recorded in $root (previous link missing); use --to VERSION"',
    '[ -f "$root/versions/$target/.orch-installed" ] || orch_fail "cannot roll back to $target: $root/versions/$target is not a complete install"',
    'cur=$(readlink -- "$root/current" 2>/dev/null || true)',
    restartFollows
      ? `if [ "$cur" = "versions/$target" ]; then if [ -e "$root/${RESTART_PENDING}" ]; then orch_status changed; else orch_status ok; fi; exit 0; fi`
      : 'if [ "$cur" = "versions/$target" ]; then orch_status ok; exit 0; fi',
    restartFollows && `mkdir -p -- "$root/.orch" && : > "$root/${RESTART_PENDING}"`,
    'ln -sfn -- "versions/$target" "$root/.current.tmp.$$"',
    'mv -T -f -- "$root/.current.tmp.$$" "$root/current"',
    'if [ -n "$cur" ]; then ln -sfn -- "$cur" "$root/.previous.tmp.$$"; mv -T -f -- "$root/.previous.tmp.$$" "$root/previous"; fi',
    '[ -z "${2:-}" ] || orch_write "$root/.orch/state.json" "$2"',
    'printf \'::orch:: target=%s\\n\' "$target"',
    'orch_status changed',
  );
}

/** Where the rollback target's completeness marker is, for the pre-check (through the `previous` link when no --to). */
export function targetMarker(root: string, to: string | undefined): string {
  return to !== undefined ? joinPath(root, `versions/${to}/.orch-installed`) : joinPath(root, 'previous/.orch-installed');
}

/** Builds the rollback plan, or returns an error message. */
export function makeRollbackPlan(plan: Plan, to: string | undefined): Plan | string {
  if (to !== undefined && !VERSION_RE.test(to)) return `--to ${JSON.stringify(to)} is not a valid version`;
  const phases: PlanPhase[] = [];
  for (const phase of plan.phases) {
    const sym = phase.steps.find((s) => s.kind === 'symlink');
    if (!sym) continue;
    const tasks: Record<string, Task> = {};
    const restartFollows = phase.steps.some((s) => s.kind === 'service');
    for (const [host, t] of Object.entries(sym.tasks)) {
      if (t.check.kind !== 'symlink' || !t.state) continue;
      const root = t.check.root;
      tasks[host] = {
        script: rollbackSwitchScript(root, to, restartFollows),
        probes: [
          { kind: 'link', path: joinPath(root, 'current') },
          { kind: 'link', path: joinPath(root, 'previous') },
          { kind: 'read', path: targetMarker(root, to) },
          { kind: 'read', path: joinPath(root, '.orch/state.json') },
          { kind: 'exists', path: joinPath(root, RESTART_PENDING) },
        ],
        check: { kind: 'rollback', root, ...(to !== undefined && { version: to }) },
        state: { action: 'rollback', app: t.state.app, root, version: to ?? '', sha256: '' },
      };
    }
    const steps: PlanStep[] = [{ ...sym, name: `rollback current -> ${to ?? 'previous'}`, tasks, when: 'always' }];
    for (const s of phase.steps) if (s.kind === 'service') steps.push({ ...s, when: 'changed' });
    phases.push({ ...phase, steps });
  }
  if (!phases.length) return 'the playbook has no symlink step, so there is nothing to roll back';
  const targets = [...new Set(phases.flatMap((p) => p.steps.flatMap((s) => Object.keys(s.tasks))))].sort();
  return { ...plan, targets, phases };
}
