import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/config/inventory.js';
import { SourceIndexImpl } from '../../../src/config/source-index.js';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import { removeTempDirs, tempFiles } from './helpers.js';

afterAll(removeTempDirs);

const FIX = 'test/fixtures/config/inventory';
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

const common = {
  transport: 'ssh',
  user: 'deploy',
  port: 22,
  identity: '~/.ssh/id_ed25519',
  knownHosts: '~/.ssh/known_hosts',
  hostKeyPolicy: 'strict',
};

describe('loadInventory: valid inventory', () => {
  it('builds the Inventory model: defaults, address, roles with globs, groups, vars precedence', async () => {
    const r = await loadInventory([`${FIX}/prod.yml`], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    const inv = r.inventory!;
    expect(inv.files).toEqual([resolve(FIX, 'prod.yml')]);
    expect(r.fileHashes).toEqual({ [resolve(FIX, 'prod.yml')]: sha(`${FIX}/prod.yml`) });
    // File order is kept even for the integer-like name "10" (JS objects would put it first).
    expect([...inv.hosts.keys()]).toEqual(['web1', 'web2', 'db1', 'bastion', 'ctl', '10']);
    expect(inv.hosts.get('web2')).toEqual({
      ...common,
      name: 'web2',
      address: '10.0.0.12',
      addressExplicit: true,
      jump: 'bastion',
      groups: ['europe', 'frontends', 'prod'],
      roles: ['load_balancer', 'web'],
      // defaults < europe, frontends (depth 0, by name) < prod (child of europe) < host
      vars: { env: 'prod', log_level: 'warn', weight: 2, region: 'eu', tier: 'prod' },
    });
    expect(inv.hosts.get('db1')).toEqual({
      ...common,
      port: 2222,
      name: 'db1',
      address: 'db1.internal',
      addressExplicit: true,
      jump: 'bastion',
      groups: ['europe', 'prod'],
      roles: ['master_db'],
      vars: { env: 'prod', log_level: 'warn', weight: 1, region: 'eu', tier: 'prod' },
    });
    // The bastion does not jump through itself; its own host_key_policy wins.
    expect(inv.hosts.get('bastion')).toEqual({
      ...common,
      hostKeyPolicy: 'accept-new',
      name: 'bastion',
      address: '203.0.113.5',
      addressExplicit: true,
      groups: [],
      roles: [],
      vars: { env: 'prod', log_level: 'info', weight: 1 },
    });
    // A host without address uses its name; a local host gets no default jump.
    expect(inv.hosts.get('ctl')).toMatchObject({ address: 'ctl', addressExplicit: false, transport: 'local' });
    expect(inv.hosts.get('ctl')!.jump).toBeUndefined();
    expect(inv.hosts.get('10')).toMatchObject({ address: '10', addressExplicit: false, roles: ['numbered'], jump: 'bastion' });
    expect(Object.fromEntries(inv.roles)).toEqual({
      web: ['web1', 'web2'],
      master_db: ['db1'],
      load_balancer: ['web1', 'web2'],
      numbered: ['10'],
    });
    expect(inv.groups.get('europe')).toEqual({
      name: 'europe',
      hosts: ['db1', 'web1', 'web2'],
      children: ['prod'],
      vars: { log_level: 'debug', region: 'eu', tier: 'europe' },
    });
    expect(inv.groups.get('frontends')!.hosts).toEqual(['web1', 'web2']);
  });

  it('merges several inventories key by key, later files winning', async () => {
    const r = await loadInventory([`${FIX}/prod.yml`, `${FIX}/override.yml`], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    const inv = r.inventory!;
    expect(inv.files).toEqual([resolve(FIX, 'prod.yml'), resolve(FIX, 'override.yml')]);
    expect(Object.keys(r.fileHashes).sort()).toEqual([resolve(FIX, 'override.yml'), resolve(FIX, 'prod.yml')]);
    expect([...inv.hosts.keys()]).toEqual(['web1', 'web2', 'db1', 'bastion', 'ctl', '10', 'web3']);
    // defaults.user replaced, other defaults kept; web2 keeps its address, gets the new port and weight.
    expect(inv.hosts.get('web2')).toMatchObject({ user: 'ops', port: 2200, address: '10.0.0.12', identity: '~/.ssh/id_ed25519' });
    expect(inv.hosts.get('web2')!.vars).toEqual({ env: 'prod', log_level: 'warn', weight: 3, region: 'eu', tier: 'prod' });
    expect(inv.hosts.get('web3')).toMatchObject({
      user: 'ops',
      address: '10.0.0.13',
      groups: ['frontends'],
      roles: ['load_balancer', 'web'],
      vars: { env: 'prod', log_level: 'info', weight: 1, tier: 'front' },
    });
    // The roles list is replaced (lists are not merged).
    expect(inv.roles.get('web')).toEqual(['web1', 'web2', 'web3']);
  });

  it('places errors in the later file that set the offending key', async () => {
    const t = tempFiles();
    const a = t.write('a.yml', 'hosts:\n  web1: {}\nroles:\n  web: [web1]\n');
    const b = t.write('b.yml', '# override\nroles:\n  web: [web1, web7]\n');
    const r = await loadInventory([a, b], new SourceIndexImpl());
    expect(r.inventory).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([`${b}:3:15: roles.web[1]: unknown host "web7"`]);
  });

  it('treats an empty file as an empty inventory', async () => {
    const t = tempFiles();
    const a = t.write('a.yml', 'hosts: { h: {} }\n');
    const b = t.write('b.yml', '');
    const r = await loadInventory([a, b], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    expect([...r.inventory!.hosts.keys()]).toEqual(['h']);
  });
});

describe('loadInventory: group vars precedence', () => {
  it('applies defaults < groups by depth (parents first, then name) < host', async () => {
    const t = tempFiles();
    const f = t.write(
      'inv.yml',
      [
        'defaults: { vars: { a: d, b: d, c: d, d: d, e: d } }',
        'hosts:',
        '  h: { vars: { e: host } }',
        'groups:',
        // Declared child-first and with names sorting against depth, so only depth can order them.
        '  aaa_leaf: { hosts: [h], vars: { a: leaf, b: leaf } }',
        '  zzz_mid: { children: [aaa_leaf], vars: { a: mid, b: mid, c: mid } }',
        '  mmm_top: { children: [zzz_mid], vars: { a: top, b: top, c: top, d: top, e: top } }',
        '  bbb_other: { hosts: [h], vars: { b: other } }',
      ].join('\n'),
    );
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    const h = r.inventory!.hosts.get('h')!;
    expect(h.groups).toEqual(['aaa_leaf', 'bbb_other', 'mmm_top', 'zzz_mid']);
    // depth: mmm_top 0, bbb_other 0, zzz_mid 1, aaa_leaf 2 -> bbb_other, mmm_top, zzz_mid, aaa_leaf
    expect(h.vars).toEqual({ a: 'leaf', b: 'leaf', c: 'mid', d: 'top', e: 'host' });
    expect(r.inventory!.groups.get('mmm_top')!.hosts).toEqual(['h']);
  });
});

describe('loadInventory: give_up', () => {
  it('takes a host\'s give_up, else defaults.give_up, in the duration syntax; none = undefined (30 s built in)', async () => {
    const t = tempFiles();
    const f = t.write('inv.yml', 'defaults:\n  give_up: 2m\nhosts:\n  a: {}\n  b: { give_up: 10 }\n  c: { give_up: 1.5s }\n');
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    expect(['a', 'b', 'c'].map((h) => r.inventory!.hosts.get(h)!.giveUpSeconds)).toEqual([120, 10, 1.5]);
    const g = t.write('inv2.yml', 'hosts:\n  a: {}\n');
    expect((await loadInventory([g], new SourceIndexImpl())).inventory!.hosts.get('a')!.giveUpSeconds).toBeUndefined();
  });
});

describe('loadInventory: role and group members', () => {
  it.each([
    ['web*', ['web1', 'web10', 'web2']],
    ['web?', ['web1', 'web2']],
    ['web[12]', ['web1', 'web2']],
    ['web[!1]*', ['web2']],
    ['*1*', ['db1', 'web1', 'web10']],
    ['db1', ['db1']],
  ])('role member %j resolves to %j', async (member, hosts) => {
    const t = tempFiles();
    const f = t.write('inv.yml', `hosts: { web1: {}, web2: {}, web10: {}, db1: {} }\nroles: { r: [${JSON.stringify(member)}] }\n`);
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    expect(r.inventory!.roles.get('r')).toEqual(hosts);
  });
});

describe('loadInventory: invalid inventories', () => {
  it.each<[string, string, string[]]>([
    ['unknown host in a role', 'hosts:\n  web1: {}\nroles:\n  web: [web1, web9]\n', ['4:15: roles.web[1]: unknown host "web9"']],
    ['unknown host in a group', 'hosts:\n  web1: {}\ngroups:\n  g: { hosts: [nope] }\n', ['4:16: groups.g.hosts[0]: unknown host "nope"']],
    ['role naming no existing host', 'hosts:\n  web1: {}\nroles:\n  lb: ["lb*"]\n', ['4:3: roles.lb: names no existing host']],
    ['group naming no existing host', 'hosts:\n  web1: {}\ngroups:\n  empty: { hosts: [] }\n', ['4:3: groups.empty: names no existing host']],
    ['unknown child group', 'hosts:\n  a: {}\ngroups:\n  g1: { hosts: [a], children: [nope] }\n', ['4:32: groups.g1.children[0]: unknown group "nope"']],
    [
      'cycle in group children',
      'hosts:\n  a: {}\ngroups:\n  g1: { hosts: [a], children: [g2] }\n  g2: { children: [g3] }\n  g3: { children: [g1] }\n',
      ['6:20: groups.g3.children[0]: group cycle: g1 -> g2 -> g3 -> g1'],
    ],
    ['jump to an unknown host', 'hosts:\n  a: { jump: b }\n', ['2:8: hosts.a.jump: unknown host "b"']],
    ['defaults.jump to an unknown host', 'defaults:\n  jump: gw\nhosts:\n  a: {}\n  b: {}\n', ['2:3: defaults.jump: unknown host "gw"']],
    [
      'jump cycle',
      'hosts:\n  c: { jump: a }\n  b: { jump: a }\n  a: { jump: b }\n',
      ['4:8: hosts.a.jump: jump cycle: a -> b -> a'],
    ],
    ['jump through a local host', 'hosts:\n  a: { jump: me }\n  me: { transport: local }\n', ['2:8: hosts.a.jump: jump host "me" has transport local']],
    [
      'unknown key',
      'hosts:\n  web1: { adress: 10.0.0.1 }\n',
      ['2:11: hosts.web1.adress: unknown key "adress": did you mean "address"? (expected one of: address, port, user, identity, known_hosts, host_key_policy, transport, jump, give_up, become, become_user, vars)'],
    ],
    ['unknown top-level key', 'host:\n  web1: {}\n', ['1:1: host: unknown key "host": did you mean "hosts"? (expected one of: defaults, hosts, roles, groups)']],
    [
      'invalid host name',
      'hosts:\n  "-web": {}\n',
      ['2:3: hosts["-web"]: invalid name: use letters, digits, \'_\', \'.\', \'-\', starting with a letter or digit'],
    ],
    ['port out of range', 'hosts:\n  a: { port: 70000 }\n', ['2:8: hosts.a.port: must be <= 65535']],
    ['port not a number', 'defaults:\n  port: ssh\n', ['2:3: defaults.port: must be an integer']],
    ['bad host_key_policy', 'defaults:\n  host_key_policy: off\n', ['2:3: defaults.host_key_policy: must be one of: strict, accept-new']],
    ['bad transport', 'hosts:\n  a: { transport: telnet }\n', ['2:8: hosts.a.transport: must be one of: ssh, local']],
    ['role not a list', 'hosts:\n  a: {}\nroles:\n  web: a\n', ['4:3: roles.web: must be a list']],
    ['vars not a map', 'hosts:\n  a: { vars: [1] }\n', ['2:8: hosts.a.vars: must be a map']],
    ['root not a map', '- a\n- b\n', ['1:1: (root): must be a map']],
    ['give_up not a duration', 'hosts:\n  a: { give_up: 30 sec }\n', ['2:8: hosts.a.give_up: "30 sec": expected a number of seconds or 500ms / 2s / 1m / 1h']],
    ['give_up under 1 s', 'defaults:\n  give_up: 500ms\nhosts:\n  a: {}\n', ['2:3: defaults.give_up: give_up "500ms": expected at least 1 s (the agent checks once a second)']],
  ])('%s', async (_name, yaml, expected) => {
    const t = tempFiles();
    const f = t.write('inv.yml', yaml);
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.inventory).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(expected.map((e) => `${f}:${e}`));
  });

  it('reports several problems at once, sorted by position', async () => {
    const t = tempFiles();
    const f = t.write(
      'inv.yml',
      [
        'defaults:',
        '  port: 0',
        '  colour: blue',
        'hosts:',
        '  a: { transport: carrier-pigeon }',
        '  b: { jump: 7 }',
      ].join('\n'),
    );
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${f}:2:3: defaults.port: must be >= 1`,
      `${f}:3:3: defaults.colour: unknown key "colour" (expected one of: user, port, identity, known_hosts, host_key_policy, transport, jump, give_up, become, become_user, vars)`,
      `${f}:5:8: hosts.a.transport: must be one of: ssh, local`,
      `${f}:6:8: hosts.b.jump: must be a string`,
    ]);
  });

  it('reports several semantic problems at once', async () => {
    const t = tempFiles();
    const f = t.write('inv.yml', 'hosts:\n  a: { jump: x }\nroles:\n  r: [b]\ngroups:\n  g: { children: [h] }\n');
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${f}:2:8: hosts.a.jump: unknown host "x"`,
      `${f}:4:7: roles.r[0]: unknown host "b"`,
      `${f}:6:3: groups.g: names no existing host`,
      `${f}:6:19: groups.g.children[0]: unknown group "h"`,
    ]);
  });

  it('reports a missing file', async () => {
    const t = tempFiles();
    const r = await loadInventory([`${t.dir}/nope.yml`], new SourceIndexImpl());
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([`${t.dir}/nope.yml: no such file`]);
  });
});

describe('loadInventory: hostile vars', () => {
  it('keeps a "__proto__" var as data and never touches Object.prototype', async () => {
    const t = tempFiles();
    const a = t.write('a.yml', 'defaults:\n  vars: { x: 1 }\nhosts:\n  h: { vars: { __proto__: { polluted: 2 } } }\n');
    // Merged into a vars map that has no own __proto__: a naive deep merge would write into Object.prototype.
    const b = t.write('b.yml', 'defaults:\n  vars: { __proto__: { polluted: 3 } }\n');
    const r = await loadInventory([a, b], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const vars = r.inventory!.hosts.get('h')!.vars;
    expect(Object.getPrototypeOf(vars)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(vars, '__proto__')?.value).toEqual({ polluted: 2 });
  });
});

describe('loadInventory: become', () => {
  it('become: true (host, else defaults) sets the user commands run as: become_user, default root; false or unset: none', async () => {
    const t = tempFiles();
    const f = t.write('inv.yml', 'defaults:\n  user: admin\n  become: true\nhosts:\n  a: {}\n  b: { become_user: shop }\n  c: { become: false }\n');
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    expect(['a', 'b', 'c'].map((h) => r.inventory!.hosts.get(h)!.become)).toEqual(['root', 'shop', undefined]);
    const g = t.write('inv2.yml', 'hosts:\n  a: { become: yes please }\n');
    expect((await loadInventory([g], new SourceIndexImpl())).diagnostics.map(formatDiagnostic)).toEqual([`${g}:2:8: hosts.a.become: must be true or false`]);
  });
});
