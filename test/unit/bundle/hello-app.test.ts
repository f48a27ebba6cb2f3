import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildBundle } from '../../../src/bundle/build.js';
import { makeTempDir, runBash } from './helpers.js';

const APP = join(import.meta.dirname, '../../../apps/hello');
const root = makeTempDir();
const started: string[] = [];
afterEach(() => {
  // stop every daemon a test started (by its own pidfile), even when an assertion failed
  for (const rundir of started.splice(0)) {
    const pidfile = join(rundir, 'hello.pid');
    if (existsSync(pidfile)) {
      const pid = Number(readFileSync(pidfile, 'utf8'));
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const hello = (release: string, ...args: string[]) => runBash('"$@"', [join(release, 'bin/hello'), ...args]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('apps/hello', () => {
  it('start, check, restart (new pid), stop', async () => {
    const release = join(root, 'rel1');
    cpSync(APP, release, { recursive: true });
    const rundir = join(root, 'run1');
    started.push(rundir);

    const s = hello(release, 'start', rundir);
    expect(s.stderr).toBe('');
    expect(s.code).toBe(0);
    const pid1 = Number(readFileSync(join(rundir, 'hello.pid'), 'utf8'));
    expect(s.stdout).toBe(`hello 1.0.0 started pid ${pid1}\n`);
    expect(alive(pid1)).toBe(true);

    const c = hello(release, 'check', rundir);
    expect(c.code).toBe(0);
    expect(c.stdout).toBe(`hello 1.0.0 running pid ${pid1}\n`);
    expect(readFileSync(join(rundir, 'status'), 'utf8')).toBe(`hello 1.0.0 running pid ${pid1}\n`);
    expect(hello(release, 'start', rundir).stdout).toBe(`hello already running pid ${pid1}\n`);

    const r = hello(release, 'restart', rundir);
    expect(r.code).toBe(0);
    const pid2 = Number(readFileSync(join(rundir, 'hello.pid'), 'utf8'));
    expect(pid2).not.toBe(pid1);
    expect(r.stdout).toBe(`hello stopped pid ${pid1}\nhello 1.0.0 started pid ${pid2}\n`);
    expect(alive(pid1)).toBe(false);
    expect(hello(release, 'check', rundir).code).toBe(0);

    const t = hello(release, 'stop', rundir);
    expect(t.stdout).toBe(`hello stopped pid ${pid2}\n`);
    expect(alive(pid2)).toBe(false);
    const after = hello(release, 'check', rundir);
    expect(after.code).toBe(1);
    expect(after.stderr).toBe('hello not running\n');
    expect(hello(release, 'stop', rundir).stdout).toBe('hello not running\n');
  });

  it('check fails when the running daemon is another release\'s version; the daemon keeps its version after current switches', async () => {
    const versions = join(root, 'srv/versions');
    for (const v of ['1.0.0', '1.1.0']) {
      cpSync(APP, join(versions, v), { recursive: true });
      writeFileSync(join(versions, v, 'VERSION'), `${v}\n`);
    }
    const current = join(root, 'srv/current');
    symlinkSync('versions/1.0.0', current);
    const rundir = join(root, 'run2');
    started.push(rundir);
    expect(hello(current, 'start', rundir).code).toBe(0);
    const pid = Number(readFileSync(join(rundir, 'hello.pid'), 'utf8'));
    execFileSync('ln', ['-sfn', 'versions/1.1.0', current]);
    await new Promise((r) => setTimeout(r, 1200)); // at least one more status write
    expect(readFileSync(join(rundir, 'status'), 'utf8')).toBe(`hello 1.0.0 running pid ${pid}\n`);
    const c = hello(current, 'check', rundir);
    expect(c.code).toBe(1);
    expect(c.stderr).toBe(`hello status is "hello 1.0.0 running pid ${pid}", expected "hello 1.1.0 running pid ${pid}"\n`);
    expect(hello(current, 'restart', rundir).code).toBe(0);
    expect(hello(current, 'check', rundir).stdout).toMatch(/^hello 1\.1\.0 running pid \d+\n$/);
    expect(hello(current, 'stop', rundir).code).toBe(0);
  });

  it('bundles with the dir builder and runs from the installed release', async () => {
    const info = await buildBundle(
      { source: APP, builder: 'dir', outDir: join(root, 'dist'), noCache: true },
      { env: { PATH: process.env.PATH }, now: () => new Date('2026-01-01T00:00:00Z') },
    );
    expect(info.dir).toBe('hello-1.0.0-any');
    const unpack = join(root, 'unpack');
    mkdirSync(unpack);
    execFileSync('tar', ['-xzf', info.path, '-C', unpack]);
    const target = join(root, 'app/versions/1.0.0');
    expect(runBash('"$1" "$2"', [join(unpack, info.dir, 'install.sh'), target]).code).toBe(0);
    const rundir = join(root, 'run3');
    started.push(rundir);
    expect(hello(target, 'start', rundir).code).toBe(0);
    expect(hello(target, 'check', rundir).stdout).toMatch(/^hello 1\.0\.0 running pid \d+\n$/);
    expect(hello(target, 'stop', rundir).code).toBe(0);
  });

  it('usage errors exit 2', () => {
    const r = hello(APP, 'frobnicate', join(root, 'run4'));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('usage: hello start|stop|restart|check RUNDIR\n');
  });
});
