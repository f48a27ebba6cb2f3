/**
 * The host agent end to end on the local transport (real bash, a private HOME): lock +
 * facts in one round trip, segments with payloads, and the dead-man's switch — stdin
 * closing mid-step, heartbeats stopping, a stop frame — each ends the step's processes
 * and frees the lock, within the bounds docs/how-it-works.md promises ("Crashes, locks and Ctrl-C").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AGENT_BOOTSTRAP, agentCodeFrame, agentStartFrames, HostAgent } from '../../../src/engine/agent.js';
import { encodeSegment, parseSegmentOutput, type SegmentEntry } from '../../../src/engine/segment.js';
import { PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { LockedError } from '../../../src/model/errors.js';
import type { PlanStep } from '../../../src/steps/plan.js';
import { LocalConnection } from '../../../src/transport/local.js';
import type { Connection } from '../../../src/transport/transport.js';

const home = (): string => mkdtempSync(path.join(tmpdir(), 'orch-agent-home-'));
const conn = (h: string): LocalConnection => new LocalConnection('ctl', { ...process.env, HOME: h });
const step: PlanStep = { index: 0, name: 's', kind: 'run', when: 'always', tasks: {}, at: '' };
const seg = (body: string, more: Partial<SegmentEntry> = {}): Buffer => encodeSegment([{ step, task: { script: `${PRELUDE_SH}${body}\n`, probes: [], check: { kind: 'run', hasUnless: false } }, expect: '-', ...more }], false, 0);
const lockFree = (h: string): boolean => spawnSync('flock', ['-n', path.join(h, '.orch/lock'), 'true']).status === 0;
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};
/**
 * Polls `cond` every 25 ms; throws after `ms` (a loop bound, not a speed claim: the
 * bounds below are far under the 30 s give-up timer, so only the path under test can
 * end a step in time). Returns the ms waited, for the log.
 */
async function waitUntil(cond: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - t0;
}
const pidFile = (d: string): number => Number(readFileSync(path.join(d, 'pid'), 'utf8'));
/** A local connection to HOME `h` whose execs' stdout is also kept (`out()`), for tests that watch an agent's lines. */
function watched(h: string): { conn: Connection; out: () => string } {
  const c = conn(h);
  let text = '';
  return {
    out: () => text,
    conn: { host: c.host, bytesSent: 0, close: () => c.close(), exec: (cmd, o) => c.exec(cmd, { ...o, onStdout: (b) => { text += b.toString(); o?.onStdout?.(b); } }) },
  };
}
/** A run that took the lock of HOME `h` (holder `old`) and ended: its lock file stays. */
async function earlierRun(h: string): Promise<void> {
  await (await HostAgent.start('ctl', conn(h), { lockWaitSeconds: 0, holder: 'old', factsScript: 'echo END\n' })).agent.close();
  await waitUntil(() => lockFree(h), 15_000);
}

describe('HostAgent on the local transport', () => {
  it('takes the lock and reads the facts in one exchange; a second run gets LockedError naming the holder', async () => {
    const h = home();
    const c = conn(h);
    const { agent, factsOutput } = await HostAgent.start('ctl', c, { lockWaitSeconds: 0, holder: 'me@ctl pid 1 since T', factsScript: 'echo F 0 -\necho END\n' });
    expect(factsOutput).toBe('F 0 -\nEND\n');
    expect(lockFree(h)).toBe(false);
    const other = HostAgent.start('ctl', conn(h), { lockWaitSeconds: 0, holder: 'x', factsScript: 'echo END\n' });
    await expect(other).rejects.toEqual(new LockedError('locked by me@ctl pid 1 since T', 'ctl'));
    const out = await agent.runSegment(seg('cat; orch_status changed', { send: true }), Buffer.from('payload bytes'));
    expect(parseSegmentOutput(out.text).map((r) => [r.rc, r.status, r.out])).toEqual([[0, 'changed', 'payload bytes::orch:: status=changed\n']]);
    await agent.close();
    await agent.finished;
    await waitUntil(() => lockFree(h), 15_000);
  });

  it('a heartbeat that lost a byte to a read timeout (its newline, or the H) still reads right: an empty line is nothing, `H` glued to the next frame is that frame', async () => {
    const h = home();
    let out = '';
    const stdin = new PassThrough();
    const done = conn(h).exec(AGENT_BOOTSTRAP, { stdin, onStdout: (c) => void (out += c.toString()) });
    stdin.write(agentStartFrames({ giveUpSeconds: 5, graceSeconds: 1, lockWaitSeconds: 0, holder: 'x', factsScript: 'echo END\n' }));
    await waitUntil(() => out.includes('::orch:: end'), 5000);
    const fields = seg('echo ran; orch_status changed');
    stdin.write(Buffer.concat([Buffer.from('\nHH'), Buffer.from(`S ${fields.length} 0\n`), fields]));
    await waitUntil(() => out.includes('::orch-seg:: done'), 5000);
    expect(parseSegmentOutput(out.slice(out.indexOf('::orch:: end') + 13).split('::orch-seg:: done')[0]!).map((r) => [r.rc, r.status])).toEqual([[0, 'changed']]);
    stdin.end('Q\n');
    expect((await done).code).toBe(0);
  });

  it('a holder with quotes, backslashes, % and UTF-8 is recorded as given (escaped in the settings frame, decoded without a process)', async () => {
    const h = home();
    const holder = `d'o"e\\x41 %s\\n ü@ctl pid 7 since T`;
    const { agent } = await HostAgent.start('ctl', conn(h), { lockWaitSeconds: 0, holder, factsScript: 'echo END\n' });
    await expect(HostAgent.start('ctl', conn(h), { lockWaitSeconds: 0, holder: 'x', factsScript: 'echo END\n' })).rejects.toEqual(new LockedError(`locked by ${holder}`, 'ctl'));
    await agent.close();
    await agent.finished;
  });

  it('stdin closing mid-step (orch killed): the step is ended and the lock freed, before the give-up timer', async () => {
    const h = home();
    const d = mkdtempSync(path.join(tmpdir(), 'orch-agent-'));
    const { agent } = await HostAgent.start('ctl', conn(h), { lockWaitSeconds: 0, holder: 'x', factsScript: 'echo END\n' });
    const running = agent.runSegment(seg(`sh -c 'echo $$ > ${d}/pid.tmp && mv ${d}/pid.tmp ${d}/pid; exec sleep 60'`));
    running.catch(() => undefined);
    await waitUntil(() => existsSync(path.join(d, 'pid')), 5000);
    const pid = pidFile(d);
    expect(alive(pid)).toBe(true);
    await agent.close(); // a segment is running: no goodbye, only EOF — the dead-man's switch
    const ms = await waitUntil(() => !alive(pid) && lockFree(h), 15_000);
    console.log(`stdin closed mid-step: step gone and lock free after ${ms} ms`);
    await expect(running).rejects.toThrow();
  });

  it('stop (Ctrl-C): TERM to the step, KILL after the grace when it ignores TERM; the agent says stopped', async () => {
    const h = home();
    const d = mkdtempSync(path.join(tmpdir(), 'orch-agent-'));
    const { agent } = await HostAgent.start('ctl', conn(h), { lockWaitSeconds: 0, holder: 'x', factsScript: 'echo END\n' });
    const running = agent.runSegment(seg(`bash -c 'trap "" TERM; echo $$ > ${d}/pid.tmp && mv ${d}/pid.tmp ${d}/pid; while :; do sleep 0.1; done'`));
    running.catch(() => undefined);
    await waitUntil(() => existsSync(path.join(d, 'pid')), 5000);
    const pid = pidFile(d);
    const t0 = Date.now();
    await agent.stop();
    const ms = await waitUntil(() => !alive(pid) && lockFree(h), 15_000) + (Date.now() - t0);
    console.log(`stop: TERM-ignoring step gone and lock free after ${ms} ms`);
    expect(ms).toBeGreaterThanOrEqual(900); // it had to wait the grace (1 s) for KILL
  });

  it('no heartbeat for the give-up time (a partition): the agent ends the step and frees the lock', async () => {
    const h = home();
    const d = mkdtempSync(path.join(tmpdir(), 'orch-agent-'));
    const c = conn(h);
    const stdin = new PassThrough(); // written once, then silent: the control machine vanished without a FIN
    const done = c.exec(AGENT_BOOTSTRAP, { stdin });
    stdin.write(agentStartFrames({ giveUpSeconds: 2, graceSeconds: 1, lockWaitSeconds: 0, holder: 'x', factsScript: 'echo END\n' }));
    const fields = seg(`sh -c 'echo $$ > ${d}/pid.tmp && mv ${d}/pid.tmp ${d}/pid; exec sleep 60'`);
    stdin.write(Buffer.concat([Buffer.from(`S ${fields.length} 0\n`), fields]));
    await waitUntil(() => existsSync(path.join(d, 'pid')), 5000);
    const t0 = Date.now();
    const pid = pidFile(d);
    await waitUntil(() => !alive(pid) && lockFree(h), 2000 + 5000);
    const ms = Date.now() - t0;
    console.log(`no heartbeat (give-up 2 s): step gone and lock free ${ms} ms after the step started`);
    expect(ms).toBeGreaterThanOrEqual(1000);
    stdin.end();
    const res = await done;
    expect(res.stderr.toString()).toContain('no heartbeat from the control machine for 2 s');
  });

  it('no heartbeat while the facts run (a partition before the watchdog starts): the agent ends the facts and frees the lock', async () => {
    const h = home();
    const d = mkdtempSync(path.join(tmpdir(), 'orch-agent-'));
    const stdin = new PassThrough(); // written once, then silent
    const done = conn(h).exec(AGENT_BOOTSTRAP, { stdin });
    const facts = `sh -c 'echo $$ > ${d}/pid.tmp && mv ${d}/pid.tmp ${d}/pid; exec sleep 60'\necho END\n`;
    stdin.write(agentStartFrames({ giveUpSeconds: 2, graceSeconds: 1, lockWaitSeconds: 0, holder: 'x', factsScript: facts }));
    await waitUntil(() => existsSync(path.join(d, 'pid')), 5000);
    const t0 = Date.now();
    const pid = pidFile(d);
    expect(lockFree(h)).toBe(false);
    await waitUntil(() => !alive(pid) && lockFree(h), 3000 + 5000);
    const ms = Date.now() - t0;
    console.log(`no heartbeat during the facts (give-up 2 s): facts gone and lock free ${ms} ms after they started`);
    expect(ms).toBeGreaterThanOrEqual(1000);
    stdin.end();
    const res = await done;
    expect(res.stderr.toString()).toContain('no heartbeat from the control machine for 2 s');
  });
  it('a run that ends after its facts (a no-op) makes no scratch folder and no watchdog; silent after the facts, the agent exits at the give-up time and frees the lock', async () => {
    const h = home();
    const stdin = new PassThrough(); // written once, then silent
    let out = '';
    const done = conn(h).exec(AGENT_BOOTSTRAP, { stdin, onStdout: (c) => void (out += c.toString()) });
    stdin.write(agentStartFrames({ giveUpSeconds: 2, graceSeconds: 1, lockWaitSeconds: 0, holder: 'x', factsScript: 'echo END\n' }));
    await waitUntil(() => out.includes('::orch:: end'), 5000);
    const t0 = Date.now();
    expect(readdirSync(path.join(h, '.orch')).filter((n) => n.startsWith('agent.'))).toEqual([]);
    expect(lockFree(h)).toBe(false);
    await waitUntil(() => lockFree(h), 2000 + 5000);
    const ms = Date.now() - t0;
    console.log(`no heartbeat after the facts (give-up 2 s): lock free ${ms} ms after the facts`);
    expect(ms).toBeGreaterThanOrEqual(1000);
    stdin.end();
    const res = await done;
    expect(res.code).toBe(0);
    expect(readdirSync(path.join(h, '.orch')).filter((n) => n.startsWith('agent.'))).toEqual([]);
  });

  it('launched early with a lock to take: holds the lock before its settings (lock.info names the run), keeps it through begin, frees it when done', async () => {
    const h = home();
    // An earlier run left the lock file (a host orch never ran on gets nothing early: next test).
    await earlierRun(h);
    const agent = HostAgent.launch('ctl', conn(h), { lockHolder: 'me@ctl pid 9 since T0', giveUpSeconds: 5 });
    await waitUntil(() => !lockFree(h), 5000);
    expect(readFileSync(path.join(h, '.orch/lock.info'), 'utf8')).toBe('me@ctl pid 9 since T0\n');
    // Another run meanwhile is told who holds it.
    await expect(HostAgent.start('ctl', conn(h), { lockWaitSeconds: 0, holder: 'x', factsScript: 'echo END\n' })).rejects.toEqual(new LockedError('locked by me@ctl pid 9 since T0', 'ctl'));
    const { factsOutput } = await agent.begin({ lockWaitSeconds: 0, holder: 'me@ctl pid 9 since T1', factsScript: 'echo F 0 -\necho END\n' });
    expect(factsOutput).toBe('F 0 -\nEND\n');
    expect(lockFree(h)).toBe(false);
    expect(readFileSync(path.join(h, '.orch/lock.info'), 'utf8')).toBe('me@ctl pid 9 since T1\n');
    await agent.close();
    await agent.finished;
    await waitUntil(() => lockFree(h), 15_000);
  });

  it('launched early on a host without a lock file: creates nothing before its settings; discarded, it exits having changed nothing', async () => {
    const h = home();
    const w = watched(h);
    const agent = HostAgent.launch('ctl', w.conn, { lockHolder: 'me', giveUpSeconds: 5 });
    await waitUntil(() => w.out().includes('::orch:: started'), 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(path.join(h, '.orch'))).toBe(false);
    agent.discard();
    await agent.finished;
    expect(existsSync(path.join(h, '.orch'))).toBe(false);
  });

  it('launched early and begun without a lock (a run that takes none): the early lock is freed at once', async () => {
    const h = home();
    await earlierRun(h);
    const agent = HostAgent.launch('ctl', conn(h), { lockHolder: 'me', giveUpSeconds: 5 });
    await waitUntil(() => !lockFree(h), 5000);
    const { factsOutput } = await agent.begin({ holder: 'me', factsScript: 'echo END\n' });
    expect(factsOutput).toBe('END\n');
    expect(lockFree(h)).toBe(true);
    await agent.close();
    await agent.finished;
  });

  it('launched early, then no frame for the give-up time (a control machine stuck or cut off while compiling): the agent exits and frees the lock', async () => {
    const h = home();
    await earlierRun(h);
    const stdin = new PassThrough(); // written once, then silent
    const done = conn(h).exec(AGENT_BOOTSTRAP, { stdin });
    stdin.write(Buffer.concat([agentCodeFrame(), Buffer.from('P 2 1 me\n')]));
    await waitUntil(() => !lockFree(h), 5000);
    const t0 = Date.now();
    await waitUntil(() => lockFree(h), 2000 + 5000);
    const ms = Date.now() - t0;
    console.log(`launched early, silent (give-up 2 s): lock free after ${ms} ms`);
    expect(ms).toBeGreaterThanOrEqual(1000);
    stdin.end();
    expect((await done).code).toBe(70);
  });

  describe('speculative facts (a facts script sent at launch, run under the early lock)', () => {
    /** A facts script that counts its runs in `tally` (outside HOME) and says whether the lock was held while it ran. */
    const counting = (h: string, tally: string, probe = 'a'): string =>
      `echo ${probe} >> ${JSON.stringify(tally)}\nif flock -n ${JSON.stringify(path.join(h, '.orch/lock'))} true; then echo 'T 0 free'; else echo 'T 0 held'; fi\necho END\n`;
    const runs = (tally: string): string[] => (existsSync(tally) ? readFileSync(tally, 'utf8').split('\n').filter(Boolean) : []);
    const tallyFile = (): string => path.join(mkdtempSync(path.join(tmpdir(), 'orch-agent-tally-')), 'runs');
    /** A HOME with an earlier run's lock file, and an agent launched early on it with the script `scriptOf` makes (default: `counting`). */
    async function launched(scriptOf: (h: string, tally: string) => string = counting): Promise<{ h: string; tally: string; script: string; agent: HostAgent; w: ReturnType<typeof watched> }> {
      const h = home();
      await earlierRun(h);
      const tally = tallyFile();
      const script = scriptOf(h, tally);
      const w = watched(h);
      return { h, tally, script, w, agent: HostAgent.launch('ctl', w.conn, { lockHolder: 'me', giveUpSeconds: 5, factsScript: script }) };
    }
    const finish = async (agent: HostAgent): Promise<void> => {
      await agent.close();
      await agent.finished;
    };

    it('the same script at begin: its output, read under the lock while "compiling", is the facts; the facts run once', async () => {
      const { h, tally, script, agent } = await launched();
      await waitUntil(() => runs(tally).length === 1, 5000);
      await new Promise((r) => setTimeout(r, 200));
      const { factsOutput } = await agent.begin({ lockWaitSeconds: 0, holder: 'me', factsScript: script });
      expect(factsOutput).toBe('T 0 held\nEND\n');
      expect(runs(tally)).toEqual(['a']);
      expect(lockFree(h)).toBe(false);
      await finish(agent);
      await waitUntil(() => lockFree(h), 15_000);
    });

    it('begun at once (the speculative facts still running): still one run of the facts, their output whole', async () => {
      const { tally, script, agent, w } = await launched((h, t) => `sleep 0.5\n${counting(h, t)}`);
      await waitUntil(() => w.out().includes('::orch:: speculating'), 5000);
      const { factsOutput } = await agent.begin({ lockWaitSeconds: 0, holder: 'me', factsScript: script });
      expect(factsOutput).toBe('T 0 held\nEND\n');
      expect(runs(tally)).toEqual(['a']);
      await finish(agent);
    });

    it('another script at begin (the playbook changed): the facts are read again with it; the speculative output is not taken for them', async () => {
      const { tally, agent } = await launched((h, t) => counting(h, t, 'old'));
      await waitUntil(() => runs(tally).length === 1, 5000);
      const { factsOutput } = await agent.begin({ lockWaitSeconds: 0, holder: 'me', factsScript: `echo new >> ${JSON.stringify(tally)}\necho 'T 0 new'\necho END\n` });
      expect(factsOutput).toBe('T 0 new\nEND\n');
      expect(runs(tally)).toEqual(['old', 'new']);
      await finish(agent);
    });

    it('begun without a lock (a run that takes none): the facts are read again, the early lock freed first', async () => {
      const { tally, script, agent } = await launched();
      await waitUntil(() => runs(tally).length === 1, 5000);
      const { factsOutput } = await agent.begin({ holder: 'me', factsScript: script });
      expect(factsOutput).toBe('T 0 free\nEND\n');
      expect(runs(tally)).toEqual(['a', 'a']);
      await finish(agent);
    });

    it('no speculation without the lock: not on a host orch never ran on (nothing made), nor while another run holds it', async () => {
      const fresh = home();
      const tally = tallyFile();
      const w = watched(fresh);
      const a1 = HostAgent.launch('ctl', w.conn, { lockHolder: 'me', giveUpSeconds: 5, factsScript: counting(fresh, tally) });
      await waitUntil(() => w.out().includes('::orch:: started'), 5000);
      await new Promise((r) => setTimeout(r, 300));
      expect(runs(tally)).toEqual([]);
      expect(existsSync(path.join(fresh, '.orch'))).toBe(false);
      a1.discard();
      await a1.finished;

      const h = home();
      await earlierRun(h);
      const holder = await HostAgent.start('ctl', conn(h), { lockWaitSeconds: 0, holder: 'other run', factsScript: 'echo END\n' });
      const a2 = HostAgent.launch('ctl', conn(h), { lockHolder: 'me', giveUpSeconds: 5, factsScript: counting(h, tally) });
      await new Promise((r) => setTimeout(r, 500));
      expect(runs(tally)).toEqual([]);
      await expect(a2.begin({ lockWaitSeconds: 0, holder: 'me', factsScript: counting(h, tally) })).rejects.toEqual(new LockedError('locked by other run', 'ctl'));
      expect(runs(tally)).toEqual([]);
      await holder.agent.close();
    });

    it('settings sent while a speculative probe hangs: a stop (Ctrl-C) still ends the facts and frees the lock at once', async () => {
      const h = home();
      await earlierRun(h);
      const script = 'sleep 30\necho END\n';
      const w = watched(h);
      const agent = HostAgent.launch('ctl', w.conn, { lockHolder: 'me', giveUpSeconds: 20, factsScript: script });
      await waitUntil(() => w.out().includes('::orch:: speculating'), 5000);
      const begun = agent.begin({ lockWaitSeconds: 0, holder: 'me', factsScript: script, giveUpSeconds: 20 });
      begun.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      await agent.stop();
      const ms = await waitUntil(() => lockFree(h), 5000);
      console.log(`stop while a speculative probe hangs: lock free ${Date.now() - t0} ms after the stop (${ms} ms of polling)`);
      await expect(begun).rejects.toThrow();
      expect(w.out()).toContain('::orch:: stopped');
    });

    it('a settings line that arrives in two parts around the end of the speculative facts is read whole (a read timeout inside a line loses nothing)', async () => {
      const h = home();
      await earlierRun(h);
      let out = '';
      const stdin = new PassThrough();
      const done = conn(h).exec(AGENT_BOOTSTRAP, { stdin, onStdout: (c) => void (out += c.toString()) });
      const spec = 'sleep 0.4\necho END\n';
      stdin.write(Buffer.concat([agentCodeFrame(), Buffer.from(`P 5 1 me ${spec.length}\n${spec}`)]));
      await waitUntil(() => out.includes('::orch:: speculating'), 5000);
      // The first part while the facts run (0.4 s), the rest after they ended.
      stdin.write('C 5 1 0 me ');
      await new Promise((r) => setTimeout(r, 700));
      stdin.write('=\n');
      await waitUntil(() => out.includes('::orch:: end'), 5000);
      expect(out).toBe('::orch:: started\n::orch:: speculating\nEND\n::orch:: speculated\n::orch:: locked\n::orch:: end\n');
      stdin.end('Q\n');
      expect((await done).code).toBe(0);
    });

    it('a settings line saying "=" with no speculative facts run is refused (exit 70), the facts never taken from nothing', async () => {
      const h = home();
      await earlierRun(h);
      let err = '';
      const stdin = new PassThrough();
      const done = conn(h).exec(AGENT_BOOTSTRAP, { stdin, onStderr: (c) => void (err += c.toString()) });
      stdin.end(Buffer.concat([agentCodeFrame(), Buffer.from('P 5 1 me 0\nC 5 1 0 me =\n')]));
      expect((await done).code).toBe(70);
      expect(err).toContain('no speculative facts to use');
    });
  });

  it('launched early for a run that takes no lock: leaves an existing lock alone, and exits after the give-up time without frames', async () => {
    const h = home();
    await earlierRun(h);
    const stdin = new PassThrough(); // written once, then silent
    let out = '';
    const done = conn(h).exec(AGENT_BOOTSTRAP, { stdin, onStdout: (c) => void (out += c.toString()) });
    stdin.write(Buffer.concat([agentCodeFrame(), Buffer.from('P 2 0 -\n')]));
    await waitUntil(() => out.includes('::orch:: started'), 5000);
    const t0 = Date.now();
    expect(lockFree(h)).toBe(true);
    expect((await done).code).toBe(70);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(readFileSync(path.join(h, '.orch/lock.info'), 'utf8')).toBe('old\n');
  });
});

