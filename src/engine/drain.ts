/**
 * Drain and undrain around a batch (Ansible's rolling update: pre_tasks that take each
 * batch out of haproxy and post_tasks that put it back, delegated to the load balancers;
 * https://docs.ansible.com/ansible/latest/playbook_guide/playbooks_delegation.html).
 *
 * The node's `drain:` steps run on their `on:` hosts (another role's: load balancers,
 * never in a batch) before the batch's hosts switch; its `undrain:` steps after the batch
 * is healthy. The steps were compiled per batch, with the batch in scope
 * (src/compile/compile-plan.ts, `compileAround`); here they run through the ordinary host
 * lanes, on every `on:` host at once. A failed drain or undrain stops the rollout.
 */
import type { PlanPhase } from '../steps/plan.js';

/** What drain needs from the run (a part of lanes.ts's LaneHooks). */
export interface AroundHooks {
  isFailed(host: string): boolean;
  runLane(phase: number, host: string, from?: number, to?: number): Promise<void>;
  interrupted(): string | undefined;
}

/**
 * Runs the `which` steps of batch `bi` of phase `pi` on the phase's drain hosts, in
 * parallel. Resolves with why the rollout stops (a drain host failed), else undefined;
 * nothing to run resolves at once.
 */
export async function runAround(phase: PlanPhase, pi: number, bi: number, which: 'drain' | 'undrain', hooks: AroundHooks): Promise<string | undefined> {
  const range = phase.around?.[bi]?.[which];
  if (!range || range[0] === range[1] || hooks.interrupted()) return undefined;
  const [from, to] = range;
  const hosts = (phase.aroundHosts ?? []).filter((h) => phase.steps.slice(from, to).some((s) => s.tasks[h]));
  const down = hosts.filter((h) => hooks.isFailed(h));
  if (!down.length) await Promise.all(hosts.map((h) => hooks.runLane(pi, h, from, to)));
  const failed = hosts.filter((h) => hooks.isFailed(h));
  if (!failed.length) return undefined;
  const node = phase.node || '(root)';
  const batch = phase.batches[bi] ?? [];
  return which === 'drain'
    ? `node ${node}: drain of batch ${bi + 1} (${batch.join(', ')}) failed on ${failed.join(', ')}; the batch was not switched and later batches and nodes were not started`
    : `node ${node}: undrain of batch ${bi + 1} (${batch.join(', ')}) failed on ${failed.join(', ')}; the batch runs the new release but may still be drained, and later batches and nodes were not started`;
}
