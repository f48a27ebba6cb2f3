/**
 * Issue 6, rows 8-11, 13, 14: faults on a 10-host fleet. Nothing is lost and the next
 * run converges: sshd killed mid-upload, a black-holed link mid-command, orch SIGKILLed
 * at every step boundary, 1,000 atomic switches under a reader, disk full while
 * unpacking, 50 applies racing for one host. Anchors: Ansible (a failed host drops out),
 * Kamal (a broken deploy keeps the old version serving), Capistrano/Deployer (`mv -T`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { hostOk, makeWork, onHost, orch, startOrch, summaryOf, waitFor, writeApp, writeFile, type Work } from './helpers.js';

interface State { current: string | null; history: { version: string; action: string }[] }

describe.skipIf(!canRunFleet())('faults (issue 6 rows 8-11, 13, 14)', () => {
  let fleet: Fleet;
  let work: Work;
  const h = (i: number): TestHost => fleet.hosts[i - 1]!;
  const stateOf = (host: TestHost, root: string): State => JSON.parse(readFileSync(onHost(host, `${root}/.orch/state.json`), 'utf8')) as State;
  const currentOf = (host: TestHost, root: string): string => readlinkSync(onHost(host, `${root}/current`));
  /** A playbook installing bundle `src` under `root` (install, symlink, optional service command). */
  const playbook = (name: string, src: string, root: string, service?: string): string =>
    writeFile(work, `${name}.yml`, [
      'inventory: inventory.yml',
      `vars: { app: ${name}, root: ${root} }`,
      'bundles:', `  ${name}: { source: ${src}, builder: dir }`,
      'steps:', '  - install: {}', '  - symlink: {}',
      ...(service ? [`  - service: { manager: command, command: ${JSON.stringify(service)} }`] : []),
      '',
    ].join('\n'));

  beforeAll(async () => {
    fleet = await startFleet({ count: 10, name: 'orchflt' });
    work = makeWork('faults');
    writeFile(work, 'inventory.yml', fleet.inventoryYaml());
  }, 300_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  // ---- row 8 ------------------------------------------------------------------------------
  it('row 8: sshd of 1 of 10 hosts killed mid-upload: 9 finish, exit 4, nothing lost; re-run converges; third run no changes', async () => {
    const root = '/srv/big';
    writeApp(work, 'big', '1.0.0', { 'VERSION.txt': '1\n' });
    const pb = playbook('big', 'big', root);
    const first = await orch(['apply', pb, '--json'], work.env, { cwd: work.dir });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    writeApp(work, 'big', '2.0.0', { 'blob.bin': randomBytes(20 * 1024 * 1024) });
    const victim = h(1);
    const uploads = (): string[] => {
      const d = onHost(victim, `${root}/.orch/bundles`);
      return existsSync(d) ? readdirSync(d).filter((n) => n.startsWith('.upload.')) : [];
    };
    const run = startOrch(['apply', pb, '--json'], work.env, { cwd: work.dir });
    await waitFor(() => uploads().length > 0, 'the upload temp file on h1', 120_000, 5);
    await fleet.stopSshd(victim);
    const r = await run.done;
    await fleet.startSshd(victim);
    expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(4);
    const s = summaryOf(r.stdout);
    const byHost = Object.fromEntries(s.hosts.map((x) => [x.host, x.status]));
    expect(byHost.h1).toBe('unreachable');
    expect(s.hosts.filter((x) => x.status === 'changed')).toHaveLength(9);
    expect(currentOf(victim, root)).toBe('versions/1.0.0');
    expect(stateOf(victim, root).history.map((e) => e.version)).not.toContain('2.0.0');
    expect(existsSync(onHost(victim, `${root}/versions/2.0.0/.orch-installed`))).toBe(false);
    for (const host of fleet.hosts.slice(1)) expect(currentOf(host, root)).toBe('versions/2.0.0');
    console.log(`row 8: killed h1 mid-upload; run ${r.ms} ms; 9 changed, 1 unreachable; leftover upload temp files on h1: ${uploads().length}`);
    const again = await orch(['apply', pb, '--json', '--detailed-exitcodes'], work.env, { cwd: work.dir });
    expect(again.code, again.stdout.slice(-2000) + again.stderr).toBe(2);
    for (const host of fleet.hosts) expect(currentOf(host, root)).toBe('versions/2.0.0');
    expect(uploads()).toEqual([]); // the killed upload's temp file was removed by the re-run
    expect(readFileSync(onHost(victim, `${root}/current/blob.bin`)).equals(readFileSync(join(work.dir, 'big', 'blob.bin')))).toBe(true);
    const third = await orch(['apply', pb, '--json', '--detailed-exitcodes'], work.env, { cwd: work.dir });
    expect(third.code, third.stdout.slice(-2000) + third.stderr).toBe(0);
    expect(summaryOf(third.stdout).bytesUploaded).toBe(0);
  }, 300_000);

  // ---- row 9 ------------------------------------------------------------------------------
  it('row 9: a host black-holed mid-command is marked unreachable within the keepalive budget; the others finish', async () => {
    const pb = writeFile(work, 'hole.yml', 'inventory: inventory.yml\nsteps:\n  - run: { cmd: "touch /srv/hole-started; sleep 4; touch /srv/hole-finished" }\n');
    const victim = h(2);
    const run = startOrch(['apply', pb, '--json', '--limit', 'h1,h2,h3'], work.env, { cwd: work.dir });
    await waitFor(() => existsSync(onHost(victim, '/srv/hole-started')), 'the command to start on h2', 60_000);
    const t0 = Date.now();
    await fleet.setLinkDown(victim, true);
    let r;
    try {
      r = await run.done;
    } finally {
      await fleet.setLinkDown(victim, false);
    }
    const detected = Date.now() - t0;
    console.log(`row 9: link down -> orch finished in ${detected} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    const s = summaryOf(r.stdout);
    expect(s.hosts.map((x) => `${x.host} ${x.status}`)).toEqual(['h1 changed', 'h2 unreachable', 'h3 changed']);
    expect(s.hosts[1]!.error).toMatch(/keepalive|connection|timed out/i);
    expect(detected).toBeLessThan(30_000);
    for (const i of [1, 3]) expect(existsSync(onHost(h(i), '/srv/hole-finished'))).toBe(true);
  }, 120_000);

  // ---- row 10 -----------------------------------------------------------------------------
  describe('row 10: orch SIGKILLed at every step boundary', () => {
    const root = '/srv/kill';
    const host = (): TestHost => h(4);
    let n = 0;
    beforeAll(async () => {
      // PATH shims on the host: `mv`, `tar`, `cp`, `perl` (the safe write of src/host/prelude.sh)
      // and `pause-point` block on a FIFO when their arguments contain the text in
      // /root/pause-match (bash sources ~/.bashrc under sshd).
      const shim = onHost(host(), '/root/shim');
      mkdirSync(shim, { recursive: true });
      const body = (real: string): string => [
        '#!/bin/bash',
        'm=$(cat /root/pause-match 2>/dev/null || true)',
        'if [ -n "$m" ] && [[ "$*" == *"$m"* ]]; then',
        '  rm -f /root/pause-match; echo "$$ $PPID" > /root/paused.tmp; /usr/bin/mv -f /root/paused.tmp /root/paused',
        '  read -r _ < /root/pause.fifo',
        'fi',
        real ? `exec ${real} "$@"` : 'exit 0',
        '',
      ].join('\n');
      for (const [name, real] of [['mv', '/usr/bin/mv'], ['tar', '/usr/bin/tar'], ['cp', '/usr/bin/cp'], ['perl', '/usr/bin/perl'], ['pause-point', '']] as const) {
        writeFileSync(join(shim, name), body(real));
        chmodSync(join(shim, name), 0o755);
      }
      writeFileSync(onHost(host(), '/root/.bashrc'), 'export PATH=/root/shim:$PATH\n');
      await hostOk(fleet, host(), 'rm -f /root/pause.fifo && mkfifo /root/pause.fifo');
      writeApp(work, 'kill', '1.0.0', { 'data.txt': 'v1.0.0\n' });
      const r = await orch(['apply', playbook('kill', 'kill', root, `pause-point restart; echo restarted >> ${root}/restarts`), '--limit', 'h4'], work.env, { cwd: work.dir });
      if (r.code !== 0) throw new Error(r.stdout + r.stderr);
    }, 120_000);

    /**
     * Kills orch (and the remote script, where it paused) at `match`; checks the
     * invariants; returns the version being deployed.
     */
    const killAt = async (match: string): Promise<string> => {
      n++;
      const version = `1.${n}.0`;
      writeApp(work, 'kill', version, { 'data.txt': `v${version}\n` });
      const pb = playbook('kill', 'kill', root, `pause-point restart; echo restarted >> ${root}/restarts`);
      writeFileSync(onHost(host(), '/root/pause-match'), match);
      const paused = onHost(host(), '/root/paused');
      const run = startOrch(['apply', pb, '--limit', 'h4', '--json'], work.env, { cwd: work.dir });
      await waitFor(() => existsSync(paused), `the pause at ${match}`, 60_000, 10);
      const before = currentOf(host(), root);
      run.child.kill('SIGKILL');
      const r = await run.done;
      expect(r.signal).toBe('SIGKILL');
      // The remote script dies where it paused (the worst case: no trap, no cleanup).
      const pids = readFileSync(paused, 'utf8').trim().split(' ');
      await fleet.hostExec(host(), `kill -9 ${pids.join(' ')} 2>/dev/null; rm -f /root/paused; true`);
      // At every instant after the kill: current resolves to a complete version...
      const cur = currentOf(host(), root);
      expect(cur).toMatch(/^versions\/1\.\d+\.0$/);
      expect(existsSync(onHost(host(), `${root}/${cur}/.orch-installed`))).toBe(true);
      expect(readFileSync(onHost(host(), `${root}/current/data.txt`), 'utf8')).toBe(`v${cur.slice('versions/'.length)}\n`);
      // ...state files parse...
      expect(() => stateOf(host(), root)).not.toThrow();
      expect(() => JSON.parse(readFileSync(onHost(host(), '/root/.orch/registry.json'), 'utf8'))).not.toThrow();
      // ...and no lock is left behind (the holder's session ended with orch).
      await waitFor(async () => (await fleet.hostExec(host(), 'flock -n /root/.orch/lock true')).code === 0, 'the host lock to be free', 15_000, 100);
      console.log(`row 10: killed ${match}: current ${before} -> ${cur}`);
      return version;
    };
    const pbOf = (): string => join(work.dir, 'kill.yml');

    it.each([
      ['after upload (before the member check)', '-tvzf', 2, true],
      ['after unpack (install.sh done, before the marker)', '/PACKAGE', 2, true],
      ['between the temp link and mv -T', '.current.tmp.', 2, true],
      // The switch was done; the restart-pending marker makes the next run restart.
      ['after the switch, before the restart', 'restart', 2, true],
      // Killed as install's last writes start (one perl writes the marker, state.json and
      // the registry; its arguments name state.json): the version has no marker yet, so the
      // next run installs it again, and the scratch folder waits for that install.
      ['while writing state.json', '.orch/state.json', 2, false],
    ] as const)('%s', async (_what, match, nextCode, cleaned) => {
      const version = await killAt(match);
      const pb = pbOf();
      // The next run converges, and the one after it changes nothing.
      const next = await orch(['apply', pb, '--limit', 'h4', '--json', '--detailed-exitcodes'], work.env, { cwd: work.dir });
      expect(next.code, next.stdout.slice(-2000) + next.stderr).toBe(nextCode);
      expect(currentOf(host(), root)).toBe(`versions/${version}`);
      expect(stateOf(host(), root).current).toBe(version);
      const last = await orch(['apply', pb, '--limit', 'h4', '--json', '--detailed-exitcodes'], work.env, { cwd: work.dir });
      expect(last.code, last.stdout.slice(-2000) + last.stderr).toBe(0);
      if (cleaned) {
        // The converging run removed what the killed one left (scratch folder, upload temp file).
        expect(readdirSync(onHost(host(), `${root}/.orch`)).filter((f) => f.startsWith('unpack.'))).toEqual([]);
        expect(readdirSync(onHost(host(), `${root}/.orch/bundles`)).filter((f) => f.startsWith('.upload.'))).toEqual([]);
      }
    }, 180_000);

    // A run killed between the switch and the restart leaves `.orch/restart-pending`: the
    // next run's symlink reports changed, so the node's service step restarts.
    it('after the switch, before the restart: the next run restarts the service', async () => {
      await killAt('restart');
      const restarts = (): number => readFileSync(onHost(host(), `${root}/restarts`), 'utf8').split('\n').filter(Boolean).length;
      const before = restarts();
      const next = await orch(['apply', pbOf(), '--limit', 'h4', '--json'], work.env, { cwd: work.dir });
      expect(next.code, next.stdout.slice(-2000)).toBe(0);
      expect(restarts()).toBe(before + 1);
      const again = await orch(['apply', pbOf(), '--limit', 'h4', '--json', '--detailed-exitcodes'], work.env, { cwd: work.dir });
      expect(again.code).toBe(0);
      expect(restarts()).toBe(before + 1);
    }, 180_000);
  });

  // ---- row 11 -----------------------------------------------------------------------------
  it('row 11: 1,000 switches of current while a reader loops on current/VERSION: 0 errors', async () => {
    const root = '/srv/flip';
    const host = h(5);
    writeApp(work, 'flip', '1.0.0');
    const pb = playbook('flip', 'flip', root);
    expect((await orch(['apply', pb, '--limit', 'h5'], work.env, { cwd: work.dir })).code).toBe(0);
    writeApp(work, 'flip', '2.0.0');
    expect((await orch(['apply', pb, '--limit', 'h5'], work.env, { cwd: work.dir })).code).toBe(0);
    // The real symlink scripts of the plan, for each version.
    const scripts: string[] = [];
    for (const v of ['1.0.0', '2.0.0']) {
      const file = join(work.dir, `flip-${v}.plan.json`);
      writeFile(work, 'flip-sym.yml', `inventory: inventory.yml\nvars: { app: flip, root: ${root} }\nsteps:\n  - symlink: { version: "${v}" }\n`);
      const p = await orch(['plan', join(work.dir, 'flip-sym.yml'), '--limit', 'h5', '-o', file], work.env, { cwd: work.dir });
      expect(p.code, p.stderr).toBe(0);
      const plan = JSON.parse(readFileSync(file, 'utf8')) as { phases: { steps: { tasks: Record<string, { script: string }> }[] }[] };
      scripts.push(plan.phases[0]!.steps[0]!.tasks.h5!.script);
    }
    writeFileSync(onHost(host, '/tmp/s1.sh'), scripts[0]!);
    writeFileSync(onHost(host, '/tmp/s2.sh'), scripts[1]!);
    const r = await fleet.hostExec(host, [
      `( errs=0; reads=0; while [ ! -e /tmp/flip-done ]; do v=$(cat ${root}/current/VERSION 2>/dev/null) || v=; case "$v" in 1.0.0|2.0.0) ;; *) errs=$((errs+1));; esac; reads=$((reads+1)); done; echo "$errs $reads" > /tmp/reader ) &`,
      'reader=$!',
      'changed=0',
      'for i in $(seq 500); do for s in /tmp/s1.sh /tmp/s2.sh; do out=$(bash -c "$(cat $s)" orch 0 "" "") || exit 9; case "$out" in *status=changed*) changed=$((changed+1));; esac; done; done',
      'touch /tmp/flip-done; wait $reader',
      'echo "switches=$changed reader=$(cat /tmp/reader)"',
    ].join('\n'));
    expect(r.code, r.stderr).toBe(0);
    const m = /switches=(\d+) reader=(\d+) (\d+)/.exec(r.stdout)!;
    console.log(`row 11: ${m[1]} switches, ${m[3]} reads, ${m[2]} errors`);
    expect(Number(m[1])).toBe(1000);
    expect(Number(m[3])).toBeGreaterThan(1000);
    expect(Number(m[2])).toBe(0);
  }, 300_000);

  // ---- row 13 -----------------------------------------------------------------------------
  it.each([
    ['while unpacking (3 MB into a 2 MB tmpfs)', 3],
    ['while install.sh copies into versions/ (1.2 MB twice)', 1.2],
  ])('row 13: disk full %s: the host fails naming "No space left", current unchanged, space reclaimed', async (_what, mb) => {
    const root = `/srv/full${mb}`;
    const host = h(6);
    await hostOk(fleet, host, `mkdir -p ${root} && mount -t tmpfs -o size=2m tmpfs ${root}`);
    try {
      const src = `full${String(mb).replace('.', '_')}`;
      writeApp(work, src, '1.0.0', { 'small.txt': 'v1\n' });
      const pb = playbook(src, src, root);
      const r1 = await orch(['apply', pb, '--limit', 'h6'], work.env, { cwd: work.dir });
      expect(r1.code, r1.stdout + r1.stderr).toBe(0);
      const used = async (): Promise<number> => Number((await hostOk(fleet, host, `df -k --output=used ${root} | tail -1`)).trim());
      const before = await used();
      // Zeros: a tiny tarball to upload, MBs once unpacked.
      writeApp(work, src, '2.0.0', { 'zeros.bin': Buffer.alloc(Math.round(mb * 1024 * 1024)) });
      const r = await orch(['apply', pb, '--limit', 'h6', '--json'], work.env, { cwd: work.dir });
      expect(r.code, r.stdout + r.stderr).toBe(4);
      const s = summaryOf(r.stdout);
      expect(s.hosts[0]!.status).toBe('failed');
      expect(s.hosts[0]!.error).toMatch(/No space left on device/);
      expect((await hostOk(fleet, host, `readlink ${root}/current`)).trim()).toBe('versions/1.0.0');
      // objects/ and trees/ hold the files of the installed 1.0.0 (delta releases); nothing of the failed install is left.
      expect((await hostOk(fleet, host, `ls -A ${root}/versions; ls -A ${root}/.orch`)).split('\n').filter(Boolean).sort()).toEqual(['1.0.0', 'bundles', 'objects', 'state.json', 'trees'].sort());
      const after = await used();
      console.log(`row 13: ${mb} MB: used ${before} KiB before, ${after} KiB after the failure`);
      expect(after - before).toBeLessThan(64); // only the small uploaded bundle remains
    } finally {
      await fleet.hostExec(host, `umount ${root}`);
    }
  }, 120_000);

  // ---- row 14 -----------------------------------------------------------------------------
  it('row 14: 50 applies racing for one host: one at a time; the others wait or fail naming the holder', async () => {
    const pb = writeFile(work, 'race.yml', 'inventory: inventory.yml\nsteps:\n  - run: { cmd: "echo start {{n}} >> /srv/race.log; sleep 0.2; echo end {{n}} >> /srv/race.log" }\n');
    const runs = Array.from({ length: 50 }, (_, i) =>
      startOrch(['apply', pb, '--limit', 'h7', '--json', '-e', `n=${i}`, '--lock-wait', i % 2 ? '0' : '600'], work.env, { cwd: work.dir }));
    const results = await Promise.all(runs.map((r) => r.done));
    const log = readFileSync(onHost(h(7), '/srv/race.log'), 'utf8').trim().split('\n');
    // No interleaving: start N / end N pairs, each run once.
    for (let i = 0; i < log.length; i += 2) {
      const a = /^start (\d+)$/.exec(log[i]!);
      expect(a, log.join('\n')).not.toBeNull();
      expect(log[i + 1]).toBe(`end ${a![1]}`);
    }
    const ran = new Set(log.filter((l) => l.startsWith('start')).map((l) => Number(l.split(' ')[1])));
    const failed = results.map((r, i) => [r, i] as const).filter(([r]) => r.code !== 0);
    for (const [r, i] of failed) {
      expect(i % 2, `run ${i} (--lock-wait 600) failed: ${r.stdout.slice(-500)}`).toBe(1);
      expect(r.code).toBe(4);
      expect(summaryOf(r.stdout).hosts[0]!.error).toMatch(/^locked by root@\S+ pid \d+ since \d{4}-\d\d-\d\dT[\d:.]+Z$/);
      expect(ran.has(i)).toBe(false);
    }
    for (let i = 0; i < 50; i += 2) expect(results[i]!.code, results[i]!.stdout.slice(-500)).toBe(0);
    expect(ran.size + failed.length).toBe(50);
    console.log(`row 14: ${ran.size} ran one at a time, ${failed.length} failed naming the holder; slowest ${Math.max(...results.map((r) => r.ms))} ms`);
  }, 600_000);
});
