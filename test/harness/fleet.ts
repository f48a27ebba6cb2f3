/**
 * The test fleet: real OpenSSH `sshd` hosts, each in its own network namespace and
 * its own mount namespace, reachable from the control side (this process) over a
 * Linux bridge on a private subnet. Integration suites call `startFleet` in
 * `beforeAll` and `fleet.teardown()` in `afterAll`.
 *
 * Layout (S = the fleet's subnet octet, P = process.pid, i = 1..count):
 * - bridge `orb<S>` on the control side, address `10.231.S.1/24`;
 * - per host a netns `<prefix>-<P>-<i>` with `lo` up and a veth `ov<S>-<i>` (bridge side)
 *   / `eth0` (host side) at `10.231.S.<10+i>/24`;
 * - per host `sshd -D -e -f <own sshd_config>` started under
 *   `nsenter --net=<netns> unshare -m -u --propagation private` (its own UTS namespace:
 *   `hostname` there prints the host's name, `h1`..), after bind-mounting the
 *   host's private `<dir>/srv`, `<dir>/root` and `<dir>/tmp` over `/srv`, `/root`, `/tmp`.
 *
 * The fleet's files (keys, configs, known_hosts, logs, the per-host dirs) live in a temp
 * dir under `/var/tmp`, NOT under `/tmp`: `/tmp` is bind-mounted over inside every host,
 * and sshd must still see its config, host key and AuthorizedKeysFile there.
 *
 * Parallel suites: vitest runs test files in separate worker processes. Netns names
 * carry the pid, and the subnet octet is claimed with an exclusive lock file
 * (`/var/tmp/orch-fleet-locks/subnet-<S>`, O_EXCL, holding the owner's pid; a lock
 * whose owner died is taken over), starting from a value derived from the pid.
 *
 * Source: DESIGN.md "Test hosts" (netns + veth + bridge, `sshd -f`, `unshare -m` with
 * private bind mounts, `StrictModes no`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';

/** One sshd test host of a fleet. */
export interface TestHost {
  /** Inventory name: `h1` .. `hN`. */
  name: string;
  /** IPv4 address on the fleet's bridge: `10.231.<subnet>.<10+i>`. */
  address: string;
  /** sshd port (22). */
  port: number;
  /** Network namespace name: `<prefix>-<pid>-<i>`. */
  netns: string;
  /**
   * The host's private directories on the control machine: `<dir>/srv`, `<dir>/root`,
   * `<dir>/tmp` are what the host sees as `/srv`, `/root` (root's home) and `/tmp`.
   */
  dir: string;
  /** sshd's stderr (`-e`), appended across restarts. */
  logFile: string;
  /** Host key file (private; `.pub` beside it). */
  hostKeyFile: string;
  /** Pid of the running sshd, undefined while stopped. */
  sshdPid: number | undefined;
}

/** Result of `hostExec`. */
export interface HostExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Extra inventory content merged into `inventoryYaml` (deep merge; extra wins). */
export interface InventoryExtra {
  defaults?: Record<string, unknown>;
  /** Host name -> extra keys (a name not in the fleet adds a host). */
  hosts?: Record<string, Record<string, unknown>>;
  roles?: Record<string, string[]>;
  groups?: Record<string, unknown>;
}

/** A running fleet. Every method is safe to call after partial failures. */
export interface Fleet {
  hosts: TestHost[];
  /** Subnet octet: hosts are at `10.231.<subnet>.*`. */
  subnet: number;
  /** The fleet's temp dir (under /var/tmp). */
  dir: string;
  /** Client private key (ed25519, no passphrase) authorised for root on every host. */
  identityFile: string;
  /** known_hosts listing every host address with its current key (plain, not hashed). */
  knownHostsFile: string;
  /** Writes a hashed copy of the current known_hosts (`ssh-keygen -H`) and returns its path. */
  writeHashedKnownHosts(): Promise<string>;
  /**
   * Runs `bash -c COMMAND` inside the host's network + mount namespaces
   * (`nsenter -t <sshd pid> -n -m`), to inspect or prepare a host. Rejects when sshd is stopped.
   */
  hostExec(host: TestHost, command: string): Promise<HostExecResult>;
  /** Kills every process in the host's netns (`ip netns pids`): sshd and live sessions. */
  stopSshd(host: TestHost): Promise<void>;
  /** Starts the host's sshd again and waits until it accepts TCP. */
  startSshd(host: TestHost): Promise<void>;
  /** New ed25519 host key and an sshd restart; `knownHostsFile` is NOT updated. */
  rotateHostKey(host: TestHost): Promise<void>;
  /**
   * Drops (`true`) or restores (`false`) the host's link on the bridge: packets are lost
   * silently, no FIN/RST — a dead peer only keepalives can detect.
   */
  setLinkDown(host: TestHost, down: boolean): Promise<void>;
  /**
   * Inventory YAML text: `defaults: {user: root, identity, known_hosts}` and every host
   * with `address` and `port`; `extra` is deep-merged over it.
   */
  inventoryYaml(extra?: InventoryExtra): string;
  /** Stops everything this fleet started and deletes its netns, veths, bridge, lock and temp dir. Idempotent. */
  teardown(): Promise<void>;
}

/** Options of `startFleet`. */
export interface FleetOptions {
  /** Number of hosts (1..200). */
  count: number;
  /** Netns name prefix (default `orch`). */
  name?: string;
  /** Third octet of `10.231.X.0/24` (1..254); default derived from process.pid and claimed with a lock. */
  subnet?: number;
}

const SSHD = '/usr/sbin/sshd';
const LOCK_DIR = '/var/tmp/orch-fleet-locks';
/** How long one sshd may take to accept TCP: 5 s, plus 100 ms per host of the fleet (200 sshd starting at once on 2 loaded cores need more than 5 s). */
const readyTimeoutMs = (count: number): number => 5000 + 100 * count;

/** Absolute path of `cmd` found on PATH (plus the sbin dirs), or undefined. */
export function findExecutable(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, cmd);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * True when this process can run a fleet: root, and `ip`, `unshare`, `nsenter`,
 * `ssh-keygen` and `/usr/sbin/sshd` are present. Suites use `describe.skipIf(!canRunFleet())`.
 */
export function canRunFleet(): boolean {
  if (process.getuid?.() !== 0) return false;
  if (!existsSync(SSHD)) return false;
  return ['ip', 'unshare', 'nsenter', 'ssh-keygen'].every((c) => findExecutable(c) !== undefined);
}

/** Runs a command, resolves with its output; never rejects on a non-zero exit. */
export function run(cmd: string, args: string[], stdin?: string): Promise<HostExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? '');
  });
}

/** Runs a command and rejects with its stderr when it exits non-zero. */
export async function runOk(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims subnet octet `s` with an O_EXCL lock file; takes over a lock whose owner died. */
function tryLockSubnet(s: number): string | undefined {
  mkdirSync(LOCK_DIR, { recursive: true });
  const file = path.join(LOCK_DIR, `subnet-${s}`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) return undefined;
      try {
        unlinkSync(file);
      } catch {
        /* raced with another taker */
      }
    }
  }
  return undefined;
}

/** True when something (a leftover bridge, another tool) already uses 10.231.s.0/24. */
function subnetInUse(s: number): boolean {
  const r = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  return r.stdout.includes(` 10.231.${s}.`) || existsSync(`/sys/class/net/orb${s}`);
}

export function claimSubnet(wanted: number | undefined): { subnet: number; lockFile: string } {
  if (wanted !== undefined) {
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > 254) throw new Error(`fleet subnet must be 1..254, got ${wanted}`);
    const lockFile = tryLockSubnet(wanted);
    if (!lockFile || subnetInUse(wanted)) {
      if (lockFile) rmSync(lockFile, { force: true });
      throw new Error(`fleet subnet 10.231.${wanted}.0/24 is in use`);
    }
    return { subnet: wanted, lockFile };
  }
  const start = (process.pid % 254) + 1;
  for (let k = 0; k < 254; k++) {
    const s = ((start - 1 + k) % 254) + 1;
    const lockFile = tryLockSubnet(s);
    if (!lockFile) continue;
    if (subnetInUse(s)) {
      rmSync(lockFile, { force: true });
      continue;
    }
    return { subnet: s, lockFile };
  }
  throw new Error('no free fleet subnet in 10.231.1-254.0/24');
}

/** Resolves once `address:port` accepts a TCP connection; rejects after `timeoutMs`. */
export async function waitForTcp(address: string, port: number, timeoutMs: number, isDead: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host: address, port });
      s.setTimeout(500);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    const dead = isDead();
    if (dead) throw new Error(dead);
    if (Date.now() > deadline) throw new Error(`sshd on ${address}:${port} did not accept TCP within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function sshdConfig(host: TestHost, authorizedKeys: string, pidFile: string): string {
  return [
    `ListenAddress ${host.address}:${host.port}`,
    `HostKey ${host.hostKeyFile}`,
    `PidFile ${pidFile}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'StrictModes no',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'MaxStartups 100:30:200',
    'AllowTcpForwarding yes',
    'LogLevel VERBOSE',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

let fleetSeq = 0;

/**
 * Starts `count` sshd hosts (see the module doc for the layout) and resolves once every
 * sshd accepts TCP. Requires `canRunFleet()`. On failure everything already created is
 * torn down and the error is rethrown.
 *
 * @throws Error when not root, when the subnet is taken, or when an sshd does not come up
 *   within 5 s plus 100 ms per host (the message carries sshd's stderr).
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  if (!canRunFleet()) throw new Error('startFleet needs root, ip, unshare, nsenter, ssh-keygen and /usr/sbin/sshd');
  const count = options.count;
  if (!Number.isInteger(count) || count < 1 || count > 200) throw new Error(`fleet count must be 1..200, got ${count}`);
  const prefix = options.name ?? 'orch';
  const { subnet, lockFile } = claimSubnet(options.subnet);
  const seq = ++fleetSeq;
  mkdirSync('/var/tmp', { recursive: true });
  const dir = await mkdtemp(`/var/tmp/orch-fleet-${process.pid}-${seq}-`);
  const bridge = `orb${subnet}`;
  const identityFile = path.join(dir, 'id_ed25519');
  const knownHostsFile = path.join(dir, 'known_hosts');
  const authorizedKeys = path.join(dir, 'authorized_keys');
  const children = new Map<string, ChildProcess>();
  /** Network objects this fleet created (`netns:NAME`, `veth:NAME`, `bridge:NAME`). */
  const created = new Set<string>();
  let tornDown = false;

  const hosts: TestHost[] = Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    const hostDir = path.join(dir, 'hosts', `h${i}`);
    return {
      name: `h${i}`,
      address: `10.231.${subnet}.${10 + i}`,
      port: 22,
      netns: `${prefix}-${process.pid}-${i}`,
      dir: hostDir,
      logFile: path.join(dir, `sshd-h${i}.log`),
      hostKeyFile: path.join(dir, `ssh_host_ed25519_key-h${i}`),
      sshdPid: undefined,
    };
  });
  const vethOf = (h: TestHost): string => `ov${subnet}-${h.name.slice(1)}`;

  /** Kills every process in the host's netns, by pid; waits until our sshd child is gone. */
  const killNetnsSync = (h: TestHost): void => {
    const r = spawnSync('ip', ['netns', 'pids', h.netns], { encoding: 'utf8' });
    const pids = new Set(
      r.stdout
        .split(/\s+/)
        .filter(Boolean)
        .map(Number)
        .filter((p) => Number.isInteger(p) && p > 0),
    );
    if (h.sshdPid !== undefined) pids.add(h.sshdPid);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  };

  const cleanupSync = (): void => {
    if (tornDown) return;
    tornDown = true;
    process.removeListener('exit', onExit);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    // Only what this fleet created: a name clash with another fleet must not delete its netns.
    for (const h of hosts) if (created.has(`netns:${h.netns}`)) killNetnsSync(h);
    for (const h of hosts) if (created.has(`netns:${h.netns}`)) spawnSync('ip', ['netns', 'del', h.netns], { stdio: 'ignore' });
    for (const h of hosts) if (created.has(`veth:${vethOf(h)}`)) spawnSync('ip', ['link', 'del', vethOf(h)], { stdio: 'ignore' });
    if (created.has(`bridge:${bridge}`)) spawnSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    rmSync(lockFile, { force: true });
  };
  const onExit = (): void => cleanupSync();
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanupSync();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const waitChildExit = async (h: TestHost): Promise<void> => {
    const child = children.get(h.name);
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    }
    children.delete(h.name);
    h.sshdPid = undefined;
  };

  const startSshd = async (h: TestHost): Promise<void> => {
    if (h.sshdPid !== undefined) throw new Error(`${h.name}: sshd is already running (pid ${h.sshdPid})`);
    const cfg = path.join(dir, `sshd_config-${h.name}`);
    await writeFile(cfg, sshdConfig(h, authorizedKeys, path.join(dir, `sshd-${h.name}.pid`)));
    const mounts = ['srv', 'root', 'tmp']
      .map((d) => `mount --bind ${path.join(h.dir, d)} /${d}`)
      .join(' && ');
    const log = openSync(h.logFile, 'a');
    // nsenter and unshare (without --fork) exec in place and bash execs sshd, so the
    // child's pid IS sshd's pid.
    const child = spawn(
      'nsenter',
      [`--net=/run/netns/${h.netns}`, '--', 'unshare', '-m', '-u', '--propagation', 'private', '--', 'bash', '-c', `hostname ${h.name} && ${mounts} && exec ${SSHD} -D -e -f ${cfg}`],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      // The log is gone when a failed start already tore the fleet down.
      const tail = existsSync(h.logFile) ? readFileSync(h.logFile, 'utf8').trim().split('\n').slice(-5).join(' | ') : '(no log)';
      exited = `sshd of ${h.name} exited (${code ?? signal}) before accepting connections: ${tail}`;
    });
    child.once('error', (e) => {
      exited = `cannot start sshd of ${h.name}: ${e.message}`;
    });
    children.set(h.name, child);
    h.sshdPid = child.pid;
    try {
      await waitForTcp(h.address, h.port, readyTimeoutMs(count), () => exited);
    } catch (e) {
      killNetnsSync(h);
      await waitChildExit(h);
      throw e;
    }
  };

  const stopSshd = async (h: TestHost): Promise<void> => {
    killNetnsSync(h);
    await waitChildExit(h);
  };

  const writeKnownHosts = async (): Promise<void> => {
    const lines = await Promise.all(
      hosts.map(async (h) => {
        const [type, key] = (await readFile(`${h.hostKeyFile}.pub`, 'utf8')).trim().split(/\s+/);
        return `${h.address} ${type} ${key}\n`;
      }),
    );
    await writeFile(knownHostsFile, lines.join(''));
  };

  const genKey = (file: string, comment: string): Promise<string> =>
    runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);

  try {
    // Keys: one client key, one host key per host (all in parallel).
    await Promise.all([
      genKey(identityFile, `orch-fleet-${process.pid}`),
      ...hosts.map((h) => genKey(h.hostKeyFile, `${h.name}-host`)),
      ...hosts.map((h) => Promise.all(['srv', 'root', 'tmp'].map((d) => mkdir(path.join(h.dir, d), { recursive: true, mode: d === 'tmp' ? 0o1777 : 0o755 })))),
    ]);
    spawnSync('chmod', ['1777', ...hosts.map((h) => path.join(h.dir, 'tmp'))]);
    await copyFile(`${identityFile}.pub`, authorizedKeys);
    await writeKnownHosts();
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

    // Network: bridge, then per host netns + veth.
    await runOk('ip', ['link', 'add', bridge, 'type', 'bridge']);
    created.add(`bridge:${bridge}`);
    await runOk('ip', ['addr', 'add', `10.231.${subnet}.1/24`, 'dev', bridge]);
    await runOk('ip', ['link', 'set', bridge, 'up']);
    await Promise.all(
      hosts.map(async (h) => {
        const peer = `ov${subnet}p${h.name.slice(1)}`;
        await runOk('ip', ['netns', 'add', h.netns]);
        created.add(`netns:${h.netns}`);
        await runOk('ip', ['link', 'add', vethOf(h), 'type', 'veth', 'peer', 'name', peer]);
        created.add(`veth:${vethOf(h)}`);
        await runOk('ip', ['link', 'set', peer, 'netns', h.netns]);
        await runOk('ip', ['link', 'set', vethOf(h), 'master', bridge, 'up']);
        await runOk('ip', ['-n', h.netns, 'link', 'set', peer, 'name', 'eth0']);
        await runOk('ip', ['-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
        await runOk('ip', ['-n', h.netns, 'link', 'set', 'eth0', 'up']);
        await runOk('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
      }),
    );
    await Promise.all(hosts.map((h) => startSshd(h)));
  } catch (e) {
    cleanupSync();
    throw e;
  }

  const fleet: Fleet = {
    hosts,
    subnet,
    dir,
    identityFile,
    knownHostsFile,
    async writeHashedKnownHosts() {
      const file = path.join(dir, `known_hosts-hashed-${randomBytes(4).toString('hex')}`);
      await copyFile(knownHostsFile, file);
      await runOk('ssh-keygen', ['-H', '-f', file]);
      await rm(`${file}.old`, { force: true });
      return file;
    },
    async hostExec(host, command) {
      if (host.sshdPid === undefined) throw new Error(`${host.name}: sshd is stopped; hostExec needs its namespaces`);
      return run('nsenter', ['-t', String(host.sshdPid), '-n', '-m', '--', 'bash', '-c', command]);
    },
    stopSshd,
    startSshd,
    async rotateHostKey(host) {
      await stopSshd(host);
      await rm(host.hostKeyFile, { force: true });
      await rm(`${host.hostKeyFile}.pub`, { force: true });
      await genKey(host.hostKeyFile, `${host.name}-host-rotated`);
      await startSshd(host);
    },
    async setLinkDown(host, down) {
      await runOk('ip', ['link', 'set', vethOf(host), down ? 'down' : 'up']);
    },
    inventoryYaml(extra) {
      const hostsObj: Record<string, Record<string, unknown>> = {};
      for (const h of hosts) hostsObj[h.name] = { address: h.address, port: h.port };
      for (const [name, more] of Object.entries(extra?.hosts ?? {})) hostsObj[name] = { ...(hostsObj[name] ?? {}), ...more };
      const doc: Record<string, unknown> = {
        defaults: { user: 'root', identity: identityFile, known_hosts: knownHostsFile, ...(extra?.defaults ?? {}) },
        hosts: hostsObj,
      };
      if (extra?.roles) doc.roles = extra.roles;
      if (extra?.groups) doc.groups = extra.groups;
      return stringifyYaml(doc);
    },
    async teardown() {
      if (tornDown) return;
      for (const h of hosts) killNetnsSync(h);
      await Promise.all(hosts.map((h) => waitChildExit(h)));
      cleanupSync();
    },
  };
  return fleet;
}
