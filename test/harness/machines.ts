/**
 * Test machines: Debian 12 (bookworm) systems booted with systemd as PID 1 under
 * `systemd-nspawn`, one per network namespace on a fleet bridge, each with its own
 * root (overlayfs over one shared, cached base tree), sshd and root login by key.
 * Unlike `fleet.ts`'s hosts (which share this machine's root filesystem), apt, dpkg,
 * users and systemd act for real here, and every change stays in the machine's overlay.
 *
 * Layout (subnet octet S claimed with `fleet.ts`'s lock, so fleets and machines never clash):
 * - bridge `omb<S>` with `10.231.S.1/24`; apt-cacher-ng listens there on port 3142 and the
 *   machines' apt uses it (`Acquire::http::Proxy`);
 * - per machine a netns `<prefix>-<pid>-<i>` with `eth0` = `10.231.S.<10+i>/24`, and an
 *   overlay root `<tmp>/<name>/merged` (lower: the base tree, upper/work beside it);
 * - the base tree is built once by `mmdebstrap --variant=minbase` from this machine's own
 *   `/etc/apt/sources.list.d/debian.sources` into `/var/cache/orch-test/bookworm-base`,
 *   under `flock` on `/var/cache/orch-test/base.lock` (two test files starting at once build it once).
 *
 * Boot: `systemd-nspawn -D ROOT --boot --register=no --keep-unit --console=passive
 * --network-namespace-path=/run/netns/NS -M NAME` (`--register=no --keep-unit` because this
 * machine's PID 1 may not be systemd). SIGTERM to systemd-nspawn is an orderly poweroff, so
 * `reboot()` is TERM, wait for exit, boot again.
 *
 * Sources: systemd-nspawn(1), mmdebstrap(1), apt-cacher-ng's manual
 * (https://www.unix-ag.uni-kl.de/~bloch/acng/html/config-serv.html, "Remap-" directives).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { claimSubnet, findExecutable, runOk, waitForTcp, type HostExecResult } from './fleet.js';

/** Where the cached base tree lives (stable across runs). */
export const BASE_CACHE_DIR = '/var/cache/orch-test';
/** The base tree: a bookworm minbase root with systemd, sshd, sudo, python3 and curl. */
export const BASE_TREE = path.join(BASE_CACHE_DIR, 'bookworm-base');
const BASE_LOCK = path.join(BASE_CACHE_DIR, 'base.lock');
const BASE_PACKAGES = 'systemd,systemd-sysv,openssh-server,dbus,sudo,iproute2,procps,python3,curl,ca-certificates';
const DEBIAN_SOURCES = '/etc/apt/sources.list.d/debian.sources';

export interface Machine {
  /** Machine name (also its hostname and its nspawn `-M` name). */
  name: string;
  /** IPv4 address on the bridge: `10.231.<subnet>.<10+i>`. */
  address: string;
  /** sshd port inside the machine (Debian's own sshd, port 22). */
  port: number;
  /** Network namespace the machine's network lives in. */
  netns: string;
  /** Root directory of the machine as seen from this side (the overlay's merged dir). */
  root: string;
  /** Runs `bash -c script` inside the machine (nsenter into its PID 1's namespaces) as root. */
  exec(script: string): Promise<HostExecResult>;
  /** Orderly poweroff (SIGTERM to systemd-nspawn), wait, boot again; resolves when sshd answers. */
  reboot(): Promise<void>;
}

export interface Machines {
  machines: Machine[];
  subnet: number;
  /** Control-side bridge address (apt-cacher-ng listens here on 3142). */
  bridgeAddress: string;
  /** Private key (ed25519) accepted for root on every machine. */
  keyFile: string;
  /** Temp dir of this set (overlays, key, inventory). */
  dir: string;
  /** Writes an orch inventory YAML listing the machines (user root, the key) and returns its path. */
  writeInventory(file?: string, extra?: Record<string, unknown>): Promise<string>;
  /** Powers every machine off and deletes overlays, netns, bridge, proxy and lock. Idempotent. */
  stop(): Promise<void>;
}

export interface MachinesOptions {
  count: number;
  /** Prefix of machine and netns names; default `om`. */
  prefix?: string;
  /** Milliseconds to wait for sshd after a boot; default 60 000. */
  bootTimeoutMs?: number;
}

/** True when this process can boot machines (root, systemd-nspawn, mmdebstrap, apt-cacher-ng, overlayfs). */
export function canRunMachines(): boolean {
  if (process.getuid?.() !== 0) return false;
  if (!findExecutable('systemd-nspawn') || !findExecutable('ip') || !findExecutable('ssh-keygen')) return false;
  if (!existsSync(BASE_TREE) && !findExecutable('mmdebstrap')) return false;
  if (!findExecutable('apt-cacher-ng') && !existsSync('/usr/sbin/apt-cacher-ng')) return false;
  return existsSync(DEBIAN_SOURCES);
}

/**
 * Builds the base tree once (about 75 s), under `flock` so that concurrent callers wait for
 * one build instead of racing; the tree appears by an atomic rename of a finished build.
 * @throws Error with mmdebstrap's output when the build fails.
 */
export async function ensureBaseTree(): Promise<string> {
  if (existsSync(path.join(BASE_TREE, 'usr/lib/systemd/systemd')) || existsSync(path.join(BASE_TREE, 'lib/systemd/systemd'))) return BASE_TREE;
  mkdirSync(BASE_CACHE_DIR, { recursive: true });
  const tmp = `${BASE_TREE}.tmp`;
  const script = [
    'set -e',
    `[ -d '${BASE_TREE}' ] && exit 0`,
    `rm -rf '${tmp}'`,
    `mmdebstrap --format=directory --variant=minbase --include=${BASE_PACKAGES} bookworm '${tmp}' '${DEBIAN_SOURCES}'`,
    `mv '${tmp}' '${BASE_TREE}'`,
  ].join('\n');
  const r = spawnSync('flock', [BASE_LOCK, 'bash', '-c', script], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) throw new Error(`building ${BASE_TREE} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return BASE_TREE;
}

/** The first `URIs:` of this machine's Debian sources (apt-cacher-ng's upstream for /debian). */
function debianMirror(): string {
  const m = /^URIs:\s*(\S+)/m.exec(readFileSync(DEBIAN_SOURCES, 'utf8'));
  return m ? m[1]! : 'http://deb.debian.org/debian';
}

function execIn(pid: number, script: string): Promise<HostExecResult> {
  return new Promise((resolve) => {
    const c = spawn('nsenter', ['-t', String(pid), '-a', '--', 'bash', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** PID of the machine's init (the child of systemd-nspawn), or undefined. */
function leaderPid(nspawnPid: number): number | undefined {
  const r = spawnSync('pgrep', ['-P', String(nspawnPid)], { encoding: 'utf8' });
  const pid = Number(r.stdout.trim().split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Boots `count` Debian machines (see the module doc) and resolves once each one's sshd accepts TCP.
 * On failure everything already created is torn down and the error rethrown.
 */
export async function startMachines(options: MachinesOptions): Promise<Machines> {
  if (!canRunMachines()) throw new Error('startMachines needs root, systemd-nspawn, mmdebstrap (or a cached base tree), apt-cacher-ng and ' + DEBIAN_SOURCES);
  const base = await ensureBaseTree();
  const prefix = options.prefix ?? 'om';
  const bootTimeoutMs = options.bootTimeoutMs ?? 60_000;
  const { subnet, lockFile } = claimSubnet(undefined);
  const bridge = `omb${subnet}`;
  const bridgeAddress = `10.231.${subnet}.1`;
  const dir = await mkdtemp(`/var/tmp/orch-machines-${subnet}-`);
  const keyFile = path.join(dir, 'id_ed25519');
  const created: string[] = [];
  const nspawn = new Map<string, ChildProcess>();
  let proxy: ChildProcess | undefined;
  let stopped = false;

  const machines: Machine[] = [];

  const boot = async (m: Machine): Promise<void> => {
    const c = spawn(
      'systemd-nspawn',
      ['-q', '-D', m.root, '--boot', '--register=no', '--keep-unit', '--console=passive', `--network-namespace-path=/run/netns/${m.netns}`, '-M', m.name],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let exited: string | undefined;
    c.on('exit', (code, sig) => (exited = `systemd-nspawn for ${m.name} exited (${code ?? sig}) before sshd answered:\n${stderr}`));
    nspawn.set(m.name, c);
    await waitForTcp(m.address, m.port, bootTimeoutMs, () => exited);
  };

  const powerOff = async (name: string): Promise<void> => {
    const c = nspawn.get(name);
    nspawn.delete(name);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const done = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
    await done;
    clearTimeout(t);
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(machines.map((m) => powerOff(m.name)));
    if (proxy && proxy.exitCode === null) {
      const done = new Promise<void>((r) => proxy!.once('exit', () => r()));
      proxy.kill('SIGTERM');
      await done;
    }
    for (const m of machines) spawnSync('umount', [m.root], { stdio: 'ignore' });
    for (const obj of [...created].reverse()) {
      const [kind, name] = obj.split(':') as [string, string];
      if (kind === 'netns') spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      if (kind === 'link') spawnSync('ip', ['link', 'del', name], { stdio: 'ignore' });
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(lockFile, { force: true });
  };

  try {
    await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'orch-machines', '-f', keyFile]);
    const pub = await readFile(`${keyFile}.pub`, 'utf8');

    await runOk('ip', ['link', 'add', bridge, 'type', 'bridge']);
    created.push(`link:${bridge}`);
    await runOk('ip', ['addr', 'add', `${bridgeAddress}/24`, 'dev', bridge]);
    await runOk('ip', ['link', 'set', bridge, 'up']);

    // apt-cacher-ng on the bridge; its built-in mirror list is not reachable from here, so
    // /debian is remapped onto this machine's own upstream (otherwise it answers 503).
    const acngDir = path.join(BASE_CACHE_DIR, 'acng');
    await mkdir(path.join(acngDir, 'cache'), { recursive: true });
    await mkdir(path.join(dir, 'acng-log'), { recursive: true });
    const acng = findExecutable('apt-cacher-ng') ?? '/usr/sbin/apt-cacher-ng';
    const mirror = debianMirror();
    proxy = spawn(
      acng,
      [
        '-c', '/etc/apt-cacher-ng', 'ForeGround=1', `BindAddress=${bridgeAddress}`, 'Port=3142',
        `CacheDir=${path.join(acngDir, `cache-${subnet}`)}`, `LogDir=${path.join(dir, 'acng-log')}`,
        `PidFile=${path.join(dir, 'acng.pid')}`, `SocketPath=${path.join(dir, 'acng.socket')}`,
        `Remap-debrep=file:deb_mirror*.gz /debian ; ${mirror}`,
        `Remap-secdeb=security.debian.org /debian-security ; ${mirror.replace(/\/debian\/?$/, '/debian-security')}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );

    for (let i = 0; i < options.count; i++) {
      const name = `${prefix}${subnet}-${i}`;
      const netns = `${prefix}-${process.pid}-${i}`;
      const mdir = path.join(dir, name);
      const root = path.join(mdir, 'merged');
      for (const d of ['upper', 'work', 'merged']) await mkdir(path.join(mdir, d), { recursive: true });
      await runOk('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${mdir}/upper,workdir=${mdir}/work`, root]);
      const m: Machine = {
        name,
        address: `10.231.${subnet}.${10 + i}`,
        port: 22,
        netns,
        root,
        exec: (script) => {
          const c = nspawn.get(name);
          const pid = c?.pid !== undefined ? leaderPid(c.pid) : undefined;
          if (pid === undefined) return Promise.resolve({ code: -1, stdout: '', stderr: `${name} is not running` });
          return execIn(pid, script);
        },
        reboot: async () => {
          await powerOff(name);
          await boot(m);
        },
      };
      machines.push(m);

      // Machine configuration, written into its overlay before the first boot.
      await writeFile(path.join(root, 'etc/hostname'), `${name}\n`);
      await mkdir(path.join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
      await writeFile(path.join(root, 'root/.ssh/authorized_keys'), pub, { mode: 0o600 });
      await writeFile(path.join(root, 'etc/apt/apt.conf.d/01orch-proxy'), `Acquire::http::Proxy "http://${bridgeAddress}:3142";\n`);
      await writeFile(path.join(root, 'etc/resolv.conf'), '');
      await writeFile(path.join(root, 'etc/hosts'), `127.0.0.1 localhost\n127.0.1.1 ${name}\n`);
      await chmod(path.join(root, 'root/.ssh'), 0o700);

      await runOk('ip', ['netns', 'add', netns]);
      created.push(`netns:${netns}`);
      const veth = `omv${subnet}-${i}`;
      const peer = `omp${subnet}-${i}`;
      await runOk('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer]);
      created.push(`link:${veth}`);
      await runOk('ip', ['link', 'set', peer, 'netns', netns]);
      await runOk('ip', ['link', 'set', veth, 'master', bridge, 'up']);
      await runOk('ip', ['-n', netns, 'link', 'set', peer, 'name', 'eth0']);
      await runOk('ip', ['-n', netns, 'addr', 'add', `${m.address}/24`, 'dev', 'eth0']);
      await runOk('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
      await runOk('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    }
    await Promise.all(machines.map((m) => boot(m)));
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    machines,
    subnet,
    bridgeAddress,
    keyFile,
    dir,
    writeInventory: async (file, extra) => {
      const out = file ?? path.join(dir, 'inventory.yml');
      const hosts: Record<string, unknown> = {};
      for (const m of machines) hosts[m.name] = { address: m.address, port: m.port };
      // Every machine carries the base tree's host keys (generated once by mmdebstrap).
      const hostKey = (await readFile(path.join(base, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
      const knownHosts = path.join(dir, 'known_hosts');
      await writeFile(knownHosts, machines.map((m) => `${m.address} ${hostKey}\n`).join(''));
      const doc = { defaults: { user: 'root', identity: keyFile, known_hosts: knownHosts, ...(extra ?? {}) }, hosts };
      await writeFile(out, stringifyYaml(doc));
      return out;
    },
    stop,
  };
}
