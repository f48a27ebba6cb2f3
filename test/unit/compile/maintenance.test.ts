/** `maintenance: {on, off}` compiled as the run's only steps (src/compile/maintenance.ts). */
import { describe, expect, it } from 'vitest';
import { playbookForMaintenance } from '../../../src/compile/maintenance.js';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import { compileYaml } from './helpers.js';

const INVENTORY = `
hosts:
  web1: {}
  web2: {}
  lb1: {}
roles:
  web: [web1, web2]
  lb: [lb1]
`;

const PLAYBOOK = `
templates:
  site:
    steps:
      - run: { cmd: "echo deploy" }
    maintenance:
      on:
        - run: { cmd: "echo on {{host.name}}" }
      off:
        - run: { cmd: "echo off" }
serial: 1
roles: { host: web, lb: lb }
steps:
  - run: { cmd: "echo root" }
drain:
  - run: { cmd: "echo drain", on: lb }
nodes:
  shop:
    extends: site
  plain:
    steps:
      - run: { cmd: "echo plain" }
`;

describe('maintenance', () => {
  it.each(['on', 'off'] as const)('%s: only the maintenance lists run (inherited from a template), no serial, no drain', async (mode) => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: PLAYBOOK });
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    // The same playbook, rewritten (compileYaml loads it; here the rewrite is applied to a fresh load).
    const { loadPlaybook } = await import('../../../src/config/playbook.js');
    const { SourceIndexImpl } = await import('../../../src/config/source-index.js');
    const index = new SourceIndexImpl();
    const pb = (await loadPlaybook(`${res.dir}/playbook.yml`, index)).playbook!;
    const sel = playbookForMaintenance(pb, index, mode);
    expect(sel.diagnostics).toEqual([]);
    expect(sel.playbook!.root.steps).toEqual([]);
    expect(sel.playbook!.root.drain).toBeUndefined();
    expect(sel.playbook!.root.serial).toBeUndefined();
    expect(sel.playbook!.templates.get('site')!.steps!.map((s) => s.args.cmd)).toEqual([mode === 'on' ? 'echo on {{host.name}}' : 'echo off']);
    const shop = sel.playbook!.root.nodes!.find(([n]) => n === 'shop')![1];
    expect(shop.steps).toBeUndefined(); // inherits the template's (rewritten) list
    expect(sel.playbook!.root.nodes!.find(([n]) => n === 'plain')![1].steps).toEqual([]);
  });

  it('refuses a playbook without maintenance:', async () => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: 'steps:\n  - run: { cmd: "true" }\n' });
    const { loadPlaybook } = await import('../../../src/config/playbook.js');
    const { SourceIndexImpl } = await import('../../../src/config/source-index.js');
    const index = new SourceIndexImpl();
    const pb = (await loadPlaybook(`${res.dir}/playbook.yml`, index)).playbook!;
    const sel = playbookForMaintenance(pb, index, 'on');
    expect(sel.playbook).toBeUndefined();
    expect(sel.diagnostics.map((d) => d.message)).toEqual([`${res.dir}/playbook.yml has no maintenance: key (add maintenance: {on: [steps], off: [steps]} to the node whose hosts go into maintenance)`]);
  });
});
