/**
 * orch as a library: `import { loadProject, plan, apply, query, bundle } from 'orch'`.
 *
 * The same stages the CLI runs (src/cli/run.ts is a client of these), without argv,
 * console output, `process.exit` or process-wide state: each call takes its own
 * inventories, options and event callback, so two applies with different inventories can
 * run at once in one process. Errors are thrown (ConfigError with file:line:column
 * diagnostics, OrchError).
 */
import type { BuildResult } from '../bundle/build.js';
import type { QueryError, QueryRow } from '../state/query.js';
import { loadProjectWith, type Project, type ProjectOptions } from './project.js';
import { bundle as buildBundle, type BundleOptions } from './bundle.js';
import { queryProject, type QueryOptions } from './query.js';
import { applyWith, planWith, type ApplyOptions, type ApplyResult, type PlanOptions, type PlanResult } from './run.js';

export type { Project, ProjectOptions } from './project.js';
export type { ApplyOptions, ApplyResult, PlanOptions, PlanResult, RunEvent, RunOptions } from './run.js';
export type { BundleOptions } from './bundle.js';
export type { NotifyEvent, RunHooks, RunReport } from './notify.js';
export type { Hooks, Webhook } from '../model/playbook.js';
export type { QueryOptions } from './query.js';
export type { QueryError, QueryRow } from '../state/query.js';
export type { BuildResult } from '../bundle/build.js';
export type { EngineEvent, HostResult, RunSummary } from '../engine/events.js';
export type { GatheredFacts } from '../engine/apply-plan.js';
export type { Refusal } from '../engine/bad-release.js';
export type { HostBytes, StepBytes } from '../engine/payloads.js';
export type { Plan, PlanHost } from '../steps/plan.js';
export type { HostPrediction } from '../compile/predict.js';
export { ConfigError, OrchError } from '../model/errors.js';

/** Loads the playbook and inventories, compiles the plan and builds its bundles. @throws ConfigError with every diagnostic. */
export function loadProject(playbook: string, options: ProjectOptions = {}): Promise<Project> {
  return loadProjectWith(playbook, options);
}

/**
 * Reads every target host's facts and predicts what each step would do; changes nothing on
 * any host. An unreachable host is in `unreachable`, not an exception.
 * @throws the signal's reason when `signal` aborts (the connections are closed first).
 */
export function plan(project: Project, run: PlanOptions = {}): Promise<PlanResult> {
  return planWith(project, run);
}

/**
 * Applies the project: takes each host's lock, reads facts, calls `beforeExecute`, runs the
 * steps that would change. A failed host is in the summary, not an exception. An aborted
 * `signal` stops the remote work like Ctrl-C and resolves with `interrupted: true`.
 */
export function apply(project: Project, run: ApplyOptions = {}): Promise<ApplyResult> {
  return applyWith(project, run);
}

/**
 * What orch installed on each of the project's hosts (`orch query PLAYBOOK`): one row per
 * host and app, sorted, with `drift` where the playbook would deploy another version; an
 * unreachable host is one `{ host, error }` row. Changes nothing on any host.
 * @throws the signal's reason when `signal` aborts (the connections are closed first).
 */
export function query(project: Project, options: QueryOptions = {}): Promise<(QueryRow | QueryError)[]> {
  return queryProject(project, options);
}

/**
 * Builds (or takes from the cache) the bundle of the SOURCE folder (`orch bundle`).
 * @returns the bundle's path, package, version, platform, size, sha256 and `cached`.
 */
export function bundle(source: string, options: BundleOptions = {}): Promise<BuildResult> {
  return buildBundle(source, options);
}
