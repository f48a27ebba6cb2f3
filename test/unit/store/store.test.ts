/**
 * The store layer on the control machine with real parts: real ssh-keygen signatures,
 * real bundles built by the dir builder, a folder store. (HTTP stores: test/integration/store.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../../src/bundle/build.js';
import type { BundleInfo } from '../../../src/bundle/layout.js';
import { formatManifest, parseManifest, parseTarballName } from '../../../src/store/manifest.js';
import { publishBundle } from '../../../src/store/publish.js';
import { resolveStoreBundle } from '../../../src/store/resolve.js';
import { signData, verifyData } from '../../../src/store/sign.js';
import { parseStore, showUrl } from '../../../src/store/transfer.js';
import { presignSeconds, S3Access, splitS3Url } from '../../../src/store/s3.js';
import { makeTempDir } from '../bundle/helpers.js';

const now = () => new Date('2026-12-01T10:00:00.000Z');

function keypair(dir: string, name: string): { key: string; allowed: string } {
  const key = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
  const allowed = join(dir, `${name}.allowed`);
  const pub = readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
  writeFileSync(allowed, `${name}@release namespaces="orch-release" ${pub[0]} ${pub[1]}\n`);
  return { key, allowed };
}

async function makeBundle(dir: string, version: string, content = 'hello'): Promise<BundleInfo> {
  const src = join(dir, `src-${version}-${content.length}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'VERSION'), `${version}\n`);
  writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'shop', version }));
  writeFileSync(join(src, 'app.txt'), content);
  return buildBundle({ source: src, builder: 'dir', outDir: join(dir, 'dist'), noCache: true }, { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' }, now });
}

describe('channel manifest', () => {
  const good = { channel: 'stable', package: 'shop', version: '1.2.0', platform: 'any', sha256: 'a'.repeat(64), size: 10, url: 'shop-1.2.0-any.tar.gz', published_at: '2026-12-01T10:00:00.000Z', expires: '2026-12-31T10:00:00.000Z' };
  it('formats format 2 in a fixed key order, one line, and parses back', () => {
    const text = formatManifest(good);
    expect(text).toBe('{"format":2,"channel":"stable","package":"shop","version":"1.2.0","platform":"any","sha256":"' + 'a'.repeat(64) + '","size":10,"url":"shop-1.2.0-any.tar.gz","published_at":"2026-12-01T10:00:00.000Z","expires":"2026-12-31T10:00:00.000Z"}\n');
    expect(parseManifest(text, 'x')).toEqual(good);
  });
  it('refuses a format 1 manifest (no channel, no expiry) and says how to republish', () => {
    const { channel: _c, expires: _e, ...v1 } = good;
    expect(() => parseManifest(JSON.stringify(v1), 'x')).toThrow('x: format 1 channel manifest refused: it signs neither its channel nor an expiry, so it could be replayed or copied to another channel; republish the release with this orch: orch publish shop-<version>-<platform>.tar.gz --to STORE --channel CHANNEL --sign KEY');
  });
  it.each([
    ['not json', 'x: not a channel manifest: invalid JSON'],
    [JSON.stringify([1]), 'x: not a channel manifest: not a JSON object'],
    [JSON.stringify({ format: 2, ...good, package: '../evil' }), 'x: not a channel manifest: "package" must be a name'],
    [JSON.stringify({ format: 2, ...good, version: 'a b' }), '"version" must be a name'],
    [JSON.stringify({ format: 2, ...good, sha256: 'ABC' }), '"sha256" must be 64 lowercase hex digits'],
    [JSON.stringify({ format: 2, ...good, size: -1 }), '"size" must be a whole number of bytes'],
    [JSON.stringify({ format: 2, ...good, url: '' }), '"url" must be a non-empty string'],
    [JSON.stringify({ format: 2, ...good, published_at: 'yesterday' }), '"published_at" must be a UTC time like 2026-12-01T10:00:00.000Z'],
    [JSON.stringify({ format: 2, ...good, expires: '2026-12-31' }), '"expires" must be a UTC time'],
    [JSON.stringify({ format: 3, ...good }), '"format" must be 2'],
    [JSON.stringify({ format: 2, ...good, channel: 'a/b' }), '"channel" must be a name'],
  ])('refuses %s', (text, msg) => {
    expect(() => parseManifest(text, 'x')).toThrow(msg);
  });
  it.each([
    ['shop-1.2.0-any.tar.gz', { package: 'shop', version: '1.2.0', platform: 'any' }],
    ['shop-1.2.0-linux-x86_64.tar.gz', { package: 'shop', version: '1.2.0', platform: 'linux-x86_64' }],
    ['my-app-2.0.1+g1a2b-any.tar.gz', { package: 'my-app', version: '2.0.1+g1a2b', platform: 'any' }],
    ['shop.tar.gz', undefined],
    ['shop-latest-any.tar.gz', undefined],
  ])('reads the tarball name %s', (name, want) => {
    expect(parseTarballName(name)).toEqual(want);
  });
});

describe('signatures (ssh-keygen -Y, namespace orch-release)', () => {
  let dir: string;
  let a: { key: string; allowed: string };
  let b: { key: string; allowed: string };
  beforeAll(() => {
    dir = makeTempDir('orch-sign-');
    a = keypair(dir, 'alice');
    b = keypair(dir, 'bob');
  });
  it('verifies a signature by an allowed key and names the signer', async () => {
    const sig = await signData('manifest\n', a.key);
    expect(sig).toMatch(/^-----BEGIN SSH SIGNATURE-----/);
    await expect(verifyData('manifest\n', sig, a.allowed, 'chan')).resolves.toBe('alice@release');
  });
  it('refuses a key not in allowed_signers', async () => {
    const sig = await signData('manifest\n', b.key);
    await expect(verifyData('manifest\n', sig, a.allowed, 'chan')).rejects.toThrow(`chan: signature refused: not made by a key in ${a.allowed}`);
  });
  it('refuses tampered bytes', async () => {
    const sig = await signData('manifest\n', a.key);
    await expect(verifyData('manifest!\n', sig, a.allowed, 'chan')).rejects.toThrow('chan: signature refused: the manifest does not match its signature by alice@release');
  });
  it('refuses a signature made for another namespace', async () => {
    const f = join(dir, 'data');
    writeFileSync(f, 'manifest\n');
    execFileSync('ssh-keygen', ['-Y', 'sign', '-f', a.key, '-n', 'git', f], { stdio: 'ignore' });
    await expect(verifyData('manifest\n', readFileSync(`${f}.sig`, 'utf8'), a.allowed, 'chan')).rejects.toThrow('signature refused');
  });
});

describe('publish to a folder store, resolve at plan time', () => {
  let dir: string;
  let keys: { key: string; allowed: string };
  let other: { key: string; allowed: string };
  let v1: BundleInfo;
  let v2: BundleInfo;
  beforeAll(async () => {
    dir = makeTempDir('orch-store-');
    keys = keypair(dir, 'ci');
    other = keypair(dir, 'mallory');
    v1 = await makeBundle(dir, '1.0.0');
    v2 = await makeBundle(dir, '1.1.0');
  });
  const env = () => ({ ...process.env, XDG_CACHE_HOME: join(dir, 'cache') });

  it('writes the tarball, signature and manifest; the channel resolves to the version and the control machine caches the checked tarball', async () => {
    const store = parseStore(join(dir, 'store'), dir);
    const res = await publishBundle({ bundle: v1, store, channel: 'stable', signKey: keys.key, now });
    expect(res.url).toBe(pathToFileURL(join(dir, 'store/shop/shop-1.0.0-any.tar.gz')).toString());
    expect(readdirSync(join(dir, 'store/shop')).sort()).toEqual(['shop-1.0.0-any.tar.gz', 'stable.json', 'stable.json.sig']);
    const m = JSON.parse(readFileSync(join(dir, 'store/shop/stable.json'), 'utf8'));
    expect(m).toEqual({ format: 2, channel: 'stable', package: 'shop', version: '1.0.0', platform: 'any', sha256: v1.sha256, size: v1.size, url: res.url, published_at: '2026-12-01T10:00:00.000Z', expires: '2026-12-31T10:00:00.000Z' });

    const r = await resolveStoreBundle({ channel: join(dir, 'store/shop/stable.json'), allowed_signers: keys.allowed, fetch: 'control' }, { env: env(), baseDir: dir, now });
    expect(r).toMatchObject({ package: 'shop', version: '1.0.0', sha256: v1.sha256, size: v1.size, dir: 'shop-1.0.0-any', fetch: 'control', path: join(dir, 'cache/orch/store', `${v1.sha256}.tar.gz`) });
    expect(r.manifest?.signer).toBe('ci@release');
    expect(readFileSync(r.path).equals(readFileSync(v1.path))).toBe(true);

    // Publishing the next release moves the channel.
    await publishBundle({ bundle: v2, store, channel: 'stable', signKey: keys.key, now });
    const r2 = await resolveStoreBundle({ channel: join(dir, 'store/shop/stable.json'), allowed_signers: keys.allowed, fetch: 'host' }, { env: env(), baseDir: dir, now });
    expect(r2).toMatchObject({ version: '1.1.0', sha256: v2.sha256, path: '', dir: 'shop-1.1.0-any', fetch: 'host' });
  });

  it('refuses the same version with other bytes on a channel', async () => {
    const store = parseStore(join(dir, 'store-imm'), dir);
    await publishBundle({ bundle: v1, store, channel: 'stable', signKey: keys.key, now });
    const other1 = await makeBundle(join(dir, 'x'), '1.0.0', 'different');
    await expect(publishBundle({ bundle: other1, store, channel: 'stable', signKey: keys.key, now })).rejects.toThrow('channel stable already names shop 1.0.0 (any) with other bytes');
  });

  it.each([
    ['unsigned', async (s: string) => { execFileSync('rm', [join(s, 'shop/stable.json.sig')]); }, 'unsigned channel refused: no signature at'],
    ['tampered', async (s: string) => {
      const f = join(s, 'shop/stable.json');
      writeFileSync(f, readFileSync(f, 'utf8').replace('"1.0.0"', '"1.0.1"'));
    }, 'signature refused: the manifest does not match its signature by ci@release'],
    ['signed by another key', async (s: string) => {
      // ssh-keygen writes stable.json.sig beside the manifest (the old one removed first).
      execFileSync('ssh-keygen', ['-Y', 'sign', '-f', other.key, '-n', 'orch-release', join(s, 'shop/stable.json')], { stdio: 'ignore' });
    }, 'signature refused: not made by a key in'],
  ])('refuses a channel that is %s', async (name, spoil, msg) => {
    const s = join(dir, `store-${name.replace(/ /g, '-')}`);
    await publishBundle({ bundle: v1, store: parseStore(s, dir), channel: 'stable', signKey: keys.key, now });
    if (name === 'signed by another key') execFileSync('rm', [join(s, 'shop/stable.json.sig')]);
    await spoil(s);
    await expect(resolveStoreBundle({ channel: join(s, 'shop/stable.json'), allowed_signers: keys.allowed, fetch: 'control' }, { env: env(), baseDir: dir, now })).rejects.toThrow(msg);
  });

  it('refuses a validly signed manifest of another package copied into this package\'s channel (package swap)', async () => {
    const s = join(dir, 'store-swap');
    const store = parseStore(s, dir);
    await publishBundle({ bundle: v1, store, channel: 'stable', signKey: keys.key, now });
    // The same signed bytes under another package's folder: the signature still verifies.
    mkdirSync(join(s, 'admin'), { recursive: true });
    for (const f of ['stable.json', 'stable.json.sig']) writeFileSync(join(s, 'admin', f), readFileSync(join(s, 'shop', f)));
    await expect(resolveStoreBundle({ channel: join(s, 'admin/stable.json'), allowed_signers: keys.allowed, fetch: 'control' }, { env: env(), baseDir: dir, now }))
      .rejects.toThrow('package mismatch refused: the signed manifest names package shop, but the channel is <store>/admin/<channel>.json');
    // The original place still resolves.
    const ok = await resolveStoreBundle({ channel: join(s, 'shop/stable.json'), allowed_signers: keys.allowed, fetch: 'control' }, { env: env(), baseDir: dir, now });
    expect(ok).toMatchObject({ package: 'shop', version: '1.0.0' });
  });

  it('refuses a validly signed beta manifest copied over stable (channel swap)', async () => {
    const s = join(dir, 'store-chswap');
    const store = parseStore(s, dir);
    await publishBundle({ bundle: v1, store, channel: 'stable', signKey: keys.key, now });
    await publishBundle({ bundle: v2, store, channel: 'beta', signKey: keys.key, now });
    for (const f of ['.json', '.json.sig']) writeFileSync(join(s, `shop/stable${f}`), readFileSync(join(s, `shop/beta${f}`)));
    await expect(resolveStoreBundle({ channel: join(s, 'shop/stable.json'), allowed_signers: keys.allowed, fetch: 'control' }, { env: env(), baseDir: dir, now }))
      .rejects.toThrow(`${join(s, 'shop/stable.json')}: channel mismatch refused: the signed manifest is for channel beta, but it was read as channel stable`);
    const beta = await resolveStoreBundle({ channel: join(s, 'shop/beta.json'), allowed_signers: keys.allowed, fetch: 'host' }, { env: env(), baseDir: dir, now });
    expect(beta.version).toBe('1.1.0');
  });

  it('refuses an expired manifest (freeze); --expires sets the window', async () => {
    const s = join(dir, 'store-exp');
    await publishBundle({ bundle: v1, store: parseStore(s, dir), channel: 'stable', signKey: keys.key, now, expiresSeconds: 3600 });
    const ch = join(s, 'shop/stable.json');
    expect(JSON.parse(readFileSync(ch, 'utf8')).expires).toBe('2026-12-01T11:00:00.000Z');
    const at = (iso: string) => ({ env: env(), baseDir: dir, now: () => new Date(iso) });
    expect((await resolveStoreBundle({ channel: ch, allowed_signers: keys.allowed, fetch: 'host' }, at('2026-12-01T10:59:59.999Z'))).version).toBe('1.0.0');
    await expect(resolveStoreBundle({ channel: ch, allowed_signers: keys.allowed, fetch: 'host' }, at('2026-12-01T11:00:00.000Z')))
      .rejects.toThrow(`${ch}: expired manifest refused: shop 1.0.0 expired at 2026-12-01T11:00:00.000Z (now 2026-12-01T11:00:00.000Z)`);
  });

  it('refuses a replayed older manifest (downgrade) unless the playbook pins that version or --allow-downgrade', async () => {
    const s = join(dir, 'store-replay');
    const store = parseStore(s, dir);
    const ch = join(s, 'shop/stable.json');
    const cacheDir = join(dir, 'cache-replay');
    const ctx = { env: process.env, baseDir: dir, cacheDir, now: () => new Date('2026-12-02T00:00:00.000Z') };
    await publishBundle({ bundle: v1, store, channel: 'stable', signKey: keys.key, now: () => new Date('2026-12-01T10:00:00.000Z') });
    const old = { m: readFileSync(ch), sig: readFileSync(`${ch}.sig`) };
    expect((await resolveStoreBundle({ channel: ch, allowed_signers: keys.allowed, fetch: 'host' }, ctx)).version).toBe('1.0.0');
    await publishBundle({ bundle: v2, store, channel: 'stable', signKey: keys.key, now: () => new Date('2026-12-01T12:00:00.000Z') });
    expect((await resolveStoreBundle({ channel: ch, allowed_signers: keys.allowed, fetch: 'host' }, ctx)).version).toBe('1.1.0');
    // The mark is kept per channel URL, 0600, in the cache.
    const marks = readdirSync(join(cacheDir, 'store/channels'));
    expect(marks).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(cacheDir, 'store/channels', marks[0]!), 'utf8'))).toMatchObject({ channel: ch, version: '1.1.0', published_at: '2026-12-01T12:00:00.000Z' });
    expect(statSync(join(cacheDir, 'store/channels', marks[0]!)).mode & 0o777).toBe(0o600);

    writeFileSync(ch, old.m);
    writeFileSync(`${ch}.sig`, old.sig);
    await expect(resolveStoreBundle({ channel: ch, allowed_signers: keys.allowed, fetch: 'host' }, ctx))
      .rejects.toThrow(`${ch}: downgrade refused: the manifest names shop 1.0.0 published 2026-12-01T10:00:00.000Z, older than 1.1.0 published 2026-12-01T12:00:00.000Z already accepted for this channel (a replayed manifest); pin the version in the playbook (pin: 1.0.0) or run with --allow-downgrade`);
    expect((await resolveStoreBundle({ channel: ch, allowed_signers: keys.allowed, fetch: 'host', pin: '1.0.0' }, ctx)).version).toBe('1.0.0');
    expect((await resolveStoreBundle({ channel: ch, allowed_signers: keys.allowed, fetch: 'host' }, { ...ctx, allowDowngrade: true })).version).toBe('1.0.0');
    await expect(resolveStoreBundle({ channel: ch, allowed_signers: keys.allowed, fetch: 'host', pin: '1.1.0' }, ctx))
      .rejects.toThrow(`${ch}: pinned version mismatch: the channel names shop 1.0.0, the playbook pins 1.1.0`);
    // Going back on purpose does not lower the mark: the replay is still refused without it.
    await expect(resolveStoreBundle({ channel: ch, allowed_signers: keys.allowed, fetch: 'host' }, ctx)).rejects.toThrow('downgrade refused');
  });

  it('refuses a url whose bytes do not match sha256, and keeps nothing in the cache', async () => {
    const s = join(dir, 'store-url');
    const res = await publishBundle({ bundle: v1, store: parseStore(s, dir), now });
    const cache = join(dir, 'cache-url');
    await expect(resolveStoreBundle({ url: res.url, sha256: v2.sha256, fetch: 'control' }, { env: process.env, baseDir: dir, cacheDir: cache }))
      .rejects.toThrow(`sha256 mismatch: got ${v1.sha256}, want ${v2.sha256}`);
    expect(existsSync(join(cache, 'store')) ? readdirSync(join(cache, 'store')) : []).toEqual([]);
    const ok = await resolveStoreBundle({ url: res.url, sha256: v1.sha256, fetch: 'auto' }, { env: process.env, baseDir: dir, cacheDir: cache });
    expect(ok).toMatchObject({ version: '1.0.0', fetch: 'auto', url: res.url });
  });

  it('fetch: auto when the control machine cannot download: hosts fetch it themselves; fetch: control stops the plan', async () => {
    const url = pathToFileURL(join(dir, 'elsewhere/shop-1.0.0-any.tar.gz')).toString();
    const lines: string[] = [];
    const r = await resolveStoreBundle({ url, sha256: v1.sha256, fetch: 'auto' }, { env: process.env, baseDir: dir, cacheDir: join(dir, 'cache-auto'), log: (l) => lines.push(l) });
    expect(r).toMatchObject({ package: 'shop', version: '1.0.0', platform: 'any', dir: 'shop-1.0.0-any', path: '', fetch: 'host', url });
    expect(lines.at(-1)).toBe(`cannot read ${join(dir, 'elsewhere/shop-1.0.0-any.tar.gz')}: ENOENT: no such file or directory, open '${join(dir, 'elsewhere/shop-1.0.0-any.tar.gz')}'; the hosts fetch it themselves (no push fallback in this run)`);
    await expect(resolveStoreBundle({ url, sha256: v1.sha256, fetch: 'control' }, { env: process.env, baseDir: dir, cacheDir: join(dir, 'cache-auto') })).rejects.toThrow(`cannot read ${join(dir, 'elsewhere/shop-1.0.0-any.tar.gz')}`);
  });

  it('needs allowed_signers for a channel, and a platter name for a url fetched by hosts only', async () => {
    await expect(resolveStoreBundle({ channel: 'x.json' }, { env: process.env, baseDir: dir })).rejects.toThrow('a channel bundle needs allowed_signers');
    await expect(resolveStoreBundle({ url: 'http://10.0.0.1/latest.tar.gz', sha256: 'a'.repeat(64), fetch: 'host' }, { env: process.env, baseDir: dir }))
      .rejects.toThrow('with fetch: host the file must be named <package>-<version>-<platform>.tar.gz');
  });

  it('refuses an unsupported store scheme; takes s3://BUCKET/PREFIX without credentials in the URL', () => {
    expect(() => parseStore('ftp://host/x', dir)).toThrow('ftp://host/x: unsupported store (ftp://): use a folder, file://, s3://BUCKET/PREFIX, or an http(s):// server that accepts PUT');
    expect(parseStore('s3://bucket/x', dir)).toEqual({ kind: 's3', base: new URL('s3://bucket/x/'), headers: {} });
    expect(() => parseStore('s3://key:secret@bucket/x', dir)).toThrow('s3://bucket/x: an S3 store is s3://BUCKET or s3://BUCKET/PREFIX (credentials come from the AWS environment, not the URL)');
  });

  it('shows a presigned URL without its query (the signature)', () => {
    expect(showUrl('https://s3.example.com/b/k.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2Fx&X-Amz-Signature=abc')).toBe('https://s3.example.com/b/k.tar.gz');
    expect(showUrl('https://u:p@example.com/k.tar.gz?v=1')).toBe('https://example.com/k.tar.gz?v=1');
  });
});

describe('S3 settings (src/store/s3.ts; the SDK is not loaded for these)', () => {
  it('presigned URLs live 3600 s unless ORCH_S3_URL_EXPIRES says otherwise (60 s to 7 days)', () => {
    expect(presignSeconds({})).toBe(3600);
    expect(presignSeconds({ ORCH_S3_URL_EXPIRES: '900' })).toBe(900);
    for (const v of ['59', '604801', '1.5', 'soon']) {
      expect(() => presignSeconds({ ORCH_S3_URL_EXPIRES: v })).toThrow(`ORCH_S3_URL_EXPIRES=${JSON.stringify(v)}: expected whole seconds from 60 to 604800 (7 days)`);
    }
  });

  it('the endpoint: --s3-endpoint, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS', () => {
    expect(new S3Access({ endpoint: 'http://a:9000' }, { AWS_ENDPOINT_URL_S3: 'http://b', AWS_ENDPOINT_URL: 'http://c' }).endpoint()).toBe('http://a:9000');
    expect(new S3Access({}, { AWS_ENDPOINT_URL_S3: 'http://b', AWS_ENDPOINT_URL: 'http://c' }).endpoint()).toBe('http://b');
    expect(new S3Access({}, { AWS_ENDPOINT_URL: 'http://c' }).endpoint()).toBe('http://c');
    expect(new S3Access({}, {}).endpoint()).toBeUndefined();
  });

  it('splits s3://BUCKET/KEY', () => {
    expect(splitS3Url(new URL('s3://releases/apps/shop/stable.json'))).toEqual({ bucket: 'releases', key: 'apps/shop/stable.json' });
  });
});
