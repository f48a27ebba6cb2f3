/**
 * `orch remove`'s plan (src/compile/lifecycle.ts makeRemovePlan) and the internal
 * `remove` kind's prediction (src/steps/remove.ts): which phases and hosts get a remove
 * step, what it stops and deletes, and the facts -> status table.
 */
import { describe, expect, it } from 'vitest';
import { makeRemovePlan } from '../../../src/compile/lifecycle.js';
import { factKey } from '../../../src/compile/predict.js';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import type { Facts, TaskOf } from '../../../src/model/task.js';
import { formatStateJson } from '../../../src/state/state.js';
import { predictTask, type StepCheck } from '../../../src/steps/index.js';
import { predictRemove, removeProbes, type RemoveCheck } from '../../../src/steps/remove.js';
import { compileYaml } from './helpers.js';

const INVENTORY = `
hosts:
  web1: { address: 10.0.0.11, vars: { note: first } }
  web2: { address: 10.0.0.12, vars: { note: second } }
  lb1: { address: 10.0.0.31 }
roles:
  web: [web1, web2]
  lb: [lb1]
`;

const PLAYBOOK = `
inventory: inventory.yml
vars: { app: shop, root: /srv/shop }
bundles: { shop: { source: app } }
nodes:
  shop:
    roles: { host: web }
    steps:
      - package: { name: python3-venv }
      - install: { bundle: shop, before_remove: 'echo bye {{note}} {{release.dir}}', after_remove: "rm -f /etc/cron.d/{{app}}" }
      - symlink: {}
      - service: { name: shop, enabled: true, unit: "[Service]\\nExecStart=/srv/shop/current/bin/shop\\n" }
      - service: { name: shop-worker }
      - healthcheck: { http: "http://127.0.0.1:8000/" }
  proxy:
    roles: { host: lb }
    steps:
      - package: { name: nginx }
      - service: { name: nginx, action: reload }
`;

describe('makeRemovePlan', () => {
  it('one remove step per host of each phase that installs; the phase\'s services and unit files go with it; other phases stay', async () => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: PLAYBOOK });
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    // The install step keeps the hooks with the release, rendered with this release's vars.
    const inst = res.plan!.phases[0]!.steps[1]!.tasks.web2!;
    expect(inst.script).toContain(`ORCH_INSTALL_BEFORE_REMOVE='echo bye second /srv/shop/versions/1.2.0'\n`);
    expect(inst.script).toContain(`ORCH_INSTALL_AFTER_REMOVE='rm -f /etc/cron.d/shop'\n`);
    const rm = makeRemovePlan(res.plan!, false);
    if (typeof rm === 'string') throw new Error(rm);
    expect(rm.phases.map((p) => p.node)).toEqual(['shop']);
    expect(rm.targets).toEqual(['web1', 'web2']);
    const step = rm.phases[0]!.steps[0]!;
    expect(rm.phases[0]!.steps).toHaveLength(1);
    expect(step.name).toBe('remove the releases (packages, users and files outside the root stay)');
    expect(step.when).toBe('always');
    const t = step.tasks.web1!;
    expect(t.check).toEqual({ kind: 'remove', root: '/srv/shop', app: 'shop' });
    expect(t.label).toBe('remove shop from /srv/shop; stop and disable shop, shop-worker; delete /etc/systemd/system/shop.service; keep shared/');
    expect(t.payload).toBeUndefined();
    expect(t.script).toContain(`ORCH_REMOVE_SYSTEMD=(system 0 shop system 0 shop-worker)\nORCH_REMOVE_UNITS=(system 0 /etc/systemd/system/shop.service)\norch_remove /srv/shop '    "shop": ' 0 "$HOME"/.orch/registry.json\n`);
    const purge = makeRemovePlan(res.plan!, true);
    if (typeof purge === 'string') throw new Error(purge);
    expect(purge.phases[0]!.steps[0]!.tasks.web2!.label).toBe('remove shop from /srv/shop; stop and disable shop, shop-worker; delete /etc/systemd/system/shop.service; delete /srv/shop (shared/ too)');
    expect(purge.phases[0]!.steps[0]!.tasks.web2!.check).toEqual({ kind: 'remove', root: '/srv/shop', app: 'shop', purge: true });
  });

  it('a playbook without an install step has nothing to remove', async () => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: 'inventory: inventory.yml\nnodes:\n  proxy:\n    roles: { host: lb }\n    steps:\n      - package: { name: nginx }\n' });
    expect(makeRemovePlan(res.plan!, false)).toBe('the playbook has no install step, so there is no app to remove');
  });
});

describe('remove prediction', () => {
  const task = (purge: boolean): TaskOf<RemoveCheck> => ({ script: '', probes: removeProbes('/srv/shop', purge), check: { kind: 'remove', root: '/srv/shop', app: 'shop', ...(purge && { purge: true }) } });
  const reg = (apps: Record<string, string>): string => `${formatStateJson({ apps })}\n`;
  /** Facts of a host: every probe answered, absent unless given. */
  const facts = (purge: boolean, given: Record<string, string | null>): Facts => {
    const f: Facts = new Map(task(purge).probes.map((p) => [factKey(p), null]));
    for (const [k, v] of Object.entries(given)) f.set(k, v);
    return f;
  };
  it.each([
    ['nothing of the app', false, {}, 'ok'],
    ['another app in the registry only', false, { 'read:~/.orch/registry.json': reg({ shopx: '/srv/shopx' }) }, 'ok'],
    ['installed', false, { 'link:/srv/shop/current': 'versions/1', 'exists:/srv/shop/versions': '1', 'read:~/.orch/registry.json': reg({ shop: '/srv/shop' }) }, 'changed'],
    ['only in the registry', false, { 'read:~/.orch/registry.json': reg({ other: '/x', shop: '/srv/shop' }) }, 'changed'],
    ['a state.json left', false, { 'read:/srv/shop/.orch/state.json': '{}' }, 'changed'],
    ['removed, shared/ kept: plain remove', false, {}, 'ok'],
    ['removed, shared/ kept: --purge takes the root', true, { 'exists:/srv/shop': '1' }, 'changed'],
    ['purged', true, {}, 'ok'],
  ] as const)('%s: %s', (_what, purge, given, want) => {
    const f = facts(purge, given);
    expect(predictTask(f, task(purge) as TaskOf<StepCheck>)).toBe(want);
    // After a predicted removal the facts say the app is gone.
    if (want === 'changed') expect(predictRemove(f, task(purge))).toBe('ok');
  });
  it('unknown facts: maybe', () => {
    expect(predictRemove(new Map(), task(false))).toBe('maybe');
  });
});
