import { afterAll, describe, expect, it } from 'vitest';
import { detectAnsibleInventory, expandHostRange, parseIniValue, parseSshCommonArgs, shlexSplit } from '../../../src/config/ansible-inventory.js';
import { loadInventory } from '../../../src/config/inventory.js';
import { SourceIndexImpl } from '../../../src/config/source-index.js';
import { removeTempDirs, tempFiles } from './helpers.js';

afterAll(removeTempDirs);

describe('expandHostRange (Ansible expand_hostname_range)', () => {
  it.each([
    ['web[01:03].example.com', ['web01.example.com', 'web02.example.com', 'web03.example.com']],
    ['db-[a:c]', ['db-a', 'db-b', 'db-c']],
    ['x[0:10:5]', ['x0', 'x5', 'x10']],
    ['r[1:2]c[1:2]', ['r1c1', 'r1c2', 'r2c1', 'r2c2']],
    ['[:2]n', ['0n', '1n', '2n']],
    ['plain', ['plain']],
  ])('%s', (p, hosts) => expect(expandHostRange(p)).toEqual(hosts));

  it.each([
    ['w[1]', 'host range must be begin:end or begin:end:step'],
    ['w[01:3]', 'host range must specify equal-length begin and end formats'],
    ['w[c:a]', 'host range must have begin <= end'],
    ['w[1:]', 'host range must specify end value'],
  ])('refuses %s', (p, msg) => expect(() => expandHostRange(p)).toThrow(msg));
});

describe('INI values (Python ast.literal_eval)', () => {
  it.each([
    ['1', 1], ['-3', -3], ['3.5', 3.5], ['True', true], ['None', null], ['"a b"', 'a b'], ["'7'", '7'],
    ['[1,2]', [1, 2]], ["{'k': 'v'}", { k: 'v' }], ['plain', 'plain'], ['1.2.3', '1.2.3'],
  ])('%s', (v, want) => expect(parseIniValue(v)).toEqual(want));

  it('splits host lines like shlex (quotes, comments)', () => {
    expect(shlexSplit(`web1 a=1 b="x y" c='z w' # comment`)).toEqual(['web1', 'a=1', 'b=x y', 'c=z w']);
  });
});

describe('ansible_ssh_common_args', () => {
  it.each([
    ['-J bastion', { jump: 'bastion' }],
    ['-o ProxyJump=bastion -o UserKnownHostsFile=/k/known', { jump: 'bastion', knownHosts: '/k/known' }],
    ['-oStrictHostKeyChecking=accept-new', { hostKeyPolicy: 'accept-new' }],
  ])('%s', (a, want) => expect(parseSshCommonArgs(a)).toEqual(want));

  it('refuses what orch cannot honour', () => {
    expect(() => parseSshCommonArgs('-o StrictHostKeyChecking=no')).toThrow('not "StrictHostKeyChecking=no"');
    expect(() => parseSshCommonArgs('-C')).toThrow('not "-C"');
  });

  it('names every option refused; StrictHostKeyChecking=no points to what does it', () => {
    expect(() => parseSshCommonArgs('-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -C')).toThrow(new Error(
      'ansible_ssh_common_args: orch takes only -J HOST, -o ProxyJump=HOST, -o UserKnownHostsFile=FILE and -o StrictHostKeyChecking=yes|accept-new, not "StrictHostKeyChecking=no", "-C"'
      + "; to trust a host's key on first contact set host_key_policy: accept-new (or -o StrictHostKeyChecking=accept-new here), and for a throwaway test host pass --insecure-host-keys on the command line"));
    expect(() => parseSshCommonArgs('-C -o Compression=yes')).toThrow(new Error(
      'ansible_ssh_common_args: orch takes only -J HOST, -o ProxyJump=HOST, -o UserKnownHostsFile=FILE and -o StrictHostKeyChecking=yes|accept-new, not "-C", "Compression=yes"'));
  });

  it('an INI inventory problem points at the line that set it', async () => {
    const t = tempFiles();
    const f = t.write('typo.ini', [
      '[web]',
      'w1 ansible_host=10.0.0.1',
      'w2 ansible_host=10.0.0.2 ansible_conection=local',
      '[web:vars]',
      "ansible_ssh_common_args='-o StrictHostKeyChecking=no'",
      '',
    ].join('\n'));
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics.map((d) => `${d.file.split('/').pop()}:${d.line}:${d.col}: ${d.message}`)).toEqual([
      'typo.ini:3:1: host w2: ansible_conection is not supported by orch (it takes ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file, ansible_connection ssh|local and a ProxyJump in ansible_ssh_common_args)',
      'typo.ini:5:1: host w1: ansible_ssh_common_args: orch takes only -J HOST, -o ProxyJump=HOST, -o UserKnownHostsFile=FILE and -o StrictHostKeyChecking=yes|accept-new, not "StrictHostKeyChecking=no"'
        + "; to trust a host's key on first contact set host_key_policy: accept-new (or -o StrictHostKeyChecking=accept-new here), and for a throwaway test host pass --insecure-host-keys on the command line",
      'typo.ini:5:1: host w2: ansible_ssh_common_args: orch takes only -J HOST, -o ProxyJump=HOST, -o UserKnownHostsFile=FILE and -o StrictHostKeyChecking=yes|accept-new, not "StrictHostKeyChecking=no"'
        + "; to trust a host's key on first contact set host_key_policy: accept-new (or -o StrictHostKeyChecking=accept-new here), and for a throwaway test host pass --insecure-host-keys on the command line",
    ]);
  });
});

describe('loading an Ansible inventory into orch', () => {
  it('detects INI and Ansible YAML but not orch YAML', async () => {
    const t = tempFiles();
    expect(await detectAnsibleInventory(t.write('a.ini', '[web]\nw1\n'))).toBeDefined();
    expect(await detectAnsibleInventory(t.write('hosts', 'w1\nw2\n'))).toBeDefined();
    expect(await detectAnsibleInventory(t.write('a.yml', 'all:\n  hosts: { w1: }\n'))).toBeDefined();
    expect(await detectAnsibleInventory(t.write('b.yml', 'web:\n  hosts: { w1: }\n'))).toBeDefined();
    expect(await detectAnsibleInventory(t.write('o.yml', 'hosts:\n  w1: {}\n'))).toBeUndefined();
    expect(await detectAnsibleInventory(`ansible:${t.write('o2.yml', 'hosts:\n  w1: {}\n')}`)).toBeDefined();
  });

  it('maps groups to roles and groups, resolves vars with Ansible precedence, keeps Ansible order', async () => {
    const t = tempFiles();
    const f = t.write('inv/hosts.ini', [
      'lone', '[web]', 'w[2:1]', 'w[1:2] ansible_port=2201', '[db]', 'd1 ansible_host=10.0.0.5 x=host', '[prod:children]', 'db', 'web',
      '[prod:vars]', 'x=prod', 'y=prod', '[web:vars]', 'x=web', '[all:vars]', 'x=all', 'z=all', '',
    ].join('\n'));
    t.write('inv/group_vars/prod.yml', 'y: from_group_vars\n');
    t.write('inv/host_vars/w1/main.yml', 'x: from_host_vars\nansible_user: deploy\n');
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    const inv = r.inventory!;
    expect([...inv.hosts.keys()]).toEqual(['lone', 'w1', 'w2', 'd1']);
    expect(inv.roles.get('prod')).toEqual(['d1', 'w1', 'w2']);
    expect(inv.groups.get('prod')!.children).toEqual(['db', 'web']);
    const w1 = inv.hosts.get('w1')!;
    expect([w1.port, w1.user, w1.vars]).toEqual([2201, 'deploy', { x: 'from_host_vars', z: 'all', y: 'from_group_vars' }]);
    expect(inv.hosts.get('d1')!).toMatchObject({ address: '10.0.0.5', vars: { x: 'host', y: 'from_group_vars', z: 'all' } });
    expect(inv.hosts.get('lone')!.vars).toEqual({ x: 'all', z: 'all' });
    expect(Object.fromEntries(inv.patternOrder!)).toEqual({ all: ['lone', 'd1', 'w1', 'w2'], ungrouped: ['lone'], web: ['w1', 'w2'], db: ['d1'], prod: ['d1', 'w1', 'w2'] });
  });
});
