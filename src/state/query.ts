/**
 * `orch query`: what orch installed on a host, read in one round trip through the host's
 * registry (`~/.orch/registry.json`), so an inventory alone suffices. Like `dpkg -l` for
 * releases ("The Ultimate Python Deployment System": auditing installed versions).
 */
import { PROTOCOL_SH, QUERY_SH } from '../host/embedded.generated.js';
import { parseRegistry, parseState } from './state.js';

/** One row of `query --json` (docs/reference/cli.md). */
export interface QueryRow {
  host: string;
  app: string;
  root: string;
  current: string | null;
  previous: string | null;
  /** Complete versions (with `.orch-installed`), oldest first by version order. */
  versions: string[];
  deployed_at: string | null;
  deployed_by: string | null;
  /** sha256 of the bundle `current` came from. */
  sha256: string | null;
  /** Incomplete version folders (no `.orch-installed`): interrupted installs. */
  incomplete?: string[];
  /** Versions recorded bad by a failed healthcheck. */
  bad?: string[];
  /** With a playbook: the version it would deploy here, when that differs from `current`. */
  drift?: string;
}

/** An unreachable host. */
export interface QueryError {
  host: string;
  error: string;
}

/**
 * The host-side script (src/host/query.sh `orch_query`): prints `G <b64 registry>`, then per root of the registry
 * `R <b64 root>`, `S <b64 state.json | ->`, `C <b64 current link>`, `P <b64 previous link>`
 * and `V <b64 version> <marker sha256 | ->` per version folder, then `END`. Roots are
 * read from the registry's lines in the format orch writes (one app per line).
 */
export function queryScript(): string {
  return ['set -u', PROTOCOL_SH.trimEnd(), QUERY_SH.trimEnd(), 'orch_query', ''].join('\n');
}

const b64 = (s: string | undefined): string => (s === undefined || s === '-' ? '' : Buffer.from(s, 'base64').toString('utf8'));

/** Natural version order: `1.9.0` < `1.10.0`. */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Parses the script's output into rows (one per app of the registry). Throws when cut short. */
export function parseQueryOutput(host: string, stdout: string): QueryRow[] {
  const lines = stdout.split('\n');
  if (!lines.includes('END')) throw new Error('query output was cut short');
  const registry = parseRegistry(b64(lines.find((l) => l.startsWith('G '))?.slice(2)));
  const byRoot = new Map<string, { state?: string; current: string; previous: string; versions: [string, string][] }>();
  let cur: ReturnType<typeof byRoot.get>;
  for (const line of lines) {
    const [tag, a, b] = line.split(' ');
    if (tag === 'R') byRoot.set(b64(a), (cur = { current: '', previous: '', versions: [] }));
    else if (!cur) continue;
    else if (tag === 'S') cur.state = b64(a);
    else if (tag === 'C') cur.current = b64(a);
    else if (tag === 'P') cur.previous = b64(a);
    else if (tag === 'V') cur.versions.push([b64(a), b ?? '-']);
  }
  const rows: QueryRow[] = [];
  for (const [app, root] of Object.entries(registry.apps)) {
    const r = byRoot.get(root);
    const state = parseState(r?.state);
    const complete = (r?.versions ?? []).filter(([, m]) => m !== '-').map(([v]) => v).sort(compareVersions);
    const incomplete = (r?.versions ?? []).filter(([, m]) => m === '-').map(([v]) => v).sort(compareVersions);
    const current = r?.current ? r.current.replace(/^versions\//, '') : (state?.current ?? null);
    const previous = r?.previous ? r.previous.replace(/^versions\//, '') : (state?.previous ?? null);
    const lastSwitch = [...(state?.history ?? [])].reverse().find((h) => h.version === current && (h.action === 'switch' || h.action === 'rollback'));
    const row: QueryRow = {
      host, app, root, current, previous, versions: complete,
      deployed_at: lastSwitch?.at ?? null,
      deployed_by: lastSwitch?.by ?? null,
      sha256: (r?.versions.find(([v]) => v === current)?.[1] ?? null) || null,
    };
    if (row.sha256 === '-') row.sha256 = null;
    if (incomplete.length) row.incomplete = incomplete;
    const bad = Object.keys(state?.bad ?? {});
    if (bad.length) row.bad = bad.sort(compareVersions);
    rows.push(row);
  }
  return rows.sort((x, y) => (x.app < y.app ? -1 : x.app > y.app ? 1 : 0));
}

/** The query table: HOST, APP, CURRENT, PREVIOUS, VERSIONS, DEPLOYED, BY (+ DRIFT with a playbook). */
export function formatQueryTable(rows: (QueryRow | QueryError)[], withDrift: boolean): string {
  const head = ['HOST', 'APP', 'CURRENT', 'PREVIOUS', 'VERSIONS', 'DEPLOYED', 'BY', ...(withDrift ? ['DRIFT'] : [])];
  const cells = rows.map((r) => {
    if ('error' in r) return [r.host, '!', `unreachable: ${r.error}`];
    return [
      r.host, r.app, r.current ?? '-', r.previous ?? '-',
      [...r.versions.map((v) => (r.bad?.includes(v) ? `${v}(bad)` : v)), ...(r.incomplete ?? []).map((v) => `${v}(incomplete)`)].join(',') || '-',
      r.deployed_at ? r.deployed_at.replace(/\.\d+Z$/, 'Z') : '-', r.deployed_by ?? '-',
      ...(withDrift ? [r.drift ? `-> ${r.drift}` : ''] : []),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...cells.filter((c) => c.length === head.length).map((c) => (c[i] ?? '').length)));
  const fmt = (c: string[]): string => (c.length === head.length ? c.map((x, i) => x.padEnd(widths[i]!)).join('  ') : c.join('  ')).trimEnd();
  return `${[fmt(head), ...cells.map(fmt)].join('\n')}\n`;
}
