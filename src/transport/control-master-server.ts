/**
 * The control master (`ORCH_SSH_PERSIST`, ./control-master.ts has the protocol and the
 * client), run by `node build/cli/control-master-main.js DIR SECONDS`, which the first run
 * that finds none starts detached. It listens on `DIR/<pid>.sock`, points `DIR/master.sock` at it (a
 * symlink renamed into place, so a run never sees a half-made link), and then serves
 * requests:
 *
 * - `connect`: opens (or reuses) the SSH connection of the request's key through
 *   SshTransport, which verifies the host key and authenticates as a direct run does;
 *   the request's socket then stays open as the run's lease on that connection;
 * - `exec`: runs a command on the connection the run leased (named by its id; never
 *   another one: a lost connection fails the exec with `connection lost`, as it does
 *   without a master, and ends its leases). An exec marked `spare` (a command that reads
 *   its stdin before it does anything: orch's agent bootstrap) gets the one of that
 *   command started ahead on the connection, when there is one, and when it ends the
 *   next one is started: the next run's agent then skips the session's start on the host
 *   (sshd's fork and the shells' execs). A spare waits for its stdin, doing nothing; it
 *   ends with its connection. It takes one of the connection's session channels (sshd's
 *   MaxSessions, default 10) while it waits, and its login session is as old as the
 *   spare (up to the idle time): what sshd or PAM set at login is from then.
 *
 * A connection unused for SECONDS (no lease, no exec running) is closed; the master exits
 * when it holds none and no request came for SECONDS, removing its socket (and `master.sock`
 * when that still points at it). Its entry (src/cli/control-master-main.ts) prints `ready`
 * once it listens and writes its messages to stderr (`DIR/master.log`).
 */
import { rename, symlink, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { ConnectError } from '../model/errors.js';
import { errorResult, frame, frameReader, masterLink, type MasterRequest, type MasterResult } from './control-master.js';
import { SshTransport } from './ssh.js';
import type { Connection, ExecResult } from './transport.js';

/** Longest request line accepted, bytes (a spec with its jump hosts is a few KiB). */
const MAX_HEADER = 1 << 20;

/** Milliseconds after a `spare` exec ends before the next one starts on its connection. */
const SPARE_DELAY_MS = 300;

interface Held {
  /** This master's number for the connection (a lease's execs name it). */
  id: number;
  conn: Promise<Connection>;
  /** Execs running on it. */
  busy: number;
  /** Runs holding it (their `connect` sockets, open until the run closes it). */
  leases: Set<net.Socket>;
  /** The connection once up (to see in `tick` that it was lost). */
  up?: Connection;
  /** Date.now() of its last use. */
  used: number;
  /** Commands started ahead (`spare` execs), by command; at most one each. */
  spares: Map<string, Spare>;
}

/** An exec started ahead: its output is kept until a run claims it (`sink`). */
interface Spare {
  stdin: PassThrough;
  abort: AbortController;
  kept: [type: 'o' | 'e', chunk: Buffer][];
  sink?: (type: 'o' | 'e', chunk: Buffer) => void;
  done: Promise<ExecResult>;
  ended: boolean;
}

/** A listening control master: `stopped` resolves (with why) once it has closed everything. */
export interface ControlMaster {
  stopped: Promise<string>;
  /** Stops it now (SIGTERM): closes its connections and removes its sockets. */
  stop(why: string): Promise<void>;
}

/**
 * Listens on `dir` and serves requests until idle for `persist` seconds (see the module
 * comment); resolves once it listens and `master.sock` points to it. Messages go to `log`.
 */
export async function serveControlMaster(dir: string, persist: number, log: (line: string) => void): Promise<ControlMaster> {
  const transport = new SshTransport();
  const held = new Map<string, Held>();
  let active = 0;
  let lastRequest = Date.now();
  const own = `${process.pid}.sock`;
  const socketPath = path.join(dir, own);

  let ids = 0;
  /** Forgets a lost connection: its leases end, so each run holding it sees it dead. */
  const drop = (key: string, h: Held): void => {
    if (held.get(key) === h) held.delete(key);
    for (const l of h.leases) l.destroy();
    void h.conn.then((c) => c.close(), () => undefined);
  };
  const connectionFor = (key: string, req: Extract<MasterRequest, { op: 'connect' }>): Promise<Held> => {
    const h = held.get(key);
    if (h) return h.conn.then((c) => {
      if (c.alive !== false) return h;
      drop(key, h);
      return connectionFor(key, req);
    });
    const { host, hosts, options, env } = req.spec;
    const conn = transport.connect(host, { ...options, hosts: { ...hosts, [host.name]: host }, env: { ...env, PATH: process.env.PATH } });
    const entry: Held = { id: ++ids, conn, busy: 0, leases: new Set(), used: Date.now(), spares: new Map() };
    held.set(key, entry);
    return conn.then(
      (c) => {
        entry.up = c;
        return entry;
      },
      (e: unknown) => {
        if (held.get(key) === entry) held.delete(key);
        throw e;
      },
    );
  };

  /** Starts a spare of `command` on `h` (none when one is there or the connection is gone). */
  const startSpare = (h: Held, command: string): void => {
    if (h.spares.has(command) || !h.up || h.up.alive === false || [...held.values()].every((x) => x !== h)) return;
    const s: Spare = { stdin: new PassThrough(), abort: new AbortController(), kept: [], ended: false, done: undefined as unknown as Promise<ExecResult> };
    const out = (type: 'o' | 'e') => (chunk: Buffer): void => void (s.sink ? s.sink(type, chunk) : s.kept.push([type, chunk]));
    s.done = h.up.exec(command, { stdin: s.stdin, signal: s.abort.signal, onStdout: out('o'), onStderr: out('e') });
    const over = (): void => {
      s.ended = true;
      if (h.spares.get(command) === s) h.spares.delete(command);
    };
    s.done.then(over, over);
    h.spares.set(command, s);
  };
  /** Takes `h`'s live spare of `command`, or undefined. */
  const claimSpare = (h: Held, command: string): Spare | undefined => {
    const s = h.spares.get(command);
    if (!s) return undefined;
    h.spares.delete(command);
    return s.ended ? undefined : s;
  };

  const serve = (sock: net.Socket): void => {
    active++;
    lastRequest = Date.now();
    let head = Buffer.alloc(0);
    let req: MasterRequest | undefined;
    let stdin: PassThrough | undefined;
    let finished = false;
    const abort = new AbortController();
    const reply = (r: MasterResult): void => {
      finished = true;
      if (!sock.destroyed) sock.end(frame('r', Buffer.from(JSON.stringify(r))));
    };
    sock.on('error', () => {});
    sock.on('close', () => {
      active--;
      lastRequest = Date.now();
      // The client went away first: the remote command is cut off, as on a dropped connection.
      if (!finished) abort.abort();
      stdin?.end();
    });
    // After the request line: `d` stdin frames and `E` (control-master.ts `stdinFrames`).
    const onFrame = frameReader((type, payload) => {
      if (type === 'd' && stdin) {
        if (!stdin.write(payload)) {
          sock.pause();
          stdin.once('drain', () => sock.resume());
        }
      } else if (type === 'E') stdin?.end();
    });
    const onData = (chunk: Buffer): void => {
      if (req) return onFrame(chunk);
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > MAX_HEADER) sock.destroy();
        return;
      }
      try {
        req = JSON.parse(head.subarray(0, nl).toString('utf8')) as MasterRequest;
      } catch {
        sock.destroy();
        return;
      }
      if (req.op === 'exec' && req.stdin) stdin = new PassThrough();
      start(req);
      const rest = head.subarray(nl + 1);
      if (rest.length) onFrame(rest);
    };
    sock.on('data', onData);
    // The client never half-closes: the end of its socket is the client gone (a lease ended).
    sock.on('end', () => sock.destroy());

    const start = (r: MasterRequest): void => {
      if (r.v !== 1) return reply({ ok: false, error: { kind: 'other', message: `control master ${process.pid} speaks protocol 1, not ${String(r.v)}` } });
      if (r.op === 'connect') {
        connectionFor(r.key, r).then(
          (h) => {
            // The socket stays open as the run's lease: the connection is kept while it is.
            if (sock.destroyed) return;
            if (held.get(r.key) !== h) return reply(errorResult(r.spec.host.name, new ConnectError(r.spec.host.name, 'connection lost while connecting')));
            finished = true;
            h.leases.add(sock);
            h.used = Date.now();
            sock.once('close', () => {
              h.leases.delete(sock);
              h.used = Date.now();
            });
            sock.write(frame('r', Buffer.from(JSON.stringify({ ok: true, socket: own, id: h.id } satisfies MasterResult))));
          },
          (e: unknown) => reply(errorResult(r.spec.host.name, e)),
        );
        return;
      }
      const h = held.get(r.key);
      if (!h || h.id !== r.id) return reply(errorResult(r.host, new ConnectError(r.host, 'connection lost (the control master no longer holds it)')));
      h.busy++;
      h.used = Date.now();
      const send = (type: 'o' | 'e', c: Buffer): void => void (!sock.destroyed && sock.write(frame(type, c)));
      const spare = r.spare === true && r.timeoutMs === undefined ? claimSpare(h, r.command) : undefined;
      let run: Promise<ExecResult>;
      if (spare) {
        // The spare's output so far (none, for a command that waits for its stdin), then live.
        for (const [type, c] of spare.kept) send(type, c);
        spare.kept = [];
        spare.sink = send;
        if (abort.signal.aborted) spare.abort.abort();
        else abort.signal.addEventListener('abort', () => spare.abort.abort(), { once: true });
        if (stdin) stdin.pipe(spare.stdin);
        else spare.stdin.end();
        run = spare.done;
      } else {
        run = h.conn.then((c) => c.exec(r.command, {
          ...(stdin && { stdin }),
          ...(r.timeoutMs !== undefined && { timeoutMs: r.timeoutMs }),
          signal: abort.signal,
          onStdout: (c) => send('o', c),
          onStderr: (c) => send('e', c),
        }));
      }
      run
        .then(
          (res) => reply({ ok: true, code: res.code, ...(res.signal && { signal: res.signal }) }),
          (e: unknown) => reply(errorResult(r.host, e)),
        )
        .finally(() => {
          h.busy--;
          h.used = Date.now();
          // The next run's one, started once this run has had time to end (not while it
          // still closes: its last round trips would wait for the new session's start).
          if (r.spare === true) setTimeout(() => startSpare(h, r.command), SPARE_DELAY_MS).unref();
        });
    };
  };

  const server = net.createServer({ allowHalfOpen: true }, serve);
  // A socket of a killed master whose pid this process now has.
  await unlink(socketPath).catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  const tmp = path.join(dir, `.master.${process.pid}`);
  await unlink(tmp).catch(() => undefined);
  await symlink(own, tmp);
  await rename(tmp, path.join(dir, 'master.sock'));
  log(`listening on ${socketPath}, idle ${persist} s`);

  let stopped: (why: string) => void = () => {};
  const done = new Promise<string>((resolve) => (stopped = resolve));
  let stopping: Promise<void> | undefined;
  const exit = (why: string): Promise<void> => (stopping ??= (async () => {
    clearInterval(tick);
    log(`exiting: ${why}`);
    server.close();
    await Promise.all([...held.values()].map((h) => h.conn.then((c) => c.close(), () => undefined)));
    if ((await masterLink(dir)) === own) await unlink(path.join(dir, 'master.sock')).catch(() => undefined);
    await unlink(socketPath).catch(() => undefined);
    stopped(why);
  })());
  const tick = setInterval(() => {
    const t = Date.now();
    for (const [key, h] of held) {
      // A lost connection (host gone, keepalive timeout): its runs' leases end, so each
      // sees its connection dead and the next connect opens a new one.
      if (h.up?.alive === false) {
        drop(key, h);
        continue;
      }
      // Still connecting (a slow handshake, a jump host): not idle.
      if (!h.up || h.busy > 0 || h.leases.size > 0 || t - h.used < persist * 1000) continue;
      held.delete(key);
      void h.conn.then((c) => c.close(), () => undefined);
    }
    if (held.size === 0 && active === 0 && t - lastRequest >= persist * 1000) void exit(`idle for ${persist} s`);
  }, Math.min(1000, persist * 250));
  return { stopped: done, stop: exit };
}
