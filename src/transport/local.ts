/**
 * The local transport: runs commands on this machine through `bash -c`, no SSH
 * (inventory `transport: local`, docs/reference/inventory.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';
import { ConnectError, RemoteCommandError } from '../model/errors.js';
import type { PlanHost } from '../model/plan.js';
import type { ConnectOptions, Connection, ExecOptions, ExecResult, Transport } from './transport.js';

/** Last `maxLines` lines of a buffer, as text (for error messages). */
export function tailLines(buf: Buffer, maxLines = 5): string {
  const lines = buf.toString('utf8').trimEnd().split('\n');
  return lines.slice(-maxLines).join('\n');
}

/**
 * Feeds `stdin` (Buffer or stream) into `sink`, ending it; counts bytes into `count`.
 * Resolves when everything was handed to the sink; rejects when the source stream errors.
 * A sink error (EPIPE: the command exited without reading) is ignored, as bash does.
 */
export function feedStdin(sink: NodeJS.WritableStream & { on(ev: 'error', l: (e: Error) => void): unknown }, stdin: Buffer | Readable | undefined, count: (n: number) => void): Promise<void> {
  sink.on('error', () => {});
  if (stdin === undefined) {
    sink.end();
    return Promise.resolve();
  }
  if (Buffer.isBuffer(stdin)) {
    count(stdin.length);
    sink.end(stdin);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    stdin.on('data', (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      count(b.length);
      if (!sink.write(b)) {
        stdin.pause();
        sink.once('drain', () => stdin.resume());
      }
    });
    stdin.once('end', () => {
      sink.end();
      resolve();
    });
    stdin.once('error', (e) => {
      sink.end();
      reject(e);
    });
  });
}

/**
 * A connection to this machine. `exec` spawns `bash -c COMMAND` in its own process
 * group (detached), pipes stdin, and resolves after the process closed its stdio.
 * `timeoutMs` kills the whole process group (SIGKILL) and rejects with
 * `RemoteCommandError(host, "timed out after N ms", null, stderrTail)`.
 * A failure to spawn bash rejects with ConnectError.
 */
export class LocalConnection implements Connection {
  #bytesSent = 0;
  #running = new Set<ChildProcess>();
  #closed = false;

  constructor(
    readonly host: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get bytesSent(): number {
    return this.#bytesSent;
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.#closed) return Promise.reject(new ConnectError(this.host, 'connection is closed'));
    return new Promise<ExecResult>((resolve, reject) => {
      const child = spawn('bash', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: this.env });
      this.#running.add(child);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      let stdinError: Error | undefined;
      let timer: NodeJS.Timeout | undefined;
      const killGroup = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          timedOut = true;
          killGroup();
        }, options.timeoutMs);
      }
      child.stdout!.on('data', (c: Buffer) => {
        out.push(c);
        options.onStdout?.(c);
      });
      child.stderr!.on('data', (c: Buffer) => {
        err.push(c);
        options.onStderr?.(c);
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        this.#running.delete(child);
        reject(new ConnectError(this.host, `cannot run bash: ${e.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        this.#running.delete(child);
        const stderr = Buffer.concat(err);
        if (timedOut) {
          reject(new RemoteCommandError(this.host, `timed out after ${options.timeoutMs} ms`, null, tailLines(stderr)));
          return;
        }
        if (stdinError) {
          reject(new RemoteCommandError(this.host, `stdin stream failed: ${stdinError.message}`, code, tailLines(stderr)));
          return;
        }
        const result: ExecResult = { code, stdout: Buffer.concat(out), stderr };
        if (signal) result.signal = signal;
        resolve(result);
      });
      feedStdin(child.stdin!, options.stdin, (n) => (this.#bytesSent += n)).catch((e: Error) => {
        stdinError = e;
        killGroup();
      });
    });
  }

  /**
   * Gives commands still running up to `graceMs` (default 1500) to end by themselves
   * (an agent told goodbye removes its scratch folder, then exits), then kills the
   * process groups of those left, and resolves.
   */
  async close(graceMs = 1500): Promise<void> {
    this.#closed = true;
    const left = [...this.#running];
    if (left.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(left.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r))))),
        new Promise((r) => (timer = setTimeout(r, graceMs))),
      ]);
      clearTimeout(timer);
    }
    for (const c of this.#running) {
      if (c.pid !== undefined) {
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
}

/** Transport for `transport: local` hosts. `options.env` (default process.env) is the commands' environment. */
export class LocalTransport implements Transport {
  async connect(host: PlanHost, options: ConnectOptions): Promise<Connection> {
    return new LocalConnection(host.name, options.env ?? process.env);
  }
}
