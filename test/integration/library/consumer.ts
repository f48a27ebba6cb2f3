// A consumer of the packed orch library (test/integration/library.test.ts): type-checked with
// `tsc --strict`, then run. Plans and applies two playbooks against two fleets at once, then
// aborts a third apply mid-step. Prints one JSON object on stdout.
import { apply, bundle, loadProject, OrchError, plan, query, remove, type ApplyResult, type BuildResult, type QueryError, type QueryRow, type RunEvent, type PlanResult } from 'orch';

const [pb1, pb2, pbAbort, bundleSource, bundleOut] = process.argv.slice(2) as [string, string, string, string, string];

async function main(): Promise<void> {
  const events: Record<string, RunEvent['type'][]> = { one: [], two: [], abort: [] };
  const [p1, p2] = await Promise.all([loadProject(pb1), loadProject(pb2, { extraVars: { word: 'two' } })]);
  const plans: PlanResult[] = await Promise.all([plan(p1), plan(p2)]);
  // plan with an aborted signal rejects with the signal's reason, before connecting
  const planAbort = await plan(p1, { signal: AbortSignal.abort() }).then(() => 'resolved', (e: unknown) => (e instanceof Error ? e.name : String(e)));
  const beforeExecute: number[] = [];
  const pending = plans.map((r) => [...r.hosts.values()].flat().filter((s) => s.status !== 'ok').length);
  const applied: ApplyResult[] = await Promise.all([
    apply(p1, { onEvent: (e) => events.one!.push(e.type) }),
    apply(p2, {
      onEvent: (e) => events.two!.push(e.type),
      forks: 1,
      // called once, after the facts and before anything changes: here the step is still pending
      beforeExecute: (planned) => void beforeExecute.push([...planned.hosts.values()].flat().filter((s) => s.status !== 'ok').length),
    }),
  ]);
  const rows: (QueryRow | QueryError)[] = await query(p1);
  // remove: a playbook that installs nothing has no app to remove (an OrchError, nothing runs)
  const removeRefused = await remove(p1, { purge: true }).then(() => 'resolved', (e: unknown) => (e instanceof OrchError ? e.message : String(e)));
  const built: BuildResult = await bundle(bundleSource, { outDir: bundleOut, package: 'libpkg' });
  const controller = new AbortController();
  const p3 = await loadProject(pbAbort);
  const aborted = await apply(p3, {
    signal: controller.signal,
    onEvent: (e) => {
      events.abort!.push(e.type);
      if (e.type === 'step-start') setTimeout(() => controller.abort(), 1500);
    },
  });
  process.stdout.write(`${JSON.stringify({
    pending,
    targets: [p1.plan.targets, p2.plan.targets],
    summaries: applied.map((a) => a.summary),
    aborted: { interrupted: aborted.interrupted, summary: aborted.summary },
    planAbort,
    removeRefused,
    beforeExecute,
    queried: rows.map((r) => ('error' in r ? `${r.host}: ${r.error}` : `${r.host} ${r.app}`)),
    built: { path: built.path, package: built.package, version: built.version, sha256: built.sha256 },
    events,
    at: Date.now(),
  })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
