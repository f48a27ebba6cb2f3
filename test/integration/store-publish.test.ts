/**
 * `orch publish` through the built CLI to a folder store (no root needed): building a
 * source folder first, the JSON output, and usage errors. HTTP stores: store.test.ts.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeWork, orch } from './cli.js';

describe('orch publish to a folder store', () => {
  let work: string;
  let env: Record<string, string>;
  beforeAll(() => {
    ({ dir: work, env } = makeWork('publish'));
    mkdirSync(join(work, 'shop'));
    writeFileSync(join(work, 'shop', 'VERSION'), '2.0.0\n');
    writeFileSync(join(work, 'shop', 'app.txt'), 'hi\n');
  });

  it('builds a source folder, stores the tarball and an unsigned channel, prints JSON', async () => {
    const r = await orch(['publish', 'shop', '--to', 'store', '--channel', 'beta', '--json'], { ...env, SOURCE_DATE_EPOCH: '1700000000' }, { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { url: string; manifest_url: string; manifest: Record<string, unknown>; signed: boolean };
    const tar = join(work, 'store/shop/shop-2.0.0-any.tar.gz');
    expect(out.url).toBe(tar);
    expect(out.manifest_url).toBe(join(work, 'store/shop/beta.json'));
    expect(out.signed).toBe(false);
    expect(readdirSync(join(work, 'store/shop')).sort()).toEqual(['beta.json', 'shop-2.0.0-any.tar.gz']);
    const m = JSON.parse(readFileSync(join(work, 'store/shop/beta.json'), 'utf8')) as Record<string, unknown>;
    expect(m).toEqual({ ...out.manifest, url: pathToFileURL(tar).toString() });
    expect(Object.keys(m)).toEqual(['format', 'channel', 'package', 'version', 'platform', 'sha256', 'size', 'url', 'published_at', 'expires']);
    expect(Date.parse(m.expires as string) - Date.parse(m.published_at as string)).toBe(30 * 86400_000);
    expect(r.stderr).toContain('channel beta -> shop 2.0.0: ');
  });

  it.each([
    [['publish', 'shop'], 'orch: publish needs --to STORE (a folder, file:///path, s3://BUCKET/PREFIX, or http(s)://server/path accepting PUT)\n'],
    [['publish', 'nothing.tar.gz', '--to', 'store'], 'orch: nothing.tar.gz: no such bundle tarball or source folder\n'],
    [['publish', 'shop', '--to', 'ftp://host/x'], 'orch: ftp://host/x: unsupported store (ftp://): use a folder, file://, s3://BUCKET/PREFIX, or an http(s):// server that accepts PUT\n'],
    [['publish', 'shop', '--to', 'store', '--s3-endpoint', 'http://127.0.0.1:9000'], `orch: --s3-endpoint and --s3-region are for an s3://BUCKET/PREFIX store, not ${'${STORE}'}\n`],
    [['publish', 'shop', '--to', 's3://bucket/x', '--s3-endpoint', 'localhost:9000'], 'orch: --s3-endpoint "localhost:9000": expected an http(s):// URL like http://127.0.0.1:9000\n'],
    [['publish', 'shop', '--to', 'store', '--channel', 'beta', '--expires', '0'], 'orch: --expires "0": expected a duration greater than 0 like 30d, 12h, 90m or seconds\n'],
    [['publish', 'shop', '--to', 'store', '--channel', '../x'], 'orch: --channel "../x": use letters, digits, \'.\', \'_\', \'-\' (e.g. stable, beta)\n'],
  ])('%j -> exit 1: %s', async (args, message) => {
    const r = await orch(args, env, { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('orch:')).join('\n') + '\n').toBe(message.replace('${STORE}', `${join(work, 'store')}/`));
  });
});
