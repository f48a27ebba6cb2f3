import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseActionRef, playbookForAction } from '../../../src/compile/actions.js';
import { compilePlan } from '../../../src/compile/compile-plan.js';
import { loadInventory } from '../../../src/config/inventory.js';
import { loadPlaybook } from '../../../src/config/playbook.js';
import { SourceIndexImpl } from '../../../src/config/source-index.js';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import { Masker } from '../../../src/shell/mask.js';

const INVENTORY = `
hosts:
  web1: { address: 10.0.0.11 }
  web2: { address: 10.0.0.12 }
  db1: { address: 10.0.0.21 }
roles:
  web: [web1, web2]
  db: [db1]
`;

const PLAYBOOK = `
inventory: inventory.yml
vars: { app: shop, root: /srv/shop }
templates:
  app:
    roles: { host: web, master: [web] }
    steps:
      - run: { cmd: "echo deploy" }
    actions:
      migrate:
        - run: { cmd: "migrate {{root}}", once: true }
      logs:
        - run: { cmd: "tail {{root}}/log" }
roles: { web: web, db: db }
actions:
  uptime:
    - run: { cmd: uptime }
nodes:
  shop:
    extends: app
    vars: { root: /srv/shop-live }
    actions:
      logs:
        - run: { cmd: "tail -n 5 {{root}}/log" }
          on: master
  admin:
    extends: app
  db:
    roles: { host: db }
    steps:
      - run: { cmd: "echo db" }
`;

async function compileAction(ref: string, playbook = PLAYBOOK) {
  const dir = mkdtempSync(join(tmpdir(), 'orch-actions-'));
  writeFileSync(join(dir, 'inventory.yml'), INVENTORY);
  writeFileSync(join(dir, 'playbook.yml'), playbook);
  const index = new SourceIndexImpl();
  const pb = await loadPlaybook(join(dir, 'playbook.yml'), index);
  const inv = await loadInventory([join(dir, 'inventory.yml')], index);
  expect(pb.diagnostics.map(formatDiagnostic)).toEqual([]);
  const { node, action } = parseActionRef(ref);
  const sel = playbookForAction(pb.playbook!, index, node, action);
  if (!sel.playbook) return { diagnostics: sel.diagnostics.map(formatDiagnostic) };
  const res = compilePlan({
    playbook: sel.playbook, inventory: inv.inventory!, index, bundles: {}, extraVars: {}, env: {}, masker: new Masker(),
    readFile: (p) => readFileSync(p), sha256: (b) => createHash('sha256').update(b).digest('hex'), resolvePath: (b, p) => resolve(b, p),
    inputs: { files: {}, bundles: {}, playbook: 'playbook.yml', inventories: [], extraVars: {} },
  });
  return { plan: res.plan, diagnostics: res.diagnostics.map(formatDiagnostic) };
}

describe('parseActionRef', () => {
  it.each([
    ['shop.migrate', { node: 'shop', action: 'migrate' }],
    ['a.b.c', { node: 'a.b', action: 'c' }],
    ['uptime', { node: '', action: 'uptime' }],
  ])('%s', (ref, want) => expect(parseActionRef(ref)).toEqual(want));
});

describe('playbookForAction', () => {
  it('compiles only the action, on the node\'s hosts, with its vars and once:', async () => {
    const r = await compileAction('shop.migrate');
    expect(r.diagnostics).toEqual([]);
    expect(r.plan!.phases.map((p) => p.node)).toEqual(['shop']);
    const [step] = r.plan!.phases[0]!.steps;
    expect(step!.name).toBe('run migrate /srv/shop-live'); // the label is rendered
    expect(Object.keys(step!.tasks)).toEqual(['web1']);
    expect(step!.tasks.web1!.script).toContain('orch_cmd() { :\nmigrate /srv/shop-live\n}\n');
    expect(step!.at).toMatch(/playbook\.yml:11:11$/);
  });

  it('the node\'s own action of a name replaces the template\'s, and on: picks the role', async () => {
    const r = await compileAction('shop.logs');
    const [step] = r.plan!.phases[0]!.steps;
    expect(step!.tasks.web1!.script).toContain('orch_cmd() { :\ntail -n 5 /srv/shop-live/log\n}\n');
    expect(Object.keys(step!.tasks)).toEqual(['web1', 'web2']);
  });

  it('a template action on another node of the same template stays that node\'s', async () => {
    const r = await compileAction('admin.logs');
    expect(r.plan!.phases.map((p) => p.node)).toEqual(['admin']);
    expect(r.plan!.phases[0]!.steps[0]!.tasks.web1!.script).toContain('orch_cmd() { :\ntail /srv/shop/log\n}\n');
  });

  it('an action of the root node runs on every host of the root', async () => {
    const r = await compileAction('uptime');
    expect(r.plan!.phases.map((p) => p.node)).toEqual(['']);
    expect(Object.keys(r.plan!.phases[0]!.steps[0]!.tasks)).toEqual(['db1', 'web1', 'web2']);
  });

  it('checks the required vars of the action\'s node only', async () => {
    const pb = PLAYBOOK.replace('  admin:\n    extends: app\n', '  admin:\n    extends: app\n    required: [admin_token]\n').replace('    vars: { root: /srv/shop-live }\n', '    vars: { root: /srv/shop-live }\n    required: [db_url]\n');
    expect((await compileAction('admin.logs', pb)).diagnostics).toEqual([expect.stringMatching(/playbook\.yml:\d+:\d+: nodes\.admin\.required: required var "admin_token" of node admin is not set/)]);
    expect((await compileAction('shop.logs', pb)).diagnostics).toEqual([expect.stringMatching(/nodes\.shop\.required: required var "db_url" of node shop is not set/)]);
    expect((await compileAction('uptime', pb)).diagnostics).toEqual([]);
  });

  it.each([
    ['shop.nope', '<command line>:1:1: shop.nope: node shop has no action "nope" (actions: migrate, logs)'],
    ['db.logs', '<command line>:1:1: db.logs: node db has no action "logs" (actions: (none))'],
    ['shp.logs', '<command line>:1:1: shp.logs: the playbook has no child node "shp" (children: shop, admin, db)'],
    ['shop.x.logs', '<command line>:1:1: shop.x.logs: node shop has no child node "x" (children: (none))'],
  ])('%s is refused', async (ref, message) => {
    expect((await compileAction(ref)).diagnostics).toEqual([message]);
  });

  it('schema: an action must be a non-empty list of steps with a plain name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orch-actions-'));
    writeFileSync(join(dir, 'playbook.yml'), 'nodes:\n  a:\n    actions:\n      "bad name": [ { run: { cmd: x } } ]\n      empty: []\n');
    const pb = await loadPlaybook(join(dir, 'playbook.yml'), new SourceIndexImpl());
    expect(pb.diagnostics.map((d) => formatDiagnostic(d).replace(dir, 'D'))).toEqual([
      'D/playbook.yml:4:7: nodes.a.actions["bad name"]: must match ^[A-Za-z0-9][A-Za-z0-9_-]*$',
      'D/playbook.yml:5:7: nodes.a.actions.empty: must not be empty',
    ]);
  });
});
