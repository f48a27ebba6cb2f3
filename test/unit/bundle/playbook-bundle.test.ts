/** A playbook's bundles: entry resolved: names, artifacts with package:, offline build_on (issue 18, item 2). */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../../src/bundle/build.js';
import { describeUnbuiltBundle, resolvePlaybookBundle, UNBUILT_SHA256 } from '../../../src/bundle/playbook-bundle.js';
import type { BundleSpec } from '../../../src/model/playbook.js';
import { makeTempDir } from './helpers.js';

const root = makeTempDir('orch-pb-bundle-');
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ctx = { env: { PATH: process.env.PATH, HOME: root, XDG_CACHE_HOME: join(root, 'cache') }, now: () => new Date('2026-05-06T07:08:09Z') };
const src = { file: 'pb.yml', path: ['bundles', 'x'] };

function app(name: string, files: Record<string, string>): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  for (const [f, t] of Object.entries(files)) writeFileSync(join(d, f), t);
  return d;
}

describe('resolvePlaybookBundle', () => {
  it('builds a source bundle under its bundle name; build_on offline is described, never built, and never calls buildOn', async () => {
    const source = app('app', { VERSION: '1.0.0\n' });
    const spec: BundleSpec = { name: 'notes', source, builder: 'dir', src };
    const built = await resolvePlaybookBundle(spec, { outDir: join(root, 'dist'), ctx });
    expect(built).toMatchObject({ package: 'notes', version: '1.0.0', dir: 'notes-1.0.0-any', path: join(root, 'dist', 'notes-1.0.0-any.tar.gz') });
    let called = 0;
    const off = await resolvePlaybookBundle({ ...spec, build_on: 'web1' }, { outDir: join(root, 'dist-off'), ctx, offline: true, buildOn: async () => { called++; throw new Error('connected'); } });
    expect(called).toBe(0);
    expect(off).toEqual({ package: 'notes', version: '1.0.0', platform: 'any', sha256: UNBUILT_SHA256, size: 0, path: '', dir: 'notes-1.0.0-any', note: 'built on web1 at apply' });
    await expect(resolvePlaybookBundle({ ...spec, build_on: 'web1' }, { outDir: join(root, 'd'), ctx })).rejects.toThrow('build_on needs a connection to the build host, and this command opens none');
  });

  it('an artifact must hold the package its entry names', async () => {
    const built = await buildBundle({ source: app('art', { VERSION: '2.0.0\n' }), builder: 'dir', outDir: join(root, 'dist-art'), bundleName: 'art', noCache: true }, ctx);
    const ok = await resolvePlaybookBundle({ name: 'a', artifact: built.path, package: 'art', src }, { outDir: root, ctx });
    expect(ok.package).toBe('art');
    await expect(resolvePlaybookBundle({ name: 'a', artifact: built.path, package: 'other', src }, { outDir: root, ctx }))
      .rejects.toThrow(`artifact ${built.path} holds package "art", not "other" as "package:" says`);
  });
});

describe('describeUnbuiltBundle (plan --offline)', () => {
  it.each<[string, Record<string, string>, Partial<{ versionScheme: 'timestamp'; builder: 'python' }>, object]>([
    ['metadata read locally', { 'package.json': '{"name":"web","version":"3.0.0"}' }, {}, { package: 'web', version: '3.0.0', platform: 'any', note: 'built on b1 at apply' }],
    ['timestamp is fixed only at build', { VERSION: '1.0.0' }, { versionScheme: 'timestamp' }, { version: 'unknown', note: 'built on b1 at apply (version 1.0.0+<timestamp of the build>)' }],
    ['python platform is the build host\'s', { VERSION: '1.0.0' }, { builder: 'python' }, { version: '1.0.0', platform: 'unknown', dir: 'u-1.0.0-unknown' }],
  ])('%s', async (_l, files, extra, want) => {
    const source = app(`u${Math.random().toString(16).slice(2, 8)}`, files);
    const r = await describeUnbuiltBundle({ source, builder: 'dir', outDir: root, bundleName: 'u', ...extra }, 'b1', ctx);
    expect(r).toMatchObject({ sha256: UNBUILT_SHA256, ...want });
  });

  it('no version: reported as unknown with the reason, never thrown', async () => {
    const source = app('nover', { 'README': 'x' });
    const r = await describeUnbuiltBundle({ source, builder: 'dir', outDir: root, bundleName: 'nover' }, 'b1', ctx);
    expect(r).toMatchObject({ package: 'nover', version: 'unknown', note: `built on b1 at apply (${source}: no version found (looked for VERSION, pyproject.toml [project] version, package.json version))` });
  });
});
