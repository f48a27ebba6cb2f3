/**
 * The internal `remove` kind of `orch remove` plans (src/compile/lifecycle.ts
 * `makeRemovePlan`; not a playbook key): takes one app off a host through
 * src/host/remove.sh — the current release's stored `before_remove`, the node's services
 * stopped and disabled, the unit files orch wrote deleted, the releases and orch's
 * bookkeeping deleted, the app dropped from the registry, the stored `after_remove`;
 * `shared/` kept unless `purge`. Source: dpkg(1) `--remove` / `--purge` and the
 * prerm/postrm scripts a package keeps with itself.
 */
import { DAEMON_SH, REMOVE_SH, SUPERVISOR_SH, SYSTEMD_SH } from '../host/embedded.generated.js';
import { CURRENT_LINK, PREVIOUS_LINK, REGISTRY_FILE, STATE_FILE, VERSIONS_DIR } from '../host/layout.js';
import type { Facts, PredictedStatus, ServiceRef, TaskOf } from '../model/task.js';
import { quote } from '../shell/quote.js';
import { factKey, hostPath, hostScript, joinPath, shCall } from './common.js';

export interface RemoveCheck {
  kind: 'remove';
  root: string;
  /** The app's name in the host's registry (`~/.orch/registry.json`). */
  app: string;
  /** `--purge`: the whole root goes, `shared/` too. */
  purge?: boolean;
}

/** The registry line prefix of `app` as src/state/state.ts formatStateJson writes it (`    "APP": `). */
export const registryKey = (app: string): string => `    ${JSON.stringify(app)}: `;

/**
 * The script removing the app in `root`, stopping `services` (the node's services;
 * systemd units written by orch are deleted). Pure.
 */
export function removeScript(root: string, app: string, purge: boolean, services: readonly ServiceRef[], memo: Map<string, string> = new Map()): string {
  const systemd: string[] = [];
  const units: string[] = [];
  const daemons: string[] = [];
  const sup: string[] = [];
  for (const s of services) {
    const sudo = s.sudo === true ? '1' : '0';
    if (s.manager === 'systemd') {
      systemd.push(s.scope ?? 'system', sudo, s.name);
      if (s.unitFile !== undefined) units.push(quote(s.scope ?? 'system'), sudo, hostPath(s.unitFile).raw);
    } else if (s.manager === 'daemon') daemons.push(s.name);
    else sup.push(s.config ?? '', s.serverUrl ?? '', sudo, s.name);
  }
  const arr = (name: string, xs: string[]): string[] => (xs.length ? [`${name}=(${xs.join(' ')})`] : []);
  const libs = [SYSTEMD_SH, ...(daemons.length ? [DAEMON_SH] : []), ...(sup.length ? [SUPERVISOR_SH] : []), REMOVE_SH];
  return hostScript({ memo }, libs,
    ...arr('ORCH_REMOVE_SYSTEMD', systemd.map(quote)),
    ...arr('ORCH_REMOVE_UNITS', units),
    ...arr('ORCH_REMOVE_DAEMONS', daemons.map(quote)),
    ...arr('ORCH_REMOVE_SUPERVISOR', sup.map(quote)),
    shCall('orch_remove', hostPath(root), registryKey(app), purge ? '1' : '0', hostPath(REGISTRY_FILE)));
}

/** The probes a remove task reads: the links, versions/, state.json, the registry, and (purge) the root. */
export function removeProbes(root: string, purge: boolean): TaskOf<RemoveCheck>['probes'] {
  return [
    { kind: 'link', path: joinPath(root, CURRENT_LINK) },
    { kind: 'link', path: joinPath(root, PREVIOUS_LINK) },
    { kind: 'exists', path: joinPath(root, VERSIONS_DIR) },
    { kind: 'read', path: joinPath(root, STATE_FILE) },
    { kind: 'read', path: REGISTRY_FILE },
    ...(purge ? [{ kind: 'exists' as const, path: root }] : []),
  ];
}

/** True when the host's registry text (as formatStateJson writes it) names `app`; undefined when unknown. */
function registryHas(f: Facts, app: string): boolean | undefined {
  const k = factKey({ kind: 'read', path: REGISTRY_FILE });
  if (!f.has(k)) return undefined;
  const text = f.get(k);
  return text != null && text.split('\n').some((l) => l.startsWith(registryKey(app)));
}

/**
 * `ok` when nothing of the app is on the host (no current/previous link, no versions/,
 * no state.json, not in the registry; with purge, no root either), `changed` otherwise
 * (the facts are updated to the removed state); `maybe` without the facts.
 */
export function predictRemove(f: Facts, task: TaskOf<RemoveCheck>): PredictedStatus {
  const c = task.check;
  const keys = removeProbes(c.root, c.purge === true).map((p) => factKey(p));
  if (keys.some((k) => !f.has(k))) return 'maybe';
  const [cur, prev, versions, state] = keys.map((k) => f.get(k));
  const listed = registryHas(f, c.app);
  const rootThere = c.purge === true && f.get(factKey({ kind: 'exists', path: c.root })) === '1';
  const present = cur != null || prev != null || versions === '1' || state != null || listed === true;
  if (!present && !rootThere) return 'ok';
  for (const k of keys.slice(0, 4)) f.set(k, null);
  const regKey = factKey({ kind: 'read', path: REGISTRY_FILE });
  if (listed === true) f.set(regKey, f.get(regKey)!.split('\n').filter((l) => !l.startsWith(registryKey(c.app))).join('\n'));
  if (c.purge === true) f.set(factKey({ kind: 'exists', path: c.root }), null);
  return 'changed';
}

/** The internal kind: predicted like any other, never written in a playbook. */
export const remove = { name: 'remove' as const, predict: predictRemove };
