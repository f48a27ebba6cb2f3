/**
 * `query` of the library: what orch installed on each host (app, current and previous
 * release, complete, incomplete and bad versions, who deployed when), read in one round trip
 * per host through its registry (src/state/query.ts, src/host/query.sh). With a project, each
 * row also says the version the playbook would deploy there when it differs (`drift`).
 */
import pLimit from 'p-limit';
import type { Plan } from '../steps/plan.js';
import type { Masker } from '../shell/mask.js';
import { parseQueryOutput, queryScript, type QueryError, type QueryRow } from '../state/query.js';
import type { Project } from './project.js';
import { openSession, type RunOptions } from './run.js';

/** query's options. */
export interface QueryOptions extends Pick<RunOptions, 'forks' | 'stepTimeoutSeconds' | 'giveUpSeconds' | 'signal'> {
  /** Only this app's rows (`--app`). */
  app?: string;
}

/** Version each host's app would get from the plan: `host\0app` -> version. */
export function wantedVersions(plan: Plan | undefined): Map<string, string> {
  const wanted = new Map<string, string>();
  for (const phase of plan?.phases ?? []) {
    for (const step of phase.steps) {
      for (const [h, t] of Object.entries(step.tasks)) if (t.state?.action === 'install') wanted.set(`${h}\0${t.state.app}`, t.state.version);
    }
  }
  return wanted;
}

/**
 * Queries `names` over the hosts of `plan` (a project's plan, or the CLI's connection plan of
 * an inventory). Rows sorted by host then app; an unreachable host is one QueryError row.
 * @throws the signal's reason when `signal` aborts (the connections are closed first).
 */
export async function queryHosts(plan: Plan, names: string[], masker: Masker, wanted: Map<string, string>, options: QueryOptions & { insecureHostKeys?: boolean; env?: NodeJS.ProcessEnv }): Promise<(QueryRow | QueryError)[]> {
  options.signal?.throwIfAborted();
  const session = await openSession({ plan, masker, options: { ...(options.insecureHostKeys && { insecureHostKeys: true }), ...(options.env && { env: options.env }) } }, options, {});
  const rows: (QueryRow | QueryError)[] = [];
  const limit = pLimit(Math.max(1, options.forks ?? 50));
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(options.signal!.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    await Promise.race([aborted, Promise.all(names.map((host) => limit(async () => {
      try {
        const conn = await session.connection(host);
        const res = await conn.exec(queryScript());
        if (res.code !== 0) throw new Error(`query failed (exit ${res.code}): ${res.stderr.toString('utf8').trim().slice(-300)}`);
        for (const row of parseQueryOutput(host, res.stdout.toString('utf8'))) {
          if (options.app !== undefined && row.app !== options.app) continue;
          const want = wanted.get(`${host}\0${row.app}`);
          if (want !== undefined && want !== row.current) row.drift = want;
          rows.push(row);
        }
      } catch (e) {
        rows.push({ host, error: masker.mask((e as Error).message.replace(`${host}: `, '')) });
      }
    })))]);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await session.close();
  }
  return rows.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : ('app' in a ? a.app : '') < ('app' in b ? b.app : '') ? -1 : 1));
}

/** What orch installed on each of the project's hosts, with `drift` where the playbook would deploy another version. */
export function queryProject(project: Project, options: QueryOptions = {}): Promise<(QueryRow | QueryError)[]> {
  const { insecureHostKeys, env } = project.options;
  return queryHosts(project.plan, project.plan.targets, project.masker, wantedVersions(project.plan), {
    ...options,
    ...(insecureHostKeys && { insecureHostKeys }),
    ...(env && { env }),
  });
}
