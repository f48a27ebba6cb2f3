import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { makeBatches, parseMaxFail, parseMaxFailPercentage } from '../../../src/compile/compile-plan.js';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import { compileYaml, hostsOf } from './helpers.js';

/** A `run` step's command as its script holds it: the user's command as the function the host library runs in a subshell. */
const runCmd = (cmd: string): string => `orch_cmd() { :\n${cmd}\n}\norch_run `;

const INVENTORY = `
defaults:
  vars: { env: prod, tier: default-tier }
hosts:
  web1: { address: 10.0.0.11 }
  web2: { address: 10.0.0.12, vars: { tier: web2-tier } }
  db1: { address: 10.0.0.21 }
  db2: { address: 10.0.0.22 }
  lb1: { address: 10.0.0.31 }
roles:
  web: [web1, web2]
  db: ["db*"]
  lb: [lb1]
groups:
  prod: { hosts: [web1, db1, lb1], vars: { tier: prod-tier } }
`;

const NESTED = `
inventory: inventory.yml
vars: { app: shop }
templates:
  service_app:
    required: [root]
    roles: { host: web }
    steps:
      - install: { bundle: shop }
      - symlink: {}
      - service: { name: "{{app}}", action: restart, manager: supervisor }
roles: { web: web, db: db, edge: [web, lb] }
nodes:
  site:
    vars: { root: /srv/site-default }
    nodes:
      shop:
        extends: service_app
      replica:
        roles: { master: db }
        steps:
          - run: { cmd: "echo {{root}} {{tier}}" }
            once: true
            on: master
  edge:
    roles: { host: edge }
    steps:
      - put: { dest: "/etc/edge/{{host.name}}.conf", content: "tier={{tier}}\\n" }
site__shop__root: /srv/shop-blue
site__replica__root: /srv/replica
`;

describe('compilePlan: nodes, roles, extends, overrides', () => {
  it('maps roles through nested nodes and sends each step to the right hosts only', async () => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: NESTED });
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(res.plan!.phases.map((p) => p.node)).toEqual(['site.shop', 'site.replica', 'edge']);
    expect(hostsOf(res, 'site.shop', 0)).toEqual(['web1', 'web2']);
    expect(hostsOf(res, 'site.replica', 0)).toEqual(['db1']); // once: first of the role, sorted
    expect(hostsOf(res, 'edge', 0)).toEqual(['lb1', 'web1', 'web2']);
    expect(res.plan!.targets).toEqual(['db1', 'lb1', 'web1', 'web2']);
  });

  it('applies an override set two levels above its target (outermost wins over the node var)', async () => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: NESTED });
    const install = res.plan!.phases[0]!.steps[0]!.tasks.web1!;
    expect(install.check).toEqual({ kind: 'install', root: '/srv/shop-blue', version: '1.2.0', sha256: 'a'.repeat(64), bundleFile: `/srv/shop-blue/.orch/bundles/${'a'.repeat(64)}.tar.gz` });
    const run = res.plan!.phases[1]!.steps[0]!.tasks.db1!;
    expect(run.script).toContain(runCmd('echo /srv/replica prod-tier'));
  });

  it('renders put content per host with group and host vars precedence', async () => {
    const res = await compileYaml({ inventory: INVENTORY, playbook: NESTED });
    const step = res.plan!.phases[2]!.steps[0]!;
    const content = (h: string): string => Buffer.from((step.tasks[h]!.payload as { base64: string }).base64, 'base64').toString();
    expect(content('web1')).toBe('tier=prod-tier\n'); // group var beats defaults
    expect(content('web2')).toBe('tier=web2-tier\n'); // host var beats defaults
    expect(content('lb1')).toBe('tier=prod-tier\n');
    expect(step.tasks.web1!.check).toMatchObject({ kind: 'put', dest: '/etc/edge/web1.conf' });
  });

  it('--limit narrows every phase; --node keeps one subtree', async () => {
    const limited = await compileYaml({ inventory: INVENTORY, playbook: NESTED, limit: 'web:!web2' });
    expect(limited.plan!.targets).toEqual(['web1']);
    expect(limited.plan!.phases.map((p) => p.node)).toEqual(['site.shop', 'edge']);
    const sub = await compileYaml({ inventory: INVENTORY, playbook: NESTED, node: 'site.replica' });
    expect(sub.plan!.phases.map((p) => p.node)).toEqual(['site.replica']);
  });

  it('knows the hosts a run connects to before compiling: the plan\'s targets, under --limit, --node, on: and once', async () => {
    const cases: Array<{ limit?: string; node?: string }> = [{}, { limit: 'web:!web2' }, { limit: 'db*' }, { node: 'site.replica' }, { node: 'site.shop' }, { limit: 'lb1' }];
    for (const c of cases) {
      const res = await compileYaml({ inventory: INVENTORY, playbook: NESTED, ...c });
      expect(res.plan, JSON.stringify(c)).toBeDefined();
      expect(res.candidates, JSON.stringify(c)).toEqual(res.plan!.targets);
    }
    // site.replica's only step runs once, on the first db host: db2 is never contacted.
    expect((await compileYaml({ inventory: INVENTORY, playbook: NESTED, node: 'site.replica' })).candidates).toEqual(['db1']);
    // A problem the compile reports: no candidates, so nothing is contacted.
    expect((await compileYaml({ inventory: INVENTORY, playbook: NESTED, limit: 'nothing*' })).candidates).toBeUndefined();
    expect((await compileYaml({ inventory: INVENTORY, playbook: NESTED, node: 'site.nope' })).candidates).toBeUndefined();
  });

  it('reports a pattern that matches nothing and an unknown --node', async () => {
    const none = await compileYaml({ inventory: INVENTORY, playbook: NESTED, limit: 'nothing*' });
    expect(none.diagnostics[0]!.message).toMatch(/^--limit "nothing\*" matches no host/);
    const bad = await compileYaml({ inventory: INVENTORY, playbook: NESTED, node: 'site.nope' });
    expect(bad.diagnostics[0]!.message).toBe('no node "site.nope" (nodes: site, site.shop, site.replica, edge)');
  });
});

describe('compilePlan: variables', () => {
  const pb = (extra = ''): string => `
inventory: inventory.yml
vars: { x: playbook, root: /srv/a }
nodes:
  a:
    vars: { x: node-a }
    ${extra}
    nodes:
      b:
        vars: { x: node-b }
        steps:
          - run: { cmd: "echo {{x}}" }
`;
  it.each([
    ['node var of the leaf', pb(), {}, 'node-b'],
    ['override beats the node var', pb('b__x: override'), {}, 'override'],
    ['-e beats everything', pb('b__x: override'), { x: 'cli' }, 'cli'],
  ])('%s', async (_name, playbook, extraVars, want) => {
    const res = await compileYaml({ inventory: INVENTORY, playbook, extraVars, limit: 'web1' });
    expect(res.diagnostics).toEqual([]);
    expect(res.plan!.phases[0]!.steps[0]!.tasks.web1!.script).toContain(runCmd(`echo ${want}`));
  });

  it('shell-quotes every {{x}} in commands and inserts {{{x}}} raw', async () => {
    const res = await compileYaml({
      inventory: INVENTORY, limit: 'web1', extraVars: { evil: "a'b; touch /tmp/pwned $(id)" },
      playbook: `inventory: inventory.yml\nsteps:\n  - run: { cmd: "printf '%s|' {{evil}} {{{raw}}}" }\nvars: { raw: "$HOME" }\n`,
    });
    expect(res.diagnostics).toEqual([]);
    const script = res.plan!.phases[0]!.steps[0]!.tasks.web1!.script;
    expect(script).toContain(runCmd(`printf '%s|' 'a'\\''b; touch /tmp/pwned $(id)' $HOME`));
    const outp = execFileSync('bash', ['-c', `HOME=/home/x; printf '%s|' 'a'\\''b; touch /tmp/pwned $(id)' $HOME`]).toString();
    expect(outp).toBe("a'b; touch /tmp/pwned $(id)|/home/x|");
  });

  it('lets var values be templates of other vars, and reports a cycle', async () => {
    const ok = await compileYaml({ inventory: INVENTORY, limit: 'web1', playbook: `inventory: inventory.yml\nvars: { app: shop, root: "/srv/{{app}}" }\nsteps:\n  - run: { cmd: "ls {{root}}" }\n` });
    expect(ok.plan!.phases[0]!.steps[0]!.tasks.web1!.script).toContain(runCmd('ls /srv/shop'));
    const cyc = await compileYaml({ inventory: INVENTORY, limit: 'web1', playbook: `inventory: inventory.yml\nvars: { a: "{{b}}", b: "{{a}}" }\nsteps:\n  - run: { cmd: "ls {{a}}" }\n` });
    expect(cyc.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/refers to itself/)]);
  });

  it('masks secret vars in the masker', async () => {
    const res = await compileYaml({ inventory: INVENTORY, limit: 'web1', extraVars: { token: 's3cr3t-value' }, playbook: `inventory: inventory.yml\nsecret: [token]\nsteps:\n  - run: { cmd: "curl -H {{token}} x" }\n` });
    expect(res.masker.mask(res.plan!.phases[0]!.steps[0]!.tasks.web1!.script)).toContain('curl -H *** x');
  });
});

describe('compilePlan: diagnostics with positions', () => {
  it('reports a missing required var, an undefined template variable and an unknown override target, all at once', async () => {
    const res = await compileYaml({
      inventory: INVENTORY,
      playbook: [
        'inventory: inventory.yml',
        'nodes:',
        '  shop:',
        '    required: [root]',
        '    steps:',
        '      - run: { cmd: "echo {{nope}}" }',
        'nothere__x: 1',
        '',
      ].join('\n'),
    });
    const lines = res.diagnostics.map(formatDiagnostic).map((l) => l.replace(res.dir + '/', ''));
    expect(lines).toEqual([
      'playbook.yml:7:1: nothere__x: override targets node "nothere", which does not exist',
    ]);
    const res2 = await compileYaml({
      inventory: INVENTORY,
      playbook: ['inventory: inventory.yml', 'nodes:', '  shop:', '    required: [root]', '    steps:', '      - run: { cmd: "echo {{nope}}" }', ''].join('\n'),
    });
    const lines2 = res2.diagnostics.map(formatDiagnostic).map((l) => l.replace(res2.dir + '/', ''));
    expect(lines2).toEqual([
      'playbook.yml:4:5: nodes.shop.required: required var "root" of node shop is not set (set it in vars, with an override shop__root, or -e root=...)',
      'playbook.yml:6:16: nodes.shop.steps[0].run.cmd: undefined variable "nope"',
    ]);
  });
});

describe('serial and max_fail', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e'];
  it.each([
    [undefined, [['a', 'b', 'c', 'd', 'e']]],
    [2, [['a', 'b'], ['c', 'd'], ['e']]],
    ['40%', [['a', 'b'], ['c', 'd'], ['e']]],
    ['10%', [['a'], ['b'], ['c'], ['d'], ['e']]],
    [[1, '50%'], [['a'], ['b', 'c'], ['d', 'e']]],
    // Ansible's list form: the last size repeats; a percentage is of all the node's hosts.
    [[1, '50%', '100%'], [['a'], ['b', 'c'], ['d', 'e']]],
    [[1, '10%', '100%'], [['a'], ['b'], ['c', 'd', 'e']]],
  ] as const)('serial %j', (serial, want) => {
    expect(makeBatches(hosts, serial as never)).toEqual(want);
  });
  // ansible-core's pct_to_int (lib/ansible/utils/helpers.py): int((pct / 100.0) * n) or 1 —
  // truncated in float arithmetic, so 29 % of 100 hosts is 28, and never 0.
  it.each([
    ['29%', 100, 28],
    ['50%', 5, 2],
    ['50%', 4, 2],
    ['33%', 10, 3],
    ['1%', 10, 1],
    ['100%', 7, 7],
    ['57%', 100, 56],
  ] as const)('serial %s of %i hosts: first batch of %i (as Ansible)', (serial, n, want) => {
    const many = Array.from({ length: n }, (_, i) => `h${String(i).padStart(3, '0')}`);
    expect((makeBatches(many, serial) as string[][])[0]).toHaveLength(want);
  });
  it.each([[25, { percent: 25 }], ['10%', { percent: 10 }], [0, { percent: 0 }], [101, 'max_fail_percentage must be a number from 0 to 100 (got 101)']] as const)('max_fail_percentage %j', (v, want) => {
    expect(parseMaxFailPercentage(v)).toEqual(want);
  });
  it.each([[0, { count: 0 }], ['25%', { percent: 25 }], ['3', { count: 3 }], ['x', 'max_fail must be a whole number >= 0 or "P%" (got "x")']] as const)('max_fail %j', (v, want) => {
    expect(parseMaxFail(v)).toEqual(want);
  });
});

describe('node rollback: false (issue 11)', () => {
  const playbook = (node: string): string => [
    'vars: { app: shop, root: /srv/shop }',
    'bundles: { shop: { source: app } }',
    'templates:',
    '  quiet: { rollback: false }',
    'nodes:',
    ...node.split('\n').map((l) => `  ${l}`),
    '',
  ].join('\n');
  const steps = [
    '    steps:',
    '      - install: { bundle: shop }',
    '      - symlink: {}',
    '      - service: { name: shop, manager: command, command: "true" }',
    '      - healthcheck: { cmd: "true" }',
  ].join('\n');
  const rollbacks = async (node: string): Promise<boolean[]> => {
    const res = await compileYaml({ inventory: 'hosts:\n  a: { address: 10.0.0.1 }\n', playbook: playbook(node) });
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    return res.plan!.phases[0]!.steps.slice(2).map((s) => s.tasks.a!.rollback !== undefined);
  };
  it('service and healthcheck roll back by default; a node (or its template) opts out; a step\'s own key wins', async () => {
    expect(await rollbacks(`shop:\n${steps}`)).toEqual([true, true]);
    expect(await rollbacks(`shop:\n    rollback: false\n${steps}`)).toEqual([false, false]);
    expect(await rollbacks(`shop:\n    extends: quiet\n${steps}`)).toEqual([false, false]);
    expect(await rollbacks(`shop:\n    rollback: false\n${steps.replace('{ cmd: "true" }', '{ cmd: "true", rollback: true }')}`)).toEqual([false, true]);
  });
  it('refuses a rollback that is not true or false at file:line:col', async () => {
    const res = await compileYaml({ inventory: 'hosts:\n  a: { address: 10.0.0.1 }\n', playbook: playbook(`shop:\n    rollback: "no"\n${steps}`) });
    expect(res.diagnostics.map(formatDiagnostic).join('\n')).toMatch(/playbook\.yml:7:7: nodes\.shop\.rollback: must be true or false$/);
  });
});

describe('node shared: (issue 11)', () => {
  const compile = (node: string) => compileYaml({
    inventory: 'hosts:\n  a: { address: 10.0.0.1 }\n',
    playbook: ['vars: { app: shop, root: /srv/shop }', 'bundles: { shop: { source: app } }', 'nodes:', '  shop:', ...node.split('\n').map((l) => `    ${l}`), ''].join('\n'),
  });
  it('every install of the node links the node\'s paths, then the step\'s own (once each)', async () => {
    const res = await compile('shared: [instance/, config.py]\nsteps:\n  - install: { bundle: shop, shared: [log/, config.py] }');
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(res.plan!.phases[0]!.steps[0]!.tasks.a!.script).toContain('\nORCH_INSTALL_SHARED=(instance/ config.py log/)\n');
  });
  it('refuses a path outside the release at the node key', async () => {
    const res = await compile('shared: [ok/, ../etc]\nsteps:\n  - install: { bundle: shop }');
    expect(res.diagnostics.map(formatDiagnostic).join('\n')).toMatch(/playbook\.yml:5:19: nodes\.shop\.shared\[1\]: shared paths are relative to the release, without \. or \.\. parts \(a trailing \/ means a folder\): got "\.\.\/etc"$/);
  });
});

describe('compilePlan: labels', () => {
  it('renders labels per host and masks secrets in them', async () => {
    const res = await compileYaml({
      inventory: 'hosts:\n  a: { address: 10.0.0.1 }\n  b: { address: 10.0.0.2 }\n',
      playbook: [
        'secret: [pw]',
        'vars: { app: shop, pw: Sekr1t-label, root: /srv/shop }',
        'steps:',
        '  - service: { name: "{{app}}", manager: command, command: "true" }',
        '  - run: { cmd: "login {{pw}} {{env \\"TOK\\"}}" }',
        '  - healthcheck: { http: "http://{{host.address}}:8000/health", rollback: false }',
        '',
      ].join('\n'),
      env: { TOK: 'env-tok-secret' },
    });
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    const [svc, run, hc] = res.plan!.phases[0]!.steps;
    expect(svc!.name).toBe('service restart shop');
    expect(run!.name).toBe('run login *** ***');
    expect([hc!.name, hc!.tasks.a!.label, hc!.tasks.b!.label]).toEqual(['healthcheck http://10.0.0.1:8000/health', undefined, 'healthcheck http://10.0.0.2:8000/health']);
  });
});

describe('canary stages: serial list, bake, max_fail_percentage', () => {
  const compile = (node: string) => compileYaml({
    inventory: `hosts:\n${['a', 'b', 'c', 'd', 'e'].map((h, i) => `  ${h}: { address: 10.0.0.${i + 1} }`).join('\n')}\n`,
    playbook: ['vars: { app: shop, root: /srv/shop }', 'bundles: { shop: { source: app } }', 'nodes:', '  shop:', ...node.split('\n').map((l) => `    ${l}`), ''].join('\n'),
  });
  const steps = 'steps:\n  - install: { bundle: shop }\n  - symlink: {}\n  - healthcheck: { cmd: "true" }';
  it('compiles the stages and the bake (ms) into the plan', async () => {
    const res = await compile(`serial: [1, "50%", "100%"]\nbake: 5s\nmax_fail_percentage: 20\n${steps}`);
    expect(res.diagnostics.map(formatDiagnostic)).toEqual([]);
    const ph = res.plan!.phases[0]!;
    expect(ph.batches).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
    expect(ph.bake).toBe(5000);
    expect(ph.maxFail).toEqual({ percent: 20 });
  });
  it.each([
    ['bake: 5s\nsteps:\n  - install: { bundle: shop }\n  - symlink: {}', /playbook\.yml:5:5: nodes\.shop\.bake: bake needs a healthcheck step in this node: after the bake time its healthchecks run again on the batch$/],
    [`bake: 5 minutes\n${steps}`, /playbook\.yml:5:5: nodes\.shop\.bake: "5 minutes": expected a number of seconds or 500ms \/ 2s \/ 1m \/ 1h$/],
    [`max_fail: 1\nmax_fail_percentage: 10\n${steps}`, /playbook\.yml:6:5: nodes\.shop\.max_fail_percentage: set either max_fail or max_fail_percentage, not both/],
    [`max_fail_percentage: 150\n${steps}`, /playbook\.yml:5:5: nodes\.shop\.max_fail_percentage: must be a percentage from 0 to 100, like 25 or "25%"$/],
    [`serial: [1, "150%"]\n${steps}`, /playbook\.yml:5:5: nodes\.shop\.serial: must be a number of hosts \(1 or more\), a percentage like "25%", or a non-empty list of them$/],
  ])('refuses %j at file:line:col', async (node, want) => {
    const res = await compile(node);
    expect(res.plan).toBeUndefined();
    expect(res.diagnostics.map(formatDiagnostic).join('\n')).toMatch(want);
  });
});
