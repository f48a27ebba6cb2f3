/** Temp names in dist/ and the sweep of those a killed build left (issue 18, item 6). */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isProcessAlive, parseTempName, sweepStaleTemps, tempPathFor } from '../../../src/bundle/temp-files.js';
import { makeTempDir } from './helpers.js';

const root = makeTempDir('orch-temp-files-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has exited (so no process has it, barring reuse). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

describe('temp names', () => {
  it('tempPathFor is hidden, next to the final path, and carries this pid', () => {
    const t = tempPathFor('/x/dist/notes-1.0.0-any.tar.gz');
    expect(dirname(t)).toBe('/x/dist');
    expect(basename(t)).toMatch(new RegExp(`^\\.notes-1\\.0\\.0-any\\.tar\\.gz\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`));
    expect(parseTempName(basename(t))).toBe(process.pid);
  });
  it.each([
    ['notes-1.0.0-any.tar.gz', undefined],
    ['.notes-1.0.0-any.tar.gz.12.abcdef12.tmp', 12],
    ['.notes.tmp', undefined],
    ['.x.12.zz.tmp', undefined],
  ])('parseTempName(%s) = %s', (name, pid) => {
    expect(parseTempName(name)).toBe(pid);
  });
  it('isProcessAlive: this process yes, an exited one no', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(deadPid())).toBe(false);
    expect(isProcessAlive(0)).toBe(false);
  });
});

describe('sweepStaleTemps', () => {
  it('removes temps of dead pids and old temps; keeps fresh temps of running processes, its own, and everything else', async () => {
    const dir = join(root, 'dist');
    mkdirSync(dir);
    const dead = deadPid();
    const live = process.ppid;
    const names = {
      deadFile: `.a-1-any.tar.gz.${dead}.0123456789ab.tmp`,
      deadDir: `.a-1-any.${dead}.0123456789ab.tmp`,
      liveFresh: `.b-1-any.tar.gz.${live}.0123456789ab.tmp`,
      liveOld: `.c-1-any.tar.gz.${live}.0123456789ab.tmp`,
      own: `.d-1-any.tar.gz.${process.pid}.0123456789ab.tmp`,
      tarball: 'a-1-any.tar.gz',
      other: '.hidden-notes',
    };
    for (const [k, n] of Object.entries(names)) {
      if (k === 'deadDir') {
        mkdirSync(join(dir, n, 'a-1-any'), { recursive: true });
        writeFileSync(join(dir, n, 'a-1-any', 'f'), 'x');
      } else writeFileSync(join(dir, n), 'x');
    }
    const old = new Date(Date.now() - 25 * 3600 * 1000);
    utimesSync(join(dir, names.liveOld), old, old);
    const removed = await sweepStaleTemps(dir);
    expect(removed).toEqual([names.deadDir, names.deadFile, names.liveOld].sort());
    expect(readdirSync(dir).sort()).toEqual([names.other, names.liveFresh, names.own, names.tarball].sort());
    expect(await sweepStaleTemps(join(root, 'missing'))).toEqual([]);
  });
});

describe('cache entries half-stored by a killed build', () => {
  it('storeCache removes <key>.<pid>.<hex> folders of dead processes from <cache>/tmp and keeps live ones', async () => {
    const { storeCache } = await import('../../../src/bundle/cache.js');
    const cache = join(root, 'cache');
    const dead = `${'a'.repeat(64)}.${deadPid()}.0123456789ab`;
    const live = `${'b'.repeat(64)}.${process.ppid}.0123456789ab`;
    mkdirSync(join(cache, 'tmp', dead), { recursive: true });
    mkdirSync(join(cache, 'tmp', live), { recursive: true });
    const tarball = join(root, 'x-1-any.tar.gz');
    writeFileSync(tarball, 'not really a tarball');
    await storeCache(cache, 'c'.repeat(64), { package: 'x', version: '1', platform: 'any', sha256: 'd'.repeat(64), size: 20, path: tarball, dir: 'x-1-any' });
    expect(readdirSync(join(cache, 'tmp'))).toEqual([live]);
    expect(readdirSync(join(cache, 'bundles'))).toEqual(['c'.repeat(64)]);
  });
});
