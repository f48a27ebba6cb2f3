/**
 * The front end through the built CLI, as a user meets it (local transport, real bash;
 * no root, no SSH): secrets too short to mask are refused and longer ones masked
 * whole (issue 18.3), YAML tags refused (18.4), helper-named vars usable (18.5),
 * `orch validate` rejecting what plan rejects, offline (issue 12.6), diagnostics
 * without cascades and with "did you mean" (12.8).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeWork, orch } from './cli.js';

let work: string;
let env: Record<string, string>;

beforeEach(() => {
  ({ dir: work, env } = makeWork('frontend'));
});

const write = (name: string, text: string): string => {
  const f = join(work, name);
  mkdirSync(join(f, '..'), { recursive: true });
  writeFileSync(f, text);
  return f;
};

const INVENTORY = 'defaults:\n  vars: { env: prod }\nhosts:\n  l1: { transport: local }\n  l2: { transport: local }\nroles:\n  app: [l1, l2]\n';

/** A playbook whose one step prints the secret on stderr and fails, so the message carries it. */
const SECRET_PLAYBOOK = (root: string, value?: string): string => `inventory: inventory.yml
secret: [db_password]
vars: { app: demo, root: ${root}${value !== undefined ? `, db_password: ${value}` : ''} }
nodes:
  app:
    steps:
      - run: { cmd: "echo login with {{db_password}} failed exactly >&2; exit 3" }
        name: exactly one login
`;

describe('secrets through the CLI (issue 18.3)', () => {
  it.each([
    ['-e', ['-e', 'db_password=x'], undefined, '<command line>:1:1: -e db_password: secret var "db_password" is 1 character long; a secret needs at least 4 characters (a shorter value cannot be masked without garbling every message)'],
    ['secret:', [], 'x', 'playbook.yml:2:10: secret[0]: secret var "db_password" is 1 character long; a secret needs at least 4 characters (a shorter value cannot be masked without garbling every message)'],
  ])('a one-character secret given with %s is refused before anything runs, naming it', async (_how, args, value, message) => {
    write('inventory.yml', INVENTORY);
    write('playbook.yml', SECRET_PLAYBOOK(join(work, 'srv'), value));
    for (const cmd of [['plan', 'playbook.yml', '--offline'], ['apply', 'playbook.yml', '--yes'], ['validate', 'playbook.yml']]) {
      const r = await orch([...cmd, ...args], env, { cwd: work });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr.trim()).toBe(message);
      expect(r.stdout + r.stderr).not.toContain('e***actly');
    }
    expect(readdirSync(work)).not.toContain('srv');
  });

  it.each([
    ['-e', ['-e', 'db_password=password'], undefined],
    ['secret:', [], 'password'],
  ])('a "password" secret given with %s is masked as a whole word and nothing else is garbled', async (_how, args, value) => {
    write('inventory.yml', INVENTORY);
    write('playbook.yml', SECRET_PLAYBOOK(join(work, 'srv'), value));
    const plan = await orch(['plan', 'playbook.yml', '--offline', ...args], env, { cwd: work });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('exactly one login');

    const text = await orch(['apply', 'playbook.yml', '--yes', ...args], env, { cwd: work });
    expect(text.code).toBe(4);
    expect(text.stdout + text.stderr).toContain('login with *** failed exactly');
    expect(text.stdout + text.stderr).not.toContain('password');

    const json = await orch(['apply', 'playbook.yml', '--yes', '--json', ...args], env, { cwd: work });
    expect(json.code).toBe(4);
    expect(json.stdout).toContain('login with *** failed exactly');
    expect(json.stdout + json.stderr).not.toContain('password');
    for (const line of json.stdout.trim().split('\n')) JSON.parse(line); // masking kept every line valid JSON
  });

  it('an {{env}} value shorter than 4 characters is refused where it is read', async () => {
    write('inventory.yml', INVENTORY);
    write('playbook.yml', 'inventory: inventory.yml\nvars: { app: demo, root: /tmp/x }\nnodes:\n  app:\n    steps:\n      - run: { cmd: \'curl -u {{env "API_TOKEN"}} http://127.0.0.1:9/\' }\n');
    const r = await orch(['validate', 'playbook.yml'], { ...env, API_TOKEN: 'ab' }, { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('playbook.yml:6:16: nodes.app.steps[0].run.cmd: environment variable "API_TOKEN" (read with {{env}}, so a secret) is 2 characters long; a secret needs at least 4 characters (a shorter value cannot be masked without garbling every message)');
  });
});

describe('YAML tags (issue 18.4)', () => {
  it.each([
    ['--- !!python/object:os.system\nhosts:\n  l1: { transport: local }\n', 'inventory.yml:1:5: (root): unknown YAML tag "!!python/object:os.system"'],
    ['hosts:\n  l1: !foo { transport: local }\n', 'inventory.yml:2:7: hosts.l1: unknown YAML tag "!foo"'],
  ])('%j is refused with file:line:col', async (yaml, start) => {
    write('inventory.yml', yaml);
    write('playbook.yml', 'inventory: inventory.yml\nvars: { app: demo, root: /tmp/x }\nnodes:\n  app:\n    steps:\n      - run: { cmd: "true" }\n');
    for (const cmd of [['validate', 'inventory.yml'], ['plan', 'playbook.yml', '--offline']]) {
      const r = await orch(cmd, env, { cwd: work });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`${start} (only the YAML 1.2 core schema's tags are allowed: !!map, !!seq, !!str, !!null, !!bool, !!int, !!float)`);
    }
  });
});

describe('variables named like helpers (issue 18.5)', () => {
  it('the inventory example of docs/reference/inventory.md works as written: {{env}} is the var, {{env "NAME"}} the helper', async () => {
    write('inventory.yml', INVENTORY);
    write('playbook.yml', 'inventory: inventory.yml\nvars: { app: "shop-{{env}}", root: "/tmp/{{env}}" }\nnodes:\n  app:\n    steps:\n      - run: { cmd: "echo {{env}} {{env \\"STAGE\\"}}" }\n        name: "deploy {{app}} to {{env}} ({{env \\"STAGE\\"}})"\n');
    const r = await orch(['plan', 'playbook.yml', '--offline'], { ...env, STAGE: 'blue' }, { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('deploy shop-prod to prod (***)');
    expect(r.stdout).not.toContain('blue');
    const json = await orch(['plan', 'playbook.yml', '--offline', '--json'], { ...env, STAGE: 'blue' }, { cwd: work });
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).toContain('deploy shop-prod to prod (***)');
    expect(json.stdout).not.toContain('blue');
  });
});

describe('orch validate (issue 12.6): what plan rejects, offline, with the same diagnostics', () => {
  const PB = (extra: string): string => `inventory: inventory.yml\nvars: { app: demo, root: /tmp/x }\n${extra}nodes:\n  app:\n    steps:\n      - run: { cmd: "echo {{greeting}}" }\n`;
  it.each([
    ['an unset variable', INVENTORY, PB(''), ['playbook.yml:6:16: nodes.app.steps[0].run.cmd: undefined variable "greeting"']],
    ['an unknown role in a mapping', INVENTORY, PB('roles: { web: webservers }\n'), ['playbook.yml:3:10: roles.web: role "web" maps from "webservers", which the inventory does not have (roles: app, or "*")']],
    ['a role naming a host not in hosts:', INVENTORY.replace('[l1, l2]', '[l1, l9]'), PB(''), ['inventory.yml:7:13: roles.app[1]: unknown host "l9"']],
  ])('%s', async (_name, inventory, playbook, expected) => {
    write('inventory.yml', inventory);
    write('playbook.yml', playbook);
    const plan = await orch(['plan', 'playbook.yml', '--offline'], env, { cwd: work });
    const validate = await orch(['validate', 'playbook.yml'], env, { cwd: work });
    expect(plan.code).toBe(1);
    expect(validate.code).toBe(1);
    expect(plan.stderr.trim().split('\n')).toEqual(expected);
    expect(validate.stderr.trim().split('\n')).toEqual(expected);
    const json = await orch(['validate', 'playbook.yml', '--json'], env, { cwd: work });
    expect(json.code).toBe(1);
    const out = JSON.parse(json.stdout) as { valid: boolean; diagnostics: { file: string; line: number; col: number; path: string; message: string }[] };
    expect(out.valid).toBe(false);
    expect(out.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.path}: ${d.message}`)).toEqual(expected);
  });

  it('passes a good playbook without connecting or building, and says what it compiled', async () => {
    write('inventory.yml', INVENTORY.replace('l2: { transport: local }', 'l2: { address: 198.18.0.2 }'));
    write('app/VERSION', '2.1.0\n');
    write('playbook.yml', 'inventory: inventory.yml\nvars: { app: demo, root: /tmp/x }\nbundles:\n  demo: { source: app }\nnodes:\n  app:\n    steps:\n      - install: { bundle: demo }\n      - run: { cmd: "echo {{bundle.version}}" }\n');
    const r = await orch(['validate', 'playbook.yml', 'inventory.yml'], env, { cwd: work, timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('playbook.yml: valid playbook (compiled for 2 hosts of inventory.yml)\ninventory.yml: valid inventory\n');
    expect(readdirSync(work)).not.toContain('dist');
    const json = await orch(['validate', 'playbook.yml', '--json'], env, { cwd: work });
    expect(JSON.parse(json.stdout)).toEqual({ valid: true, files: [{ file: 'playbook.yml', kind: 'playbook', inventories: ['inventory.yml'], compiled: true, hosts: 2 }], diagnostics: [] });
  });

  it('compiles a playbook without inventory: against -i, and says when it could not', async () => {
    write('inventory.yml', INVENTORY);
    write('lib.yml', 'vars: { app: demo, root: /tmp/x }\nnodes:\n  app:\n    steps:\n      - run: { cmd: "echo {{nope}}" }\n');
    const alone = await orch(['validate', 'lib.yml'], env, { cwd: work });
    expect(alone.code).toBe(0);
    expect(alone.stdout).toBe('lib.yml: valid playbook (not compiled: no inventory; set "inventory:" in the playbook or give -i INVENTORY)\n');
    const withInv = await orch(['validate', 'lib.yml', '-i', 'inventory.yml'], env, { cwd: work });
    expect(withInv.code).toBe(1);
    expect(withInv.stderr.trim()).toBe('lib.yml:5:16: nodes.app.steps[0].run.cmd: undefined variable "nope"');
    const withE = await orch(['validate', 'lib.yml', '-i', 'inventory.yml', '-e', 'nope=1'], env, { cwd: work });
    expect(withE.code, withE.stderr).toBe(0);
  });
});

describe('diagnostics (issue 12.8)', () => {
  it('an over-indented key gives one error, at that key, in words', async () => {
    write('inventory.yml', 'hosts:\n  l1: { transport: local }\nroles:\n  app: [l1]\n   web: [l1]\n');
    const r = await orch(['validate', 'inventory.yml'], env, { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('inventory.yml:5:4: roles.web: YAML syntax error: "web" is indented more than "app" on line 4, which already has a value; indent "web" like "app" (keys of one map start at the same column)\n');
  });

  it('a tab is reported in words, with no JSON blob as the path', async () => {
    write('playbook.yml', 'nodes:\n  x:\n    steps:\n\t- run: {cmd: x}\n');
    const r = await orch(['validate', 'playbook.yml'], env, { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('playbook.yml:4:1: (root): YAML syntax error: a tab character indents this line; YAML indents with spaces only (replace the tab with spaces)\n');
  });

  it('a missing file says so and suggests a close name', async () => {
    write('playbooks/deploy.yml', 'nodes: {}\n');
    const r = await orch(['validate', 'playbooks/deplyo.yml'], env, { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('playbooks/deplyo.yml: no such file (did you mean playbooks/deploy.yml?)\n');
    const p = await orch(['plan', 'playbook/deploy.yml'], env, { cwd: work });
    expect(p.code).toBe(1);
    expect(p.stderr).toBe('playbook/deploy.yml: no such file (did you mean playbooks/deploy.yml?)\n');
  });
});
