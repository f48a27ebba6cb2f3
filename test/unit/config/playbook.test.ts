import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/config/inventory.js';
import { loadPlaybook } from '../../../src/config/playbook.js';
import { SourceIndexImpl } from '../../../src/config/source-index.js';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import type { NodeSpec } from '../../../src/model/playbook.js';
import { STEP_KIND_NAMES } from '../../../src/steps/index.js';
import { removeTempDirs, tempFiles } from './helpers.js';

afterAll(removeTempDirs);

const DIR = 'test/fixtures/config/playbook';
const P = `${DIR}/app.yml`;
const IMP = `${DIR}/nodes/python-app.yml`;
const BASE = `${DIR}/lib/base.yml`;
const abs = (p: string) => resolve(p);
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('loadPlaybook: valid playbook', async () => {
  const index = new SourceIndexImpl();
  const r = await loadPlaybook(P, index, { home: '/home/t' });
  const pb = r.playbook!;

  it('loads without diagnostics and hashes every file read', () => {
    expect(r.diagnostics).toEqual([]);
    expect(r.fileHashes).toEqual({ [abs(P)]: sha(P), [abs(IMP)]: sha(IMP), [abs(BASE)]: sha(BASE) });
  });

  it('resolves header paths against the playbook folder (and ~/ against home)', () => {
    expect(pb.file).toBe(abs(P));
    expect(pb.inventory).toBe(abs('test/fixtures/config/inventory/prod.yml'));
    expect(pb.imports).toEqual([abs(IMP), abs(BASE)]);
    expect(pb.vars).toEqual({ app: 'shop', root: '/srv/shop' });
    expect(pb.secret).toEqual(['db_password']);
    expect([...pb.bundles.entries()]).toEqual([
      [
        'shop',
        {
          name: 'shop',
          source: abs('test/fixtures/config/apps/shop'),
          builder: 'python',
          requirements: abs('test/fixtures/config/apps/shop/requirements.txt'),
          pip_options: ['--no-deps'],
          src: { file: P, path: ['bundles', 'shop'] },
        },
      ],
      [
        'worker',
        {
          name: 'worker',
          artifact: '/home/t/dist/worker-2.0.1-linux-x86_64.tar.gz',
          prebuild_script: abs(`${DIR}/pre.sh`),
          src: { file: P, path: ['bundles', 'worker'] },
        },
      ],
    ]);
  });

  it('merges imported templates: imports of imports, later imports and own templates win', () => {
    expect([...pb.templates.keys()]).toEqual(['base_app', 'python_app', 'service_app']);
    expect(pb.templates.get('service_app')).toEqual({
      required: ['root'],
      roles: { host: 'web' },
      steps: [
        { kind: 'install', args: { bundle: 'shop' }, src: { file: P, path: ['templates', 'service_app', 'steps', 0] } },
        { kind: 'symlink', args: {}, src: { file: P, path: ['templates', 'service_app', 'steps', 1] } },
        {
          kind: 'service',
          args: { name: '{{app}}', action: 'restart', manager: 'supervisor' },
          src: { file: P, path: ['templates', 'service_app', 'steps', 2] },
        },
      ],
      overrides: {},
      src: { file: P, path: ['templates', 'service_app'] },
    });
    expect(pb.templates.get('python_app')).toEqual({
      extends: 'base_app',
      vars: { python: 'python3' },
      overrides: {},
      src: { file: IMP, path: ['templates', 'python_app'] },
    });
    expect(pb.templates.get('base_app')).toEqual({
      steps: [{ kind: 'prune', args: { keep: 3 }, src: { file: BASE, path: ['templates', 'base_app', 'steps', 0] } }],
      overrides: {},
      src: { file: BASE, path: ['templates', 'base_app'] },
    });
  });

  it('builds the root node: header keys left out, overrides collected, children in file order', () => {
    const { nodes, ...root } = pb.root;
    expect(root).toEqual({
      roles: { web: 'web', db: 'master_db' },
      overrides: { shop__root: '/srv/shop-blue' },
      src: { file: P, path: [] },
    });
    // "2" stays last although JS objects put integer-like keys first.
    expect(nodes!.map(([n]) => n)).toEqual(['shop', 'db', '2']);
    const child = (n: string): NodeSpec => nodes!.find(([k]) => k === n)![1];
    expect(child('shop')).toEqual({
      extends: 'service_app',
      vars: { root: '/srv/shop' },
      serial: '50%',
      max_fail: 1,
      overrides: {},
      src: { file: P, path: ['nodes', 'shop'] },
    });
    expect(child('2')).toEqual({
      nodes: [['inner', { extends: 'base_app', overrides: {}, src: { file: P, path: ['nodes', '2', 'nodes', 'inner'] } }]],
      overrides: {},
      src: { file: P, path: ['nodes', '2'] },
    });
  });

  it('turns steps into StepSpecs', () => {
    const db = pb.root.nodes!.find(([k]) => k === 'db')![1];
    expect(db.roles).toEqual({ master: 'db' });
    expect(db.on).toBe('master');
    const at = (i: number) => ({ file: P, path: ['nodes', 'db', 'steps', i] });
    expect(db.steps).toEqual([
      { kind: 'run', args: { cmd: 'pg_dump shop > /var/backups/shop.sql' }, once: true, name: 'backup', src: at(0) },
      { kind: 'bundle', args: { bundle: 'worker' }, src: at(1) },
      // put's src is not resolved: only header and bundle paths are.
      { kind: 'put', args: { src: 'files/app.conf', dest: '/etc/shop/app.conf', mode: '0640' }, src: at(2) },
      { kind: 'service', args: { name: 'shop', when: 'always' }, when: 'always', src: at(3) },
      { kind: 'prune', args: {}, src: at(4) },
      { kind: 'healthcheck', args: { http: 'http://127.0.0.1:8000/health', retries: 3, interval: 0.5 }, src: at(5) },
    ]);
  });

  it('keeps src refs that the index locates', () => {
    const db = pb.root.nodes!.find(([k]) => k === 'db')![1];
    expect(index.locate(db.steps![2]!.src.file, db.steps![2]!.src.path)).toEqual({ file: P, line: 33, col: 9 });
    const base = pb.templates.get('base_app')!;
    expect(index.locate(base.src.file, [...base.src.path, 'steps', 0, 'prune'])).toEqual({ file: BASE, line: 4, col: 9 });
  });
});

/** Writes `files` into a temp folder, loads `main.yml`, returns the formatted diagnostics with the folder shown as `D`. */
async function diagnosticsOf(files: Record<string, string>): Promise<string[]> {
  const t = tempFiles();
  for (const [name, content] of Object.entries(files)) t.write(name, content);
  const r = await loadPlaybook(`${t.dir}/main.yml`, new SourceIndexImpl());
  if (r.diagnostics.length === 0) expect(r.playbook).toBeDefined();
  else expect(r.playbook).toBeUndefined();
  return r.diagnostics.map(formatDiagnostic).map((s) => s.split(t.dir).join('D'));
}

// Every kind of the registry, in its order (SPEC's first eight, then kinds added since).
const STEP_KINDS = STEP_KIND_NAMES.join(', ');
it('the registry starts with SPEC\'s step kinds, in SPEC\'s order', () => {
  expect(STEP_KIND_NAMES.slice(0, 8).join(', ')).toBe('bundle, put, install, symlink, service, run, healthcheck, prune');
});
const NODE_KEYS = 'extends, roles, vars, required, steps, nodes, serial, max_fail, max_fail_percentage, bake, rollback, shared, on, actions, drain, undrain, maintenance, or an override key like child__var';

describe('loadPlaybook: invalid playbooks', () => {
  it.each<[string, Record<string, string>, string[]]>([
    [
      'put without dest',
      { 'main.yml': 'nodes:\n  shop:\n    steps:\n      - symlink: {}\n      - run: { cmd: x }\n      - put:\n          src: a.conf\n' },
      ['D/main.yml:6:9: nodes.shop.steps[2].put: missing "dest"'],
    ],
    [
      'a webhook timeout that is no duration, a webhook that is no URL, an unknown hook',
      { 'main.yml': 'notify:\n  - { webhook: "http://127.0.0.1:9/h", timeout: soon }\n  - { webhook: "ftp://x" }\nhooks:\n  pre_deploy: x\n' },
      [
        'D/main.yml:2:40: notify[0].timeout: "soon": expected a number of seconds or 500ms / 2s / 1m / 1h',
        'D/main.yml:3:7: notify[1].webhook: must match ^https?://',
        'D/main.yml:5:3: hooks.pre_deploy: unknown key "pre_deploy": did you mean "pre_apply"? (expected one of: pre_apply, post_apply, on_failure, on_rollback)',
      ],
    ],
    [
      'a webhook timeout too long',
      { 'main.yml': 'notify:\n  - { webhook: "http://127.0.0.1:9/h", timeout: 10m }\n' },
      ['D/main.yml:2:40: notify[0].timeout: timeout must be more than 0 and at most 300 s (got "10m")'],
    ],
    [
      'bad service action',
      { 'main.yml': 'steps:\n  - service: { name: shop, action: bounce }\n' },
      ['D/main.yml:2:28: steps[0].service.action: must be one of: restart, reload, start, stop'],
    ],
    [
      'service without name',
      { 'main.yml': 'steps:\n  - service: { action: restart }\n' },
      ['D/main.yml:2:5: steps[0].service: missing "name"'],
    ],
    [
      'service manager command without command',
      { 'main.yml': 'steps:\n  - service: { manager: command }\n' },
      ['D/main.yml:2:5: steps[0].service: missing "command"'],
    ],
    [
      'systemd unit of a wrong type, with two sources, a wrong scope',
      { 'main.yml': 'steps:\n  - service: { name: a, unit: 5 }\n  - service: { name: a, unit: { content: x, template: y } }\n  - service: { name: a, unit: {}, scope: usr }\n' },
      [
        'D/main.yml:2:25: steps[0].service.unit: must be a string or a map',
        'D/main.yml:3:25: steps[1].service.unit: needs exactly one of: content, template (found: content, template)',
        'D/main.yml:4:25: steps[2].service.unit: needs one of: content, template',
        'D/main.yml:4:35: steps[2].service.scope: must be one of: system, user',
      ],
    ],
    ['a step with no kind', { 'main.yml': 'steps:\n  - name: nothing\n' }, [`D/main.yml:2:5: steps[0]: needs one of: ${STEP_KINDS}`]],
    [
      'a step with two kinds',
      { 'main.yml': 'steps:\n  - run: { cmd: x }\n    symlink: {}\n' },
      [`D/main.yml:2:5: steps[0]: needs exactly one of: ${STEP_KINDS} (found: symlink, run)`],
    ],
    [
      'an unknown step key',
      { 'main.yml': 'steps:\n  - run: { cmd: x }\n    retries: 3\n' },
      [`D/main.yml:3:5: steps[0].retries: unknown key "retries" (expected one of: name, on, once, when, ${STEP_KINDS})`],
    ],
    [
      'put with src and content',
      { 'main.yml': 'steps:\n  - put: { src: a, content: b, dest: /x }\n' },
      ['D/main.yml:2:5: steps[0].put: needs exactly one of: src, content, template (found: src, content)'],
    ],
    [
      'unquoted octal mode',
      { 'main.yml': 'steps:\n  - put: { src: a, dest: /x, mode: 0644 }\n' },
      ['D/main.yml:2:30: steps[0].put.mode: must be an octal mode in quotes, like "0644" (YAML reads 0644 unquoted as the number 644)'],
    ],
    ['healthcheck without cmd or http', { 'main.yml': 'steps:\n  - healthcheck: { retries: 3 }\n' }, ['D/main.yml:2:5: steps[0].healthcheck: needs one of: cmd, http']],
    [
      'healthcheck interval "2 sec"',
      { 'main.yml': 'steps:\n  - healthcheck: { cmd: "true", interval: 2 sec }\n' },
      ['D/main.yml:2:33: steps[0].healthcheck.interval: "2 sec": expected a number of seconds or 500ms / 2s / 1m / 1h'],
    ],
    [
      'healthcheck timeout negative',
      { 'main.yml': 'steps:\n  - healthcheck: { cmd: "true", timeout: -1 }\n' },
      ['D/main.yml:2:33: steps[0].healthcheck.timeout: -1: expected a number of seconds or 500ms / 2s / 1m / 1h'],
    ],
    ['run cmd not a string', { 'main.yml': 'steps:\n  - run: { cmd: [ls] }\n' }, ['D/main.yml:2:12: steps[0].run.cmd: must be a string']],
    ['prune keep zero', { 'main.yml': 'steps:\n  - prune: { keep: 0 }\n' }, ['D/main.yml:2:14: steps[0].prune.keep: must be >= 1']],
    [
      'unknown node key',
      { 'main.yml': 'nodes:\n  shop:\n    step: []\n' },
      [`D/main.yml:3:5: nodes.shop.step: unknown key "step": did you mean "steps"? (expected one of: ${NODE_KEYS})`],
    ],
    [
      'unknown top-level key',
      { 'main.yml': 'hosts: [a]\n' },
      [
        `D/main.yml:1:1: hosts: unknown key "hosts": a playbook names its inventory (\`inventory:\`) and targets hosts by \`roles\`/\`groups\` on nodes, or with --limit (expected one of: inventory, import, vars, bundles, templates, secret, vars_files, secret_commands, become, become_user, extends, roles, required, steps, nodes, serial, max_fail, max_fail_percentage, bake, rollback, shared, on, actions, drain, undrain, maintenance, hooks, notify, or an override key like child__var)`,
      ],
    ],
    [
      'an override key must have a name before __',
      { 'main.yml': '__root: /x\n' },
      [
        `D/main.yml:1:1: __root: unknown key "__root" (expected one of: inventory, import, vars, bundles, templates, secret, vars_files, secret_commands, become, become_user, extends, roles, required, steps, nodes, serial, max_fail, max_fail_percentage, bake, rollback, shared, on, actions, drain, undrain, maintenance, hooks, notify, or an override key like child__var)`,
      ],
    ],
    [
      'bad serial and max_fail',
      { 'main.yml': 'nodes:\n  a:\n    serial: "150%"\n    max_fail: -1\n' },
      [
        'D/main.yml:3:5: nodes.a.serial: must be a number of hosts (1 or more), a percentage like "25%", or a non-empty list of them',
        'D/main.yml:4:5: nodes.a.max_fail: must be a number of hosts (0 or more) or a percentage like "10%"',
      ],
    ],
    [
      'bad role mapping',
      { 'main.yml': 'roles: { web: [] }\n' },
      ['D/main.yml:1:10: roles.web: must be a role name, "*", or a non-empty list of role names'],
    ],
    [
      'bundle with source and artifact',
      { 'main.yml': 'bundles:\n  shop: { source: a, artifact: b.tar.gz, builder: rust }\n' },
      [
        'D/main.yml:2:3: bundles.shop: needs exactly one of: source, artifact, url, channel (found: source, artifact)',
        'D/main.yml:2:42: bundles.shop.builder: must be one of: python, node, dir',
      ],
    ],
    [
      'store bundle keys (schema)',
      { 'main.yml': 'bundles:\n  a: { url: http://x/a-1-any.tar.gz }\n  c: { channel: c.json, fetch: always }\n  d: { url: http://x/d-1-any.tar.gz, sha256: ABC }\n' },
      [
        'D/main.yml:2:3: bundles.a: must have property sha256 when property url is present',
        'D/main.yml:3:25: bundles.c.fetch: must be one of: host, control, auto',
        'D/main.yml:4:38: bundles.d.sha256: sha256 must be 64 lowercase hex digits',
      ],
    ],
    [
      'store bundle keys on other bundles',
      { 'main.yml': `bundles:\n  b: { source: s, fetch: host }\n  e: { url: http://x/e-1-any.tar.gz, sha256: ${'a'.repeat(64)}, allowed_signers: k }\n  f: { source: s, pin: 1.0.0 }\n` },
      [
        'D/main.yml:2:19: bundles.b.fetch: fetch applies only to bundles from an artifact store (url + sha256, or channel + allowed_signers)',
        'D/main.yml:3:112: bundles.e.allowed_signers: allowed_signers applies only to channel bundles (a url bundle is pinned by its sha256)',
        'D/main.yml:4:19: bundles.f.pin: pin applies only to channel bundles (the version the signed channel manifest must name)',
      ],
    ],
    [
      'a pin that is not a version',
      { 'main.yml': "bundles:\n  g: { channel: c.json, allowed_signers: k, pin: 'a b' }\n" },
      ["D/main.yml:2:45: bundles.g.pin: invalid version: use letters, digits, '.', '_', '+', '-', starting with a letter or digit"],
    ],
    [
      'extends naming no template',
      { 'main.yml': 'templates:\n  base: {}\nnodes:\n  a:\n    extends: bsae\n' },
      ['D/main.yml:5:5: nodes.a.extends: unknown template "bsae" (known: base)'],
    ],
    [
      'a template extending no template',
      { 'main.yml': 'templates:\n  base: { extends: nothing }\n' },
      ['D/main.yml:2:11: templates.base.extends: unknown template "nothing" (known: base)'],
    ],
    [
      'child node names with . or __',
      { 'main.yml': 'nodes:\n  a.b: {}\n  c__d: {}\n' },
      ['D/main.yml:2:3: nodes["a.b"]: node name "a.b" must not contain "." or "__"', 'D/main.yml:3:3: nodes.c__d: node name "c__d" must not contain "." or "__"'],
    ],
    [
      'a step naming an unknown bundle',
      { 'main.yml': 'bundles:\n  shop: { source: . }\nsteps:\n  - install: { bundle: shp }\n  - bundle: "{{name}}"\n' },
      ['D/main.yml:4:16: steps[0].install.bundle: unknown bundle "shp" (known: shop)'],
    ],
    [
      'step when contradicting service when',
      { 'main.yml': 'steps:\n  - service: { name: a, when: always }\n    when: changed\n' },
      ['D/main.yml:3:5: steps[0].when: contradicts service.when "always"; give only one'],
    ],
    ['import cycle', { 'main.yml': 'import: [a.yml]\n', 'a.yml': 'import: [b.yml]\n', 'b.yml': 'import: [./a.yml]\n' }, ['D/b.yml:1:10: import[0]: import cycle: D/a.yml -> D/b.yml -> D/a.yml']],
    ['import of a missing file', { 'main.yml': 'import: [lib/none.yml]\n' }, ['D/main.yml:1:10: import[0]: cannot import "lib/none.yml": no such file']],
    [
      'an imported file with more than templates and import',
      { 'main.yml': 'import: [lib.yml]\n', 'lib.yml': 'templates: {}\nvars: { a: 1 }\n' },
      ['D/lib.yml:2:1: vars: unknown key "vars" (expected one of: templates, import)'],
    ],
    [
      'errors in an imported template',
      { 'main.yml': 'import: [lib.yml]\n', 'lib.yml': 'templates:\n  t:\n    steps:\n      - run: {}\n' },
      ['D/lib.yml:4:9: templates.t.steps[0].run: missing "cmd"'],
    ],
    ['duplicate keys', { 'main.yml': 'vars: { a: 1 }\nvars: { b: 1 }\n' }, ['D/main.yml:2:1: vars: duplicate key "vars"']],
    ['not a map', { 'main.yml': '[]\n' }, ['D/main.yml:1:1: (root): must be a map']],
  ])('%s', async (_name, files, expected) => {
    expect(await diagnosticsOf(files)).toEqual(expected);
  });

  it('reports several problems at once, across the playbook and its imports', async () => {
    expect(
      await diagnosticsOf({
        'main.yml': [
          'import: [lib.yml]',
          'vars: [1]',
          'nodes:',
          '  web:',
          '    serial: 0',
          '    steps:',
          '      - put: { dest: /etc/x }',
          '      - sevrice: { name: x }',
        ].join('\n'),
        'lib.yml': 'templates:\n  t: { on: 7 }\n',
      }),
    ).toEqual([
      'D/lib.yml:2:8: templates.t.on: must be a string',
      'D/main.yml:2:1: vars: must be a map',
      'D/main.yml:5:5: nodes.web.serial: must be a number of hosts (1 or more), a percentage like "25%", or a non-empty list of them',
      'D/main.yml:7:9: nodes.web.steps[0].put: needs one of: src, content, template',
      // The unknown key is named first (and once), with its likely spelling.
      `D/main.yml:8:9: nodes.web.steps[1].sevrice: unknown key "sevrice": did you mean "service"? (expected one of: name, on, once, when, ${STEP_KINDS})`,
    ]);
  });

  it('accepts an empty import file and a diamond of imports', async () => {
    expect(
      await diagnosticsOf({
        'main.yml': 'import: [a.yml, b.yml]\nnodes:\n  x: { extends: c }\n',
        'a.yml': 'import: [c.yml]\n',
        'b.yml': 'import: [c.yml]\n',
        'c.yml': 'templates:\n  c: {}\n',
        'empty.yml': '',
      }),
    ).toEqual([]);
  });
});

describe('loadPlaybook: common step keys inside the kind map (SPEC example style)', () => {
  it('hoists name/on/once/when out of args', async () => {
    const t = tempFiles();
    const f = t.write(
      'main.yml',
      [
        'nodes:',
        '  db:',
        '    steps:',
        '      - run: { cmd: "pg_dump shop > /var/backups/shop.sql", once: true }',
        '      - put: { content: x, dest: /x, name: conf, on: web, when: changed }',
        '      - service: { name: shop, when: always, once: true }',
      ].join('\n'),
    );
    const r = await loadPlaybook(f, new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    const steps = r.playbook!.root.nodes![0]![1].steps!.map(({ src: _src, ...s }) => s);
    expect(steps).toEqual([
      { kind: 'run', args: { cmd: 'pg_dump shop > /var/backups/shop.sql' }, once: true },
      { kind: 'put', args: { content: 'x', dest: '/x' }, name: 'conf', on: 'web', when: 'changed' },
      // service.name is the service's own name, not the step name; its when stays in args.
      { kind: 'service', args: { name: 'shop', when: 'always' }, once: true, when: 'always' },
    ]);
  });

  it('refuses the same common key with two values', async () => {
    expect(await diagnosticsOf({ 'main.yml': 'steps:\n  - run: { cmd: x, once: true }\n    once: false\n' })).toEqual([
      'D/main.yml:3:5: steps[0].once: contradicts run.once true; give only one',
    ]);
  });
});

describe('the SPEC examples', () => {
  it('load without diagnostics (inventory of section 2, playbook of section 3)', async () => {
    const index = new SourceIndexImpl();
    const pb = await loadPlaybook('test/fixtures/config/spec/playbooks/prod.yml', index);
    expect(pb.diagnostics).toEqual([]);
    expect(pb.playbook!.inventory).toBe(resolve('test/fixtures/config/spec/inventories/prod.yml'));
    const db = pb.playbook!.root.nodes!.find(([n]) => n === 'db')![1];
    expect(db.steps![0]).toMatchObject({ kind: 'run', args: { cmd: 'pg_dump shop > /var/backups/shop.sql' }, once: true });
    expect(pb.playbook!.root.overrides).toEqual({ shop__root: '/srv/shop-blue' });
    const inv = await loadInventory([pb.playbook!.inventory!], index);
    expect(inv.diagnostics).toEqual([]);
    expect(Object.fromEntries(inv.inventory!.roles)).toEqual({ web: ['web1', 'web2'], master_db: ['db1'], load_balancer: ['web1', 'web2'] });
    expect(inv.inventory!.hosts.get('db1')).toMatchObject({ jump: 'bastion', port: 2222, user: 'deploy', groups: ['europe', 'prod'] });
  });
});
