/**
 * Child processes for the benchmark: wall-clock timed, bounded by a timeout, killed as a
 * whole process group (`detached` + `kill(-pid)`) so an `ssh` fan-out or an
 * `ansible-playbook` with its workers never outlives its measurement.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** Result of `runTimed`. */
export interface TimedResult {
  /** Exit code; null when killed by a signal (e.g. the timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Total bytes the child wrote to stdout (also when `stdout` was cut to its tail). */
  stdoutBytes: number;
  /** Wall time from spawn to exit, milliseconds (performance.now, sub-ms resolution). */
  ms: number;
  /** True when the timeout killed the process group. */
  timedOut: boolean;
}

/** Options of `runTimed`. */
export interface RunOptions {
  cwd?: string;
  /** The child's whole environment (nothing is inherited unless passed). */
  env?: NodeJS.ProcessEnv;
  /** Fed to stdin, then closed (default: stdin closed at once). */
  stdin?: string;
  /** SIGKILL to the process group after this many ms (default 300000). */
  timeoutMs?: number;
  /** Send stdout to this file instead of a pipe (stdoutBytes is then 0; stat the file). */
  stdoutFile?: string;
  /** Keep at most this many characters of stdout (the tail); default 4 MiB. */
  maxOutput?: number;
}

/**
 * Runs `cmd args` in its own process group and resolves when it exits; never rejects
 * for a non-zero exit (a spawn failure such as ENOENT resolves with code 127 and the
 * message in stderr).
 */
export function runTimed(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<TimedResult> {
  const max = opts.maxOutput ?? 4 * 1024 * 1024;
  return new Promise((resolve) => {
    const t0 = performance.now();
    let stdout = '';
    let stderr = '';
    let stdoutBytes = 0;
    let timedOut = false;
    let settled = false;
    const outFd = opts.stdoutFile !== undefined ? openSync(opts.stdoutFile, 'w') : undefined;
    const child = spawn(cmd, [...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', outFd ?? 'pipe', 'pipe'],
      detached: true,
    });
    if (outFd !== undefined) closeSync(outFd);
    const keep = (acc: string, chunk: Buffer): string => {
      const s = acc + chunk.toString('utf8');
      return s.length > max ? s.slice(-max) : s;
    };
    child.stdout?.on('data', (c: Buffer) => {
      stdoutBytes += c.length;
      stdout = keep(stdout, c);
    });
    child.stderr!.on('data', (c: Buffer) => (stderr = keep(stderr, c)));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, opts.timeoutMs ?? 300_000);
    const done = (code: number | null, extra = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, stdout, stderr: stderr + extra, stdoutBytes, ms: performance.now() - t0, timedOut });
    };
    child.on('error', (e) => done(127, `${cmd}: ${e.message}`));
    child.on('close', (code) => done(code));
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.stdin ?? '');
  });
}

/** The last `n` lines of `text`, trimmed (for error messages). */
export function tailOf(text: string, n = 6): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/**
 * Milliseconds of quiet before each timed command of an interleaved comparison, so what the
 * command before left running on the hosts (sshd ending its sessions, a control master
 * starting the next run's agent session) is over and every side starts on idle hosts.
 */
export const SETTLE_MS = 500;

/** Waits {@link SETTLE_MS}. */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, SETTLE_MS));
}
