import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PlanHost } from '../../../src/model/plan.js';
import { expandPath, parseProxyJump, readSshConfig, resolveEndpoint, resolvePlanHost } from '../../../src/transport/ssh-config.js';

const ctx = { home: '/home/alice', localUser: 'alice' };
const dir = mkdtempSync(path.join(tmpdir(), 'orch-sshcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = `
Host web-*
  User deploy
  Port 2222

Host web-1
  HostName 10.0.0.11
  User ignored-first-value-wins
  IdentityFile ~/.ssh/web_%h_%r

Host db
  HostName db.%h.internal
  ProxyJump ops@bastion:2200,jump2

Host bastion
  HostName 203.0.113.5
  IdentityFile %d/.ssh/bastion

Host loop-a
  ProxyJump loop-b
Host loop-b
  ProxyJump loop-a

Match exec "touch ${dir}/match-exec-ran"
  User from-match-exec

Host *
  IdentityFile ~/.ssh/id_default
`;

async function config() {
  const file = path.join(dir, 'config');
  writeFileSync(file, CONFIG);
  return readSshConfig(file, ctx);
}

describe('parseProxyJump', () => {
  it.each([
    ['bastion', [{ host: 'bastion' }]],
    ['ops@bastion:2200', [{ user: 'ops', host: 'bastion', port: 2200 }]],
    ['a, u@b:23 ,c', [{ host: 'a' }, { user: 'u', host: 'b', port: 23 }, { host: 'c' }]],
    ['[fe80::1]:2222', [{ host: 'fe80::1', port: 2222 }]],
    ['ssh://u@h:2', [{ user: 'u', host: 'h', port: 2 }]],
    ['none', []],
  ])('%s', (value, expected) => {
    expect(parseProxyJump(value)).toEqual(expected);
  });

  it.each([
    ['a:b:c', 'ProxyJump: cannot parse hop "a:b:c"'],
    ['u@', 'ProxyJump: empty host in "u@"'],
    ['h:70000', 'ProxyJump: bad port in "h:70000"'],
  ])('rejects %s', (value, message) => {
    expect(() => parseProxyJump(value)).toThrow(message);
  });
});

describe('resolveEndpoint', () => {
  it('applies Host sections in order, first value winning, with tokens expanded', async () => {
    const file = path.join(dir, 'config');
    expect(await resolveEndpoint(await config(), 'web-1', {}, ctx)).toEqual({
      alias: 'web-1',
      hostname: '10.0.0.11',
      port: 2222,
      user: 'deploy',
      identityFiles: ['/home/alice/.ssh/web_10.0.0.11_deploy', '/home/alice/.ssh/id_default'],
      identityFilesRaw: ['~/.ssh/web_%h_%r', '~/.ssh/id_default'],
      proxyJump: [],
      sources: { hostname: `${file}:7`, port: `${file}:4`, user: `${file}:3`, identityFiles: [`${file}:9`, `${file}:28`] },
      warnings: [`${file}:24: Match exec touch ${dir}/match-exec-ran cannot be evaluated by orch (it never runs commands from ssh_config): block skipped`],
    });
  });

  it('lets inventory values win over ssh_config', async () => {
    const r = await resolveEndpoint(await config(), 'web-1', { user: 'root', port: 22, identity: '~/keys/inv' }, ctx);
    expect([r.user, r.port, r.identityFiles]).toEqual(['root', 22, ['/home/alice/keys/inv']]);
  });

  it('falls back to the local user and port 22 for a host the config does not name', async () => {
    const r = await resolveEndpoint(await config(), '10.9.9.9', {}, ctx);
    expect([r.hostname, r.user, r.port]).toEqual(['10.9.9.9', 'alice', 22]);
  });

  it('resolves ProxyJump hops through the config too, outermost first', async () => {
    const r = await resolveEndpoint(await config(), 'db', {}, ctx);
    expect(r.hostname).toBe('db.db.internal');
    expect(r.proxyJump.map((h) => [h.alias, h.hostname, h.user, h.port, h.identityFiles])).toEqual([
      ['bastion', '203.0.113.5', 'ops', 2200, ['/home/alice/.ssh/bastion', '/home/alice/.ssh/id_default']],
      ['jump2', 'jump2', 'alice', 22, ['/home/alice/.ssh/id_default']],
    ]);
  });

  it('reports a ProxyJump loop', async () => {
    const cfg = await config();
    await expect(resolveEndpoint(cfg, 'loop-a', {}, ctx)).rejects.toThrow('ssh_config: ProxyJump loop or chain too deep at loop-a -> loop-b -> loop-a');
  });

  it('never runs Match exec commands', async () => {
    const r = await resolveEndpoint(await config(), 'other', {}, ctx);
    expect(r.user).toBe('alice');
    expect(existsSync(path.join(dir, 'match-exec-ran'))).toBe(false);
  });

  it('treats a missing config file as empty', async () => {
    expect(await readSshConfig(path.join(dir, 'nope'), ctx)).toEqual({ files: [], problems: [] });
  });

  it('resolves a plan host by its address', async () => {
    const host: PlanHost = { name: 'w', address: 'web-1', addressExplicit: false, transport: 'ssh', hostKeyPolicy: 'strict', jump: [], port: 2200 };
    const r = await resolvePlanHost(await config(), host, ctx);
    expect([r.hostname, r.port, r.user]).toEqual(['10.0.0.11', 2200, 'deploy']);
  });
});

describe('expandPath', () => {
  it.each([
    ['~', '/home/alice'],
    ['~/.ssh/id', '/home/alice/.ssh/id'],
    ['%d/k_%u_%h_%r_%%', '/home/alice/k_alice_H_R_%'],
    ['/abs/~/x', '/abs/~/x'],
  ])('%s', (p, expected) => {
    expect(expandPath(p, ctx, 'H', 'R')).toBe(expected);
  });
});
