/**
 * Root never writes through a name another user planted (1 sshd test host, `nobody` as
 * the other user): `put` with `owner:` and `orch shell` `files put`/`edit` into a folder
 * `nobody` owns, while a loop run as `nobody` swaps every new temp name for a symlink to
 * a root-only file; and a
 * `directory` path planted as a symlink. The root-only file keeps content, mode, owner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { makeWork, orch, ORCH, type CliResult } from './cli.js';

const NOBODY = 65534;

describe.skipIf(!canRunFleet())('host-side safety against a planted symlink', () => {
  let fleet: Fleet;
  let env: Record<string, string>;
  let work: string;
  const racers: ChildProcess[] = [];
  const onHost = (p: string): string => join(fleet.hosts[0]!.dir, p);

  const secretState = (): [string, number, number] => {
    const st = statSync(onHost('srv/secret'));
    return [readFileSync(onHost('srv/secret'), 'utf8'), st.mode & 0o7777, st.uid];
  };

  /**
   * A bounded loop (300 s) run as nobody in `dir`: every new name matching the glob
   * `pattern` is renamed away and replaced with a symlink to `target` (../secret unless
   * given). Counts its swaps.
   */
  const startRacer = (dir: string, pattern: string, target = '../secret'): { stop: () => void; swaps: () => number } => {
    // perl: rename(2) and symlink(2) without a fork per swap, so the loop is fast enough
    // to win the short window between orch creating a name and using it.
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'perl', '-e', `
      my ($dir, $pat, $target) = @ARGV; chdir($dir) or exit 1; $| = 1; my $end = time + 300;
      while (time < $end) {
        for my $f (glob $pat) {
          next if -l $f || !-e _;
          print "swap\n" if rename($f, "x$f") && symlink($target, $f);
          unlink("x$f") or rmdir("x$f");
        }
      }`, dir, pattern, target], { stdio: ['ignore', 'pipe', 'inherit'] });
    racers.push(child);
    let swaps = 0;
    child.stdout!.on('data', (b: Buffer) => { swaps += b.toString().split('\n').filter((l) => l === 'swap').length; });
    return { stop: () => void child.kill('SIGKILL'), swaps: () => swaps };
  };

  beforeAll(async () => {
    fleet = await startFleet({ count: 1 });
    ({ dir: work, env } = makeWork('host-safety'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    writeFileSync(onHost('srv/secret'), 'root-only\n', { mode: 0o600 });
    chmodSync(onHost('srv/secret'), 0o600);
    mkdirSync(onHost('srv/shared'), { recursive: true });
    chownSync(onHost('srv/shared'), NOBODY, NOBODY);
    // nobody must reach srv/shared from the control machine: o+x on every folder above it.
    for (let d = onHost('srv'); d.length > 1 && d !== dirname(fleet.dir); d = dirname(d)) {
      chmodSync(d, statSync(d).mode & 0o7777 | 0o001);
    }
  }, 60_000);

  afterAll(async () => {
    for (const r of racers) r.kill('SIGKILL');
    await fleet?.teardown();
  });

  it('put with owner: over >= 20 applies while nobody swaps temp names for symlinks: the root-only file is unchanged', async () => {
    const before = secretState();
    const race = startRacer(onHost('srv/shared'), '.orch-tmp.*');
    let applies = 0;
    for (let i = 0; i < 20; i++) {
      const pb = join(work, 'put.yml');
      writeFileSync(pb, `
inventory: inventory.yml
steps:
  - put: { dest: /srv/shared/app.conf, content: "version ${i} ${'x'.repeat(20_000)}\\n", mode: "0640", owner: nobody }
`);
      await orch(['apply', pb], env);
      applies++;
      expect(secretState()).toEqual(before);
      // A won race may leave the symlink at the destination; remove it so the next apply tries again.
      try { if (lstatSync(onHost('srv/shared/app.conf')).isSymbolicLink()) rmSync(onHost('srv/shared/app.conf')); } catch { /* absent */ }
    }
    race.stop();
    const swaps = race.swaps();
    expect(applies).toBeGreaterThanOrEqual(20);
    expect(secretState()).toEqual(['root-only\n', 0o600, 0]);
    console.log(`put race: ${applies} applies, ${swaps} temp names swapped for a symlink by nobody`);
    expect(swaps).toBeGreaterThan(0);
  }, 300_000);

  it('orch shell files put and edit, 20 each, while nobody swaps temp names for symlinks: the root-only file is unchanged', async () => {
    const before = secretState();
    const name = fleet.hosts[0]!.name;
    const pb = join(work, 'shell.yml');
    writeFileSync(pb, 'inventory: inventory.yml\nnodes:\n  app:\n    steps:\n      - run: { cmd: "true" }\n');
    writeFileSync(join(work, 'upload.conf'), `${'y'.repeat(20_000)}\n`);
    writeFileSync(join(work, 'editor.sh'), '#!/bin/bash\necho "edited $$" >> "$1"\n', { mode: 0o755 });
    const lines = ['cd app', `files ${name}`, 'cd /srv/shared'];
    for (let i = 0; i < 20; i++) lines.push(`put ${join(work, 'upload.conf')} app.conf`, 'edit app.conf');
    lines.push('exit', 'exit', '');
    const race = startRacer(onHost('srv/shared'), '.*.orch-*');
    const r = await new Promise<CliResult>((resolve, reject) => {
      const t0 = Date.now();
      const child = spawn(process.execPath, [ORCH, 'shell', pb], { cwd: work, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...env, EDITOR: join(work, 'editor.sh') }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
      child.stdin.end(lines.join('\n'));
    });
    race.stop();
    const puts = r.stdout.split('\n').filter((l) => l.endsWith('-> /srv/shared/app.conf (20001 bytes)')).length;
    const edits = r.stdout.split('\n').filter((l) => /^\/srv\/shared\/app\.conf: saved/.test(l)).length;
    console.log(`shell files race: ${puts}/20 puts and ${edits}/20 edits saved, ${race.swaps()} temp names swapped by nobody`);
    expect(secretState()).toEqual(before);
    expect(secretState()).toEqual(['root-only\n', 0o600, 0]);
    expect(puts + edits, r.stdout + r.stderr).toBeGreaterThan(0);
    expect(race.swaps()).toBeGreaterThan(0);
  }, 300_000);

  it('a daemon log replaced by a symlink to a root-only file: restart refuses and says why; orch logs does not read through it', async () => {
    const pb = join(work, 'daemon.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { root: /srv/app }
steps:
  - service: { name: web, manager: daemon, action: restart, command: "echo app-output; exec sleep 600", when: always, startsecs: 0.2 }
`);
    const first = await orch(['apply', pb], env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const logs = await orch(['logs', pb, '-n', '5'], env);
    expect(logs.stdout).toMatch(/app-output/); // control: the real log is read
    writeFileSync(onHost('srv/app-secret'), 'root-only\n', { mode: 0o600 });
    rmSync(onHost('srv/app/shared/log/web.log'));
    symlinkSync('/srv/app-secret', onHost('srv/app/shared/log/web.log'));
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('web: the log /srv/app/shared/log/web.log is a symlink (to /srv/app-secret); refusing to write the log through it, so restart was not done: remove the link');
    expect(readFileSync(onHost('srv/app-secret'), 'utf8')).toBe('root-only\n');
    expect(statSync(onHost('srv/app-secret')).mode & 0o7777).toBe(0o600);
    const l2 = await orch(['logs', pb, '-n', '5'], env);
    expect(l2.stdout + l2.stderr).toContain('/srv/app/shared/log/web.log is a symlink (to /srv/app-secret); not reading through it');
    expect(l2.stdout + l2.stderr).not.toContain('root-only');
    // Stop the app (stop never writes the log).
    writeFileSync(pb, readFileSync(pb, 'utf8').replace('action: restart', 'action: stop'));
    expect((await orch(['apply', pb], env)).code).toBe(0);
  }, 120_000);

  it('a directory path planted as a symlink: the step fails naming the link; the target keeps owner and mode', async () => {
    mkdirSync(onHost('srv/rootonly'), { mode: 0o700 });
    chmodSync(onHost('srv/rootonly'), 0o700);
    symlinkSync('../rootonly', onHost('srv/shared/log'));
    const pb = join(work, 'dir.yml');
    writeFileSync(pb, `
inventory: inventory.yml
steps:
  - directory: { path: /srv/shared/log, mode: "0777", owner: nobody }
`);
    const r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('/srv/shared/log is a symlink (to ../rootonly); refusing to change its target');
    const st = statSync(onHost('srv/rootonly'));
    expect([st.mode & 0o7777, st.uid]).toEqual([0o700, 0]);
  }, 60_000);
  it('directory with owner: and mode: over 20 creations while nobody swaps the new folder for a symlink: the root-only folder keeps owner and mode', async () => {
    mkdirSync(onHost('srv/rootdir'), { mode: 0o700 });
    chmodSync(onHost('srv/rootdir'), 0o700);
    const target = (): [number, number] => { const st = statSync(onHost('srv/rootdir')); return [st.mode & 0o7777, st.uid]; };
    const pb = join(work, 'dir-race.yml');
    writeFileSync(pb, `
inventory: inventory.yml
steps:
  - directory: { path: /srv/shared/cache, mode: "0777", owner: nobody }
`);
    const race = startRacer(onHost('srv/shared'), 'cache', '../rootdir');
    const outcomes = { created: 0, refused: 0 };
    for (let i = 0; i < 20; i++) {
      // Gone before each apply, so every apply creates it (mkdir, then owner and mode).
      rmSync(onHost('srv/shared/cache'), { recursive: true, force: true });
      const r = await orch(['apply', pb], env);
      expect(target(), `apply ${i + 1}`).toEqual([0o700, 0]);
      if (r.code === 0) outcomes.created++;
      else {
        expect(r.stdout + r.stderr, `apply ${i + 1}`).toMatch(/\/srv\/shared\/cache is a symlink.*refusing to change its target/);
        outcomes.refused++;
      }
    }
    race.stop();
    console.log(`directory race: ${JSON.stringify(outcomes)}, ${race.swaps()} folders swapped for a symlink by nobody`);
    expect(race.swaps()).toBeGreaterThan(0);
    expect(target()).toEqual([0o700, 0]);
  }, 300_000);

  it('daemon restarts x10 while nobody swaps every new log and pid file for a symlink to a root-only file: the file is unchanged; orch logs never shows it', async () => {
    const before = secretState();
    const pb = join(work, 'daemon-race.yml');
    const playbook = (action: string): string => `
inventory: inventory.yml
vars: { root: /srv/race }
steps:
  - service: { name: web, manager: daemon, action: ${action}, command: "echo app-output; exec sleep 120", when: always, startsecs: 0.2 }
`;
    writeFileSync(pb, playbook('restart'));
    const first = await orch(['apply', pb], env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    // The app user's folders, as Capistrano's shared/log and shared/tmp/pids often are.
    for (const d of ['log', 'pids']) chownSync(onHost(`srv/race/shared/${d}`), NOBODY, NOBODY);
    const races = [startRacer(onHost('srv/race/shared/log'), 'web.*', '../../../secret'), startRacer(onHost('srv/race/shared/pids'), 'web.*', '../../../secret')];
    const outcomes = { restarted: 0, refused: 0 };
    for (let i = 0; i < 10; i++) {
      const r = await orch(['apply', pb], env);
      expect(secretState(), `restart ${i + 1}`).toEqual(before);
      if (r.code === 0) outcomes.restarted++;
      else {
        expect(r.stdout + r.stderr, `restart ${i + 1}`).toMatch(/is a symlink/);
        outcomes.refused++;
      }
      const logs = await orch(['logs', pb, '-n', '5'], env);
      expect(logs.stdout + logs.stderr, `orch logs after restart ${i + 1}`).not.toContain('root-only');
      // A won race leaves the link: remove it so the next restart tries again.
      for (const f of ['log/web.log', 'pids/web.pid']) {
        try { if (lstatSync(onHost(`srv/race/shared/${f}`)).isSymbolicLink()) rmSync(onHost(`srv/race/shared/${f}`)); } catch { /* absent */ }
      }
    }
    for (const race of races) race.stop();
    console.log(`daemon race: ${JSON.stringify(outcomes)}, ${races[0]!.swaps()} log and ${races[1]!.swaps()} pid names swapped for a symlink by nobody`);
    expect(secretState()).toEqual(['root-only\n', 0o600, 0]);
    expect(races[0]!.swaps() + races[1]!.swaps()).toBeGreaterThan(0);
    writeFileSync(pb, playbook('stop'));
    await orch(['apply', pb], env);
  }, 600_000);
});
