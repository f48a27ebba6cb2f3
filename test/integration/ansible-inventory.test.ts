/**
 * Ansible inventories as orch input, through the built CLI:
 * - differential: `ansible-inventory -i X --list` (ansible-core from Debian, one Python
 *   process: ansible-inventory-ref.py) against `orch hosts -i X --json` over a seeded
 *   corpus of INI and YAML inventories with children, vars, `[group:vars]`, ranges,
 *   `group_vars/` and `host_vars/` files and connection vars;
 * - clear errors for what orch cannot take;
 * - `--limit` warnings for terms that match nothing (issue 12 item 5);
 * - `orch hosts --json` / `orch ssh-config` with a host configured through an Included
 *   ssh_config file;
 * - acceptance over real SSH: an INI inventory with groups, children, vars, ranges and
 *   group_vars/ deploys the playbook to the same hosts as the equivalent orch inventory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';
import { seededRandom } from '../harness/random.js';

function ansiblePython(): string | undefined {
  const r = spawnSync('sh', ['-c', 'head -1 "$(command -v ansible-inventory)"'], { encoding: 'utf8' });
  const m = /^#!\s*(\S+)/.exec(r.stdout ?? '');
  if (!m) return undefined;
  return spawnSync(m[1]!, ['-c', 'import ansible.cli.inventory'], { encoding: 'utf8' }).status === 0 ? m[1] : undefined;
}
const python = ansiblePython();
if (!python) console.log('ansible-core not found (apt-get install ansible-core): ansible-inventory differential skipped');

const rng = seededRandom;

const SEED = Number(process.env.ORCH_ANSIBLE_INV_SEED ?? 777);
const COUNT = 30;

interface AnsibleList {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: unknown;
}

/** Writes inventory n (INI or YAML) with vars files; returns its path. */
function writeInventory(root: string, n: number, r: () => number): string {
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const dir = join(root, `inv${n}`);
  mkdirSync(join(dir, 'group_vars'), { recursive: true });
  mkdirSync(join(dir, 'host_vars'), { recursive: true });
  const hosts = ['web1', 'web2', 'db1', 'lb', 'cache.internal'].filter(() => r() < 0.7);
  const groups = ['web', 'db', 'prod', 'eu'].filter(() => r() < 0.7);
  const member = new Map(groups.map((g) => [g, hosts.filter(() => r() < 0.4)]));
  const kids = new Map(groups.map((g, i) => [g, groups.slice(i + 1).filter(() => r() < 0.3)]));
  const iniValues = ['1', '"two words"', "'7'", 'True', 'plain', '3.5', '[1,2]'];
  const yamlValues = ['1', '"two words"', 'true', 'plain', '[a, b]', '{k: v}', '3.5'];
  const conn = (): string[] => {
    const out: string[] = [];
    if (r() < 0.3) out.push(`ansible_host=10.0.${n}.${Math.floor(r() * 200)}`);
    if (r() < 0.2) out.push(`ansible_port=${pick([22, 2222, 8022])}`);
    if (r() < 0.2) out.push(`ansible_user=${pick(['deploy', 'ops'])}`);
    return out;
  };
  const varsOf = (): [string, string][] => Array.from({ length: Math.floor(r() * 3) }, () => [pick(['x', 'y', 'z', 'app_port', 'env']), pick(iniValues)]);
  let text: string;
  const yaml = r() < 0.5;
  const range = r() < 0.5;
  if (!yaml) {
    text = '';
    for (const h of hosts.filter(() => r() < 0.3)) text += `${h} ${[...varsOf().map(([k, v]) => `${k}=${v}`), ...conn()].join(' ')}\n`;
    if (range) text += `node[01:03] env=ranged\n`;
    for (const g of groups) {
      text += `[${g}]\n`;
      for (const h of member.get(g)!) text += `${h} ${[...varsOf().map(([k, v]) => `${k}=${v}`), ...conn()].join(' ')}\n`;
      if (r() < 0.5) text += `[${g}:vars]\n${varsOf().map(([k, v]) => `${k} = ${v}\n`).join('')}`;
    }
    for (const g of groups) if (kids.get(g)!.length) text += `[${g}:children]\n${kids.get(g)!.join('\n')}\n`;
    if (r() < 0.5) text += `[all:vars]\n${varsOf().map(([k, v]) => `${k}=${v}\n`).join('')}`;
  } else {
    const yv = (): string => `{ ${Array.from({ length: Math.floor(r() * 3) }, () => `${pick(['x', 'y', 'z', 'env'])}: ${pick(yamlValues)}`).filter((v, i, a) => a.findIndex((w) => w.split(':')[0] === v.split(':')[0]) === i).join(', ')} }`;
    text = `all:\n  vars: ${yv()}\n  hosts:\n`;
    for (const h of hosts.filter(() => r() < 0.3)) text += `    ${h}: ${yv()}\n`;
    if (range) text += `    node[01:03]: { env: ranged }\n`;
    text += '  children:\n';
    for (const g of groups) {
      text += `    ${g}:\n      vars: ${yv()}\n      hosts:\n`;
      for (const h of member.get(g)!) text += `        ${h}: ${r() < 0.3 ? `{ ansible_host: 10.1.${n}.1, ansible_user: ops }` : yv()}\n`;
      if (!member.get(g)!.length) text += `        ${hosts[0] ?? 'web1'}: {}\n`;
      if (kids.get(g)!.length) text += `      children: { ${kids.get(g)!.map((k) => `${k}: {}`).join(', ')} }\n`;
    }
  }
  for (const g of [...groups, 'all'].filter(() => r() < 0.4)) writeFileSync(join(dir, 'group_vars', `${g}.yml`), `x: from_group_vars_${g}\nlist: [1, 2]\n`);
  for (const h of hosts.filter(() => r() < 0.3)) writeFileSync(join(dir, 'host_vars', h), `y: from_host_vars\nansible_port: 2200\n`);
  const file = join(dir, yaml ? 'inventory.yml' : 'hosts.ini');
  writeFileSync(file, text);
  return file;
}

describe('Ansible inventories', () => {
  const { dir: work, env } = makeWork('ansible-inv');

  it.skipIf(!python)(`orch hosts --json agrees with ansible-inventory --list (seed ${SEED}; ORCH_ANSIBLE_INV_SEED=N)`, async () => {
    console.log(`ansible-inventory differential seed: ${SEED}`);
    const r = rng(SEED);
    const files = Array.from({ length: COUNT }, (_, n) => writeInventory(work, n, r));
    const ref = spawnSync(python!, [join(import.meta.dirname, 'ansible-inventory-ref.py')], { input: JSON.stringify(files), encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(ref.status, ref.stderr).toBe(0);
    const lists = JSON.parse(ref.stdout) as (AnsibleList | { error: string })[];
    const mismatches: string[] = [];
    let hostsCompared = 0;
    for (const [i, file] of files.entries()) {
      const want = lists[i]!;
      const res = await orch(['hosts', '-i', file, '--json'], env);
      if ('error' in want) {
        if (res.code === 0) mismatches.push(`${file}: ansible fails (${want.error}), orch loads it`);
        continue;
      }
      if (res.code !== 0) {
        // Ansible only warns about an INI file it cannot parse, and lists no host.
        if (Object.keys(want._meta?.hostvars ?? {}).length === 0) continue;
        mismatches.push(`${file}: orch fails: ${res.stderr}`);
        continue;
      }
      const got = JSON.parse(res.stdout) as { host: string; address: string; user: string | null; port: number | null; groups: string[]; vars: Record<string, unknown> }[];
      // Group membership from ansible's tree: a host is in a group directly or through children.
      const tree = want as unknown as Record<string, { hosts?: string[]; children?: string[] }>;
      const hostsOf = (g: string, seen = new Set<string>()): Set<string> => {
        if (seen.has(g)) return new Set();
        seen.add(g);
        const s = new Set(tree[g]?.hosts ?? []);
        for (const c of tree[g]?.children ?? []) for (const h of hostsOf(c, seen)) s.add(h);
        return s;
      };
      const groupNames = Object.keys(tree).filter((g) => g !== '_meta' && g !== 'all' && g !== 'ungrouped');
      const wantHosts = Object.keys(want._meta.hostvars).sort();
      const allHosts = [...hostsOf('all')].sort();
      if (JSON.stringify(got.map((h) => h.host)) !== JSON.stringify(allHosts)) mismatches.push(`${file}: hosts ansible ${allHosts} orch ${got.map((h) => h.host)}`);
      for (const h of got) {
        hostsCompared++;
        const hv = want._meta.hostvars[h.host] ?? {};
        const wantRow = {
          address: String(hv.ansible_host ?? h.host),
          user: hv.ansible_user ?? null,
          port: hv.ansible_port ?? null,
          groups: groupNames.filter((g) => hostsOf(g).has(h.host)).sort(),
          vars: Object.fromEntries(Object.entries(hv).filter(([k]) => !k.startsWith('ansible_')).sort()),
        };
        const gotRow = { address: h.address, user: h.user, port: h.port, groups: h.groups, vars: Object.fromEntries(Object.entries(h.vars).sort()) };
        if (JSON.stringify(wantRow) !== JSON.stringify(gotRow)) mismatches.push(`${file} ${h.host}: ansible ${JSON.stringify(wantRow)}\n   orch ${JSON.stringify(gotRow)}`);
      }
      void wantHosts;
    }
    console.log(`${COUNT} inventories, ${hostsCompared} hosts compared`);
    if (mismatches.length) console.log(mismatches.slice(0, 20).join('\n'));
    expect(hostsCompared).toBeGreaterThan(COUNT * 2);
    expect(mismatches).toEqual([]);
  }, 180_000);

  it.each([
    ['script.ini', '#!/bin/sh\necho {}\n', 'dynamic inventory scripts are not supported'],
    ['pw.ini', '[web]\nweb1 ansible_password=hunter2\n', 'host web1: ansible_password is not supported by orch'],
    ['become.yml', 'all:\n  vars: { ansible_become: true }\n  hosts: { web1: {} }\n', 'host web1: ansible_become is not supported by orch'],
    ['plugin.yml', 'plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n', 'inventory plugin configuration (plugin: amazon.aws.aws_ec2) is not supported'],
    ['extra.ini', "[web]\nweb1 ansible_ssh_common_args='-o ForwardAgent=yes'\n", 'host web1: ansible_ssh_common_args: orch takes only'],
    ['jump.ini', "[web]\nweb1 ansible_ssh_common_args='-J nosuch'\n", 'host web1: ProxyJump nosuch is not a host of the inventory'],
    ['undefined.ini', '[prod:children]\nweb\n', "Section [prod:children] includes undefined group: web"],
  ])('refuses %s clearly', async (name, text, message) => {
    const file = join(work, 'bad', name);
    mkdirSync(join(work, 'bad'), { recursive: true });
    writeFileSync(file, text);
    const res = await orch(['hosts', '-i', file], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(message);
  });

  it('a !vault value: not read by hosts (a placeholder), an error naming it for plan without a vault password', async () => {
    mkdirSync(join(work, 'vault'), { recursive: true });
    const file = join(work, 'vault', 'vault.yml');
    writeFileSync(file, 'all:\n  hosts:\n    web1:\n      secret: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162\n');
    const res = await orch(['hosts', '-i', file, '--json'], env);
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as { vars: Record<string, unknown> }[])[0]!.vars.secret).toBe('ENCRYPTED-VALUE-NOT-READ');
    writeFileSync(join(work, 'vault', 'pb.yml'), 'steps:\n  - run: { cmd: "true" }\n');
    const plan = await orch(['plan', join(work, 'vault', 'pb.yml'), '-i', file, '--offline'], env);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/vault\.yml:4:\d+: .*secret: cannot decrypt this !vault value: it is encrypted with Ansible Vault and no vault password was given/);
  });

  it('reads a file without extension as INI, and ansible:FILE forces the format', async () => {
    mkdirSync(join(work, 'plain'), { recursive: true });
    writeFileSync(join(work, 'plain', 'hosts'), '[web]\nweb[1:2] ansible_user=deploy\n');
    writeFileSync(join(work, 'plain', 'fleet.txt'), 'db1\n');
    const a = await orch(['hosts', '-i', join(work, 'plain', 'hosts'), '--json'], env);
    expect(a.code, a.stderr).toBe(0);
    expect((JSON.parse(a.stdout) as { host: string; user: string }[]).map((h) => `${h.user}@${h.host}`)).toEqual(['deploy@web1', 'deploy@web2']);
    const b = await orch(['hosts', '-i', `ansible:${join(work, 'plain', 'fleet.txt')}`], env);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/^db1 /m);
  });

  it('warns about --limit terms that match nothing and runs the rest; exit 1 when nothing matches', async () => {
    const inv = join(work, 'limit.yml');
    writeFileSync(inv, 'hosts:\n  h1: {}\n  h2: {}\n');
    const a = await orch(['hosts', '-i', inv, '--limit', 'h1,hh2'], env);
    expect(a.code).toBe(0);
    expect(a.stderr).toBe('orch: warning: --limit: Could not match supplied host pattern, ignoring: hh2\n');
    expect(a.stdout).toMatch(/^h1 /m);
    expect(a.stdout).not.toMatch(/^h2 /m);
    const b = await orch(['hosts', '-i', inv, '--limit', 'hh2'], env);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('--limit "hh2" matches no host (hosts: h1, h2; roles: (none); groups: (none))');
  });

  it('orch hosts --json and orch ssh-config show a connection set in an Included ssh_config file', async () => {
    const ssh = join(env.HOME!, '.ssh');
    mkdirSync(join(ssh, 'conf.d'), { recursive: true });
    writeFileSync(join(ssh, 'config'), 'Include conf.d/*.conf\nHost *\n  User fallback\n  Port 2200\n');
    writeFileSync(join(ssh, 'conf.d', 'web.conf'), 'Host web1\n  HostName 192.0.2.10\n  User deploy\n  IdentityFile ~/.ssh/web_key\n  IdentityFile ~/.ssh/other_%r\n  ProxyJump ops@bastion:2201\n');
    const inv = join(work, 'sshcfg.yml');
    writeFileSync(inv, 'hosts:\n  web1: {}\n  db1: { address: 192.0.2.20, port: 22 }\n');
    const res = await orch(['hosts', '-i', inv, '--json'], env);
    expect(res.code, res.stderr).toBe(0);
    const rows = JSON.parse(res.stdout) as { host: string; connection: Record<string, unknown> }[];
    const conf = join(ssh, 'conf.d', 'web.conf');
    expect(rows.find((r) => r.host === 'web1')!.connection).toEqual({
      transport: 'ssh',
      address: '192.0.2.10',
      port: 2200,
      user: 'deploy',
      identity_files: [join(ssh, 'web_key'), join(ssh, 'other_deploy')],
      jump: [{ address: 'bastion', port: 2201, user: 'ops', via: 'ssh_config ProxyJump ops@bastion:2201' }],
      known_hosts: join(ssh, 'known_hosts'),
      host_key_policy: 'strict',
      sources: {
        address: `${conf}:2`, port: `${join(ssh, 'config')}:4`, user: `${conf}:3`, identity_files: [`${conf}:4`, `${conf}:5`],
        jump: `${conf}:6`, known_hosts: 'default', host_key_policy: 'inventory',
      },
      warnings: [],
    });
    const db = rows.find((r) => r.host === 'db1')!.connection;
    expect([db.address, db.port, db.user, (db.sources as Record<string, string>).port]).toEqual(['192.0.2.20', 22, 'fallback', 'inventory']);
    const text = await orch(['ssh-config', '-i', inv, 'web1'], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^hostname 192\\.0\\.2\\.10 +# ${conf}:2$`, 'm'));
    expect(text.stdout).toMatch(/^proxyjump ops@bastion:2201 +# /m);
    const alias = await orch(['ssh-config', 'web1', '--json'], env);
    expect(JSON.parse(alias.stdout)).toMatchObject({ host: 'web1', connection: { address: '192.0.2.10', port: 2200, user: 'deploy' } });
  });
});

describe.skipIf(!canRunFleet())('an Ansible INI inventory deploys like the equivalent orch inventory (3-host fleet)', () => {
  let fleet: Fleet;
  const { dir: work, env } = makeWork('ansible-deploy');
  const pb = join(work, 'playbook.yml');

  beforeAll(async () => {
    fleet = await startFleet({ count: 3 });
    mkdirSync(join(work, 'app'), { recursive: true });
    writeFileSync(join(work, 'app', 'VERSION'), '1.0.0\n');
    writeFileSync(join(work, 'app', 'run'), 'echo shop\n');
    // Ansible INI: groups, children, vars, a range, group_vars/ and host_vars/.
    mkdirSync(join(work, 'ansible', 'group_vars'), { recursive: true });
    mkdirSync(join(work, 'ansible', 'host_vars'), { recursive: true });
    writeFileSync(join(work, 'ansible', 'hosts.ini'), [
      '[web]', 'h[1:2]', '', '[db]', 'h3', '', '[eu:children]', 'web', 'db', '',
      '[web:vars]', 'role_label="web & friends"', '',
      '[all:vars]', 'ansible_user=root', `ansible_ssh_private_key_file=${fleet.identityFile}`,
      `ansible_ssh_common_args='-o UserKnownHostsFile=${fleet.knownHostsFile}'`, '',
    ].join('\n'));
    writeFileSync(join(work, 'ansible', 'group_vars', 'db.yml'), 'greeting: hi from db\n');
    for (const h of fleet.hosts) writeFileSync(join(work, 'ansible', 'host_vars', `${h.name}.yml`), `ansible_host: ${h.address}\nansible_port: ${h.port}\n`);
    writeFileSync(join(work, 'orch.yml'), fleet.inventoryYaml({
      roles: { web: ['h1', 'h2'], db: ['h3'], eu: ['h1', 'h2', 'h3'] },
      groups: { web: { hosts: ['h1', 'h2'], vars: { role_label: 'web & friends' } }, db: { hosts: ['h3'], vars: { greeting: 'hi from db' } }, eu: { children: ['web', 'db'] } },
    }));
    writeFileSync(pb, `
vars: { app: shop, root: /srv/ans }
bundles:
  shop: { source: app, builder: dir }
roles: { web: web, db: db }
nodes:
  shop:
    roles: { host: web }
    steps:
      - install: { bundle: shop }
      - put: { dest: "{{root}}/shared/config.ini", content: "host={{host.name}} role={{role_label}}\\n" }
      - symlink: {}
  db:
    roles: { master: db }
    steps:
      - run: { cmd: "mkdir -p /srv/ans && echo {{greeting}} > /srv/ans/db-marker", creates: /srv/ans/db-marker }
        on: master
`);
  }, 60_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('plans the same hosts and steps, then deploys through the INI inventory', async () => {
    const ini = join(work, 'ansible', 'hosts.ini');
    const a = await orch(['plan', pb, '-i', ini, '--offline', '-o', join(work, 'a.json')], env, { cwd: work });
    expect(a.code, a.stderr).toBe(0);
    const b = await orch(['plan', pb, '-i', join(work, 'orch.yml'), '--offline', '-o', join(work, 'b.json')], env, { cwd: work });
    expect(b.code, b.stderr).toBe(0);
    type P = { targets: string[]; hosts: Record<string, unknown>; phases: { steps: { tasks: Record<string, { script?: string }> }[] }[] };
    const pa = JSON.parse(readFileSync(join(work, 'a.json'), 'utf8')) as P;
    const pbb = JSON.parse(readFileSync(join(work, 'b.json'), 'utf8')) as P;
    expect(pa.targets).toEqual(['h1', 'h2', 'h3']);
    expect(pa.targets).toEqual(pbb.targets);
    expect(pa.hosts).toEqual(pbb.hosts);
    expect(JSON.stringify(pa.phases)).toBe(JSON.stringify(pbb.phases));

    const run = await orch(['apply', pb, '-i', ini, '--yes', '--json'], env, { cwd: work });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const on = (h: string, p: string): string => join(fleet.hosts.find((x) => x.name === h)!.dir, p);
    for (const h of ['h1', 'h2']) {
      expect(readFileSync(on(h, '/srv/ans/shared/config.ini'), 'utf8')).toBe(`host=${h} role=web & friends\n`);
      expect(existsSync(on(h, '/srv/ans/db-marker'))).toBe(false);
    }
    expect(readFileSync(on('h3', '/srv/ans/db-marker'), 'utf8')).toBe('hi from db\n');
    expect(existsSync(on('h3', '/srv/ans/shared/config.ini'))).toBe(false);

    const limited = await orch(['plan', pb, '-i', ini, '--offline', '--limit', 'eu[0],nosuch'], env, { cwd: work });
    expect(limited.code, limited.stderr).toBe(0);
    expect(limited.stderr).toContain('orch: warning: --limit: Could not match supplied host pattern, ignoring: nosuch');
  }, 240_000);

  it('skips an ssh_config IdentityFile that does not exist and uses the next one, as ssh does', async () => {
    const ssh = join(env.HOME!, '.ssh');
    mkdirSync(ssh, { recursive: true });
    writeFileSync(join(ssh, 'config'), `Host 10.231.*\n  User root\n  IdentityFile ~/.ssh/no_such_key\n  IdentityFile ${fleet.identityFile}\n`);
    const inv = join(work, 'bare.yml');
    writeFileSync(inv, `defaults: { known_hosts: ${fleet.knownHostsFile} }\nhosts:\n${fleet.hosts.map((h) => `  ${h.name}: { address: ${h.address}, port: ${h.port} }\n`).join('')}`);
    const conn = await orch(['ssh-config', '-i', inv, 'h1', '--json'], env);
    expect((JSON.parse(conn.stdout) as { connection: { identity_files: string[] } }).connection.identity_files).toEqual([join(ssh, 'no_such_key'), fleet.identityFile]);
    const res = await orch(['exec', '-i', inv, '--limit', 'all', '--json', '--', 'echo', 'ok'], env);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as { host: string; code: number }[]).map((r) => `${r.host}:${r.code}`)).toEqual(['h1:0', 'h2:0', 'h3:0']);
  }, 120_000);
});
