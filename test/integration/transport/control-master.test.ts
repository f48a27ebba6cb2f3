/**
 * Persistent connections (ORCH_SSH_PERSIST, src/transport/control-master.ts) on real
 * sshd hosts: a later run (a new SshTransport, as a new `orch` process makes) reuses the
 * connection the control master holds (sshd logs no new login), execs behave as on a
 * direct connection, errors read the same, a client killed mid-command cuts the command
 * off, the master ends after its idle time, and an unsafe socket folder is refused.
 * The master runs from build/ (`npm test` builds first).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectError, RemoteCommandError } from '../../../src/model/errors.js';
import type { PlanHost } from '../../../src/model/plan.js';
import { persistSeconds } from '../../../src/transport/control-master.js';
import { SshTransport } from '../../../src/transport/ssh.js';
import type { ConnectOptions, Connection } from '../../../src/transport/transport.js';
import { controlDirOf, controlMasterPids, pidAlive, stopControlMasters } from '../../harness/control-master.js';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../../harness/fleet.js';

const REPO = path.resolve(import.meta.dirname, '..', '..', '..');

describe('ORCH_SSH_PERSIST values', () => {
  it.each([
    ['60', 60], ['60s', 60], [' 5 ', 5], ['0', undefined], ['0s', undefined], ['00', undefined], ['', undefined], [undefined, undefined],
  ])('%j -> %j', (v, want) => {
    expect(persistSeconds(v === undefined ? {} : { ORCH_SSH_PERSIST: v })).toBe(want);
  });
  it.each(['abc', '-1', '1.5', '86401', '5m'])('%j is refused, saying what would be right', (v) => {
    expect(() => persistSeconds({ ORCH_SSH_PERSIST: v })).toThrow(/ORCH_SSH_PERSIST must be idle seconds from 0 \(off\) to 86400, like 60 or 60s/);
  });
});

describe.skipIf(!canRunFleet())('control master on a real sshd fleet', () => {
  let fleet: Fleet;
  let scratch: string;
  let h1: TestHost, h2: TestHost;
  const opened: Connection[] = [];

  const planHost = (h: TestHost, more: Partial<PlanHost> = {}): PlanHost => ({
    name: h.name, address: h.address, addressExplicit: true, transport: 'ssh', user: 'root', port: h.port,
    identity: fleet.identityFile, knownHosts: fleet.knownHostsFile, hostKeyPolicy: 'strict', jump: [], ...more,
  });
  /** Options of a run whose HOME is `home` (its control folder: HOME/.cache/orch/cm). */
  const options = (home: string, hosts: PlanHost[], persist: string | undefined = '30'): ConnectOptions => ({
    hosts: Object.fromEntries(hosts.map((h) => [h.name, h])),
    env: { HOME: home, USER: 'root', PATH: process.env.PATH, ...(persist !== undefined && { ORCH_SSH_PERSIST: persist }) },
    sshConfigFile: path.join(scratch, 'no-such-ssh-config'),
    connectTimeoutMs: 5000,
  });
  const connect = async (host: PlanHost, opts: ConnectOptions): Promise<Connection> => {
    const c = await new SshTransport().connect(host, opts);
    opened.push(c);
    return c;
  };
  const accepted = (h: TestHost): number => (readFileSync(h.logFile, 'utf8').match(/Accepted publickey for root/g) ?? []).length;
  const newHome = (): string => mkdtempSync(path.join(scratch, 'home-'));
  const cmDir = controlDirOf;
  const masters = controlMasterPids;
  const alive = pidAlive;
  const homes: string[] = [];
  const home = (): string => {
    const h = newHome();
    homes.push(h);
    return h;
  };
  async function waitUntil(cond: () => boolean, ms: number): Promise<number> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return Date.now() - t0;
  }

  beforeAll(async () => {
    if (!existsSync(path.join(REPO, 'build', 'cli', 'control-master-main.js'))) throw new Error('build/ is missing: run npm run build (npm test does)');
    fleet = await startFleet({ count: 2, name: 'ocm' });
    [h1, h2] = fleet.hosts as [TestHost, TestHost];
    scratch = mkdtempSync('/var/tmp/orch-cm-test-');
  }, 30000);

  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
    // The masters these tests started (each one's pid is in its socket's name).
    for (const h of homes) await stopControlMasters(h);
    await fleet?.teardown();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }, 30000);

  it('a later run reuses the connection (no new sshd login, same client port); execs behave as on a direct connection', async () => {
    const hm = home();
    const before = accepted(h1);
    const first = await connect(planHost(h1), options(hm, [planHost(h1)]));
    const port1 = (await first.exec('echo $SSH_CLIENT')).stdout.toString().split(' ')[1];
    expect(accepted(h1)).toBe(before + 1);
    expect(masters(hm)).toHaveLength(1);
    expect(readlinkSync(path.join(cmDir(hm), 'master.sock'))).toBe(`${masters(hm)[0]}.sock`);
    await first.close();

    const second = await connect(planHost(h1), options(hm, [planHost(h1)]));
    expect((await second.exec('echo $SSH_CLIENT')).stdout.toString().split(' ')[1]).toBe(port1);
    expect(accepted(h1)).toBe(before + 1);
    const r = await second.exec('for i in 1 2 3; do echo o$i; echo e$i >&2; done; exit 7');
    expect({ code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() }).toEqual({ code: 7, stdout: 'o1\no2\no3\n', stderr: 'e1\ne2\ne3\n' });
    const k = await second.exec('kill -TERM $$');
    expect([k.code, k.signal]).toEqual([null, 'SIGTERM']);
    const data = randomBytes(3 * 1024 * 1024);
    const chunks: Buffer[] = [];
    const up = await second.exec('sha256sum | cut -d" " -f1', { stdin: data, onStdout: (c) => chunks.push(c) });
    expect(up.stdout.toString()).toBe(`${createHash('sha256').update(data).digest('hex')}\n`);
    expect(Buffer.concat(chunks).toString()).toBe(up.stdout.toString());
    expect(second.bytesSent).toBe(data.length);
    await expect(second.exec('sleep 5', { timeoutMs: 300 })).rejects.toThrow(RemoteCommandError);
    await expect(second.exec('sleep 5', { timeoutMs: 300 })).rejects.toThrow('timed out after 300 ms');
  });

  it('errors read as a direct connection\'s (an unknown host key refused before any login)', async () => {
    const empty = path.join(scratch, 'empty_known_hosts');
    writeFileSync(empty, '');
    const host = planHost(h2, { knownHosts: empty });
    const before = accepted(h2);
    const failure = (p: Promise<Connection>): Promise<Error | undefined> => p.then(() => undefined, (e: unknown) => e as Error);
    const [d, m] = await Promise.all([failure(new SshTransport().connect(host, options(home(), [host], undefined))), failure(new SshTransport().connect(host, options(home(), [host])))]);
    expect(d).toBeInstanceOf(ConnectError);
    expect(m).toBeInstanceOf(ConnectError);
    expect(m!.message).toBe(d!.message);
    expect(accepted(h2)).toBe(before);
  });

  it('a run killed mid-command: the master cuts the command off (its next write fails), as a dropped connection does', async () => {
    const hm = home();
    const marker = `orch-cm-${process.pid}-${Date.now()}`;
    // A separate node process stands for orch: it runs a command through the master, then is killed with SIGKILL.
    const script = `
      const { SshTransport } = await import(${JSON.stringify(path.join(REPO, 'build', 'transport', 'ssh.js'))});
      const c = await new SshTransport().connect(${JSON.stringify(planHost(h1))}, ${JSON.stringify(options(hm, [planHost(h1)]))});
      c.exec(${JSON.stringify(`: ${marker}; while :; do echo tick; sleep 0.1; done`)}, { onStdout: () => process.stdout.write('running\\n') });
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const running = (): boolean => spawnText('pgrep', ['-f', marker]).trim() !== '';
    await waitUntil(() => out.includes('running') && running(), 15_000);
    child.kill('SIGKILL');
    const ms = await waitUntil(() => !running(), 10_000);
    console.log(`client killed: the remote command was gone ${ms} ms later`);
    expect(masters(hm).filter(alive)).toHaveLength(1); // the master itself stays for the next run
  });

  it('an exec marked spare gets the session the master started ahead when the last one ended (no new session on the host); stdin, output and exit as usual; a spare ends with its connection', async () => {
    const hm = home();
    const marker = `orch-spare-${process.pid}-${Date.now()}`;
    // Prints when its shell started (ns), then waits for a line on stdin: like the agent's bootstrap, it does nothing before its input.
    const cmd = `: ${marker}; echo "started $(date +%s%N)" >&2; IFS= read -r x; echo "got $x"; exit 3`;
    const spares = (): string[] => spawnText('pgrep', ['-f', marker]).split('\n').filter(Boolean);
    const startedAt = (stderr: Buffer): number => Number(/started (\d+)/.exec(stderr.toString())![1]) / 1e6;
    const first = await connect(planHost(h2), options(hm, [planHost(h2)], '3'));
    const t1 = Date.now();
    const r1 = await first.exec(cmd, { stdin: Buffer.from('one\n'), spare: true });
    expect({ code: r1.code, stdout: r1.stdout.toString() }).toEqual({ code: 3, stdout: 'got one\n' });
    expect(startedAt(r1.stderr)).toBeGreaterThanOrEqual(t1 - 5); // the first one is started for the request
    await first.close();
    // The next one is started shortly after (the host shows its waiting shell).
    await waitUntil(() => spares().length > 0, 5000);

    const second = await connect(planHost(h2), options(hm, [planHost(h2)], '3'));
    await new Promise((r) => setTimeout(r, 100));
    const t2 = Date.now();
    const r2 = await second.exec(cmd, { stdin: Buffer.from('two\n'), spare: true });
    expect({ code: r2.code, stdout: r2.stdout.toString() }).toEqual({ code: 3, stdout: 'got two\n' });
    // Started before this run asked: the session was the spare, its kept stderr handed over.
    expect(startedAt(r2.stderr)).toBeLessThan(t2);
    // Not for a command that does not ask for it, nor for another command.
    const t3 = Date.now();
    const r3 = await second.exec(cmd, { stdin: Buffer.from('three\n') });
    expect(r3.stdout.toString()).toBe('got three\n');
    expect(startedAt(r3.stderr)).toBeGreaterThanOrEqual(t3 - 5);
    // A claimed spare cut off by its run (signal): the channel closes, the remote shell goes.
    await waitUntil(() => spares().length === 1, 5000);
    const [sparePid] = spares();
    const abort = new AbortController();
    const cut = second.exec(cmd, { stdin: new PassThrough(), spare: true, signal: abort.signal });
    cut.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(spares()).toEqual([sparePid]); // claimed: the same shell, no new one
    abort.abort();
    await expect(cut).rejects.toThrow(ConnectError);
    await waitUntil(() => !spares().includes(sparePid!), 5000);
    // A signal aborted before the exec asks: it rejects at once, nothing runs.
    const gone = new AbortController();
    gone.abort();
    await expect(second.exec(`: ${marker}-never; echo x`, { signal: gone.signal })).rejects.toThrow('the command was cancelled');
    await second.close();
    // The master's idle end (3 s) takes the spare with the connection.
    const [pid] = masters(hm);
    await waitUntil(() => !alive(pid!), 15_000);
    await waitUntil(() => spares().length === 0, 5000);
  }, 40_000);

  it('the master exits after its idle time, removing its sockets; the next run starts a new one and logs in again', async () => {
    const hm = home();
    const before = accepted(h2);
    const c = await connect(planHost(h2), options(hm, [planHost(h2)], '1'));
    expect((await c.exec('echo ok')).stdout.toString()).toBe('ok\n');
    await c.close();
    const [pid] = masters(hm);
    expect(pid).toBeDefined();
    const ms = await waitUntil(() => !alive(pid!), 10_000);
    console.log(`ORCH_SSH_PERSIST=1: the master exited ${ms} ms after the last exec`);
    expect(readdirSync(cmDir(hm)).filter((n) => n.endsWith('.sock'))).toEqual([]);
    const again = await connect(planHost(h2), options(hm, [planHost(h2)], '1'));
    expect((await again.exec('echo ok')).stdout.toString()).toBe('ok\n');
    expect(masters(hm)).not.toContain(pid);
    expect(accepted(h2)).toBe(before + 2);
  });

  it('a run that holds its connection past the idle time keeps it (its lease), and the master ends after the run closes it', async () => {
    const hm = home();
    const before = accepted(h1);
    const c = await connect(planHost(h1), options(hm, [planHost(h1)], '1'));
    const port = (await c.exec('echo $SSH_CLIENT')).stdout.toString().split(' ')[1];
    // A long compile or build between two execs of one run: three idle times.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await c.exec('echo $SSH_CLIENT')).stdout.toString().split(' ')[1]).toBe(port);
    expect(accepted(h1)).toBe(before + 1);
    const [pid] = masters(hm);
    await c.close();
    const ms = await waitUntil(() => !alive(pid!), 10_000);
    console.log(`lease closed: the master (ORCH_SSH_PERSIST=1) exited ${ms} ms later`);
  });

  it('a connection the host drops ends the runs\' leases (alive turns false); the next connect logs in anew', async () => {
    const hm = home();
    const c = await connect(planHost(h2), options(hm, [planHost(h2)]));
    expect((await c.exec('echo ok')).stdout.toString()).toBe('ok\n');
    expect(c.alive).toBe(true);
    await fleet.stopSshd(h2);
    try {
      const ms = await waitUntil(() => c.alive === false, 10_000);
      console.log(`sshd killed: the lease ended ${ms} ms later`);
      await expect(c.exec('echo ok')).rejects.toThrow(ConnectError);
    } finally {
      await fleet.startSshd(h2);
    }
    const before = accepted(h2);
    const again = await connect(planHost(h2), options(hm, [planHost(h2)]));
    expect((await again.exec('echo again')).stdout.toString()).toBe('again\n');
    expect(accepted(h2)).toBe(before + 1);
  });

  it('a socket folder others can enter, or a symlink, is refused with what to do', async () => {
    const open = home();
    mkdirSync(cmDir(open), { recursive: true });
    chmodSync(cmDir(open), 0o755);
    await expect(new SshTransport().connect(planHost(h1), options(open, [planHost(h1)]))).rejects.toThrow(new ConnectError('h1', `control master folder ${cmDir(open)} is open to others (mode 755): chmod 700 ${cmDir(open)}`));
    const linked = home();
    mkdirSync(path.dirname(cmDir(linked)), { recursive: true });
    symlinkSync(cmDir(open), cmDir(linked));
    await expect(new SshTransport().connect(planHost(h1), options(linked, [planHost(h1)]))).rejects.toThrow(/is not a folder \(a symlink\?\)/);
    expect(masters(open)).toEqual([]);
    // A folder above it that another user owns (say `sudo -E` with that user's HOME).
    const theirs = path.join(scratch, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, 65534, 65534);
    const inside = path.join(theirs, 'home');
    mkdirSync(inside);
    await expect(new SshTransport().connect(planHost(h1), options(inside, [planHost(h1)]))).rejects.toThrow(`${theirs} belongs to uid 65534: set XDG_RUNTIME_DIR or HOME to a folder of your own`);
  });

  it('relative identity and known_hosts paths are those of the folder the run is in, not the master\'s', async () => {
    const hm = home();
    const rel = planHost(h1, { identity: path.relative(process.cwd(), fleet.identityFile), knownHosts: path.relative(process.cwd(), fleet.knownHostsFile) });
    const c = await connect(rel, options(hm, [rel]));
    expect((await c.exec('echo ok')).stdout.toString()).toBe('ok\n');
  });
});

function spawnText(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' });
  } catch {
    return '';
  }
}
