/**
 * orch_check_manifest (src/host/fetch.sh): a host's own check of a signed channel
 * manifest before it fetches the release, under real bash and ssh-keygen, with
 * manifests written by the real publisher: the four attacks (channel swap, package swap,
 * replay of an older manifest, expired) and a tampered one.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BundleInfo } from '../../../src/bundle/layout.js';
import { FETCH_SH, PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { publishBundle } from '../../../src/store/publish.js';
import { parseStore } from '../../../src/store/transfer.js';
import { runBash } from '../../harness/bash.js';
import { makeTempDir } from '../bundle/helpers.js';

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

describe('orch_check_manifest on a host', () => {
  let dir: string;
  let key: string;
  let allowed: string;
  const fake = (pkg: string, version: string, sha: string): BundleInfo => ({ package: pkg, version, platform: 'any', sha256: sha, size: 100, path: join(dir, 'fake.tar.gz'), dir: `${pkg}-${version}-any` });
  const published: Record<string, { m: string; sig: string }> = {};
  /** Publishes into a fresh folder store; returns the manifest and signature texts. */
  const publish = async (name: string, b: BundleInfo, channel: string, at: string, expiresSeconds?: number) => {
    const s = join(dir, `store-${name}`);
    await publishBundle({ bundle: b, store: parseStore(s, dir), channel, signKey: key, now: () => new Date(at), ...(expiresSeconds !== undefined && { expiresSeconds }) });
    published[name] = { m: readFileSync(join(s, b.package, `${channel}.json`), 'utf8'), sig: readFileSync(join(s, b.package, `${channel}.json.sig`), 'utf8') };
    return published[name]!;
  };
  const check = (root: string, channel: string, pkg: string, p: { m: string; sig: string }, sha: string, allow = 0) =>
    runBash([PRELUDE_SH, FETCH_SH], `orch_check_manifest ${quote(root)} ${channel} ${pkg} ${quote(p.m)} ${quote(p.sig)} ${quote(readFileSync(allowed, 'utf8'))} ${sha} 100 ${allow} && echo rc=0`, [], { env: { PATH: process.env.PATH, HOME: dir } });

  beforeAll(async () => {
    dir = makeTempDir('orch-check-manifest-');
    writeFileSync(join(dir, 'fake.tar.gz'), Buffer.alloc(100));
    key = join(dir, 'ci');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', key]);
    const [type, b64] = readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
    allowed = join(dir, 'allowed');
    writeFileSync(allowed, `ci@example.com namespaces="orch-release" ${type} ${b64}\n`);
    const far = '2030-01-01T00:00:00.000Z';
    await publish('v1', fake('shop', '1.0.0', 'a'.repeat(64)), 'stable', '2029-12-20T00:00:00.000Z', 3600 * 24 * 365);
    await publish('v2', fake('shop', '1.1.0', 'b'.repeat(64)), 'stable', '2029-12-21T00:00:00.000Z', 3600 * 24 * 365);
    await publish('beta', fake('shop', '1.2.0', 'c'.repeat(64)), 'beta', far);
    await publish('admin', fake('admin', '9.0.0', 'd'.repeat(64)), 'stable', far);
    await publish('old', fake('shop', '0.9.0', 'e'.repeat(64)), 'stable', '2020-01-01T00:00:00.000Z');
  });

  it('accepts the signed manifest of its channel and keeps its published_at in ROOT/.orch/channels/CHANNEL', () => {
    const root = join(dir, 'root-ok');
    const r = check(root, 'stable', 'shop', published.v1!, 'a'.repeat(64));
    expect([r.stdout, r.stderr]).toEqual(['rc=0\n', '']);
    expect(readFileSync(join(root, '.orch/channels/stable'), 'utf8')).toBe('2029-12-20T00:00:00.000Z\n');
  });

  it.each([
    ['a channel swap', 'beta', 'stable', 'shop', 'c', 'channel stable: channel mismatch refused: the signed manifest is for channel beta, but it was read as channel stable'],
    ['a package swap', 'admin', 'stable', 'shop', 'd', 'channel stable: package mismatch refused: the signed manifest names package admin, but the channel is <store>/shop/<channel>.json'],
    ['an expired manifest', 'old', 'stable', 'shop', 'e', 'channel stable: expired manifest refused: shop 0.9.0 expired at 2020-01-31T00:00:00.000Z (host clock '],
    ['manifest naming other bytes', 'v1', 'stable', 'shop', 'f', `channel stable: the signed manifest names sha256 ${'a'.repeat(64)} (100 bytes), but this host was asked to fetch ${'f'.repeat(64)} (100 bytes)`],
  ])('refuses %s: the step fails, nothing written', (_what, name, channel, pkg, sha, message) => {
    const root = join(dir, `root-${name}`);
    const r = check(root, channel, pkg, published[name]!, sha.repeat(64));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
    expect(existsSync(join(root, '.orch/channels'))).toBe(false);
  });

  it('refuses a tampered manifest (signature check with ssh-keygen -Y verify)', () => {
    const r = check(join(dir, 'root-t'), 'stable', 'shop', { ...published.v1!, m: published.v1!.m.replace('1.0.0', '1.0.1') }, 'a'.repeat(64));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('channel stable: signature refused: the manifest does not match its signature by ci@example.com');
  });

  it('refuses a manifest older than the newest this host accepted, unless ALLOW_OLDER (pin or --allow-downgrade); the mark never goes back', () => {
    const root = join(dir, 'root-replay');
    expect(check(root, 'stable', 'shop', published.v2!, 'b'.repeat(64)).stdout).toBe('rc=0\n');
    const r = check(root, 'stable', 'shop', published.v1!, 'a'.repeat(64));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('channel stable: downgrade refused on this host: the manifest names shop 1.0.0 published 2029-12-20T00:00:00.000Z, older than the newest this host accepted (published 2029-12-21T00:00:00.000Z); pin the version in the playbook (pin: 1.0.0) or run with --allow-downgrade');
    expect(check(root, 'stable', 'shop', published.v1!, 'a'.repeat(64), 1).stdout).toBe('rc=0\n');
    expect(readFileSync(join(root, '.orch/channels/stable'), 'utf8')).toBe('2029-12-21T00:00:00.000Z\n');
  });
});
