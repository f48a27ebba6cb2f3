/**
 * Issue 10: a run's remote work never outlives it. On real sshd hosts:
 * - a seeded random schedule of SIGKILLs of orch, each aimed at a moment inside one
 *   window of the run (before the steps, install, symlink, service, prune) counted from
 *   the killed run's own progress events, with a second run waiting on the lock each
 *   time: the killed run's processes are gone within 2 s, `current` always resolves to a
 *   complete release matching its files, and after the waiting run (the next apply,
 *   exit 0) state.json agrees with the links and nothing of the killed run remains;
 * - the control machine in its own network namespace, its link cut, orch killed: the
 *   host lock is free within the give-up time + 5 s and no child remains;
 * - Ctrl-C in a real terminal (tmux) during a long `run` step: exit 130, `interrupted`
 *   printed, no remote process after 2 s, the next run converges.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, findExecutable, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, onHost, orch, ORCH, sleep, startOrch, summaryOf, waitFor, writeApp, writeFile, type Work } from './helpers.js';
import { seededRandom } from '../harness/random.js';
import { agentSessions, RunProcs, sessionsAlive, type HostProc } from './host-procs.js';

const prng = seededRandom;

/**
 * Files of the soak's release: 400, or ORCH_KILL_FILES. The kills are aimed from the
 * run's own events, so a smaller release still has every window hit (it only shortens
 * them); 400 files keep install and prune long enough for offsets inside them.
 */
const FILES = Number(process.env.ORCH_KILL_FILES ?? 400);
/**
 * The kill soak's number of kills: 100, or ORCH_KILL_SOAK (0 skips it). ORCH_KILL_SEED
 * (and ORCH_KILL_SPANS) replay a schedule (both are printed first).
 */
const KILLS = Number(process.env.ORCH_KILL_SOAK ?? 100);

describe.skipIf(!canRunFleet())('issue 10: the remote agent (kill soak, partition, Ctrl-C)', () => {
  let fleet: Fleet;
  let work: Work;
  const host = (): TestHost => fleet.hosts[0]!;
  beforeAll(async () => {
    fleet = await startFleet({ count: 1, name: 'orchagt' });
    work = makeWork('agent');
    writeFile(work, 'inventory.yml', fleet.inventoryYaml());
  }, 120_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it.skipIf(KILLS === 0)(`SIGKILL at ${KILLS} seeded moments inside the run's windows over a ${FILES}-file release, a second run waiting on the lock each time`, async () => {
    const root = '/srv/soak';
    const seed = Number(process.env.ORCH_KILL_SEED ?? randomInt(2 ** 31));
    console.log(`kill soak: seed ${seed} (ORCH_KILL_SEED=${seed} replays it), ${KILLS} kills`);
    const rand = prng(seed);
    const release = (v: string): Record<string, string> => Object.fromEntries(Array.from({ length: FILES }, (_, i) => [`f/${i % 20}/${i}.txt`, `${v} ${i}\n`]));
    // Three releases in rotation with prune keep 1: every deploy re-installs a version an
    // earlier deploy pruned (upload, check, unpack, install.sh every time), and each bundle
    // is built once (then cached), so the kills fall in the run's remote work.
    const versions = ['1.0.0', '2.0.0', '3.0.0'];
    const playbooks = versions.map((v, i) => {
      writeApp(work, `soak${i}`, v, release(v));
      return writeFile(work, `soak${i}.yml`, [
        'inventory: inventory.yml', `vars: { app: soak, root: ${root} }`, 'bundles:', `  soak: { source: soak${i}, builder: dir }`,
        'steps:', '  - install: {}', '  - symlink: {}', `  - service: { manager: command, command: "echo restarted >> ${root}/restarts" }`, '  - prune: { keep: 1 }', '',
      ].join('\n'));
    });
    /** current resolves to a complete release whose files are exactly that version's. */
    const checkCurrent = (): string => {
      // Resolved once: a run switching `current` meanwhile must not mix two releases into the check.
      const cur = readlinkSync(onHost(host(), `${root}/current`));
      const v = cur.replace(/^versions\//, '');
      expect(existsSync(onHost(host(), `${root}/${cur}/.orch-installed`)), `${cur} complete`).toBe(true);
      let n = 0;
      for (const d of readdirSync(onHost(host(), `${root}/${cur}/f`))) {
        for (const f of readdirSync(onHost(host(), `${root}/${cur}/f/${d}`))) {
          expect(readFileSync(onHost(host(), `${root}/${cur}/f/${d}/${f}`), 'utf8')).toBe(`${v} ${f.replace('.txt', '')}\n`);
          n++;
        }
      }
      expect(n).toBe(FILES);
      return v;
    };
    const lockInfo = (): string => {
      try {
        return readFileSync(onHost(host(), '/root/.orch/lock.info'), 'utf8');
      } catch {
        return '';
      }
    };
    /**
     * Times of a run's progress events, ms from its start: the first step-start and the
     * step-end of each step index. Read live from the --json stream, so a kill can be aimed
     * at a moment inside one step (a seeded offset after that step's own start event).
     */
    type StepTimes = { t0: number; steps: Map<number, number>; ends: Map<number, number>; onStep?: (i: number) => void };
    const watchSteps = (run: ReturnType<typeof startOrch>): StepTimes => {
      const w: StepTimes = { t0: Date.now(), steps: new Map(), ends: new Map() };
      let buf = '';
      run.child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const m = /^\{"type":"step-start".*?"step":(\d+)/.exec(line);
          if (m && !w.steps.has(Number(m[1]))) {
            w.steps.set(Number(m[1]), Date.now() - w.t0);
            w.onStep?.(Number(m[1]));
          }
          const e = /^\{"type":"step-end".*?"step":(\d+)/.exec(line);
          if (e) w.ends.set(Number(e[1]), Date.now() - w.t0);
        }
      });
      return w;
    };
    // The three bundles built into the cache (one deploy of each), then calibration: a
    // deploy that re-installs a pruned release, as every deploy of the schedule does.
    for (const pb of playbooks) {
      const r = await orch(['apply', pb, '--json'], work.env, { cwd: work.dir });
      expect(r.code, r.stdout.slice(-2000) + r.stderr).toBe(0);
    }
    const cal = startOrch(['apply', playbooks[0]!, '--json'], work.env, { cwd: work.dir });
    const calSteps = watchSteps(cal);
    const first = await cal.done;
    expect(first.code, first.stdout.slice(-2000) + first.stderr).toBe(0);
    /**
     * The kill windows, from the calibration run: before the first step (connect, facts,
     * lock, upload), then each step from its start event to the next one's (the last: to its end)
     * (install: check, unpack, install script, state write; symlink: the switch and its
     * state write; the service; prune: removals and the state write). A kill is
     * aimed at a seeded window (weighted towards the host-side writes) and a seeded offset
     * inside it, counted from that window's start event in the killed run itself: no kill
     * is spent waiting through a fixed span. ORCH_KILL_SPANS (ms, comma-separated) pins the
     * windows to replay a schedule exactly.
     */
    const WINDOWS = [
      { name: 'before the steps', step: -1, weight: 1 },
      { name: 'install', step: 0, weight: 4 },
      { name: 'symlink', step: 1, weight: 2 },
      { name: 'service', step: 2, weight: 1 },
      { name: 'prune', step: 3, weight: 2 },
    ];
    const spans = process.env.ORCH_KILL_SPANS?.split(',').map(Number) ?? WINDOWS.map((w) => {
      const from = w.step < 0 ? 0 : calSteps.steps.get(w.step) ?? first.ms;
      // To the next step's start (the steps of a segment end together), the last one to its end.
      const to = calSteps.steps.get(w.step + 1) ?? calSteps.ends.get(w.step) ?? first.ms;
      return Math.max(20, to - from);
    });
    expect(spans.length, 'ORCH_KILL_SPANS: one span per window').toBe(WINDOWS.length);
    const weights = WINDOWS.reduce((n, w) => n + w.weight, 0);
    /** The seeded kill: a window and an offset (ms) after its start event. */
    const draw = (): { w: number; offset: number } => {
      let r = rand() * weights;
      let w = 0;
      while (w < WINDOWS.length - 1 && r >= WINDOWS[w]!.weight) r -= WINDOWS[w++]!.weight;
      return { w, offset: Math.round(rand() * spans[w]!) };
    };
    console.log(`kill soak: a full apply of the ${FILES}-file release takes ${first.ms} ms; kill windows ${WINDOWS.map((w, i) => `${w.name} ${spans[i]} ms`).join(', ')} (ORCH_KILL_SEED=${seed} ORCH_KILL_SPANS=${spans.join(',')} replays them)`);
    const soakStart = Date.now();
    checkCurrent();
    let lingerMax = 0;
    /** Where the soak's time goes, ms: A until its kill, the 2 s watch and check, the rest of B. */
    const spent = { killAt: 0, afterKill: 0, nextApply: 0 };
    let lingerWhy = '';
    const killedIn: Record<string, number> = {};
    let kills = 0;
    /**
     * After a kill and a clean run: state.json agrees with the links (current and
     * previous) and no temp file, scratch folder or incomplete version remains.
     */
    const violations: string[] = [];
    const leftovers = (): string[] => {
      const out: string[] = [];
      const at = (p: string): string => onHost(host(), `${root}/${p}`);
      const link = (p: string): string | null => { try { return readlinkSync(at(p)).replace(/^versions\//, ''); } catch { return null; } };
      const st = JSON.parse(readFileSync(at('.orch/state.json'), 'utf8')) as { current: string | null; previous: string | null };
      if (st.current !== link('current')) out.push(`state.json current ${st.current} but the link says ${link('current')}`);
      if (st.previous !== link('previous')) out.push(`state.json previous ${st.previous} but the link says ${link('previous')}`);
      const odd = (dir: string, names: string[]): void => {
        for (const n of names) if (/\.tmp|^\.orch-tmp\.|^unpack\.|^\.upload\./.test(n)) out.push(`leftover ${dir}/${n}`);
      };
      odd(root, readdirSync(at('')));
      odd(`${root}/.orch`, readdirSync(at('.orch')));
      odd(`${root}/.orch/bundles`, readdirSync(at('.orch/bundles')));
      for (const ver of readdirSync(at('versions'))) {
        if (!existsSync(at(`versions/${ver}/.orch-installed`))) out.push(`incomplete version ${ver}`);
        odd(`${root}/versions/${ver}`, readdirSync(at(`versions/${ver}`)));
      }
      return out;
    };
    // Bounded: a run that finished before its kill moment does not count as a kill.
    for (let k = 1; kills < KILLS && k <= 2 * KILLS; k++) {
      const v = versions[k % 3]!; // never current nor previous: pruned, so installed again
      const pb = playbooks[k % 3]!;
      const aim = draw();
      const a = startOrch(['apply', pb, '--json'], work.env, { cwd: work.dir });
      const aSteps = watchSteps(a);
      const t0 = aSteps.t0;
      const aPid = String(a.child.pid);
      let b: ReturnType<typeof startOrch> | undefined;
      // A's processes on the host: marked while A alone runs there (before B starts).
      const aProcs = new RunProcs(host());
      // The kill moment: the aimed window's start event in A's own stream, plus the offset.
      let fire = WINDOWS[aim.w]!.step < 0 ? t0 + aim.offset : Infinity;
      const windowStep = WINDOWS[aim.w]!.step;
      if (windowStep >= 0) aSteps.onStep = (i) => { if (i === windowStep) fire = Date.now() + aim.offset; };
      const aExited = (): boolean => a.child.exitCode !== null || a.child.signalCode !== null;
      // B starts once A holds the lock (or right after the kill, whichever comes first).
      // Bounded: A ends on its own (a window never reached) or the kill moment comes.
      while (Date.now() < fire && !aExited()) {
        if (!b && lockInfo().includes(`pid ${aPid} `)) {
          aProcs.mark();
          b = startOrch(['apply', pb, '--json', '--lock-wait', '120'], work.env, { cwd: work.dir });
        }
        await sleep(Math.max(1, Math.min(10, fire - Date.now())));
      }
      const killAt = Date.now() - t0;
      const killed = a.child.exitCode === null && a.child.signalCode === null && a.child.kill('SIGKILL');
      const tk = Date.now();
      if (!b) aProcs.mark();
      const ra = await a.done;
      if (killed && ra.signal === 'SIGKILL') kills++;
      const stage = (ra.stdout.match(/"name":"([^"]+)"/g) ?? []).pop()?.replace(/"name":"|"/g, '') ?? (ra.stdout.includes('"facts"') ? 'facts' : 'connect/build');
      killedIn[stage] = (killedIn[stage] ?? 0) + 1;
      b ??= startOrch(['apply', pb, '--json', '--lock-wait', '120'], work.env, { cwd: work.dir });
      // Within 2 s no process of the killed run remains on the host. Sampled every ~10 ms;
      // the timeline (what was left when) explains a failure.
      const timeline: string[] = [];
      const show = (ps: HostProc[]): string => ps.map((p) => `${p.pid}/${p.sid} ${p.state} ${p.args.slice(0, 60)}`).join('; ');
      let left = aProcs.alive();
      let last = '';
      while (left.length && Date.now() - tk < 2000) {
        const now = show(left);
        if (now !== last) timeline.push(`+${Date.now() - tk} ms: ${now}`);
        last = now;
        await sleep(10);
        left = aProcs.alive();
      }
      const linger = Date.now() - tk;
      expect(show(left), `kill ${k} at ${killAt} ms (${stage}, seed ${seed}): processes of the killed run left after 2 s; timeline:\n${timeline.join('\n')}`).toBe('');
      if (linger > lingerMax) {
        lingerMax = linger;
        lingerWhy = `kill ${k} (${stage}): ${timeline.slice(-3).join(' | ')}`;
      }
      checkCurrent();
      // The waiting run is the next apply: it exits 0, and state.json agrees with the link.
      const tb = Date.now();
      const rb = await b.done;
      spent.killAt += killAt;
      spent.afterKill += tb - tk;
      spent.nextApply += Date.now() - tb;
      expect(rb.code, `kill ${k} (seed ${seed}): ${rb.stdout.slice(-1500)}${rb.stderr}`).toBe(0);
      expect(checkCurrent()).toBe(v);
      const state = JSON.parse(readFileSync(onHost(host(), `${root}/.orch/state.json`), 'utf8')) as { current: string };
      expect(state.current).toBe(v);
      violations.push(...leftovers().map((l) => `kill ${k} (${stage}, at ${killAt} ms, seed ${seed}): ${l}`));
      console.log(`kill soak: kill ${kills} (attempt ${k}, aimed at ${WINDOWS[aim.w]!.name} + ${aim.offset} ms, reached ${stage}, at ${killAt} ms): ${violations.length} violations so far`);
      expect(summaryOf(rb.stdout).hosts[0]!.status).not.toBe('failed');
    }
    expect(kills).toBe(KILLS);
    console.log(`kill soak: ${violations.length} violations of state/link agreement or leftovers after ${kills} kills (seed ${seed})${violations.length ? `:\n${violations.join('\n')}` : ''}`);
    expect(violations).toEqual([]);
    console.log(`kill soak: ${kills} kills (seed ${seed}), by last step reached: ${JSON.stringify(killedIn)}; killed run's processes gone within ${lingerMax} ms at worst (${lingerWhy}); ${Math.round((Date.now() - soakStart) / 1000)} s for the kills (ms until the kills ${spent.killAt}, watching and checking ${spent.afterKill}, the waiting runs' rest ${spent.nextApply})`);
  }, Math.max(1_800_000, KILLS * 60_000));

  it('control machine in its own netns, link cut, orch killed: the lock is free within give-up + 5 s and no child remains', async () => {
    const giveUp = 5;
    const ns = `octl${process.pid}`;
    const veth = `ovc${fleet.subnet}`;
    const sh = (cmd: string): void => {
      const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    };
    sh(`ip netns add ${ns} && ip link add ${veth} type veth peer name ${veth}p && ip link set ${veth}p netns ${ns} && ip link set ${veth} master orb${fleet.subnet} up`
      + ` && ip -n ${ns} link set ${veth}p name eth0 && ip -n ${ns} addr add 10.231.${fleet.subnet}.250/24 dev eth0 && ip -n ${ns} link set eth0 up && ip -n ${ns} link set lo up`);
    let child: ReturnType<typeof spawn> | undefined;
    try {
      const marker = '/srv/part-started';
      const pb = writeFile(work, 'part.yml', `inventory: inventory.yml\nsteps:\n  - run: { cmd: "echo $BASHPID > ${marker}.tmp && mv ${marker}.tmp ${marker}; exec sleep 300" }\n`);
      child = spawn('ip', ['netns', 'exec', ns, process.execPath, ORCH, 'apply', pb, '--json', '--give-up', String(giveUp)], {
        cwd: work.dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...work.env }, stdio: 'ignore',
      });
      const exited = new Promise((r) => child!.on('close', r));
      await waitFor(() => existsSync(onHost(host(), marker)), 'the step to start on the host', 60_000);
      const sessions = agentSessions(host());
      expect(sessions.length).toBe(1);
      sh(`ip link set ${veth} down`); // no FIN, no RST ever reaches the host
      const t0 = Date.now();
      child.kill('SIGKILL');
      await exited;
      await waitFor(async () => (await fleet.hostExec(host(), 'flock -n /root/.orch/lock true')).code === 0, 'the host lock to be free', (giveUp + 5) * 1000, 100);
      const ms = Date.now() - t0;
      expect(sessionsAlive(host(), sessions)).toBe('');
      const pid = readFileSync(onHost(host(), marker), 'utf8').trim();
      expect((await fleet.hostExec(host(), `ps -o stat= -p ${pid} | grep -v Z || true`)).stdout.trim(), `the step's process ${pid}`).toBe('');
      console.log(`partition: lock free and no child ${ms} ms after the link was cut and orch killed (give-up ${giveUp} s)`);
    } finally {
      child?.kill('SIGKILL');
      spawnSync('bash', ['-c', `ip link del ${veth} 2>/dev/null; ip netns del ${ns} 2>/dev/null; true`]);
    }
  }, 120_000);

  it.each([
    ['the inventory\'s give_up', { give_up: '3s' }, []],
    ['--give-up over the inventory\'s give_up', { give_up: '1h' }, ['--give-up', '3']],
  ] as const)('orch stopped (SIGSTOP: the connection stays open, no heartbeat): %s ends the step and frees the lock within give-up + 5 s', async (_what, defaults, flags) => {
    const giveUp = 3;
    const marker = `/srv/stopped-${flags.length}`;
    const inv = writeFile(work, `inventory-giveup-${flags.length}.yml`, fleet.inventoryYaml({ defaults }));
    const pb = writeFile(work, `stopped-${flags.length}.yml`, `inventory: ${inv}\nsteps:\n  - run: { cmd: "echo $BASHPID > ${marker}.tmp && mv ${marker}.tmp ${marker}; exec sleep 300" }\n`);
    const run = startOrch(['apply', pb, '--json', ...flags], work.env, { cwd: work.dir });
    try {
      await waitFor(() => existsSync(onHost(host(), marker)), 'the step to start on the host', 60_000);
      const sessions = agentSessions(host());
      expect(sessions.length).toBe(1);
      run.child.kill('SIGSTOP');
      const t0 = Date.now();
      const pid = readFileSync(onHost(host(), marker), 'utf8').trim();
      await waitFor(async () => sessionsAlive(host(), sessions) === '' && (await fleet.hostExec(host(), 'flock -n /root/.orch/lock true')).code === 0, 'the step to end and the lock to be free', (giveUp + 5) * 1000, 100);
      const ms = Date.now() - t0;
      expect(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '), `the step's process ${pid}`).toBe(false);
      // Not before the give-up time (1 s of slack: the agent's clock ticks in seconds).
      expect(ms).toBeGreaterThanOrEqual((giveUp - 1) * 1000);
      console.log(`${_what}: step gone and lock free ${ms} ms after orch stopped (give-up ${giveUp} s)`);
    } finally {
      run.child.kill('SIGKILL');
      await run.done;
    }
  }, 120_000);

  it.skipIf(!findExecutable('tmux'))('Ctrl-C in a terminal during a long run step: exit 130, "interrupted", no remote process after 2 s, next run converges', async () => {
    const marker = '/srv/int-started';
    const pb = writeFile(work, 'int.yml', `inventory: inventory.yml\nsteps:\n  - run: { cmd: "[ -e ${marker} ] || { echo $BASHPID > ${marker}.tmp && mv ${marker}.tmp ${marker}; exec sleep 120; }" }\n`);
    const sock = `orch-agent-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' });
    const envs = Object.entries({ PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', TERM: 'xterm-256color', ...work.env }).map(([k, v]) => `${k}=${v}`);
    const cmd = `cd ${work.dir} && env -i ${envs.map((e) => `'${e}'`).join(' ')} ${process.execPath} ${ORCH} apply ${pb} --yes; echo "<<EXIT=$?>>"; sleep 600`;
    expect(tmux('new-session', '-d', '-s', 'main', '-x', '120', '-y', '40', cmd).status).toBe(0);
    const screen = (): string => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 'main').stdout;
    try {
      await waitFor(() => existsSync(onHost(host(), marker)), 'the long step to start', 60_000);
      const sessions = agentSessions(host());
      expect(sessions.length, (await fleet.hostExec(host(), 'ps -eo sid,pid,ppid,stat,args | grep -v grep | grep -E "orch|sshd"')).stdout).toBe(1);
      tmux('send-keys', '-t', 'main', 'C-c');
      await waitFor(() => screen().includes('<<EXIT='), 'orch to exit', 15_000, 50);
      const text = screen();
      expect(text).toContain('<<EXIT=130>>');
      expect(text).toMatch(/^interrupted$/m);
      expect(text).toContain('Summary:');
      await sleep(2000);
      expect(sessionsAlive(host(), sessions)).toBe('');
      const pid = readFileSync(onHost(host(), marker), 'utf8').trim();
      expect((await fleet.hostExec(host(), `ps -o stat= -p ${pid} | grep -v Z || true`)).stdout.trim(), `the step's process ${pid}`).toBe('');
    } finally {
      tmux('kill-server');
    }
    const next = await orch(['apply', pb, '--json'], work.env, { cwd: work.dir });
    expect(next.code, next.stdout.slice(-1500) + next.stderr).toBe(0);
  }, 120_000);
});
