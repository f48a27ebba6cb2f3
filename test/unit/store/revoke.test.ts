/**
 * Revocation lists (src/store/revoke.ts) with real ssh-keygen signatures: `orch revoke`'s
 * core appends and signs; a channel whose release is revoked is refused (or, for
 * converge, kept and marked); a list tampered with, unsigned, or signed by another key
 * is refused. And the converge rollback plan keeps only the hosts running a revoked release.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../../src/bundle/build.js';
import type { BundleInfo } from '../../../src/bundle/layout.js';
import { narrowToRevoked } from '../../../src/compile/rollback-plan.js';
import type { Plan, Task } from '../../../src/steps/plan.js';
import { publishBundle } from '../../../src/store/publish.js';
import { resolveStoreBundle } from '../../../src/store/resolve.js';
import { readRevocations, revokeRelease } from '../../../src/store/revoke.js';
import { parseStore } from '../../../src/store/transfer.js';
import { makeTempDir } from '../bundle/helpers.js';
import { revokeRecordedBad } from '../../../src/cli/revoke.js';

const now = () => new Date('2026-12-01T10:00:00.000Z');

function keypair(dir: string, name: string): { key: string; allowed: string } {
  const key = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
  const allowed = join(dir, `${name}.allowed`);
  const pub = readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
  writeFileSync(allowed, `${name}@release namespaces="orch-release" ${pub[0]} ${pub[1]}\n`);
  return { key, allowed };
}

describe('revocation lists', () => {
  let dir: string;
  let keys: { key: string; allowed: string };
  let other: { key: string; allowed: string };
  let v1: BundleInfo;
  let channel: string;
  const env = () => ({ ...process.env, XDG_CACHE_HOME: join(dir, 'cache') });
  const resolveIt = (keepRevoked = false) => resolveStoreBundle({ channel, allowed_signers: keys.allowed, fetch: 'host' }, { env: env(), baseDir: dir, now, keepRevoked });

  beforeAll(async () => {
    dir = makeTempDir('orch-revoke-');
    keys = keypair(dir, 'ci');
    other = keypair(dir, 'mallory');
    const src = join(dir, 'src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'VERSION'), '1.0.0\n');
    writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0' }));
    v1 = await buildBundle({ source: src, builder: 'dir', outDir: join(dir, 'dist'), noCache: true }, { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' }, now });
    await publishBundle({ bundle: v1, store: parseStore(join(dir, 'store'), dir), channel: 'stable', signKey: keys.key, now });
    channel = join(dir, 'store/shop/stable.json');
  });

  it('revokes by version (the channel names it), signs the list, and the channel is then refused; revoking again changes nothing', async () => {
    expect((await resolveIt()).version).toBe('1.0.0');
    const res = await revokeRelease({ channelUrl: pathToFileURL(channel), release: '1.0.0', signKey: keys.key, reason: 'healthcheck failed on h1', now });
    expect(res.added).toBe(true);
    const text = readFileSync(join(dir, 'store/shop/stable.revoked'), 'utf8');
    expect(text).toBe(`{"format":1,"channel":"stable","package":"shop","revoked":[{"sha256":"${v1.sha256}","version":"1.0.0","at":"2026-12-01T10:00:00.000Z","reason":"healthcheck failed on h1"}]}\n`);
    execFileSync('ssh-keygen', ['-Y', 'verify', '-f', keys.allowed, '-I', 'ci@release', '-n', 'orch-release', '-s', join(dir, 'store/shop/stable.revoked.sig')], { input: text });
    await expect(resolveIt()).rejects.toThrow(`${channel}: revoked release refused: shop 1.0.0 (sha256 ${v1.sha256}) was revoked at 2026-12-01T10:00:00.000Z (healthcheck failed on h1); publish a fixed release, or publish the previous good one again (orch publish ... --channel stable --sign KEY)`);
    // converge keeps it, marked, to roll back the hosts that run it.
    expect((await resolveIt(true)).manifest?.revoked).toMatchObject({ sha256: v1.sha256, reason: 'healthcheck failed on h1' });
    const again = await revokeRelease({ channelUrl: pathToFileURL(channel), release: v1.sha256, signKey: keys.key, reason: 'x', now });
    expect(again.added).toBe(false);
    expect(readFileSync(join(dir, 'store/shop/stable.revoked'), 'utf8')).toBe(text);
  });

  it('refuses a version the channel does not name (give the sha256)', async () => {
    await expect(revokeRelease({ channelUrl: pathToFileURL(channel), release: '0.9.0', signKey: keys.key, reason: 'x', now }))
      .rejects.toThrow(`${channel} names shop 1.0.0, not 0.9.0: give the sha256 of the release to revoke (64 hex digits)`);
  });

  it('a list tampered with, unsigned, or signed by another key is refused: nobody lifts a revocation without the key', async () => {
    const list = join(dir, 'store/shop/stable.revoked');
    const good = readFileSync(list, 'utf8');
    const sig = readFileSync(`${list}.sig`, 'utf8');
    const read = () => readRevocations(pathToFileURL(channel), { channel: 'stable', package: 'shop' }, keys.allowed, { env: process.env });
    try {
      writeFileSync(list, good.replace(/"revoked":\[.*\]/, '"revoked":[]'));
      await expect(read()).rejects.toThrow(/stable\.revoked: revocation list refused: signature refused: the list does not match its signature by ci@release/);
      await expect(resolveIt()).rejects.toThrow(/revocation list refused/);
      writeFileSync(list, good);
      rmSync(`${list}.sig`);
      await expect(read()).rejects.toThrow(/stable\.revoked: revocation list refused: no signature at .*stable\.revoked\.sig/);
      execFileSync('ssh-keygen', ['-Y', 'sign', '-f', other.key, '-n', 'orch-release', list], { stdio: 'ignore' });
      await expect(read()).rejects.toThrow(/stable\.revoked: revocation list refused: signature refused: not made by a key in/);
    } finally {
      writeFileSync(list, good);
      writeFileSync(`${list}.sig`, sig);
    }
    expect((await read()).revoked.map((e) => e.sha256)).toEqual([v1.sha256]);
  });

  it('a list deleted from the store does not lift the revocation on a machine that read it', async () => {
    const list = join(dir, 'store/shop/stable.revoked');
    const good = readFileSync(list, 'utf8');
    const sig = readFileSync(`${list}.sig`, 'utf8');
    try {
      rmSync(list);
      rmSync(`${list}.sig`);
      await expect(resolveIt()).rejects.toThrow(/revoked release refused: shop 1\.0\.0/);
      // Another machine (an empty cache) never saw it: the list was its only source.
      const fresh = await resolveStoreBundle({ channel, allowed_signers: keys.allowed, fetch: 'host' }, { env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache2') }, baseDir: dir, now });
      expect(fresh.version).toBe('1.0.0');
    } finally {
      writeFileSync(list, good);
      writeFileSync(`${list}.sig`, sig);
    }
  });
});

describe('narrowToRevoked', () => {
  const bad = 'b'.repeat(64);
  const state = (current: string, installs: [string, string][]) => JSON.stringify({
    current, history: installs.map(([version, sha256], i) => ({ action: 'install', version, sha256, at: `2026-12-01T10:00:0${i}.000Z` })),
  });
  const rbTask = (root: string): Task => ({ script: 'x', probes: [], check: { kind: 'rollback', root, version: '' } as never, state: { root, app: 'shop', action: 'rollback', version: '' } as never });
  const svc: Task = { script: 'svc', probes: [], check: { kind: 'service' } as never };
  const plan = (): Plan => ({
    planVersion: 1, inputs: {} as never, hosts: {}, targets: ['h1', 'h2', 'h3'], bundles: {},
    phases: [{ node: 'web', hosts: ['h1', 'h2', 'h3'], batches: [['h1', 'h2', 'h3']], steps: [
      { index: 0, name: 'rollback', kind: 'rollback' as never, when: 'always', at: '', tasks: { h1: rbTask('/srv/web'), h2: rbTask('/srv/web'), h3: rbTask('/srv/web') } },
      { index: 1, name: 'restart', kind: 'service', when: 'changed', at: '', tasks: { h1: svc, h2: svc, h3: svc } },
    ] }],
  });
  it('keeps the hosts whose current is revoked (retargeted to their last good release); the others lose their tasks', () => {
    const rb = plan();
    const states: Record<string, string> = {
      h1: state('1.0.0', [['1.0.0', 'a'.repeat(64)]]),
      h2: state('2.0.0', [['1.0.0', 'a'.repeat(64)], ['2.0.0', bad]]),
      h3: state('2.0.0', [['2.0.0', bad]]),
    };
    const stuck = narrowToRevoked(rb, new Set([bad]), (h) => states[h]);
    expect(stuck).toEqual(['h3 (/srv/web)']);
    expect(rb.phases[0]!.steps.map((s) => Object.keys(s.tasks))).toEqual([['h2'], ['h2']]);
    expect(rb.phases[0]!.steps[0]!.tasks.h2!.label).toBe('rollback current -> 1.0.0');
  });
});

describe('revokeRecordedBad (apply and converge, after the run)', () => {
  const sha = 'c'.repeat(64);
  const plan = { bundles: { web: { name: 'web', package: 'web', version: '2.0.0', sha256: sha, store: { url: 'x', fetch: 'host', channel: '/nowhere/web/stable.json', signer: 'ci' } } } } as unknown as Plan;
  const summary = { recordedBad: [{ host: 'h1', version: '2.0.0', sha256: sha, reason: 'healthcheck' }] } as never;
  it('without a key says the release is NOT revoked and how to do it; --no-revoke says it was skipped; an unsigned-channel bundle is left alone', async () => {
    const lines: string[] = [];
    expect(await revokeRecordedBad(plan, summary, {}, (l) => lines.push(l), {})).toBe(false);
    expect(await revokeRecordedBad(plan, summary, { revoke: false }, (l) => lines.push(l), {})).toBe(true);
    const unsigned = { bundles: { web: { ...plan.bundles.web!, store: { url: 'x', fetch: 'host' } } } } as unknown as Plan;
    expect(await revokeRecordedBad(unsigned, summary, {}, (l) => lines.push(l), {})).toBe(true);
    expect(lines).toEqual([
      `orch: web 2.0.0 (sha256 ${sha}) failed on h1 but is NOT revoked fleet-wide: pass --revoke-key KEY (the channel's signing key, or ORCH_REVOKE_KEY), or --no-revoke; by hand: orch revoke /nowhere/web/stable.json ${sha} --sign KEY`,
      `orch: web 2.0.0 (sha256 ${sha}) failed on h1; not revoked (--no-revoke)`,
    ]);
  });
});
