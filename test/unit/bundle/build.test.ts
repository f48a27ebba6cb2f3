import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { inspectArtifact } from '../../../src/bundle/artifact.js';
import { buildBundle } from '../../../src/bundle/build.js';
import type { BuildContext } from '../../../src/bundle/build.js';
import { BundleError } from '../../../src/bundle/bundle-error.js';
import { cleanCache, defaultCacheDir, lookupCache, storeCache } from '../../../src/bundle/cache.js';
import { makeTempDir, runBash, snapshotTree } from './helpers.js';

const root = makeTempDir();
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
let work: string;
beforeEach(() => {
  work = join(root, `case${n++}`);
  mkdirSync(work);
});

/** A small app SOURCE: VERSION, nested files, an executable, a symlink, .git and ignored files. */
function makeSource(dir = join(work, 'shop')): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'lib/deep'), { recursive: true });
  mkdirSync(join(dir, '.git/objects'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'VERSION'), '1.2.0\n');
  writeFileSync(join(dir, 'bin/shop'), '#!/bin/bash\necho shop\n');
  chmodSync(join(dir, 'bin/shop'), 0o755);
  writeFileSync(join(dir, 'lib/deep/data.txt'), 'data\n');
  writeFileSync(join(dir, 'lib/secret.env'), 'TOKEN=1\n');
  writeFileSync(join(dir, 'lib/keep.env'), 'KEEP=1\n');
  writeFileSync(join(dir, 'logs/today.log'), 'noise\n');
  writeFileSync(join(dir, '.git/HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(dir, '.orchignore'), '# local junk\nlogs/\n*.env\n!keep.env\n');
  symlinkSync('lib/deep/data.txt', join(dir, 'current-data'));
  return dir;
}

function context(env: NodeJS.ProcessEnv = {}, now = '2026-03-04T05:06:07.000Z'): BuildContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    env: { PATH: process.env.PATH, HOME: join(work, 'home'), ...env },
    now: () => new Date(now),
    log: (l) => lines.push(l),
    lines,
  };
}

describe('buildBundle (dir builder)', () => {
  it('writes a platter-layout tarball that passes the artifact check', async () => {
    const source = makeSource();
    const ctx = context();
    const out = join(work, 'dist');
    const info = await buildBundle({ source, builder: 'dir', outDir: out, cacheDir: join(work, 'cache') }, ctx);
    expect(info).toEqual({
      package: 'shop',
      version: '1.2.0',
      platform: 'any',
      sha256: execFileSync('sha256sum', [info.path], { encoding: 'utf8' }).slice(0, 64),
      size: readFileSync(info.path).length,
      path: join(out, 'shop-1.2.0-any.tar.gz'),
      dir: 'shop-1.2.0-any',
      cached: false,
    });
    const { cached: _cached, ...plain } = info;
    expect(await inspectArtifact(info.path)).toEqual(plain);
    const x = join(work, 'x');
    mkdirSync(x);
    execFileSync('tar', ['-xzf', info.path, '-C', x]);
    const top = join(x, 'shop-1.2.0-any');
    expect(readFileSync(join(top, 'PACKAGE'), 'utf8')).toBe('shop\n');
    expect(readFileSync(join(top, 'VERSION'), 'utf8')).toBe('1.2.0\n');
    expect(readFileSync(join(top, 'PLATFORM'), 'utf8')).toBe('any\n');
    const manifest = JSON.parse(readFileSync(join(top, 'info.json'), 'utf8'));
    expect(manifest).toMatchObject({
      package: 'shop',
      version: '1.2.0',
      platform: 'any',
      builder: 'dir',
      built_at: '2026-03-04T05:06:07.000Z',
      dependencies: [],
      tools: { 'orch-dir-builder': '2', node: process.versions.node },
    });
    expect(manifest.source_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(manifest.files)).toEqual(['.orchignore', 'VERSION', 'bin/shop', 'lib/deep/data.txt', 'lib/keep.env']);
    expect(manifest.files['bin/shop']).toBe(execFileSync('sha256sum', [join(source, 'bin/shop')], { encoding: 'utf8' }).slice(0, 64));
    expect(snapshotTree(join(top, 'data'))).toEqual([
      'f .orchignore -',
      'f VERSION -',
      'd bin',
      'f bin/shop x',
      'l current-data',
      'd lib',
      'd lib/deep',
      'f lib/deep/data.txt -',
      'f lib/keep.env -',
    ]);
  });

  it('install.sh run by hand reproduces SOURCE minus ignored files, into a clean folder', async () => {
    const source = makeSource();
    const info = await buildBundle({ source, builder: 'dir', outDir: join(work, 'dist'), noCache: true }, context());
    const host = join(work, 'host');
    mkdirSync(host);
    execFileSync('tar', ['-xzf', info.path, '-C', host, '--no-same-owner']);
    const target = join(host, 'srv/shop/versions/1.2.0');
    const r = runBash('"$1/install.sh" "$2"', [join(host, info.dir), target], { env: { PATH: '/usr/bin:/bin' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`Installed shop-1.2.0-any into ${target}\n`);
    expect(r.code).toBe(0);
    expect(snapshotTree(target)).toEqual(snapshotTree(join(host, info.dir, 'data')));
    expect(readFileSync(join(target, 'current-data'), 'utf8')).toBe('data\n');
    expect(existsSync(join(target, 'logs'))).toBe(false);
    expect(existsSync(join(target, '.git'))).toBe(false);
    expect(existsSync(join(target, 'lib/secret.env'))).toBe(false);
    const usage = runBash('"$1/install.sh"', [join(host, info.dir)]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe(`Usage: ${join(host, info.dir)}/install.sh TARGET\n`);
  });

  it('is byte-identical when rebuilt without cache (SOURCE_DATE_EPOCH set; other clock, other mtimes)', async () => {
    const source = makeSource();
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const a = await buildBundle({ source, builder: 'dir', outDir: join(work, 'a'), noCache: true }, context(env, '2026-01-01T00:00:00Z'));
    utimesSync(join(source, 'bin/shop'), new Date('2019-01-01'), new Date('2019-01-01'));
    const b = await buildBundle({ source, builder: 'dir', outDir: join(work, 'b'), noCache: true }, context(env, '2027-06-06T00:00:00Z'));
    expect(b.sha256).toBe(a.sha256);
    expect(readFileSync(b.path).equals(readFileSync(a.path))).toBe(true);
    const info = execFileSync('tar', ['-xzOf', a.path, 'shop-1.2.0-any/info.json'], { encoding: 'utf8' });
    expect(JSON.parse(info).built_at).toBe('2023-11-14T22:13:20.000Z');
  });

  it('without SOURCE_DATE_EPOCH, built_at comes from the injected clock and only info.json differs', async () => {
    const source = makeSource();
    const a = await buildBundle({ source, builder: 'dir', outDir: join(work, 'a'), noCache: true }, context({}, '2026-01-01T00:00:00Z'));
    const b = await buildBundle({ source, builder: 'dir', outDir: join(work, 'b'), noCache: true }, context({}, '2026-01-01T00:00:00Z'));
    const c = await buildBundle({ source, builder: 'dir', outDir: join(work, 'c'), noCache: true }, context({}, '2026-02-02T00:00:00Z'));
    expect(b.sha256).toBe(a.sha256);
    expect(c.sha256).not.toBe(a.sha256);
    const text = (p: string) => execFileSync('tar', ['-xzOf', p, 'shop-1.2.0-any/info.json'], { encoding: 'utf8' });
    expect(text(c.path)).toBe(text(a.path).replace('2026-01-01T00:00:00.000Z', '2026-02-02T00:00:00.000Z'));
  });

  it('a second build is a cache hit with the same bytes (its speed is measured by npm run bench, not here)', async () => {
    const source = makeSource();
    // 300 files, ~2.4 MB of text-like content (a small web app's worth)
    let seed = 7;
    const word = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), `w${seed % 5000}`);
    for (let i = 0; i < 300; i++) writeFileSync(join(source, 'lib', `f${i}.txt`), Array.from({ length: 1200 }, word).join(' '));
    const cacheDir = join(work, 'cache');
    const t0 = performance.now();
    const first = await buildBundle({ source, builder: 'dir', outDir: join(work, 'd1'), cacheDir }, context());
    const t1 = performance.now();
    const ctx = context({}, '2030-01-01T00:00:00Z');
    const second = await buildBundle({ source, builder: 'dir', outDir: join(work, 'd2'), cacheDir }, ctx);
    const t2 = performance.now();
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.sha256).toBe(first.sha256);
    expect(readFileSync(second.path).equals(readFileSync(first.path))).toBe(true);
    // The bundle's sha256 as the build printed it, not a cache key.
    expect(ctx.lines).toEqual([`bundle shop-1.2.0-any: cache hit, ${first.size} bytes, sha256 ${first.sha256}`]);
    console.log(`build ${(t1 - t0).toFixed(1)} ms, cache hit ${(t2 - t1).toFixed(1)} ms`);
  });

  it('misses the cache when content, an x bit or a build script changes; not when an ignored file does', async () => {
    const source = makeSource();
    const cacheDir = join(work, 'cache');
    const build = (extra: object = {}) => buildBundle({ source, builder: 'dir', outDir: join(work, 'dist'), cacheDir, ...extra }, context());
    expect((await build()).cached).toBe(false);
    writeFileSync(join(source, 'logs/today.log'), 'more noise\n');
    expect((await build()).cached).toBe(true);
    chmodSync(join(source, 'lib/deep/data.txt'), 0o755);
    expect((await build()).cached).toBe(false);
    writeFileSync(join(source, 'lib/deep/data.txt'), 'changed\n');
    expect((await build()).cached).toBe(false);
    const script = join(work, 'post.sh');
    writeFileSync(script, 'true\n');
    expect((await build({ postbuildScript: script })).cached).toBe(false);
    expect((await build({ postbuildScript: script })).cached).toBe(true);
    writeFileSync(script, 'true # edited\n');
    expect((await build({ postbuildScript: script })).cached).toBe(false);
  });

  it('concurrent builds of the same key leave one sound cache entry', async () => {
    // Promise.all interleaves the builds at every await: they race on the same rename.
    const source = makeSource();
    const cacheDir = join(work, 'cache');
    const ctx = context({ SOURCE_DATE_EPOCH: '1700000000' });
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) => buildBundle({ source, builder: 'dir', outDir: join(work, `o${i}`), cacheDir }, ctx)),
    );
    const shas = new Set(results.map((r) => r.sha256));
    expect(shas.size).toBe(1);
    expect(readdirSync(join(cacheDir, 'bundles'))).toHaveLength(1);
    expect(readdirSync(join(cacheDir, 'tmp'))).toEqual([]);
    const again = await buildBundle({ source, builder: 'dir', outDir: join(work, 'o9'), cacheDir }, ctx);
    expect(again.cached).toBe(true);
    expect(again.sha256).toBe(results[0]?.sha256);
  });

  it('pre/post-build scripts get platter variables; INSTALL_SCRIPT lines run at install time', async () => {
    const source = makeSource();
    const pre = join(work, 'pre.sh');
    const post = join(work, 'post.sh');
    const record = join(work, 'record');
    writeFileSync(
      pre,
      `echo "pre HERE=$HERE DATA_DIR=$DATA_DIR SOURCE_DIR=$SOURCE_DIR PWD=$PWD" >>"${record}"
test -d "$SCRATCHPAD" && test -f "$INSTALL_SCRIPT" && test -d "$DATA_DIR"
ls -A "$DATA_DIR" | wc -l | sed 's/^/pre data entries: /' >>"${record}"
echo 'echo "pre-line HERE=$HERE DATA_DIR=$DATA_DIR" >"$TARGET/from-pre"' >>"$INSTALL_SCRIPT"
echo "generated by prebuild" >"$SCRATCHPAD/note"
`,
    );
    writeFileSync(
      post,
      `echo "post data has VERSION: $(cat "$DATA_DIR/VERSION")" >>"${record}"
cp "$SCRATCHPAD/note" "$DATA_DIR/NOTE" 2>/dev/null || echo "scratchpad is per build" >"$DATA_DIR/NOTE"
echo 'cp "$DATA_DIR/NOTE" "$TARGET/NOTE.copy"' >>"$INSTALL_SCRIPT"
echo "post says hi"
`,
    );
    const ctx = context();
    const info = await buildBundle({ source, builder: 'dir', outDir: join(work, 'dist'), prebuildScript: pre, postbuildScript: post, noCache: true }, ctx);
    const lines = readFileSync(record, 'utf8').split('\n');
    const m = /^pre HERE=(\S+) DATA_DIR=(\S+) SOURCE_DIR=(\S+) PWD=(\S+)$/.exec(lines[0] ?? '');
    expect(m).not.toBeNull();
    const [, here, dataDir, sourceDir, pwd] = m ?? [];
    expect(here).toMatch(/\/orch-bundle-[^/]+\/shop-1\.2\.0-any$/);
    expect(dataDir).toBe(`${here}/data`);
    expect(sourceDir).toBe(source);
    expect(pwd).toBe(here);
    expect(lines.slice(1)).toEqual(['pre data entries: 0', 'post data has VERSION: 1.2.0', '']);
    expect(ctx.lines).toContain('postbuild: post says hi');
    expect(existsSync(here ?? '/nonexistent')).toBe(false); // scratch removed

    const host = join(work, 'host');
    mkdirSync(host);
    execFileSync('tar', ['-xzf', info.path, '-C', host]);
    const target = join(work, 'target');
    const r = runBash('"$1/install.sh" "$2"', [join(host, info.dir), target]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(target, 'from-pre'), 'utf8')).toBe(`pre-line HERE=${join(host, info.dir)} DATA_DIR=${join(host, info.dir)}/data\n`);
    expect(readFileSync(join(target, 'NOTE.copy'), 'utf8')).toBe('generated by prebuild\n');
    expect(readFileSync(join(target, 'NOTE'), 'utf8')).toBe('generated by prebuild\n');
  });

  it.each<[string, (source: string) => object, (source: string, w: string) => string]>([
    ['python builder, missing interpreter', () => ({ builder: 'python', python: '/nonexistent/python3' }), () => 'python interpreter /nonexistent/python3: cannot run /nonexistent/python3: spawn /nonexistent/python3 ENOENT'],
    ['node builder without package-lock.json', () => ({ builder: 'node' }), () => 'the node builder needs a package-lock.json in SOURCE (npm ci installs exactly what it locks); run `npm install` once and commit it'],
    ['pip options for the dir builder', () => ({ pipOptions: ['--no-index'] }), () => '-p/--python, -r/--requirements and --pip-option apply to the python builder only (builder is dir)'],
    ['missing source', () => ({ source: '/nonexistent/app' }), () => '/nonexistent/app: bundle source not found'],
    ['missing script', () => ({ prebuildScript: '/nonexistent/pre.sh' }), () => 'prebuild script /nonexistent/pre.sh: not found'],
    ['failing script', (s) => ({ postbuildScript: join(s, 'bin/shop-fail') }), (s) => `postbuild script ${join(s, 'bin/shop-fail')} failed with exit code 3`],
    ['symlink leaving SOURCE', (s) => (symlinkSync('../../etc/passwd', join(s, 'lib/pw')), {}), (s) => `${join(s, 'lib/pw')}: symlink target "../../etc/passwd" leaves the bundle's data folder`],
    ['FIFO in SOURCE', (s) => (execFileSync('mkfifo', [join(s, 'lib/pipe')]), {}), (s) => `${join(s, 'lib/pipe')}: unsupported file type (only files, folders and symlinks are bundled)`],
  ])('error: %s', async (_label, spec, message) => {
    const source = makeSource();
    writeFileSync(join(source, 'bin/shop-fail'), 'echo failing >&2; exit 3\n');
    const err = await buildBundle({ source, builder: 'dir', outDir: join(work, 'dist'), noCache: true, ...spec(source) }, context()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as Error).message).toBe(message(source, work));
    expect(existsSync(join(work, 'dist')) ? readdirSync(join(work, 'dist')) : []).toEqual([]);
  });
});

describe('build time', () => {
  it('refuses a SOURCE_DATE_EPOCH that is not whole seconds', async () => {
    const source = makeSource();
    await expect(
      buildBundle({ source, builder: 'dir', outDir: join(work, 'dist'), noCache: true }, context({ SOURCE_DATE_EPOCH: '17e8' })),
    ).rejects.toThrow('SOURCE_DATE_EPOCH=17e8: must be a whole number of seconds');
  });
});

describe('cache store', () => {
  it('the loser of a store race keeps the winner\'s entry; a damaged entry is a miss', async () => {
    const cacheDir = join(work, 'cache');
    const key = 'a'.repeat(64);
    const mk = (name: string, text: string) => {
      const p = join(work, name);
      writeFileSync(p, text);
      return { package: 'p', version: '1', platform: 'any', sha256: execFileSync('sha256sum', [p], { encoding: 'utf8' }).slice(0, 64), size: text.length, path: p, dir: 'p-1-any' };
    };
    const first = await storeCache(cacheDir, key, mk('one', 'winner'));
    const second = await storeCache(cacheDir, key, mk('two', 'loser'));
    expect(second).toEqual(first);
    expect(readFileSync(second.info.path, 'utf8')).toBe('winner');
    expect(readdirSync(join(cacheDir, 'tmp'))).toEqual([]);
    writeFileSync(first.info.path, 'tampered');
    expect(await lookupCache(cacheDir, key)).toBeUndefined();
    const third = await storeCache(cacheDir, key, mk('three', 'fresh'));
    expect(readFileSync(third.info.path, 'utf8')).toBe('fresh');
    expect(await lookupCache(cacheDir, key)).toEqual(third);
  });

  it('a cached tarball is hashed once: its fingerprint is recorded, a lookup that finds it unchanged trusts it, any write is seen', async () => {
    const cacheDir = join(work, 'cache-fp');
    const key = 'b'.repeat(64);
    const p = join(work, 'fp-src');
    writeFileSync(p, 'content');
    const stored = await storeCache(cacheDir, key, { package: 'p', version: '1', platform: 'any', sha256: execFileSync('sha256sum', [p], { encoding: 'utf8' }).slice(0, 64), size: 7, path: p, dir: 'p-1-any' });
    expect(await lookupCache(cacheDir, key)).toEqual(stored);
    const verified = join(cacheDir, 'bundles', key, 'verified');
    const st = statSync(stored.info.path);
    expect(readFileSync(verified, 'utf8')).toBe(`${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${st.dev} ${stored.info.sha256}`);
    // Same size, mtime put back: the ctime still tells.
    writeFileSync(stored.info.path, 'CONTENT');
    utimesSync(stored.info.path, st.atime, st.mtime);
    expect(await lookupCache(cacheDir, key)).toBeUndefined();
    // The record is what is trusted (it is written only after a hash matched).
    const now = statSync(stored.info.path);
    writeFileSync(verified, `${now.size}:${now.mtimeMs}:${now.ctimeMs}:${now.ino}:${now.dev} ${stored.info.sha256}`);
    expect(await lookupCache(cacheDir, key)).toEqual(stored);
  });
});

describe('cache location and cleaning', () => {
  it.each<[NodeJS.ProcessEnv, string]>([
    [{ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }, '/x/cache/orch'],
    [{ XDG_CACHE_HOME: 'relative', HOME: '/home/u' }, '/home/u/.cache/orch'],
    [{ HOME: '/home/u' }, '/home/u/.cache/orch'],
  ])('%j -> %s', (env, dir) => {
    expect(defaultCacheDir(env)).toBe(dir);
  });

  it('uses $XDG_CACHE_HOME/orch by default, and cleanCache empties it', async () => {
    const source = makeSource();
    const ctx = context({ XDG_CACHE_HOME: join(work, 'xdg') });
    await buildBundle({ source, builder: 'dir', outDir: join(work, 'dist') }, ctx);
    expect(readdirSync(join(work, 'xdg/orch/bundles'))).toHaveLength(1);
    writeFileSync(join(work, 'xdg/orch/unrelated'), 'keep');
    // A speculative facts memo (src/engine/facts-memo.ts) goes too.
    mkdirSync(join(work, 'xdg/orch/facts'));
    writeFileSync(join(work, 'xdg/orch/facts/m.json'), '{"v":1,"sets":[],"hosts":{}}');
    const r = await cleanCache(join(work, 'xdg/orch'));
    expect(r.removed).toBe(1);
    expect(r.bytes).toBeGreaterThan(0);
    expect(readdirSync(join(work, 'xdg/orch/facts'))).toEqual([]);
    expect(readdirSync(join(work, 'xdg/orch')).sort()).toEqual(['bundles', 'facts', 'tmp', 'unrelated']);
    expect(readdirSync(join(work, 'xdg/orch/bundles'))).toEqual([]);
    expect((await buildBundle({ source, builder: 'dir', outDir: join(work, 'dist') }, ctx)).cached).toBe(false);
  });
});

describe('package name and release id of a build (issues 17 and 11)', () => {
  it('bundleName names a bundle whose SOURCE has no metadata name; package beats both', async () => {
    const src = makeSource(join(work, 'app'));
    const ctx = context();
    const named = await buildBundle({ source: src, builder: 'dir', outDir: join(work, 'dist'), bundleName: 'notes', cacheDir: join(work, 'c') }, ctx);
    expect(named).toMatchObject({ package: 'notes', dir: 'notes-1.2.0-any', path: join(work, 'dist', 'notes-1.2.0-any.tar.gz') });
    const forced = await buildBundle({ source: src, builder: 'dir', outDir: join(work, 'dist'), bundleName: 'notes', package: 'shop', cacheDir: join(work, 'c') }, ctx);
    expect(forced).toMatchObject({ package: 'shop', dir: 'shop-1.2.0-any', cached: false });
    expect(execFileSync('tar', ['-xzOf', forced.path, 'shop-1.2.0-any/PACKAGE'], { encoding: 'utf8' })).toBe('shop\n');
  });

  it('timestamp: the id is <base>+built_at; unchanged content is a cache hit with the old id, changed content a new id', async () => {
    const src = makeSource();
    const opts = { source: src, builder: 'dir' as const, outDir: join(work, 'dist'), cacheDir: join(work, 'c'), versionScheme: 'timestamp' as const };
    const first = await buildBundle(opts, context({}, '2026-03-04T05:06:07.000Z'));
    expect(first).toMatchObject({ version: '1.2.0+20260304050607', cached: false });
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', first.path, `${first.dir}/info.json`], { encoding: 'utf8' }));
    expect(manifest).toMatchObject({ version: '1.2.0+20260304050607', built_at: '2026-03-04T05:06:07.000Z' });
    const again = await buildBundle(opts, context({}, '2026-03-05T00:00:00.000Z'));
    expect(again).toMatchObject({ version: '1.2.0+20260304050607', sha256: first.sha256, cached: true });
    writeFileSync(join(src, 'lib/deep/data.txt'), 'changed\n');
    const changed = await buildBundle(opts, context({}, '2026-03-05T00:00:00.000Z'));
    expect(changed).toMatchObject({ version: '1.2.0+20260305000000', cached: false });
    // SOURCE_DATE_EPOCH fixes built_at, and so the timestamp: reproducible bytes.
    const a = await buildBundle({ ...opts, outDir: join(work, 'r1'), noCache: true }, context({ SOURCE_DATE_EPOCH: '1700000000' }, '2026-01-01T00:00:00.000Z'));
    const b = await buildBundle({ ...opts, outDir: join(work, 'r2'), noCache: true }, context({ SOURCE_DATE_EPOCH: '1700000000' }, '2027-01-01T00:00:00.000Z'));
    expect(a.version).toBe('1.2.0+20231114221320');
    expect(b.sha256).toBe(a.sha256);
  });
});
