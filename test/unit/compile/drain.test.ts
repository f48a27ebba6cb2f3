/** `drain:`/`undrain:` compiled per batch on another role's hosts, with `batch` in scope. */
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import { compileYaml } from './helpers.js';

const INVENTORY = `
hosts:
  web1: { address: 10.0.0.1 }
  web2: { address: 10.0.0.2 }
  web3: { address: 10.0.0.3 }
  lb1: { address: 10.0.0.9 }
roles:
  web: [web1, web2, web3]
  lb: [lb1]
`;

const playbook = (extra: string, roles = 'roles: { host: web, lb: lb }'): string => `
vars: { root: /srv/shop }
${roles}
serial: 2
steps:
  - run: { cmd: "echo deploy" }
${extra}`;

describe('drain and undrain', () => {
  it('compiles the lists once per batch, on the lb hosts only, with the batch (name, address) in scope', async () => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: playbook(`
drain:
  - run: { cmd: "echo drain{{#each batch}} {{this.name}}={{this.address}}{{/each}}", on: lb }
undrain:
  - name: "ready {{batch.length}}"
    run: { cmd: "echo ready", on: lb }
`) });
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    const phase = res.plan!.phases[0]!;
    expect(phase.batches).toEqual([['web1', 'web2'], ['web3']]);
    expect(phase.hosts).toEqual(['web1', 'web2', 'web3']);
    expect(phase.aroundHosts).toEqual(['lb1']);
    expect(res.plan!.targets).toEqual(['lb1', 'web1', 'web2', 'web3']);
    expect(res.candidates).toEqual(['lb1', 'web1', 'web2', 'web3']);
    expect(phase.around).toEqual([{ drain: [1, 2], undrain: [2, 3] }, { drain: [3, 4], undrain: [4, 5] }]);
    expect(phase.steps.map((s) => [s.index, s.name, Object.keys(s.tasks)])).toEqual([
      [0, 'run echo deploy', ['web1', 'web2', 'web3']],
      [1, 'drain batch 1/2: run echo drain web1=10.0.0.1 web2=10.0.0.2', ['lb1']],
      [2, 'undrain batch 1/2: ready 2', ['lb1']],
      [3, 'drain batch 2/2: run echo drain web3=10.0.0.3', ['lb1']],
      [4, 'undrain batch 2/2: ready 1', ['lb1']],
    ]);
    expect(phase.steps[1]!.tasks.lb1!.script).toContain("echo drain web1=10.0.0.1 web2=10.0.0.2");
    // A saved plan with drain steps is valid against schema/plan.schema.json.
    const validate = new Ajv2020.default({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(new URL('../../../schema/plan.schema.json', import.meta.url), 'utf8')));
    expect(validate(JSON.parse(JSON.stringify(res.plan))), JSON.stringify(validate.errors)).toBe(true);
  });

  it('--limit narrows the batches, never the load balancers', async () => {
    const res = await compileYaml({ inventory: INVENTORY, limit: 'web2', playbook: playbook(`
drain:
  - run: { cmd: "echo {{#each batch}}{{this.name}}{{/each}}", on: lb }
`) });
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    const phase = res.plan!.phases[0]!;
    expect(phase.batches).toEqual([['web2']]);
    expect(phase.steps.map((s) => s.name)).toEqual(['run echo deploy', 'drain batch 1/1: run echo web2']);
    expect(res.plan!.targets).toEqual(['lb1', 'web2']);
  });

  it.each([
    ['a step without on:', 'drain:\n  - run: { cmd: "echo x" }\n', undefined, /playbook\.yml:\d+:\d+: .*drain steps run on another role's hosts \(e\.g\. a load balancer\): add on: ROLE \(roles of node \(root\): host, lb\)/],
    ['an unknown role', 'undrain:\n  - run: { cmd: "echo x", on: proxy }\n', undefined, /node \(root\) has no role "proxy" \(roles: host, lb\)/],
    ['an lb host that is also in a batch', 'drain:\n  - run: { cmd: "echo x", on: lb }\n', 'roles: { web: web, lb: lb }', /drain runs on lb1, which is also in a batch of node \(root\): give the node's own hosts role "host" \(or its steps on: ROLE\) so that role "lb" is not among them/],
  ])('refuses %s with its position', async (_what, extra, roles, message) => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: playbook(extra, roles) });
    expect(res.plan).toBeUndefined();
    expect(res.diagnostics.map(formatDiagnostic).join('\n')).toMatch(message);
  });
});
