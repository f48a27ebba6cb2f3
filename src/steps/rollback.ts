/**
 * The internal `rollback` kind of `orch rollback` plans (compile/rollback-plan.ts; not
 * a playbook key): points `current` at the target version — `--to VERSION`, else the
 * host's `previous` link — through src/host/rollback.sh and the one switch
 * (src/host/switch.sh). Source: Capistrano's `deploy:rollback`.
 */
import { ROLLBACK_SH, SWITCH_SH } from '../host/embedded.generated.js';
import { CURRENT_LINK, PREVIOUS_LINK, versionDir } from '../host/layout.js';
import type { Facts, PredictedStatus, TaskOf } from '../model/task.js';
import { factKey, hostPath, hostScript, joinPath, RESTART_PENDING, shCall, STATE_ARG } from './common.js';

export interface RollbackCheck {
  kind: 'rollback';
  root: string;
  /** --to VERSION; absent = the previous link */
  version?: string;
  /** `--force`: switch to VERSION even when the host's state.json records it bad (the plan warns). */
  force?: boolean;
}

/** The script: switch `current` to TO (a version, or the `previous` link's when undefined). */
export function rollbackSwitchScript(root: string, to: string | undefined, restartFollows = false, memo: Map<string, string> = new Map()): string {
  return hostScript({ memo }, [SWITCH_SH, ROLLBACK_SH], shCall('orch_rollback', hostPath(root), to ?? '', restartFollows ? RESTART_PENDING : '', STATE_ARG));
}

/** Predicts a rollback from the `current`/`previous` link facts (updating them as the switch would). */
export function predictRollback(f: Facts, task: TaskOf<RollbackCheck>): PredictedStatus {
  const c = task.check;
  const curKey = factKey({ kind: 'link', path: joinPath(c.root, CURRENT_LINK) });
  const prevKey = factKey({ kind: 'link', path: joinPath(c.root, PREVIOUS_LINK) });
  const cur = f.get(curKey);
  const prev = f.get(prevKey);
  const target = c.version !== undefined ? versionDir(c.version) : prev;
  if (cur === undefined || target === undefined) return 'maybe';
  if (target !== null && cur === target) return f.get(factKey({ kind: 'exists', path: joinPath(c.root, RESTART_PENDING) })) ? 'changed' : 'ok';
  if (target !== null) {
    f.set(curKey, target);
    if (cur) f.set(prevKey, cur);
  }
  return 'changed';
}

/** The internal kind: predicted like any other, never written in a playbook. */
export const rollback = { name: 'rollback' as const, predict: predictRollback };
