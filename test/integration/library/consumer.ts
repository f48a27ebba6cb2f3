// A consumer of the packed orch library (test/integration/library.test.ts): type-checked with
// `tsc --strict`, then run. Plans and applies two playbooks against two fleets at once, then
// aborts a third apply mid-step. Prints one JSON object on stdout.
import { apply, loadProject, plan, type ApplyResult, type RunEvent, type PlanResult } from 'orch';

const [pb1, pb2, pbAbort] = process.argv.slice(2) as [string, string, string];

async function main(): Promise<void> {
  const events: Record<string, RunEvent['type'][]> = { one: [], two: [], abort: [] };
  const [p1, p2] = await Promise.all([loadProject(pb1), loadProject(pb2, { extraVars: { word: 'two' } })]);
  const plans: PlanResult[] = await Promise.all([plan(p1), plan(p2)]);
  const pending = plans.map((r) => [...r.hosts.values()].flat().filter((s) => s.status !== 'ok').length);
  const applied: ApplyResult[] = await Promise.all([
    apply(p1, { onEvent: (e) => events.one!.push(e.type) }),
    apply(p2, { onEvent: (e) => events.two!.push(e.type), forks: 1 }),
  ]);
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
    events,
    at: Date.now(),
  })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
