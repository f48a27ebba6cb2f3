/**
 * Host-side state (docs/how-it-works.md "What orch leaves on a host"): `<root>/.orch/state.json` and `~/.orch/registry.json`.
 * Computed on the control machine from what the host reported (facts) and what the run
 * changed, then written by the step's script to a temp name and renamed.
 * Source: "The Ultimate Python Deployment System" (auditing installed versions).
 */

/** One history entry. `at` is ISO-8601 UTC; `by` is `user@control-host`. */
export interface HistoryEntry {
  version: string;
  sha256: string;
  action: 'install' | 'switch' | 'rollback' | 'prune' | 'bad';
  at: string;
  by: string;
  /** `bad` entries: what failed (`healthcheck`, `service`). */
  reason?: string;
}

/** `<root>/.orch/state.json`. */
export interface AppState {
  app: string;
  root: string;
  current: string | null;
  previous: string | null;
  history: HistoryEntry[];
  /** Versions whose healthcheck failed: version -> sha256 (skipped by converge until the sha256 changes). */
  bad?: Record<string, string>;
}

/** `~/.orch/registry.json`. */
export interface Registry {
  apps: Record<string, string>;
}

/** Most recent history entries kept in state.json. */
export const HISTORY_LIMIT = 200;

/** Parses state.json text; undefined when absent or unreadable (a damaged file is rebuilt). */
export function parseState(text: string | null | undefined): AppState | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as AppState;
    if (typeof v !== 'object' || v === null || !Array.isArray(v.history)) return undefined;
    return v;
  } catch {
    return undefined;
  }
}

/** Parses registry.json text; an empty registry when absent or unreadable. */
export function parseRegistry(text: string | null | undefined): Registry {
  if (!text) return { apps: {} };
  try {
    const v = JSON.parse(text) as Registry;
    if (typeof v === 'object' && v !== null && typeof v.apps === 'object' && v.apps !== null) return { apps: { ...v.apps } };
  } catch {
    /* rebuilt below */
  }
  return { apps: {} };
}

/** A change to record. */
export interface StateChange {
  action: HistoryEntry['action'];
  app: string;
  root: string;
  version: string;
  sha256: string;
  at: string;
  by: string;
  /** Current link target version as seen on the host (used when state.json is missing). */
  currentOnHost?: string | null;
}

/** Returns the state after `change` (pure; `prev` is not modified). */
export function nextState(prev: AppState | undefined, change: StateChange): AppState {
  const s: AppState = prev
    ? { ...prev, history: [...prev.history], ...(prev.bad && { bad: { ...prev.bad } }) }
    : { app: change.app, root: change.root, current: change.currentOnHost ?? null, previous: null, history: [] };
  s.app = change.app;
  s.root = change.root;
  if (change.action === 'switch' || change.action === 'rollback') {
    const cur = s.current ?? change.currentOnHost ?? null;
    if (cur !== change.version) {
      s.previous = cur;
      s.current = change.version;
    }
  }
  s.history.push({ version: change.version, sha256: change.sha256, action: change.action, at: change.at, by: change.by });
  if (s.history.length > HISTORY_LIMIT) s.history = s.history.slice(-HISTORY_LIMIT);
  return s;
}

/** Human-readable, stable JSON (2-space indent). */
export function formatStateJson(v: AppState | Registry): string {
  return JSON.stringify(v, null, 2);
}

/** Records `version` (with `sha256`) as bad: converge will not deploy it again until its sha256 changes. */
export function markBad(prev: AppState, version: string, sha256: string, at: string, by: string, reason?: string): AppState {
  const s: AppState = { ...prev, history: [...prev.history], bad: { ...(prev.bad ?? {}), [version]: sha256 } };
  s.history.push({ version, sha256, action: 'bad', at, by, ...(reason !== undefined && { reason }) });
  if (s.history.length > HISTORY_LIMIT) s.history = s.history.slice(-HISTORY_LIMIT);
  return s;
}
