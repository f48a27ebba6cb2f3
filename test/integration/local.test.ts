/**
 * The CLI end to end over the local transport (real bash, tar; no root, no SSH):
 * saved plans, stale-plan refusal, secrets, isolation, serial + max_fail, diagnostics.
 */
import Ajv2020 from 'ajv/dist/2020.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeWork, orch, summaryOf } from './cli.js';

let work: string;
let env: Record<string, string>;

const INVENTORY = `
hosts:
  l1: { transport: local }
  l2: { transport: local }
  l3: { transport: local }
  l4: { transport: local }
roles:
  app: ["l*"]
groups:
  odd: { hosts: [l1, l3] }
`;

function setup(playbook: string, version = '1.0.0'): string {
  mkdirSync(join(work, 'app'), { recursive: true });
  writeFileSync(join(work, 'app', 'VERSION'), `${version}\n`);
  writeFileSync(join(work, 'app', 'hello.txt'), `hello ${version}\n`);
  writeFileSync(join(work, 'inventory.yml'), INVENTORY);
  const pb = join(work, 'playbook.yml');
  writeFileSync(pb, playbook);
  return pb;
}

beforeEach(() => {
  ({ dir: work, env } = makeWork('local'));
});

const RELEASE = (root: string): string => `
inventory: inventory.yml
vars: { app: hello, base: ${root} }
secret: [token]
bundles:
  hello: { source: app }
nodes:
  hello:
    vars: { root: "{{base}}/{{host.name}}" }
    steps:
      - install: { bundle: hello }
      - put: { dest: "{{root}}/shared/token", content: "{{token}}" }
      - symlink: {}
`;

describe('saved plans', () => {
  it('plan -o writes a schema-valid plan without secrets; apply PLAN.json applies exactly it', async () => {
    const root = join(work, 'srv');
    const pb = setup(RELEASE(root));
    const planFile = join(work, 'release.plan.json');
    const p = await orch(['plan', pb, '-o', planFile, '-e', 'token=hunter2-secret', '--limit', 'l1'], env);
    expect(p.code, p.stderr).toBe(0);
    const text = readFileSync(planFile, 'utf8');
    expect(text).not.toContain('hunter2-secret');
    const saved = JSON.parse(text);
    const ajv = new Ajv2020.default({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(readFileSync(new URL('../../schema/plan.schema.json', import.meta.url), 'utf8')));
    expect(validate(saved), JSON.stringify(validate.errors)).toBe(true);
    expect(saved.targets).toEqual(['l1']);

    const refused = await orch(['apply', planFile], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('was made with a secret -e token=...');

    const a = await orch(['apply', planFile, '-e', 'token=hunter2-secret', '--json'], env);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    expect(a.stdout).not.toContain('hunter2-secret');
    expect(readFileSync(join(root, 'l1', 'shared', 'token'), 'utf8')).toBe('hunter2-secret');
    expect(readlinkSync(join(root, 'l1', 'current'))).toBe('versions/1.0.0');
    expect(existsSync(join(root, 'l2'))).toBe(false);
  });

  it('refuses a plan whose playbook or bundle source changed since', async () => {
    const root = join(work, 'srv');
    const pb = setup(RELEASE(root));
    const planFile = join(work, 'p.json');
    expect((await orch(['plan', pb, '--offline', '-o', planFile, '-e', 'token=tok-0123456789'], env)).code).toBe(0);
    writeFileSync(join(work, 'app', 'hello.txt'), 'changed\n');
    const r = await orch(['apply', planFile, '-e', 'token=tok-0123456789'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plan .*p\.json is stale: bundle hello changed/);
    writeFileSync(pb, `${readFileSync(pb, 'utf8')}\n# edited\n`);
    const r2 = await orch(['apply', planFile, '-e', 'token=tok-0123456789'], env);
    expect(r2.stderr).toMatch(/is stale: .*playbook\.yml changed since the plan was made/);
    expect(existsSync(root)).toBe(false);
  });
});

describe('isolation, serial and max_fail', () => {
  const FAILING = (serial: string): string => `
inventory: inventory.yml
nodes:
  first:
    ${serial}
    steps:
      - run: { cmd: "mkdir -p ${'{{'}out${'}}'} && test {{host.name}} != l2 && touch ${'{{'}out${'}}'}/first-{{host.name}}" }
  second:
    steps:
      - run: { cmd: "touch ${'{{'}out${'}}'}/second-{{host.name}}" }
`;

  it('a failing host leaves the later phases; the others complete; exit 4', async () => {
    const out = join(work, 'out');
    const pb = setup(FAILING(''));
    const r = await orch(['apply', pb, '-e', `out=${out}`, '--json'], env);
    expect(r.code, r.stderr).toBe(4);
    const s = summaryOf(r.stdout);
    expect(s.hosts.map((h) => `${h.host}:${h.status}`)).toEqual(['l1:changed', 'l2:failed', 'l3:changed', 'l4:changed']);
    for (const h of ['l1', 'l3', 'l4']) {
      expect(existsSync(join(out, `first-${h}`))).toBe(true);
      expect(existsSync(join(out, `second-${h}`))).toBe(true);
    }
    expect(existsSync(join(out, 'second-l2'))).toBe(false);
    expect(s.hosts.find((h) => h.host === 'l2')!.error).toMatch(/first: run .*: exit 1/);
  });

  it('serial: 1 + max_fail: 0 stops later batches and phases after the first failing batch', async () => {
    const out = join(work, 'out');
    const pb = setup(FAILING('serial: 1\n    max_fail: 0'));
    const r = await orch(['apply', pb, '-e', `out=${out}`], env);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toContain('aborted: node first: 1 of 1 hosts failed in batch 2, more than max_fail 0');
    expect(existsSync(join(out, 'first-l1'))).toBe(true);
    expect(existsSync(join(out, 'first-l3'))).toBe(false);
    expect(existsSync(join(out, 'second-l1'))).toBe(false);
  });

  it('--detailed-exitcodes: 2 when changed, 6 when changed and failed', async () => {
    const out = join(work, 'out');
    const pb = setup(FAILING(''));
    expect((await orch(['apply', pb, '-e', `out=${out}`, '--detailed-exitcodes', '--limit', 'l1'], env)).code).toBe(2);
    expect((await orch(['apply', pb, '-e', `out=${out}`, '--detailed-exitcodes'], env)).code).toBe(6);
  });
});

describe('invalid input', () => {
  it('reports every YAML and schema problem at once with file:line:col, exit 1, and runs nothing', async () => {
    const pb = setup(`
inventory: inventory.yml
nodes:
  a:
    steps:
      - put: { content: "x", mode: "0644" }
      - run: { cmd: "touch ${work}/ran" }
        bogus: 1
      - service: { action: explode }
`);
    const r = await orch(['apply', pb, '--yes'], env);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n').map((l) => l.replace(`${pb}`, 'playbook.yml'));
    expect(lines).toEqual([
      expect.stringMatching(/^playbook\.yml:6:\d+: nodes\.a\.steps\[0\]\.put: missing "dest"$/),
      expect.stringMatching(/^playbook\.yml:8:9: nodes\.a\.steps\[1\]\.bogus: unknown key "bogus"/),
      'playbook.yml:9:9: nodes.a.steps[2].service: missing "name"',
      'playbook.yml:9:20: nodes.a.steps[2].service.action: must be one of: restart, reload, start, stop',
    ]);
    expect(existsSync(join(work, 'ran'))).toBe(false);
  });

  it('reports a YAML syntax error with its position', async () => {
    const pb = setup('inventory: inventory.yml\nnodes: [\n');
    const r = await orch(['plan', pb], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/playbook\.yml:\d+:\d+: /);
  });
});

describe('agent scratch folders', () => {
  it('after 10 local applies no ~/.orch/agent.* is left; a dead agent\'s folder is removed by the next run', async () => {
    const pb = setup(`
inventory: inventory.yml
vars: { base: ${join(work, 'srv')} }
nodes:
  files:
    steps:
      - put: { dest: "{{base}}/{{host.name}}/a.conf", content: "run {{n}}\\n" }
`);
    const dotOrch = join(env.HOME!, '.orch');
    // An agent killed before its goodbye: its pid (above any pid_max) is gone.
    mkdirSync(join(dotOrch, 'agent.4194305.12345', 'seg'), { recursive: true });
    writeFileSync(join(dotOrch, 'agent.4194305.12345', 'seg', 'script'), 'TOKEN=secret\n');
    for (let i = 0; i < 10; i++) {
      const r = await orch(['apply', pb, '-e', `n=${i}`], env);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(readdirSync(dotOrch).filter((n) => n.startsWith('agent.')), `after apply ${i + 1}`).toEqual([]);
    }
    expect(readFileSync(join(work, 'srv', 'l4', 'a.conf'), 'utf8')).toBe('run 9\n');
  }, 120_000);
});

describe('plan --diff of a private file', () => {
  it('a 0600 file on the host: no old line printed; --diff-private prints it', async () => {
    const dest = join(work, 'srv', 'app.env');
    const pb = setup(`
inventory: inventory.yml
nodes:
  env:
    roles: { host: app }
    steps:
      - put: { dest: "${dest}", content: "DB_PASSWORD=new-one\\n", on: host, once: true }
`);
    mkdirSync(join(work, 'srv'), { recursive: true });
    writeFileSync(dest, 'DB_PASSWORD=old-one\n', { mode: 0o600 });
    const hidden = await orch(['plan', pb, '--diff'], env);
    expect(hidden.code, hidden.stderr).toBe(0);
    expect(hidden.stdout).toContain('(old contents hidden: mode 0600 on the host)');
    expect(hidden.stdout).not.toContain('old-one');
    const shown = await orch(['plan', pb, '--diff-private'], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('-DB_PASSWORD=old-one');
    expect(shown.stdout).toContain('+DB_PASSWORD=new-one');
  }, 60_000);
});
