/**
 * Persistent SSH connections (`ORCH_SSH_PERSIST=SECONDS`), the client side: what
 * OpenSSH's ControlMaster/ControlPersist gives Ansible (ssh_config(5) "ControlPersist";
 * Ansible's default `ControlPersist=60s`). One background process per user, the control
 * master (./control-master-server.ts, run by src/cli/control-master-main.ts), holds the SSH connections of earlier runs open for
 * SECONDS after their last use; a run asks it for a session channel over a Unix socket
 * instead of making its own TCP connection, key exchange and authentication.
 *
 * - Socket folder: `$XDG_RUNTIME_DIR/orch` (else `~/.cache/orch/cm`), created mode 700.
 *   It must be a real folder (not a symlink) owned by this user with no group/other
 *   bits, else the connect fails with ConnectError naming the folder and the fix: whoever
 *   can reach the socket can run commands as the remote users (as with OpenSSH's
 *   ControlPath, ssh(1) "ControlMaster").
 * - `master.sock` is a symlink to the live master's `<pid>.sock`. A run's connection
 *   asks `master.sock` once (op `connect`: the master connects, verifying the host key
 *   as a direct connection does) and then sends every exec to the `<pid>.sock` it was
 *   answered from, so a second master started meanwhile by another run never sees them.
 * - A connection is keyed by everything that decides it (the plan host, its jump hosts,
 *   the connect options, HOME/USER/LOGNAME/SSH_AUTH_SOCK): a changed inventory entry
 *   gets a new connection. A known_hosts change does not end a live connection (as with
 *   OpenSSH); `orch` verifies the key again when the master reconnects.
 * - `pty` and `sftp` (`orch ssh`, the shell) open a direct connection of their own.
 *
 * Wire protocol (one Unix connection per request), in frames `[type byte][uint32 BE
 * length][payload]` after the client's first line, one JSON `MasterRequest`: for an exec
 * with stdin the client sends `d` (stdin bytes) frames and an `E` frame at their end; the
 * master answers `o` stdout, `e` stderr and `r` the result (JSON `MasterResult`). The
 * client never half-closes: the end of its socket before `r` means it went away, and the
 * master closes the channel (the remote command is signalled and cut off, as when a
 * direct connection drops). A `connect`'s socket stays open as the run's lease.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { lstat, mkdir, open, readlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConnectError, RemoteCommandError } from '../model/errors.js';
import type { PlanHost } from '../model/plan.js';
import { feedStdin } from './local.js';
import { expandEnvRefs } from './ssh-config.js';
import type { ConnectOptions, Connection, ExecOptions, ExecResult, PtyOptions, PtySession, RemoteFiles } from './transport.js';

/** Environment variable turning persistent connections on: idle seconds, 1..86400. */
export const PERSIST_ENV = 'ORCH_SSH_PERSIST';

/** The environment a master connects with (all that ssh.ts and ssh-config.ts read). */
const ENV_KEYS = ['HOME', 'USER', 'LOGNAME', 'SSH_AUTH_SOCK'] as const;

/** Longest Unix socket path (sun_path is 108 bytes on Linux, with its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * `ORCH_SSH_PERSIST` of `env`: idle seconds, or undefined when unset, empty or `0`.
 * @throws Error when it is not a whole number of seconds from 0 to 86400.
 */
export function persistSeconds(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[PERSIST_ENV]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const m = /^(\d+)s?$/.exec(raw);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 86400) throw new Error(`${PERSIST_ENV} must be idle seconds from 0 (off) to 86400, like 60 or 60s; got ${JSON.stringify(raw)}`);
  return n === 0 ? undefined : n;
}

/** The control master's socket folder for `env` (see the module comment). */
export function controlDir(env: NodeJS.ProcessEnv): string {
  if (env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR)) return path.join(env.XDG_RUNTIME_DIR, 'orch');
  if (!env.HOME) throw new Error(`${PERSIST_ENV} needs HOME or XDG_RUNTIME_DIR for the control master's socket`);
  return path.join(env.HOME, '.cache', 'orch', 'cm');
}

/**
 * Creates `dir` (mode 700) when missing and checks it: a real folder, owned by this
 * process's user, without group or other permission bits.
 * @throws Error saying what is wrong and what would be right.
 */
export async function ensureControlDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = process.getuid?.() ?? st.uid;
  // Every folder above it too (OpenSSH's safe_path): owned by this user or root, and not
  // writable by others unless sticky and root's (/tmp), so nobody can swap one in.
  for (let up = path.dirname(dir); ; up = path.dirname(up)) {
    const p = await lstat(up);
    const sticky = (p.mode & 0o1000) !== 0 && p.uid === 0;
    if ((p.uid !== uid && p.uid !== 0) || ((p.mode & 0o022) !== 0 && !sticky) || p.isSymbolicLink()) {
      throw new Error(`control master folder ${dir}: ${up} ${p.isSymbolicLink() ? 'is a symlink' : p.uid !== uid && p.uid !== 0 ? `belongs to uid ${p.uid}` : `is writable by others (mode ${(p.mode & 0o7777).toString(8)})`}: set XDG_RUNTIME_DIR or HOME to a folder of your own`);
    }
    if (up === path.dirname(up)) break;
  }
  if (!st.isDirectory()) throw new Error(`control master folder ${dir} is not a folder (a symlink?): remove it, orch creates it`);
  if (st.uid !== uid) throw new Error(`control master folder ${dir} belongs to uid ${st.uid}, not to this user (uid ${uid}): remove it, orch creates it`);
  if ((st.mode & 0o077) !== 0) throw new Error(`control master folder ${dir} is open to others (mode ${(st.mode & 0o777).toString(8)}): chmod 700 ${dir}`);
  if (path.join(dir, '4294967295.sock').length > MAX_SOCKET_PATH) throw new Error(`control master folder ${dir} is too long for a Unix socket path (${MAX_SOCKET_PATH} bytes): set XDG_RUNTIME_DIR to a short folder`);
}

/** What a request names: the connection's settings (its key is their hash). */
export interface MasterSpec {
  host: PlanHost;
  /** The host's jump hosts, by name. */
  hosts: Record<string, PlanHost>;
  options: Pick<ConnectOptions, 'insecureHostKeys' | 'connectTimeoutMs' | 'keepaliveIntervalMs' | 'keepaliveCountMax' | 'sshConfigFile'>;
  env: Partial<Record<(typeof ENV_KEYS)[number], string>>;
}

/** The first line of a request. */
export type MasterRequest =
  | { v: 1; op: 'connect'; key: string; spec: MasterSpec }
  | { v: 1; op: 'exec'; key: string; id: number; host: string; command: string; timeoutMs?: number; stdin: boolean; spare?: boolean };

/** The `r` frame: a result, or the error the master's call rejected with. */
export type MasterResult =
  | { ok: true; socket?: string; id?: number; code?: number | null; signal?: string }
  | { ok: false; error: { kind: 'connect' | 'remote' | 'other'; message: string; step?: string; exitCode?: number | null; stderrTail?: string } };

/** The spec and key of `host` under `options` (what decides its connection). */
export function masterSpec(host: PlanHost, options: ConnectOptions, env: NodeJS.ProcessEnv, cwd = process.cwd()): { key: string; spec: MasterSpec } {
  // The master runs elsewhere (its own folder, a few variables): file paths are made
  // absolute here, `${VAR}` expanded from this run's environment; `~` and `%` tokens stay
  // (the master expands them from HOME/USER and the host, as ssh-config.ts does).
  const local = (p: string | undefined): string | undefined => {
    if (p === undefined) return undefined;
    const x = expandEnvRefs(p, env);
    return x.startsWith('~') || x.startsWith('%') || path.isAbsolute(x) ? x : path.resolve(cwd, x);
  };
  const files = (h: PlanHost): PlanHost => ({ ...h, ...(h.identity !== undefined && { identity: local(h.identity)! }), ...(h.knownHosts !== undefined && { knownHosts: local(h.knownHosts)! }) });
  const hosts: Record<string, PlanHost> = {};
  for (const name of host.jump) {
    const b = options.hosts[name];
    if (b) hosts[name] = files(b);
  }
  host = files(host);
  const o = { ...options, ...(options.sshConfigFile !== undefined && { sshConfigFile: local(options.sshConfigFile)! }) };
  const spec: MasterSpec = {
    host,
    hosts,
    options: {
      ...(o.insecureHostKeys && { insecureHostKeys: true }),
      ...(o.connectTimeoutMs !== undefined && { connectTimeoutMs: o.connectTimeoutMs }),
      ...(o.keepaliveIntervalMs !== undefined && { keepaliveIntervalMs: o.keepaliveIntervalMs }),
      ...(o.keepaliveCountMax !== undefined && { keepaliveCountMax: o.keepaliveCountMax }),
      ...(o.sshConfigFile !== undefined && { sshConfigFile: o.sshConfigFile }),
    },
    env: Object.fromEntries(ENV_KEYS.filter((k) => env[k] !== undefined).map((k) => [k, env[k]!])),
  };
  return { key: createHash('sha256').update(JSON.stringify(spec)).digest('hex'), spec };
}

/** Encodes one master frame. */
export function frame(type: 'o' | 'e' | 'r' | 'd' | 'E', payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** A writable that sends what is written to `sock` as `d` frames, and its end as an `E` frame. */
function stdinFrames(sock: net.Socket): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (sock.write(frame('d', chunk))) cb();
      else sock.once('drain', () => cb());
    },
    final(cb) {
      sock.write(frame('E', Buffer.alloc(0)));
      cb();
    },
  });
}

/** Splits a byte stream into master frames; `onFrame` gets each whole frame. */
export function frameReader(onFrame: (type: string, payload: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      onFrame(String.fromCharCode(buf[0]!), buf.subarray(5, 5 + len));
      buf = buf.subarray(5 + len);
    }
  };
}

/** The error a master's `r` frame carries, as the direct transport would have thrown it. */
export function resultError(host: string, e: Extract<MasterResult, { ok: false }>['error']): Error {
  if (e.kind === 'connect') return new ConnectError(host, e.message);
  if (e.kind === 'remote') return new RemoteCommandError(host, e.step ?? e.message, e.exitCode ?? null, e.stderrTail ?? '');
  return new Error(e.message);
}

/** The `r` frame for an error thrown by the master's connect or exec. */
export function errorResult(host: string, err: unknown): MasterResult {
  if (err instanceof ConnectError) return { ok: false, error: { kind: 'connect', message: err.message.startsWith(`${host}: `) ? err.message.slice(host.length + 2) : err.message } };
  if (err instanceof RemoteCommandError) return { ok: false, error: { kind: 'remote', message: err.message, step: err.step, exitCode: err.exitCode, stderrTail: err.stderrTail } };
  return { ok: false, error: { kind: 'other', message: err instanceof Error ? err.message : String(err) } };
}

/** The master's entry script, src/cli/control-master-main.ts as tsc built it (from the sources: the build's). */
function masterMain(): string {
  const built = fileURLToPath(new URL('../cli/control-master-main.js', import.meta.url));
  if (existsSync(built)) return built;
  return fileURLToPath(new URL('../../build/cli/control-master-main.js', import.meta.url));
}

/**
 * Starts a control master for `dir` that exits after `persist` idle seconds, and
 * resolves once it listens (its first stdout line `ready`). Its stderr goes to
 * `dir/master.log`. Rejects when it exits first or is not ready within 10 s.
 */
export async function startMaster(dir: string, persist: number, env: NodeJS.ProcessEnv): Promise<void> {
  const log = await open(path.join(dir, 'master.log'), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    if ((await log.stat()).size > 1 << 20) await log.truncate(0);
    const child = spawn(process.execPath, [masterMain(), dir, String(persist)], {
      detached: true,
      cwd: dir,
      stdio: ['ignore', 'pipe', log.fd],
      env: { PATH: env.PATH ?? '/usr/bin:/bin', ...(env.HOME && { HOME: env.HOME }) },
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        reject(new Error(`the control master did not start within 10 s (see ${path.join(dir, 'master.log')})`));
        child.kill();
      }, 10_000);
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the control master exited (${code}) before it listened (see ${path.join(dir, 'master.log')})`));
      });
    });
    child.stdout!.destroy();
    child.removeAllListeners('exit');
    child.unref();
  } finally {
    await log.close();
  }
}

/**
 * Sends one request to the master at `socket` and resolves with its result; stdout and
 * stderr frames go to `options`' callbacks and into the result's buffers. A `connect`
 * resolves as its result arrives, with the socket still open (`lease`): the master keeps
 * that connection while it is open, however long the run takes before its next exec.
 * Rejects with ConnectError when the master cannot be reached (`code`: ENOENT,
 * ECONNREFUSED) or goes away first; with RemoteCommandError when the stdin stream fails.
 */
export function request(socket: string, host: string, req: MasterRequest, options: ExecOptions = {}, count: (n: number) => void = () => {}): Promise<{ result: Extract<MasterResult, { ok: true }>; stdout: Buffer; stderr: Buffer; lease: net.Socket }> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path: socket, allowHalfOpen: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let result: MasterResult | undefined;
    let connected = false;
    let stdinError: Error | undefined;
    let aborted = false;
    // Aborted (ExecOptions.signal): the socket closes, so the master closes the channel, as a dropped connection would.
    const onAbort = (): void => {
      aborted = true;
      sock.destroy();
    };
    if (options.signal?.aborted) queueMicrotask(onAbort);
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => {
      options.signal?.removeEventListener('abort', onAbort);
      if (result === undefined && aborted) reject(new ConnectError(host, 'the command was cancelled'));
      else if (result === undefined) reject(stdinError ? new RemoteCommandError(host, `stdin stream failed: ${stdinError.message}`, null, '') : new ConnectError(host, 'connection lost: the control master went away'));
      else if (!result.ok) reject(resultError(host, result.error));
      else resolve({ result, stdout: Buffer.concat(out), stderr: Buffer.concat(err), lease: sock });
    };
    sock.on('connect', () => {
      connected = true;
      sock.write(`${JSON.stringify(req)}\n`);
      // Never half-closed: the master reads the end of the socket as this run gone.
      if (req.op === 'exec' && req.stdin) {
        feedStdin(stdinFrames(sock), options.stdin, count).catch((e: Error) => {
          stdinError = e;
          sock.destroy();
        });
      }
    });
    sock.on('data', frameReader((type, payload) => {
      if (type === 'o') {
        out.push(payload);
        options.onStdout?.(payload);
      } else if (type === 'e') {
        err.push(payload);
        options.onStderr?.(payload);
      } else if (type === 'r') {
        result = JSON.parse(payload.toString('utf8')) as MasterResult;
        if (req.op === 'connect') settle();
        else sock.end();
      }
    }));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (!connected) reject(Object.assign(new ConnectError(host, `cannot reach the control master at ${socket}: ${e.code ?? e.message}`), { code: e.code }));
    });
    sock.on('close', () => {
      // Aborted before the socket connected too: it closes without an error.
      if (aborted || (connected && (req.op !== 'connect' || result === undefined))) settle();
    });
  });
}

/** True when `e` says nobody listens at the socket (absent, stale, or a dead master's link). */
function noMaster(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK';
}

/**
 * A connection held by the control master: `exec` asks the master at `socket` (the
 * master that answered the connect) for a channel. `close` ends the run's lease and
 * leaves the SSH connection to the master (it ends after the idle time). `pty`/`sftp`
 * use a direct connection.
 */
export class MasterConnection implements Connection {
  #bytesSent = 0;
  #direct: Promise<Connection> | undefined;
  #leaseOpen = true;

  constructor(
    readonly host: string,
    private readonly socket: string,
    private readonly key: string,
    /** The master's id of the SSH connection leased (execs name it: never another one). */
    private readonly id: number,
    /** Open while this run uses the connection: the master keeps it that long. */
    private readonly lease: net.Socket,
    private readonly direct: () => Promise<Connection>,
  ) {
    lease.on('error', () => {});
    // The master ends a lease when it lost the connection (or exits).
    lease.on('end', () => lease.destroy());
    lease.on('close', () => (this.#leaseOpen = false));
  }

  /** False once the master went away (its lease closed). */
  get alive(): boolean {
    return this.#leaseOpen;
  }

  get bytesSent(): number {
    return this.#bytesSent;
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const req: MasterRequest = {
      v: 1, op: 'exec', key: this.key, id: this.id, host: this.host, command, stdin: options.stdin !== undefined,
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options.spare === true && options.timeoutMs === undefined && { spare: true }),
    };
    const { result, stdout, stderr } = await request(this.socket, this.host, req, options, (n) => (this.#bytesSent += n));
    const r: ExecResult = { code: result.code ?? null, stdout, stderr };
    if (result.signal) r.signal = result.signal;
    return r;
  }

  async pty(options: PtyOptions): Promise<PtySession> {
    const c = await (this.#direct ??= this.direct());
    if (!c.pty) throw new ConnectError(this.host, 'no terminal sessions on this transport');
    return c.pty(options);
  }

  async sftp(): Promise<RemoteFiles> {
    const c = await (this.#direct ??= this.direct());
    if (!c.sftp) throw new ConnectError(this.host, 'no SFTP on this transport');
    return c.sftp();
  }

  async close(): Promise<void> {
    this.lease.destroy();
    const d = this.#direct;
    this.#direct = undefined;
    if (d) await d.then((c) => c.close(), () => undefined);
  }
}

/**
 * Connects `host` through the control master of `env` (starting one when none listens;
 * `started` memoises that per transport, so one run starts at most one).
 * @throws ConnectError as a direct connect would (the master's message), or naming the
 *   control folder when it is unsafe.
 */
export async function connectViaMaster(host: PlanHost, options: ConnectOptions, env: NodeJS.ProcessEnv, persist: number, started: { p?: Promise<void> }, direct: () => Promise<Connection>): Promise<Connection> {
  let dir: string;
  try {
    dir = controlDir(env);
    await ensureControlDir(dir);
  } catch (e) {
    throw new ConnectError(host.name, (e as Error).message);
  }
  const { key, spec } = masterSpec(host, options, env);
  const link = path.join(dir, 'master.sock');
  const ask = async (): Promise<{ socket: string; id: number; lease: net.Socket }> => {
    const { result, lease } = await request(link, host.name, { v: 1, op: 'connect', key, spec });
    // The master answers with its own socket's name (in `dir`): later execs go there.
    return { socket: result.socket !== undefined && /^\d+\.sock$/.test(result.socket) ? path.join(dir, result.socket) : link, id: result.id ?? 0, lease };
  };
  let got: { socket: string; id: number; lease: net.Socket };
  try {
    got = await ask();
  } catch (e) {
    if (!noMaster(e)) throw e;
    if (!started.p) {
      const p = startMaster(dir, persist, env);
      started.p = p;
      p.catch(() => {
        if (started.p === p) started.p = undefined;
      });
    }
    try {
      await started.p;
    } catch (e2) {
      throw new ConnectError(host.name, (e2 as Error).message);
    }
    got = await ask();
  }
  return new MasterConnection(host.name, got.socket, key, got.id, got.lease, direct);
}

/** The name `master.sock` points to, or undefined (for the master's own exit). */
export async function masterLink(dir: string): Promise<string | undefined> {
  try {
    return await readlink(path.join(dir, 'master.sock'));
  } catch {
    return undefined;
  }
}
