/** Behaviour of src/host/daemon.sh (the `daemon` service manager) under real bash, with real processes. */
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DAEMON_SH, PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const started: string[] = [];
function makeRoot(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'orch-daemon-'));
  mkdirSync(path.join(root, 'versions/1'), { recursive: true });
  writeFileSync(path.join(root, 'versions/1/VERSION'), '1.0.0\n');
  runBash([], 'ln -s versions/1 "$1/current"', [root]);
  started.push(root);
  return root;
}
const svc = (root: string, action: string, cmd: string, startsecs = '0.3') =>
  runBash([PRELUDE_SH, DAEMON_SH], 'daemon_service "$@"', [root, 'web', action, cmd, startsecs]);
/** Live processes whose command line contains `marker` (read from /proc by this node process). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd: string;
    try { cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch { continue; }
    if (cmd.includes(marker)) out.push(Number(d));
  }
  return out;
}

afterEach(() => {
  for (const root of started.splice(0)) svc(root, 'stop', '');
});

describe('daemon.sh', () => {
  it('start: stdout and stderr land in shared/log/<name>.log, pid file is the process group, stdin is /dev/null', () => {
    const root = makeRoot();
    // start returns while the daemon sleeps 301 s: a daemon holding start's stdout or
    // being waited for would keep runBash past its 30 s timeout (code null, not 0).
    const r = svc(root, 'start', 'echo "out $(cat VERSION)"; echo err >&2; exec sleep 301');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^web: started \(pid \d+, log .*shared\/log\/web\.log\)\n$/);
    const log = readFileSync(path.join(root, 'shared/log/web.log'), 'utf8');
    expect(log).toMatch(/^== orch: starting web at \S+ in .*\/current\nout 1\.0\.0\nerr\n$/);
    const pid = Number(readFileSync(path.join(root, 'shared/pids/web.pid'), 'utf8'));
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    expect(Number(fields[2])).toBe(pid); // pgid
    expect(Number(fields[3])).toBe(pid); // session id
    expect(runBash([], 'readlink /proc/$1/fd/0', [String(pid)]).stdout.trim()).toBe('/dev/null');
    expect(processesWith('sleep 301')).toEqual([pid]);
  });

  it('start twice keeps one app; restart leaves exactly one app, its forked worker gone too', () => {
    const root = makeRoot();
    expect(svc(root, 'start', 'exec sleep 302').code).toBe(0);
    expect(svc(root, 'start', 'exec sleep 302').stdout).toMatch(/already running/);
    const pid1 = readFileSync(path.join(root, 'shared/pids/web.pid'), 'utf8');
    // The restarted app forks a worker in its process group (what gunicorn would).
    for (let i = 0; i < 3; i++) expect(svc(root, 'restart', 'sleep 303 & exec sleep 302').code).toBe(0);
    const pid2 = readFileSync(path.join(root, 'shared/pids/web.pid'), 'utf8');
    expect(pid2).not.toBe(pid1);
    expect(processesWith('sleep 302')).toEqual([Number(pid2)]);
    expect(processesWith('sleep 303')).toHaveLength(1);
  });

  it('stop: TERM to the group, KILL after the timeout for an app that ignores TERM', () => {
    const root = makeRoot();
    expect(svc(root, 'start', "trap '' TERM; sleep 304 & while :; do sleep 0.1; done").code).toBe(0);
    expect(processesWith('sleep 304').length).toBeGreaterThan(0);
    const t0 = Date.now();
    const r = runBash([PRELUDE_SH, DAEMON_SH], 'daemon_stop "$1" web 1', [root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^web: stopped/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(processesWith('sleep 304')).toEqual([]);
    expect(existsSync(path.join(root, 'shared/pids/web.pid'))).toBe(false);
    expect(svc(root, 'stop', '').stdout).toBe('web: not running\n');
  });

  it('an app that exits at once fails the step with its output since this start (not earlier runs\')', () => {
    const root = makeRoot();
    expect(svc(root, 'restart', 'echo "an earlier run"; exit 3').code).toBe(1);
    const r = svc(root, 'restart', 'echo "ImportError: no module named flask" >&2; exit 3');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/web: exited within 0\.3s of starting; its output since the start \(in .*web\.log\):\n {2}\| == orch: starting web at \S+ in \S+\n {2}\| ImportError: no module named flask\n/);
    expect(r.stderr).not.toMatch(/an earlier run/);
    expect(existsSync(path.join(root, 'shared/pids/web.pid'))).toBe(false);
  });

  it('a stale pid file (process gone) does not block a start', () => {
    const root = makeRoot();
    mkdirSync(path.join(root, 'shared/pids'), { recursive: true });
    writeFileSync(path.join(root, 'shared/pids/web.pid'), '999999');
    expect(svc(root, 'start', 'exec sleep 305').stdout).toMatch(/^web: started/);
    expect(processesWith('sleep 305')).toHaveLength(1);
  });

  it('a log that is a symlink: restart refuses and says why; the link target and the running app are untouched', () => {
    const root = makeRoot();
    expect(svc(root, 'start', 'exec sleep 306').code).toBe(0);
    const pid = processesWith('sleep 306');
    const target = path.join(root, 'root-only');
    writeFileSync(target, 'secret\n', { mode: 0o600 });
    rmSync(path.join(root, 'shared/log/web.log'));
    symlinkSync(target, path.join(root, 'shared/log/web.log'));
    const r = svc(root, 'restart', 'exec sleep 306');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`web: the log ${root}/shared/log/web.log is a symlink (to ${target}); refusing to write the log through it, so restart was not done: remove the link\n`);
    expect(readFileSync(target, 'utf8')).toBe('secret\n');
    expect(statSync(target).mode & 0o7777).toBe(0o600);
    expect(processesWith('sleep 306')).toEqual(pid);
  });

  it.each([
    ['pid 1', (f: string) => writeFileSync(f, '1')],
    ['a pid file older than its process (pid reused)', (f: string) => utimesSync(f, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000))],
    ['a pid file owned by another user', (f: string) => chownSync(f, 65534, 65534)],
    ['a pid file that is a symlink', (f: string) => { renameSync(f, `${f}.real`); symlinkSync(`${f}.real`, f); }],
  ])('%s is not trusted: stop signals nothing', (_what, plant) => {
    // Another app, a session leader of its own (not a child of this process, so it is reaped when killed), whose pid lands in web's pid file.
    const victim = { pid: Number(runBash([], 'setsid sleep 307 > /dev/null 2>&1 < /dev/null & echo $!').stdout.trim()) };
    try {
      const root = makeRoot();
      mkdirSync(path.join(root, 'shared/pids'), { recursive: true });
      const f = path.join(root, 'shared/pids/web.pid');
      writeFileSync(f, String(victim.pid));
      plant(f);
      const r = svc(root, 'stop', '');
      expect(r.stdout).toBe('web: not running\n');
      expect(processesWith('sleep 307')).toEqual([victim.pid]);
      // Control: the same pid in a fresh pid file of orch's own is trusted and stopped.
      rmSync(f, { force: true });
      writeFileSync(f, String(victim.pid));
      expect(svc(root, 'stop', '').stdout).toBe(`web: stopped (pid ${victim.pid})\n`);
    } finally {
      try { process.kill(victim.pid, 'SIGKILL'); } catch { /* stopped by the control */ }
    }
  });
});
