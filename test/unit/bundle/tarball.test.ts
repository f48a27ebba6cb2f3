import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTarball, normaliseMode } from '../../../src/bundle/tarball.js';
import { makeTempDir } from './helpers.js';

const root = makeTempDir();
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Writes a small tree under `base/top` with odd modes, a symlink and a hard link. */
function makeTree(base: string, top = 'app-1.0-any'): void {
  const d = join(base, top);
  mkdirSync(join(d, 'data/sub/deeper'), { recursive: true });
  writeFileSync(join(d, 'data/b.txt'), 'bee\n');
  writeFileSync(join(d, 'data/a.txt'), 'ay\n');
  writeFileSync(join(d, 'data/sub/run.sh'), '#!/bin/sh\necho run\n');
  chmodSync(join(d, 'data/sub/run.sh'), 0o700);
  chmodSync(join(d, 'data/a.txt'), 0o664);
  chmodSync(join(d, 'data/sub/deeper'), 0o700);
  symlinkSync('../a.txt', join(d, 'data/sub/link'));
  linkSync(join(d, 'data/b.txt'), join(d, 'data/sub/hard'));
}

describe('createTarball', () => {
  it('is byte-identical for the same tree, whatever the mtimes and creation order', async () => {
    const one = join(root, 'one');
    const two = join(root, 'two');
    makeTree(one);
    makeTree(two);
    utimesSync(join(two, 'app-1.0-any/data/a.txt'), new Date('2011-05-05'), new Date('2011-05-05'));
    utimesSync(join(two, 'app-1.0-any/data/sub'), new Date('2015-01-01'), new Date('2015-01-01'));
    const a = await createTarball(one, 'app-1.0-any', join(root, 'out/one.tar.gz'));
    const b = await createTarball(two, 'app-1.0-any', join(root, 'out/two.tar.gz'));
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toEqual(a);
    expect(readFileSync(join(root, 'out/one.tar.gz')).equals(readFileSync(join(root, 'out/two.tar.gz')))).toBe(true);
    expect(readdirSync(join(root, 'out')).sort()).toEqual(['one.tar.gz', 'two.tar.gz']); // no temp files left
  });

  it('changes when a byte or an execute bit changes', async () => {
    const base = join(root, 'three');
    makeTree(base);
    const before = await createTarball(base, 'app-1.0-any', join(root, 'out/three.tar.gz'));
    chmodSync(join(base, 'app-1.0-any/data/b.txt'), 0o755);
    const afterChmod = await createTarball(base, 'app-1.0-any', join(root, 'out/three.tar.gz'));
    expect(afterChmod.sha256).not.toBe(before.sha256);
    writeFileSync(join(base, 'app-1.0-any/data/a.txt'), 'az\n');
    const afterWrite = await createTarball(base, 'app-1.0-any', join(root, 'out/three.tar.gz'));
    expect(afterWrite.sha256).not.toBe(afterChmod.sha256);
  });

  it('writes sorted members, fixed mtime, owner 0/0 without names, normalised modes, symlinks as symlinks', async () => {
    const base = join(root, 'four');
    makeTree(base);
    const out = join(root, 'out/four.tar.gz');
    await createTarball(base, 'app-1.0-any', out);
    const listing = execFileSync('tar', ['--full-time', '-tvzf', out], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } });
    expect(listing.replace(/ +/g, ' ')).toBe(
      [
        'drwxr-xr-x 0/0 0 2000-01-01 00:00:00 app-1.0-any/',
        'drwxr-xr-x 0/0 0 2000-01-01 00:00:00 app-1.0-any/data/',
        '-rw-r--r-- 0/0 3 2000-01-01 00:00:00 app-1.0-any/data/a.txt',
        '-rw-r--r-- 0/0 4 2000-01-01 00:00:00 app-1.0-any/data/b.txt',
        'drwxr-xr-x 0/0 0 2000-01-01 00:00:00 app-1.0-any/data/sub/',
        'drwxr-xr-x 0/0 0 2000-01-01 00:00:00 app-1.0-any/data/sub/deeper/',
        '-rw-r--r-- 0/0 4 2000-01-01 00:00:00 app-1.0-any/data/sub/hard',
        'lrwxr-xr-x 0/0 0 2000-01-01 00:00:00 app-1.0-any/data/sub/link -> ../a.txt',
        '-rwxr-xr-x 0/0 19 2000-01-01 00:00:00 app-1.0-any/data/sub/run.sh',
        '',
      ].join('\n'),
    );
    // uid/gid 0 and empty user/group names (not "root": names are not stored at all)
    const names = execFileSync('tar', ['-tvzf', out], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    expect(names.split('\n')[0]).toMatch(/^drwxr-xr-x 0\/0 /);
  });

  it('refuses a FIFO in the tree', async () => {
    const base = join(root, 'five');
    mkdirSync(join(base, 'x-1-any'), { recursive: true });
    execFileSync('mkfifo', [join(base, 'x-1-any/pipe')]);
    await expect(createTarball(base, 'x-1-any', join(root, 'out/five.tar.gz'))).rejects.toThrow(
      `${join(base, 'x-1-any/pipe')}: unsupported file type (only files, folders and symlinks are bundled)`,
    );
    expect(readdirSync(join(root, 'out')).filter((n) => n.startsWith('.'))).toEqual([]);
  });
});

describe('normaliseMode', () => {
  it.each<[number, 'dir' | 'file' | 'symlink', number]>([
    [0o700, 'dir', 0o755],
    [0o600, 'file', 0o644],
    [0o664, 'file', 0o644],
    [0o744, 'file', 0o755],
    [0o4755, 'file', 0o755],
    [0o777, 'symlink', 0o755],
  ])('%o %s -> %o', (mode, kind, out) => {
    expect(normaliseMode(mode, kind)).toBe(out);
  });
});
