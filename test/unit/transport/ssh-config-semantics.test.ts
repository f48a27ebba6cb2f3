/**
 * OpenSSH semantics that the ssh -G differential cannot reach without touching the real
 * ~/.ssh or the network: Include relative to ~/.ssh of the given home, Include inside an
 * inactive block, canonicalization through CanonicalDomains (injected resolver), and the
 * ProxyJump chain rules.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSshConfig, readSshConfig, resolveEndpoint, type ResolveContext } from '../../../src/transport/ssh-config.js';

const home = mkdtempSync(path.join(tmpdir(), 'orch-sshsem-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const ctx: ResolveContext = { home, localUser: 'alice', env: {} };
const write = (rel: string, text: string): string => {
  const p = path.join(home, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
};

describe('Include', () => {
  it('reads ~/.ssh/config and conf.d/*.conf relative to ~/.ssh, in glob order, first value winning', async () => {
    write('.ssh/config', 'Include conf.d/*.conf\nHost *\n  User fallback\n  Port 2000\n');
    const b = write('.ssh/conf.d/b.conf', 'Host web\n  Port 2202\n');
    const a = write('.ssh/conf.d/a.conf', 'Host web\n  HostName 10.0.0.1\n  User deploy\n');
    write('.ssh/conf.d/.hidden.conf', 'Host web\n  User hidden\n');
    const cfg = await loadSshConfig(ctx);
    const r = await resolveEndpoint(cfg, 'web', {}, ctx);
    expect([r.hostname, r.user, r.port]).toEqual(['10.0.0.1', 'deploy', 2202]);
    expect(r.sources).toMatchObject({ hostname: `${a}:2`, user: `${a}:3`, port: `${b}:2` });
    const other = await resolveEndpoint(cfg, 'db', {}, ctx);
    expect([other.user, other.port]).toEqual(['fallback', 2000]);
  });

  it('applies an Include inside a Host block only to that host, and resumes the block after it', async () => {
    const main = write('inc/config', `Host web\n  Include ${home}/inc/web.inc\n  Port 2222\nHost *\n  User everyone\n`);
    write('inc/web.inc', 'User webuser\nHost *\n  IdentityFile ~/.ssh/from_include\n');
    const cfg = await readSshConfig(main, ctx);
    const web = await resolveEndpoint(cfg, 'web', {}, ctx);
    expect([web.user, web.port, web.identityFiles]).toEqual(['webuser', 2222, [path.join(home, '.ssh/from_include')]]);
    // For db the Include is inside an inactive block: even its `Host *` does not apply.
    const db = await resolveEndpoint(cfg, 'db', {}, ctx);
    expect([db.user, db.port, db.identityFiles]).toEqual(['everyone', 22, []]);
  });

  it('refuses an Include that recurses forever, as ssh does', async () => {
    const main = write('loop/config', `Include ${home}/loop/config\n`);
    const cfg = await readSshConfig(main, ctx);
    await expect(resolveEndpoint(cfg, 'x', {}, ctx)).rejects.toThrow(`ssh_config: ${main}:1: Include nested more than 16 levels (too many recursive configuration includes)`);
  });
});

describe('Host and Match', () => {
  it.each([
    ['Host a,b\n  User comma\n', 'a', 'alice'], // a comma is part of the pattern
    ['Host a b\n  User spaced\n', 'b', 'spaced'],
    ['Host web* !web2\n  User w\n', 'web2', 'alice'], // negation vetoes
    ['Host web* !web2\n  User w\n', 'web1', 'w'],
    ['Match host *.internal\n  User m\nHost x\n  HostName x.internal\n', 'x', 'alice'], // Match host sees HostName set so far: none yet
    ['Host x\n  HostName x.internal\nMatch host *.internal\n  User m\n', 'x', 'm'],
    ['Match originalhost x,y !host *.internal\n  User o\n', 'y', 'o'],
    ['Match user bob\n  Port 1\nMatch localuser alice\n  User byname\n', 'h', 'byname'],
  ])('%j for %s gives user %s', async (text, host, user) => {
    const f = write(`m/${Math.random().toString(36).slice(2)}`, text);
    expect((await resolveEndpoint(await readSshConfig(f, ctx), host, {}, ctx)).user).toBe(user);
  });

  it('reports Match criteria it cannot evaluate instead of skipping them silently', async () => {
    const f = write('m/exec', 'Match host web exec "test -e /x"\n  User e\nMatch localnetwork 10.0.0.0/8\n  User l\n');
    const cfg = await readSshConfig(f, ctx);
    const r = await resolveEndpoint(cfg, 'web', {}, ctx);
    expect(r.user).toBe('alice');
    expect(r.warnings).toEqual([
      `${f}:1: Match exec test -e /x cannot be evaluated by orch (it never runs commands from ssh_config): block skipped`,
      `${f}:3: Match localnetwork 10.0.0.0/8 cannot be evaluated by orch (it never runs commands from ssh_config): block skipped`,
    ]);
    // The other criteria are checked first: no warning where they already fail.
    expect((await resolveEndpoint(cfg, 'db', {}, ctx)).warnings).toEqual([`${f}:3: Match localnetwork 10.0.0.0/8 cannot be evaluated by orch (it never runs commands from ssh_config): block skipped`]);
  });
});

describe('canonicalization', () => {
  const lookup = async (name: string): Promise<boolean> => name === 'web.b.example';

  it('tries CanonicalDomains in order and re-reads the config with the canonical name', async () => {
    const f = write('c/config', 'CanonicalizeHostname yes\nCanonicalDomains a.example b.example\nHost *.b.example\n  User canon\n  Port 2022\n');
    const r = await resolveEndpoint(await readSshConfig(f, ctx), 'web', {}, { ...ctx, lookup });
    expect([r.hostname, r.user, r.port]).toEqual(['web.b.example', 'canon', 2022]);
  });

  it('leaves names with more dots than CanonicalizeMaxDots, and addresses, alone', async () => {
    const f = write('c/dots', 'CanonicalizeHostname yes\nCanonicalDomains b.example\nCanonicalizeMaxDots 0\n');
    const cfg = await readSshConfig(f, ctx);
    expect((await resolveEndpoint(cfg, 'web.x', {}, { ...ctx, lookup: async () => true })).hostname).toBe('web.x');
    expect((await resolveEndpoint(cfg, '10.1.2.3', {}, { ...ctx, lookup: async () => true })).hostname).toBe('10.1.2.3');
  });

  it('fails with CanonicalizeFallbackLocal no when no domain resolves', async () => {
    const f = write('c/nofallback', 'CanonicalizeHostname yes\nCanonicalDomains a.example\nCanonicalizeFallbackLocal no\n');
    await expect(resolveEndpoint(await readSshConfig(f, ctx), 'web', {}, { ...ctx, lookup })).rejects.toThrow(
      'ssh_config: could not canonicalize web with CanonicalDomains a.example (CanonicalizeFallbackLocal no)',
    );
  });

  it('does not canonicalize through a ProxyJump unless CanonicalizeHostname always', async () => {
    const f = write('c/jump', 'CanonicalizeHostname yes\nCanonicalDomains b.example\nHost web\n  ProxyJump bastion\n');
    expect((await resolveEndpoint(await readSshConfig(f, ctx), 'web', {}, { ...ctx, lookup })).hostname).toBe('web');
    const g = write('c/jump2', 'CanonicalizeHostname always\nCanonicalDomains b.example\nHost web\n  ProxyJump bastion\n');
    expect((await resolveEndpoint(await readSshConfig(g, ctx), 'web', {}, { ...ctx, lookup })).hostname).toBe('web.b.example');
  });
});

describe('ProxyJump as ssh -J runs it', () => {
  it('gives only the first hop of a list its own ProxyJump (no extra hop for a later one)', async () => {
    const f = write('j/config', 'Host target\n  ProxyJump a,b\nHost b\n  ProxyJump z\n  User bee\nHost a\n  ProxyJump outer\n');
    const r = await resolveEndpoint(await readSshConfig(f, ctx), 'target', {}, ctx);
    expect(r.proxyJump.map((h) => `${h.user}@${h.alias}`)).toEqual(['alice@outer', 'alice@a', 'bee@b']);
  });

  it('follows a single hop\'s own ProxyJump', async () => {
    const f = write('j/single', 'Host target\n  ProxyJump b\nHost b\n  ProxyJump z\n');
    const r = await resolveEndpoint(await readSshConfig(f, ctx), 'target', {}, ctx);
    expect(r.proxyJump.map((h) => h.alias)).toEqual(['z', 'b']);
  });

  it('refuses ProxyCommand, which orch cannot run', async () => {
    const f = write('j/cmd', 'Host t\n  ProxyCommand nc %h %p\n  ProxyJump x\n');
    await expect(resolveEndpoint(await readSshConfig(f, ctx), 't', {}, ctx)).rejects.toThrow(`ssh_config ${f}:2: ProxyCommand is not supported by orch (use ProxyJump or the inventory's jump:)`);
  });
});
