import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectError, RemoteCommandError } from '../../../src/model/errors.js';
import type { PlanHost } from '../../../src/model/plan.js';
import { SshTransport } from '../../../src/transport/ssh.js';
import type { ConnectOptions, Connection } from '../../../src/transport/transport.js';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../../harness/fleet.js';

/** `SHA256:...` of a public key file, computed by ssh-keygen (independent of orch's code). */
function fingerprintOf(pubFile: string): string {
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' }).split(' ')[1] ?? '';
}

describe.skipIf(!canRunFleet())('SshTransport on a real sshd fleet', () => {
  let fleet: Fleet;
  let scratch: string;
  let home: string;
  let h1: TestHost, h2: TestHost, h3: TestHost, h4: TestHost;
  const opened: Connection[] = [];

  /** A PlanHost for a fleet host, connection settings as the fleet's inventory gives them. */
  const planHost = (h: TestHost, more: Partial<PlanHost> = {}): PlanHost => ({
    name: h.name,
    address: h.address,
    addressExplicit: true,
    transport: 'ssh',
    user: 'root',
    port: h.port,
    identity: fleet.identityFile,
    knownHosts: fleet.knownHostsFile,
    hostKeyPolicy: 'strict',
    jump: [],
    ...more,
  });
  const options = (hosts: PlanHost[], more: Partial<ConnectOptions> = {}): ConnectOptions => ({
    hosts: Object.fromEntries(hosts.map((h) => [h.name, h])),
    // An empty HOME: no ~/.ssh/id_* and no real ~/.ssh/config leak into the tests.
    env: { HOME: home, USER: 'root', PATH: process.env.PATH },
    sshConfigFile: path.join(scratch, 'no-such-ssh-config'),
    connectTimeoutMs: 5000,
    ...more,
  });
  const connect = async (t: SshTransport, host: PlanHost, opts: ConnectOptions): Promise<Connection> => {
    const c = await t.connect(host, opts);
    opened.push(c);
    return c;
  };
  const acceptedCount = (h: TestHost): number => (readFileSync(h.logFile, 'utf8').match(/Accepted publickey for root/g) ?? []).length;

  beforeAll(async () => {
    const t0 = Date.now();
    fleet = await startFleet({ count: 4 });
    expect(Date.now() - t0).toBeLessThan(5000);
    [h1, h2, h3, h4] = fleet.hosts as [TestHost, TestHost, TestHost, TestHost];
    scratch = mkdtempSync('/var/tmp/orch-ssh-test-');
    home = path.join(scratch, 'home');
    execFileSync('mkdir', ['-p', home]);
  }, 30000);

  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
    await fleet?.teardown();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }, 30000);

  describe('exec', () => {
    it.each([
      ['stdout, exit 0', 'echo hello; printf "a  b"', 0, 'hello\na  b', ''],
      ['stderr, exit 7', 'echo bad >&2; exit 7', 7, '', 'bad\n'],
      ['both streams interleaved', 'for i in 1 2 3; do echo o$i; echo e$i >&2; done', 0, 'o1\no2\no3\n', 'e1\ne2\ne3\n'],
      ['runs as root in its private home', 'id -un; echo "$HOME"; pwd', 0, 'root\n/root\n/root\n', ''],
      ['the command string is run as is (caller quotes)', `printf '%s|' 'a b' "\\$HOME" '$(id)'`, 0, 'a b|$HOME|$(id)|', ''],
      ['large stdout is drained completely', 'head -c 3000000 /dev/zero | tr "\\0" x; echo', 0, `${'x'.repeat(3000000)}\n`, ''],
    ])('%s', async (_label, cmd, code, stdout, stderr) => {
      const c = await connect(new SshTransport(), planHost(h1), options([planHost(h1)]));
      const r = await c.exec(cmd);
      expect({ code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() }).toEqual({ code, stdout, stderr });
    });

    it('reports death by signal as code null + signal name', async () => {
      const c = await connect(new SshTransport(), planHost(h1), options([planHost(h1)]));
      const r = await c.exec('kill -TERM $$');
      expect(r.code).toBeNull();
      expect(r.signal).toBe('SIGTERM');
    });

    it('sends 5 MB of binary stdin byte-exact (sha256 computed on the host)', async () => {
      const c = await connect(new SshTransport(), planHost(h1), options([planHost(h1)]));
      const data = randomBytes(5 * 1024 * 1024);
      const r = await c.exec('tee /srv/payload.bin | sha256sum | cut -d" " -f1', { stdin: data });
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe(`${createHash('sha256').update(data).digest('hex')}\n`);
      expect(c.bytesSent).toBe(data.length);
      expect(readFileSync(path.join(h1.dir, 'srv', 'payload.bin')).equals(data)).toBe(true);
    });

    it('keeps little stdin in flight to a slow reader (sshd buffers what its child has not read)', async () => {
      const c = await connect(new SshTransport(), planHost(h1), options([planHost(h1)]));
      const total = 2 * 1024 * 1024;
      // Bytes handed to the kernel's socket, sampled every 5 ms (ssh2's socket: what is in
      // flight to sshd is what was written less what the host's reader took).
      const sock = (c as unknown as { client: { _sock: { bytesWritten: number } } }).client._sock;
      const start = sock.bytesWritten;
      const written: Array<[number, number]> = [];
      const timer = setInterval(() => written.push([Date.now(), sock.bytesWritten - start]), 5);
      // The host reads 64 KiB at a time, slowly, and logs how much it has read (same clock:
      // the host is a namespace of this machine).
      const r = await c.exec('n=0; while :; do k=$(head -c 65536 | wc -c); [ "$k" = 0 ] && break; n=$((n + k)); echo "$n $(date +%s%3N)"; sleep 0.02; done', { stdin: randomBytes(total) }).finally(() => clearInterval(timer));
      expect(r.code).toBe(0);
      const read = r.stdout.toString().trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number]);
      expect(read.at(-1)![0]).toBe(total);
      let maxInFlight = 0;
      for (const [t, w] of written) {
        const done = read.filter(([, at]) => at <= t).at(-1)?.[0] ?? 0;
        maxInFlight = Math.max(maxInFlight, w - done);
      }
      expect(written.at(-1)![1]).toBeGreaterThan(total);
      // The cap (256 KiB), the pipe (64 KiB), head's read and SSH's framing; without the cap,
      // sshd takes its whole 2 MiB window at once.
      expect(maxInFlight).toBeLessThan(640 * 1024);
    });

    it('runs 20 execs at once on one connection, at most 8 channels at a time', async () => {
      const t = new SshTransport();
      const c = await connect(t, planHost(h1), options([planHost(h1)]));
      const before = acceptedCount(h1);
      await c.exec('rm -rf /tmp/conc && mkdir -p /tmp/conc/max');
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          c.exec(`mkdir /tmp/conc/run$i && ls -d /tmp/conc/run* | wc -l > /tmp/conc/max/$i; sleep 0.3; rmdir /tmp/conc/run$i; echo $i`.replaceAll('$i', String(i))),
        ),
      );
      expect(results.map((r) => r.stdout.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
      const maxSeen = Math.max(...Array.from({ length: 20 }, (_, i) => Number(readFileSync(path.join(h1.dir, 'tmp', 'conc', 'max', String(i)), 'utf8'))));
      expect(maxSeen).toBeGreaterThan(1);
      expect(maxSeen).toBeLessThanOrEqual(8);
      expect(acceptedCount(h1)).toBe(before); // no new connection was opened
    });

    it('rejects a command that exceeds timeoutMs at once, sends it SIGKILL, and keeps the connection usable', async () => {
      const c = await connect(new SshTransport(), planHost(h1), options([planHost(h1)]));
      const t0 = Date.now();
      await expect(c.exec('echo started >&2; sleep 5; echo never', { timeoutMs: 500 })).rejects.toThrow(new RemoteCommandError('h1', 'timed out after 500 ms', null, 'started'));
      expect(Date.now() - t0).toBeLessThan(2000);
      expect((await c.exec('echo still-usable')).stdout.toString()).toBe('still-usable\n');
      // The KILL request reached sshd; OpenSSH refuses to signal root sessions (the fleet's
      // user), see SshConnection's doc — for a non-root deploy user it kills the process group.
      await expect.poll(() => readFileSync(h1.logFile, 'utf8')).toContain('session_signal_req: session signalling requires privilege separation');
    });
  });

  it('keeps every host filesystem private (/srv of h1 is not /srv of h2)', async () => {
    const t = new SshTransport();
    const c1 = await connect(t, planHost(h1), options([planHost(h1)]));
    const c2 = await connect(t, planHost(h2), options([planHost(h2)]));
    expect((await c1.exec('echo only-h1 > /srv/private.txt')).code).toBe(0);
    const r2 = await c2.exec('cat /srv/private.txt');
    expect(r2.code).toBe(1);
    expect(r2.stderr.toString()).toBe('cat: /srv/private.txt: No such file or directory\n');
    expect(readFileSync(path.join(h1.dir, 'srv', 'private.txt'), 'utf8')).toBe('only-h1\n');
    expect(existsSync(path.join(h2.dir, 'srv', 'private.txt'))).toBe(false);
  });

  it('reports an unreachable address within connectTimeoutMs', async () => {
    const ghost = { ...planHost(h1), name: 'ghost', address: `10.231.${fleet.subnet}.250` };
    const t0 = Date.now();
    await expect(new SshTransport().connect(ghost, options([ghost], { connectTimeoutMs: 800 }))).rejects.toThrow(new ConnectError('ghost', `no SSH handshake with ${ghost.address}:22 within 800 ms`));
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  describe('host keys', () => {
    it('strict: refuses an unknown host before authenticating; nothing runs', async () => {
      const kh = path.join(scratch, 'kh-empty');
      writeFileSync(kh, '');
      const before = acceptedCount(h2);
      const host = planHost(h2, { knownHosts: kh });
      const attempt = new SshTransport().connect(host, options([host])).then((c) => c.exec('touch /srv/sentinel-unknown'));
      await expect(attempt).rejects.toThrow(new ConnectError('h2', `host key for ${h2.address} not in ${kh}; add it with ssh-keyscan, or set host_key_policy: accept-new`));
      await expect(attempt).rejects.toBeInstanceOf(ConnectError);
      expect(existsSync(path.join(h2.dir, 'srv', 'sentinel-unknown'))).toBe(false);
      expect(acceptedCount(h2)).toBe(before);
      expect(readFileSync(kh, 'utf8')).toBe('');
    });

    it('works with a hashed known_hosts (ssh-keygen -H)', async () => {
      const hashed = await fleet.writeHashedKnownHosts();
      expect(readFileSync(hashed, 'utf8')).not.toContain(h2.address);
      const host = planHost(h2, { knownHosts: hashed });
      const c = await connect(new SshTransport(), host, options([host]));
      expect((await c.exec('echo ok')).stdout.toString()).toBe('ok\n');
    });

    it('--insecure-host-keys (off) accepts an unknown host and records nothing', async () => {
      const kh = path.join(scratch, 'kh-off');
      writeFileSync(kh, '');
      const host = planHost(h2, { knownHosts: kh });
      const c = await connect(new SshTransport(), host, options([host], { insecureHostKeys: true }));
      expect((await c.exec('echo ok')).stdout.toString()).toBe('ok\n');
      expect(readFileSync(kh, 'utf8')).toBe('');
    });

    it('refuses a wrong identity with the keys it tried', async () => {
      const wrong = path.join(scratch, 'wrong_id');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
      const host = planHost(h2, { identity: wrong });
      await expect(new SshTransport().connect(host, options([host]))).rejects.toThrow(new ConnectError('h2', `authentication failed for root@${h2.address} (tried: identity ${wrong})`));
    });

    it('falls back to ~/.ssh/id_ed25519 when no identity is set', async () => {
      const altHome = path.join(scratch, 'home-with-key');
      execFileSync('mkdir', ['-p', path.join(altHome, '.ssh')]);
      copyFileSync(fleet.identityFile, path.join(altHome, '.ssh', 'id_ed25519'));
      const host = planHost(h2);
      delete host.identity;
      const c = await connect(new SshTransport(), host, options([host], { env: { HOME: altHome, USER: 'root' } }));
      expect((await c.exec('echo ok')).stdout.toString()).toBe('ok\n');
    });
  });

  describe('jump hosts', () => {
    it('reaches h3 through the chain h1 -> h2, sharing one connection per bastion', async () => {
      const t = new SshTransport();
      const b1 = planHost(h1);
      const b2 = planHost(h2);
      const target = planHost(h3, { jump: ['h1', 'h2'] });
      const target4 = planHost(h4, { jump: ['h1', 'h2'] });
      const before = [acceptedCount(h1), acceptedCount(h2), acceptedCount(h3)];
      const [c3, c4] = await Promise.all([connect(t, target, options([b1, b2, target, target4])), connect(t, target4, options([b1, b2, target, target4]))]);
      expect((await c3.exec('hostname -I')).stdout.toString().trim()).toBe(h3.address);
      expect((await c4.exec('hostname -I')).stdout.toString().trim()).toBe(h4.address);
      // One bastion login each on h1 and h2 for both targets; h3 saw the connection come from h2.
      expect([acceptedCount(h1), acceptedCount(h2), acceptedCount(h3)]).toEqual([before[0]! + 1, before[1]! + 1, before[2]! + 1]);
      expect(readFileSync(h3.logFile, 'utf8')).toMatch(new RegExp(`Accepted publickey for root from ${h2.address.replaceAll('.', '\\.')} `));
      const disconnects = (h: TestHost): number => (readFileSync(h.logFile, 'utf8').match(/Disconnected from user root /g) ?? []).length;
      const gone = [disconnects(h1), disconnects(h2)];
      await c3.close();
      expect((await c4.exec('echo still-up')).stdout.toString()).toBe('still-up\n');
      expect([disconnects(h1), disconnects(h2)]).toEqual(gone); // bastions stay while c4 uses them
      await c4.close();
      // Closing the last connection through the chain closes both bastion connections.
      await expect.poll(() => [disconnects(h1), disconnects(h2)]).toEqual([gone[0]! + 1, gone[1]! + 1]);
    });

    it('refuses a bastion whose key does not match; nothing runs on the target', async () => {
      const kh = path.join(scratch, 'kh-bad-bastion');
      const h2Key = readFileSync(`${h2.hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
      writeFileSync(kh, `${h1.address} ${h2Key}\n`);
      const bastion = planHost(h1, { knownHosts: kh });
      const target = planHost(h3, { jump: ['h1'] });
      const before = acceptedCount(h3);
      const attempt = new SshTransport().connect(target, options([bastion, target])).then((c) => c.exec('touch /srv/sentinel-bastion'));
      await expect(attempt).rejects.toThrow(
        new ConnectError(
          'h3',
          `jump host h1: HOST KEY CHANGED for ${h1.address} (ssh-ed25519 ${fingerprintOf(`${h1.hostKeyFile}.pub`)}); known_hosts line 1 has a different key; possible man-in-the-middle — nothing was run`,
        ),
      );
      expect(existsSync(path.join(h3.dir, 'srv', 'sentinel-bastion'))).toBe(false);
      expect(acceptedCount(h3)).toBe(before);
    });

    it('names a jump host missing from the plan', async () => {
      const target = planHost(h3, { jump: ['nope'] });
      await expect(new SshTransport().connect(target, options([target]))).rejects.toThrow(new ConnectError('h3', 'jump host nope is not a host of the plan'));
    });
  });

  describe('~/.ssh/config', () => {
    const bare = (name: string, address: string): PlanHost => ({ name, address, addressExplicit: true, transport: 'ssh', hostKeyPolicy: 'strict', jump: [], knownHosts: fleet.knownHostsFile });

    it('supplies HostName, User, Port and IdentityFile for an alias; inventory values win', async () => {
      const cfg = path.join(scratch, 'ssh_config');
      writeFileSync(
        cfg,
        [
          'Host app-alias',
          `  HostName ${h2.address}`,
          '  User root',
          `  IdentityFile ${fleet.identityFile}`,
          'Host bad-port',
          `  HostName ${h2.address}`,
          '  Port 2200',
          '  User nosuchuser',
          `  IdentityFile ${fleet.identityFile}`,
          '',
        ].join('\n'),
      );
      const t = new SshTransport();
      const alias = bare('app', 'app-alias');
      const c = await connect(t, alias, options([alias], { sshConfigFile: cfg }));
      expect((await c.exec('id -un; hostname -I')).stdout.toString()).toBe(`root\n${h2.address} \n`);

      const badPort = bare('bp', 'bad-port');
      await expect(t.connect(badPort, options([badPort], { sshConfigFile: cfg }))).rejects.toThrow(new ConnectError('bp', `cannot connect to ${h2.address}:2200: ECONNREFUSED`));

      const fixed = { ...bare('bp', 'bad-port'), port: 22, user: 'root' };
      const c2 = await connect(t, fixed, options([fixed], { sshConfigFile: cfg }));
      expect((await c2.exec('id -un')).stdout.toString()).toBe('root\n');
    });

    it('follows a ProxyJump from ssh_config (user@host:port), verifying the hop', async () => {
      const cfg = path.join(scratch, 'ssh_config_jump');
      writeFileSync(cfg, ['Host behind', `  HostName ${h4.address}`, `  ProxyJump root@${h1.address}:22`, 'Host *', '  User root', `  IdentityFile ${fleet.identityFile}`, ''].join('\n'));
      const host = bare('behind', 'behind');
      const c = await connect(new SshTransport(), host, options([host], { sshConfigFile: cfg }));
      expect((await c.exec('hostname -I')).stdout.toString().trim()).toBe(h4.address);
      expect(readFileSync(h4.logFile, 'utf8')).toMatch(new RegExp(`Accepted publickey for root from ${h1.address.replaceAll('.', '\\.')} `));
    });
  });

  describe('dead peers', () => {
    it('stopping sshd makes a pending exec reject with ConnectError', async () => {
      const c = await connect(new SshTransport(), planHost(h2), options([planHost(h2)], { keepaliveIntervalMs: 300, keepaliveCountMax: 2 }));
      const p = c.exec('sleep 60');
      p.catch(() => {});
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      await fleet.stopSshd(h2);
      await expect(p).rejects.toBeInstanceOf(ConnectError);
      await expect(p).rejects.toThrow(/^h2: connection lost: /);
      expect(Date.now() - t0).toBeLessThan(300 * 3 + 1000);
      await expect(c.exec('true')).rejects.toBeInstanceOf(ConnectError);
      await fleet.startSshd(h2);
    });

    it('a silently dead peer (link down, no FIN) is detected by keepalives', async () => {
      const c = await connect(new SshTransport(), planHost(h3), options([planHost(h3)], { keepaliveIntervalMs: 300, keepaliveCountMax: 2 }));
      const p = c.exec('sleep 60');
      p.catch(() => {});
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      await fleet.setLinkDown(h3, true);
      try {
        await expect(p).rejects.toThrow(new ConnectError('h3', 'connection lost: keepalive timeout (peer not answering)'));
        expect(Date.now() - t0).toBeLessThan(300 * 3 + 1000);
      } finally {
        await fleet.setLinkDown(h3, false);
      }
    });
  });

  describe('host key changes', () => {
    it('strict: refuses a rotated key with the man-in-the-middle message; nothing runs', async () => {
      await fleet.rotateHostKey(h4);
      const line = readFileSync(fleet.knownHostsFile, 'utf8').split('\n').findIndex((l) => l.startsWith(`${h4.address} `)) + 1;
      const before = acceptedCount(h4);
      const attempt = new SshTransport().connect(planHost(h4), options([planHost(h4)])).then((c) => c.exec('touch /srv/sentinel-rotated'));
      await expect(attempt).rejects.toThrow(
        new ConnectError(
          'h4',
          `HOST KEY CHANGED for ${h4.address} (ssh-ed25519 ${fingerprintOf(`${h4.hostKeyFile}.pub`)}); known_hosts line ${line} has a different key; possible man-in-the-middle — nothing was run`,
        ),
      );
      expect(existsSync(path.join(h4.dir, 'srv', 'sentinel-rotated'))).toBe(false);
      expect(acceptedCount(h4)).toBe(before);
    });

    it('accept-new: records the key on first contact, then refuses it after a rotation', async () => {
      const kh = path.join(scratch, 'kh-accept-new');
      writeFileSync(kh, '# managed by test\n');
      const host = planHost(h3, { knownHosts: kh, hostKeyPolicy: 'accept-new' });
      const c = await new SshTransport().connect(host, options([host]));
      expect((await c.exec('echo first')).stdout.toString()).toBe('first\n');
      await c.close();
      const pub = readFileSync(`${h3.hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
      expect(readFileSync(kh, 'utf8')).toBe(`# managed by test\n${h3.address} ${pub}\n`);
      // ssh itself accepts the recorded line
      const viaSsh = execFileSync('ssh', ['-i', fleet.identityFile, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${h3.address}`, 'echo ssh-ok'], { encoding: 'utf8' });
      expect(viaSsh).toBe('ssh-ok\n');

      await fleet.rotateHostKey(h3);
      await expect(new SshTransport().connect(host, options([host]))).rejects.toThrow(
        new ConnectError('h3', `HOST KEY CHANGED for ${h3.address} (ssh-ed25519 ${fingerprintOf(`${h3.hostKeyFile}.pub`)}); known_hosts line 2 has a different key; possible man-in-the-middle — nothing was run`),
      );
      expect(readFileSync(kh, 'utf8')).toBe(`# managed by test\n${h3.address} ${pub}\n`);
    });
  });
});
