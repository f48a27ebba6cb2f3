/**
 * An S3 store end to end with real parts: s3rver (an S3 server for tests) in this
 * process on the fleet's bridge address, `orch publish --to s3://...` and `orch apply`
 * run as the built CLI (the AWS SDK signs every request; s3rver checks the signatures),
 * 3 sshd test hosts that fetch the release themselves through presigned GET URLs with
 * their real curl. Run `npm run build` first.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch, summaryOf } from './cli.js';

const ROOT = '/srv/shop';

describe.skipIf(!canRunFleet())('bundles from an S3 store (s3rver), fetched by the hosts through presigned URLs', () => {
  let fleet: Fleet;
  let s3: S3rver;
  let s3dir: string;
  let endpoint: string;
  let work: string;
  let env: Record<string, string>;
  let key: string;
  const events: string[] = [];
  const tarball = { path: '', sha256: '', size: 0 };
  const host = (name: string): TestHost => fleet.hosts.find((h) => h.name === name)!;
  const onHost = (name: string, p: string): string => join(host(name).dir, p);

  beforeAll(async () => {
    fleet = await startFleet({ count: 3, name: 'orchs3' });
    s3dir = mkdtempSync(join(tmpdir(), 'orch-s3rver-'));
    s3 = new S3rver({ address: `10.231.${fleet.subnet}.1`, port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: 'releases', configs: [] }] });
    const addr = await s3.run();
    endpoint = `http://10.231.${fleet.subnet}.1:${addr.port}`;
    (s3 as unknown as import('node:events').EventEmitter).on('event', (e: { Records: { eventName: string; s3: { object: { key: string } } }[] }) => {
      for (const r of e.Records) events.push(`${r.eventName} ${decodeURIComponent(r.s3.object.key)}`);
    });
    ({ dir: work, env } = makeWork('s3'));
    // s3rver's fixed credentials, through the standard AWS environment.
    env = { ...env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    key = join(work, 'release_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', key]);
    const [type, b64] = readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
    writeFileSync(join(work, 'allowed_signers'), `ci@example.com namespaces="orch-release" ${type} ${b64}\n`);
    const src = join(work, 'src', 'shop');
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'VERSION'), '1.0.0\n');
    writeFileSync(join(src, 'bin', 'run'), '#!/bin/sh\necho shop 1.0.0\n', { mode: 0o755 });
    writeFileSync(join(src, 'blob'), Buffer.concat(Array.from({ length: 16384 }, (_, i) => createHash('sha256').update(`s3:${i}`).digest())));
    const r = await orch(['bundle', src, '--out', join(work, 'dist'), '--json', '--no-cache'], env);
    expect(r.code, r.stderr).toBe(0);
    Object.assign(tarball, JSON.parse(r.stdout) as typeof tarball);
    // h1's curl records its command line (a wrapper bound over /usr/bin/curl in its mount namespace).
    await fleet.hostExec(host('h1'), `cp /usr/bin/curl /root/curl.real && printf '%s\\n' '#!/bin/bash' 'printf "%s\\n" "$*" >> /root/curl-argv.log' 'exec /root/curl.real "$@"' > /root/curl-wrap && chmod 755 /root/curl-wrap && mount --bind /root/curl-wrap /usr/bin/curl`);
  }, 180_000);

  afterAll(async () => {
    if (fleet) await fleet.hostExec(host('h1'), 'umount /usr/bin/curl 2>/dev/null; true').catch(() => undefined);
    await s3?.close();
    await fleet?.teardown();
    if (s3dir) rmSync(s3dir, { recursive: true, force: true });
  });

  const publish = () => orch(['publish', tarball.path, '--to', 's3://releases/rel', '--s3-endpoint', endpoint, '--channel', 'stable', '--sign', key, '--json'], env);

  it('publish puts the tarball, signature and manifest (temp key, then copy); the same content again uploads nothing (HEAD before PUT)', async () => {
    const r = await publish();
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { url: string; manifest_url: string; manifest: Record<string, unknown>; signed: boolean; bytesUploaded: number };
    expect(out).toMatchObject({ url: 's3://releases/rel/shop/shop-1.0.0-any.tar.gz', manifest_url: 's3://releases/rel/shop/stable.json', signed: true, bytesUploaded: tarball.size });
    expect(out.manifest).toMatchObject({ channel: 'stable', package: 'shop', version: '1.0.0', sha256: tarball.sha256, size: tarball.size, url: 's3://releases/rel/shop/shop-1.0.0-any.tar.gz' });
    const tmp = (k: string): string => k.replace(/\.tmp-[0-9a-f]+-\d+$/, '.tmp-X');
    expect(events.map(tmp)).toEqual([
      'ObjectCreated:Put rel/shop/.shop-1.0.0-any.tar.gz.tmp-X', 'ObjectCreated:Copy rel/shop/shop-1.0.0-any.tar.gz', 'ObjectRemoved:Delete rel/shop/.shop-1.0.0-any.tar.gz.tmp-X',
      'ObjectCreated:Put rel/shop/.stable.json.sig.tmp-X', 'ObjectCreated:Copy rel/shop/stable.json.sig', 'ObjectRemoved:Delete rel/shop/.stable.json.sig.tmp-X',
      'ObjectCreated:Put rel/shop/.stable.json.tmp-X', 'ObjectCreated:Copy rel/shop/stable.json', 'ObjectRemoved:Delete rel/shop/.stable.json.tmp-X',
    ]);
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');

    events.length = 0;
    const again = await publish();
    expect(again.code, again.stderr).toBe(0);
    const out2 = JSON.parse(again.stdout) as { bytesUploaded: number; manifest: { published_at: string } };
    expect(out2.bytesUploaded).toBe(0);
    expect(again.stderr).toContain(`s3://releases/rel/shop/shop-1.0.0-any.tar.gz already holds these bytes (sha256 ${tarball.sha256}): nothing uploaded`);
    // Only the new signature and manifest (new published_at) were written.
    expect(events.filter((e) => e.includes('tar.gz'))).toEqual([]);
    expect(out2.manifest.published_at > (out.manifest.published_at as string)).toBe(true);
  }, 120_000);

  it('apply of the S3 channel: each host fetches through a presigned URL (orch pushes nothing); the URL\'s signature is in no output, plan file or command line', async () => {
    const pb = join(work, 'site.yml');
    writeFileSync(pb, `inventory: inventory.yml
vars: { app: shop, root: ${ROOT} }
bundles:
  shop: { channel: s3://releases/rel/shop/stable.json, allowed_signers: allowed_signers, fetch: host }
nodes:
  shop:
    steps:
      - install: { bundle: shop }
      - symlink: {}
`);
    const runEnv = { ...env, AWS_ENDPOINT_URL_S3: endpoint };
    const plan = await orch(['plan', pb, '-o', join(work, 'plan.json')], runEnv);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('install shop 1.0.0');
    const saved = readFileSync(join(work, 'plan.json'), 'utf8');
    expect(statSync(join(work, 'plan.json')).mode & 0o777).toBe(0o600);
    expect(saved).toContain(`"url": "${endpoint}/releases/rel/shop/shop-1.0.0-any.tar.gz"`);
    expect(saved).toContain('"query": "***"');
    // The saved plan is applied with a fresh presigned URL (made again for this run).
    const a = await orch(['apply', join(work, 'plan.json'), '--yes', '--json', '--verbose'], runEnv);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    const s = summaryOf(a.stdout);
    expect(s.hosts.map((h) => `${h.host} ${h.status}`)).toEqual(['h1 changed', 'h2 changed', 'h3 changed']);
    expect(s.bytesUploaded).toBe(0);
    for (const h of ['h1', 'h2', 'h3']) {
      expect(readlinkSync(onHost(h, 'srv/shop/current'))).toBe('versions/1.0.0');
      expect(readFileSync(onHost(h, `srv/shop/.orch/bundles/${tarball.sha256}.tar.gz`)).equals(readFileSync(tarball.path))).toBe(true);
    }
    // h1's curl got the URL on its standard input, not on its command line.
    const argv = readFileSync(onHost('h1', 'root/curl-argv.log'), 'utf8');
    expect(argv).toContain('--config -');
    expect(argv).not.toContain('releases/rel');
    for (const [what, text] of [['curl argv', argv], ['plan file', saved], ['plan output', plan.stdout + plan.stderr], ['apply output', a.stdout + a.stderr]] as const) {
      expect(/X-Amz-Signature|X-Amz-Credential/i.test(text), `${what} shows the presigned URL's query`).toBe(false);
    }
    // Nothing on the hosts holds AWS credentials.
    expect(existsSync(onHost('h1', 'root/.aws'))).toBe(false);
  }, 180_000);

  it('bounded reads and signatures apply to S3 as to http(s): a 300 KiB channel object and a tampered manifest are refused at plan time', async () => {
    const { S3Client, PutObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      const get = async (k: string): Promise<Buffer> => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'releases', Key: k }))).Body!.transformToByteArray());
      const manifest = (await get('rel/shop/stable.json')).toString();
      const sig = await get('rel/shop/stable.json.sig');
      await client.send(new PutObjectCommand({ Bucket: 'releases', Key: 'big/shop/stable.json', Body: Buffer.alloc(300 * 1024, 'x') }));
      await client.send(new PutObjectCommand({ Bucket: 'releases', Key: 'tampered/shop/stable.json', Body: manifest.replace('"version":"1.0.0"', '"version":"1.0.1"') }));
      await client.send(new PutObjectCommand({ Bucket: 'releases', Key: 'tampered/shop/stable.json.sig', Body: sig }));
    } finally {
      client.destroy();
    }
    const runEnv = { ...env, AWS_ENDPOINT_URL_S3: endpoint };
    for (const [where, message] of [['big', 'GetObject s3://releases/big/shop/stable.json: refused: larger than 65536 bytes'], ['tampered', 's3://releases/tampered/shop/stable.json: signature refused: the manifest does not match its signature by ci@example.com']] as const) {
      const pb = join(work, `${where}.yml`);
      writeFileSync(pb, `inventory: inventory.yml
vars: { app: shop, root: ${ROOT} }
bundles:
  shop: { channel: s3://releases/${where}/shop/stable.json, allowed_signers: allowed_signers, fetch: host }
nodes:
  shop:
    steps:
      - install: { bundle: shop }
`);
      const r = await orch(['plan', pb], runEnv);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toContain(message);
    }
  }, 120_000);

  it('fetch: control: the control machine downloads through a presigned URL into its cache (checked) and pushes; the hosts never contact S3', async () => {
    const pb = join(work, 'control.yml');
    writeFileSync(pb, `inventory: inventory.yml
vars: { app: shop, root: /srv/shop-control }
bundles:
  shop: { channel: s3://releases/rel/shop/stable.json, allowed_signers: allowed_signers, fetch: control }
nodes:
  shop:
    steps:
      - install: { bundle: shop }
      - symlink: {}
`);
    const cache = join(work, 'cache-control');
    const before = readFileSync(onHost('h1', 'root/curl-argv.log'), 'utf8');
    const a = await orch(['apply', pb, '--yes', '--json'], { ...env, AWS_ENDPOINT_URL_S3: endpoint, XDG_CACHE_HOME: cache });
    expect(a.code, a.stderr + a.stdout).toBe(0);
    const s = summaryOf(a.stdout);
    expect(s.hosts.map((h) => `${h.host} ${h.status}`)).toEqual(['h1 changed', 'h2 changed', 'h3 changed']);
    expect(s.bytesUploaded).toBe(3 * tarball.size);
    expect(readFileSync(join(cache, 'orch', 'store', `${tarball.sha256}.tar.gz`)).equals(readFileSync(tarball.path))).toBe(true);
    for (const h of ['h1', 'h2', 'h3']) expect(readlinkSync(onHost(h, 'srv/shop-control/current'))).toBe('versions/1.0.0');
    expect(readFileSync(onHost('h1', 'root/curl-argv.log'), 'utf8')).toBe(before);
    expect(/X-Amz-Signature|X-Amz-Credential/i.test(a.stdout + a.stderr)).toBe(false);
  }, 180_000);
});
