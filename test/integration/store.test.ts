/**
 * Bundles from an artifact store, end to end with real parts: 3 sshd test hosts in
 * network namespaces, Debian's nginx with WebDAV PUT/MOVE in its own namespace on the
 * same bridge (test/harness/store.ts), `orch publish` and `orch apply` run as the built
 * CLI, real curl, wget and ssh-keygen on the hosts. Run `npm run build` first.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FETCH_SH, PRELUDE_SH } from '../../src/host/embedded.generated.js';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { canRunStore, startStore, type TestStore } from '../harness/store.js';
import { makeWork, orch, summaryOf } from './cli.js';

const ROOT = '/srv/shop';

describe.skipIf(!canRunFleet() || !canRunStore())('bundles from an nginx WebDAV store, fetched by the hosts', () => {
  let fleet: Fleet;
  let store: TestStore;
  let work: string;
  let env: Record<string, string>;
  let key: string;
  let allowed: string;
  let wrongKey: string;
  const tarballs: Record<string, { path: string; sha256: string; size: number }> = {};
  const host = (name: string): TestHost => fleet.hosts.find((h) => h.name === name)!;
  const onHost = (name: string, p: string): string => join(host(name).dir, p);
  const current = (name: string): string | undefined => (existsSync(onHost(name, 'srv/shop/current')) ? readlinkSync(onHost(name, 'srv/shop/current')) : undefined);
  const accessLog = (): string[] => (existsSync(store.accessLog) ? readFileSync(store.accessLog, 'utf8').trim().split('\n').filter(Boolean) : []);

  const build = async (version: string): Promise<void> => {
    const src = join(work, `v${version}`, 'shop');
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'VERSION'), `${version}\n`);
    writeFileSync(join(src, 'bin', 'run'), `#!/bin/sh\necho shop ${version}\n`, { mode: 0o755 });
    // 2 MiB of incompressible bytes, so a truncated download is a real partial transfer.
    writeFileSync(join(src, 'blob'), Buffer.concat(Array.from({ length: 65536 }, (_, i) => createHash('sha256').update(`${version}:${i}`).digest())));
    const r = await orch(['bundle', src, '--out', join(work, 'dist'), '--json', '--no-cache'], env);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { path: string; sha256: string; size: number };
    tarballs[version] = info;
  };
  const publish = (version: string, ...more: string[]) => orch(['publish', tarballs[version]!.path, '--to', store.baseUrl, ...more], env);
  const playbook = (bundle: string): string => {
    const pb = join(work, 'site.yml');
    writeFileSync(pb, `inventory: inventory.yml
vars: { app: shop, root: ${ROOT} }
bundles:
  shop: ${bundle}
nodes:
  shop:
    steps:
      - install: { bundle: shop }
      - symlink: {}
`);
    return pb;
  };
  const apply = (pb: string, ...more: string[]) => orch(['apply', pb, '--yes', '--json', ...more], env);

  beforeAll(async () => {
    fleet = await startFleet({ count: 3, name: 'orchsf' });
    store = await startStore(fleet);
    ({ dir: work, env } = makeWork('store'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    key = join(work, 'release_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', key]);
    wrongKey = join(work, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'other', '-f', wrongKey]);
    allowed = join(work, 'allowed_signers');
    const [type, b64] = readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
    writeFileSync(allowed, `ci@example.com namespaces="orch-release" ${type} ${b64}\n`);
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await build(v);
  }, 120_000);

  afterAll(async () => {
    await store?.teardown();
    await fleet?.teardown();
  });

  beforeEach(async () => {
    for (const h of fleet.hosts) {
      await fleet.hostExec(h, `ip route del unreachable ${store.address}/32 2>/dev/null; umount /usr/bin/curl 2>/dev/null; true`);
    }
    await store.start();
  });

  it('publish PUTs the tarball, then the signature and manifest (temp name + MOVE); apply of the channel: every host fetched it itself, orch sent no payload', async () => {
    const r = await publish('1.0.0', '--channel', 'stable', '--sign', key);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${store.baseUrl}shop/shop-1.0.0-any.tar.gz\n  channel stable -> shop 1.0.0 (any), signed: ${store.baseUrl}shop/stable.json\n`);
    expect(readdirSync(join(store.root, 'shop')).sort()).toEqual(['shop-1.0.0-any.tar.gz', 'stable.json', 'stable.json.sig']);
    expect(readFileSync(join(store.root, 'shop/shop-1.0.0-any.tar.gz')).equals(readFileSync(tarballs['1.0.0']!.path))).toBe(true);
    const writes = accessLog().filter((l) => /^(PUT|MOVE) /.test(l)).map((l) => l.split(' ').slice(0, 3).join(' ').replace(/tmp-[0-9a-f]+/, 'tmp-X'));
    expect(writes).toEqual([
      'PUT /shop/.shop-1.0.0-any.tar.gz.tmp-X 201', 'MOVE /shop/.shop-1.0.0-any.tar.gz.tmp-X 204',
      'PUT /shop/.stable.json.sig.tmp-X 201', 'MOVE /shop/.stable.json.sig.tmp-X 204',
      'PUT /shop/.stable.json.tmp-X 201', 'MOVE /shop/.stable.json.tmp-X 204',
    ]);

    const pb = playbook(`{ channel: ${store.baseUrl}shop/stable.json, allowed_signers: allowed_signers, fetch: host }`);
    const plan = await orch(['plan', pb], env);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('~ shop: install shop 1.0.0  will change');
    const before = accessLog().length;
    const a = await apply(pb);
    expect(a.code, a.stderr).toBe(0);
    const s = summaryOf(a.stdout);
    expect(s.hosts.map((h) => h.status)).toEqual(['changed', 'changed', 'changed']);
    expect(s.bytesUploaded).toBe(0);
    for (const h of ['h1', 'h2', 'h3']) {
      expect(current(h)).toBe('versions/1.0.0');
      expect(readFileSync(onHost(h, `srv/shop/.orch/bundles/${tarballs['1.0.0']!.sha256}.tar.gz`)).equals(readFileSync(tarballs['1.0.0']!.path))).toBe(true);
    }
    const gets = accessLog().slice(before).filter((l) => l.startsWith('GET /shop/shop-1.0.0-any.tar.gz 200'));
    expect(gets).toHaveLength(3);
    expect(gets.every((l) => l.includes('"curl/'))).toBe(true);
  });

  it('a host without curl uses wget; a host that cannot reach the store gets the push (fetch: auto)', async () => {
    expect((await publish('1.1.0', '--channel', 'stable', '--sign', key)).code).toBe(0);
    await fleet.hostExec(host('h2'), 'touch /root/no-curl && chmod 644 /root/no-curl && mount --bind /root/no-curl /usr/bin/curl');
    await store.blockHost(host('h3'), true);
    const pb = playbook(`{ channel: ${store.baseUrl}shop/stable.json, allowed_signers: allowed_signers }`);
    const before = accessLog().length;
    const a = await apply(pb);
    expect(a.code, a.stderr).toBe(0);
    const s = summaryOf(a.stdout);
    expect(s.hosts.map((h) => h.status)).toEqual(['changed', 'changed', 'changed']);
    // Only h3 was pushed to: one tarball's bytes.
    expect(s.bytesUploaded).toBe(tarballs['1.1.0']!.size);
    const gets = accessLog().slice(before).filter((l) => l.startsWith('GET /shop/shop-1.1.0-any.tar.gz 200'));
    // h1 with curl, h2 with wget; and (fetch: auto) the control machine once, into its cache.
    expect(gets.map((l) => /"(\w+)/.exec(l)?.[1]).sort()).toEqual(['Wget', 'curl', 'node']);
    for (const h of ['h1', 'h2', 'h3']) expect(current(h)).toBe('versions/1.1.0');
  });

  it('fetch: host and a host that cannot reach the store: that host fails clearly, the others finish', async () => {
    expect((await publish('1.2.0', '--channel', 'beta', '--sign', key)).code).toBe(0);
    await store.blockHost(host('h3'), true);
    const pb = playbook(`{ channel: ${store.baseUrl}shop/beta.json, allowed_signers: allowed_signers, fetch: host }`);
    const a = await apply(pb);
    expect(a.code).toBe(4);
    const s = summaryOf(a.stdout);
    expect(s.hosts.map((h) => `${h.host} ${h.status}`)).toEqual(['h1 changed', 'h2 changed', 'h3 failed']);
    expect(s.hosts[2]!.error).toContain(`fetch ${store.baseUrl}shop/shop-1.2.0-any.tar.gz: curl failed (exit 7) after 3 attempts`);
    expect(s.hosts[2]!.error).toContain('bundle not installed: the host could not fetch it from the store (fetch: host)');
    expect(current('h3')).toBe('versions/1.1.0');
    expect(existsSync(onHost('h3', 'srv/shop/versions/1.2.0'))).toBe(false);
    expect(s.bytesUploaded).toBe(0);
  });

  it('the store down: a per-host error for the hosts that need the release, the host that has it finishes', async () => {
    // h3 lacks 1.2.0 (previous test); h1 and h2 have it.
    const t = tarballs['1.2.0']!;
    await store.stop();
    const pb = playbook(`{ url: ${store.baseUrl}shop/shop-1.2.0-any.tar.gz, sha256: ${t.sha256}, fetch: host }`);
    const a = await apply(pb);
    expect(a.code).toBe(4);
    const s = summaryOf(a.stdout);
    expect(s.hosts.map((h) => `${h.host} ${h.status}`)).toEqual(['h1 ok', 'h2 ok', 'h3 failed']);
    expect(s.hosts[2]!.error).toMatch(/fetch http:\/\/[\d.]+\/shop\/shop-1\.2\.0-any\.tar\.gz: curl failed \(exit 7\) after 3 attempts/);
  });

  it.each([
    ['a sha256 mismatch', 'sha256 mismatch: got'],
    ['a truncated download', 'size mismatch: got 1048576 bytes, want'],
  ])('%s is refused on the host: nothing unpacked, current unchanged, no partial file kept', async (what, message) => {
    const sha = tarballs['1.2.0']!.sha256;
    let pb: string;
    if (what === 'a sha256 mismatch') {
      // The URL serves 1.2.0's name with 1.1.0's bytes.
      writeFileSync(join(store.root, 'shop/shop-1.2.0-any.tar.gz'), readFileSync(tarballs['1.1.0']!.path));
      pb = playbook(`{ url: ${store.baseUrl}shop/shop-1.2.0-any.tar.gz, sha256: ${sha}, fetch: host }`);
    } else {
      writeFileSync(join(store.root, 'shop/shop-1.2.0-any.tar.gz'), readFileSync(tarballs['1.2.0']!.path));
      truncateSync(join(store.root, 'shop/shop-1.2.0-any.tar.gz'), 1024 * 1024);
      pb = playbook(`{ channel: ${store.baseUrl}shop/beta.json, allowed_signers: allowed_signers, fetch: host }`);
    }
    const a = await apply(pb, '--limit', 'h3');
    expect(a.code).toBe(4);
    const s = summaryOf(a.stdout);
    expect(s.hosts[0]!.error).toContain(message);
    expect(current('h3')).toBe('versions/1.1.0');
    expect(existsSync(onHost('h3', 'srv/shop/versions/1.2.0'))).toBe(false);
    expect(readdirSync(onHost('h3', 'srv/shop/.orch/bundles')).filter((f) => f.startsWith(sha))).toEqual([]);
    expect(readdirSync(onHost('h3', 'srv/shop/.orch')).filter((f) => f.startsWith('unpack.'))).toEqual([]);
    // Put the good tarball back for later tests.
    writeFileSync(join(store.root, 'shop/shop-1.2.0-any.tar.gz'), readFileSync(tarballs['1.2.0']!.path));
  });

  it.each([
    ['tampered', () => {
      const f = join(store.root, 'shop/beta.json');
      writeFileSync(f, readFileSync(f, 'utf8').replace('"1.2.0"', '"1.2.1"'));
    }, 'signature refused: the manifest does not match its signature by ci@example.com'],
    ['signed by a key not in allowed_signers', () => {
      execFileSync('ssh-keygen', ['-Y', 'sign', '-f', wrongKey, '-n', 'orch-release', join(store.root, 'shop/beta.json')], { stdio: 'ignore' });
    }, 'signature refused: not made by a key in'],
    ['unsigned', () => {
      execFileSync('rm', ['-f', join(store.root, 'shop/beta.json.sig')]);
    }, 'unsigned channel refused: no signature at'],
  ])('a channel that is %s stops the plan: exit 1, nothing changes on any host', async (_what, spoil, message) => {
    expect((await publish('1.2.0', '--channel', 'beta', '--sign', key)).code).toBe(0);
    if (_what === 'signed by a key not in allowed_signers') execFileSync('rm', ['-f', join(store.root, 'shop/beta.json.sig')]);
    spoil();
    const before = accessLog().length;
    const a = await apply(playbook(`{ channel: ${store.baseUrl}shop/beta.json, allowed_signers: allowed_signers, fetch: host }`), '--limit', 'h3');
    expect(a.code).toBe(1);
    expect(a.stderr).toContain(`bundles.shop: ${store.baseUrl}shop/beta.json: ${message}`);
    expect(current('h3')).toBe('versions/1.1.0');
    expect(accessLog().slice(before).filter((l) => l.includes('.tar.gz'))).toEqual([]);
  });

  it('fetch: control: the control machine downloads once into its cache and pushes; hosts never contact the store', async () => {
    const pb = playbook(`{ channel: ${store.baseUrl}shop/beta.json, allowed_signers: allowed_signers, fetch: control }`);
    expect((await publish('1.2.0', '--channel', 'beta', '--sign', key)).code).toBe(0);
    await orch(['exec', '-i', join(work, 'inventory.yml'), '--limit', 'all', '--', 'rm -rf /srv/shop'], env);
    const before = accessLog().length;
    const a = await apply(pb);
    expect(a.code, a.stderr).toBe(0);
    const s = summaryOf(a.stdout);
    expect(s.hosts.map((h) => h.status)).toEqual(['changed', 'changed', 'changed']);
    expect(s.bytesUploaded).toBe(3 * tarballs['1.2.0']!.size);
    const gets = accessLog().slice(before).filter((l) => l.startsWith('GET /shop/shop-1.2.0-any.tar.gz'));
    expect(gets.map((l) => /"(\w+)/.exec(l)?.[1])).toEqual(['node']);
    for (const h of ['h1', 'h2', 'h3']) expect(current(h)).toBe('versions/1.2.0');
    // A second plan reads only the channel (its manifest, signature and revocation list):
    // the tarball comes from the cache.
    const again = accessLog().length;
    expect((await orch(['plan', pb], env)).code).toBe(0);
    expect(accessLog().slice(again).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['GET /shop/beta.json', 'GET /shop/beta.json.sig', 'GET /shop/beta.revoked']);
  }, 180_000);

  it('orch_verify_manifest on a host (real bash, ssh-keygen): accepts the signed manifest, refuses tampered, wrong-key and unsigned ones', async () => {
    const h = host('h1');
    const sig = (f: string, k: string) => execFileSync('ssh-keygen', ['-Y', 'sign', '-f', k, '-n', 'orch-release', f], { stdio: 'ignore' });
    const dir = onHost('h1', 'tmp/verify');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'allowed'), readFileSync(allowed));
    for (const [name, text, k] of [['good', '{"v":1}\n', key], ['bad', '{"v":1}\n', wrongKey], ['tampered', '{"v":1}\n', key], ['unsigned', '{"v":1}\n', undefined]] as const) {
      writeFileSync(join(dir, `${name}.json`), text);
      if (k) sig(join(dir, `${name}.json`), k);
    }
    writeFileSync(join(dir, 'tampered.json'), '{"v":2}\n');
    const lib = `${PRELUDE_SH}\n${FETCH_SH}\n`;
    const run = (n: string) => fleet.hostExec(h, `${lib}\norch_verify_manifest /tmp/verify/${n}.json /tmp/verify/${n}.json.sig /tmp/verify/allowed && echo rc=0 || echo "rc=$?"`);
    expect((await run('good')).stdout).toBe('rc=0\n');
    const bad = await run('bad');
    expect([bad.stdout, bad.stderr]).toEqual(['rc=6\n', 'manifest /tmp/verify/bad.json: signature refused: not made by a key in /tmp/verify/allowed\n']);
    const t = await run('tampered');
    expect([t.stdout, t.stderr]).toEqual(['rc=6\n', 'manifest /tmp/verify/tampered.json: signature refused: the manifest does not match its signature by ci@example.com\n']);
    const u = await run('unsigned');
    expect([u.stdout, u.stderr]).toEqual(['rc=6\n', 'manifest /tmp/verify/unsigned.json: unsigned (no signature): refused\n']);
  });

  it('orch_fetch resumes a partial download on the host (curl -C -) and then checks the whole file', async () => {
    const t = tarballs['1.2.0']!;
    const h = host('h1');
    const dest = '/tmp/fetch/x.tar.gz';
    mkdirSync(onHost('h1', 'tmp/fetch'), { recursive: true });
    writeFileSync(onHost('h1', 'tmp/fetch/x.tar.gz.part'), readFileSync(t.path).subarray(0, 700_000));
    const before = accessLog().length;
    const r = await fleet.hostExec(h, `${PRELUDE_SH}\n${FETCH_SH}\norch_fetch ${store.baseUrl}shop/shop-1.2.0-any.tar.gz ${dest} ${t.sha256} ${t.size} && echo rc=0 || echo "rc=$?"`);
    expect(r.stdout, r.stderr).toBe('rc=0\n');
    expect(readFileSync(onHost('h1', 'tmp/fetch/x.tar.gz')).equals(readFileSync(t.path))).toBe(true);
    expect(existsSync(onHost('h1', 'tmp/fetch/x.tar.gz.part'))).toBe(false);
    // nginx answered 206 with only the missing bytes.
    const got = accessLog().slice(before).filter((l) => l.startsWith('GET /shop/shop-1.2.0-any.tar.gz'));
    expect(got, accessLog().slice(-5).join('\n')).toHaveLength(1);
    expect(got[0]!.split(' ').slice(2, 4)).toEqual(['206', String(t.size - 700_000)]);
  });
});
