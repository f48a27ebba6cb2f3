/**
 * Attaches this process's terminal to a remote pty session (`orch ssh`, `connect` in
 * `orch shell`): raw mode, bytes both ways, window size kept in sync on SIGWINCH
 * (OpenSSH's `ssh -t`). The caller must not have a readline interface on stdin meanwhile.
 */
import { spawn } from 'node:child_process';
import type { Connection, PtySession } from '../../transport/transport.js';
import { OrchError } from '../../model/errors.js';

/** Terminal streams (process.stdin/stdout in the CLI). */
export interface TerminalIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

/**
 * Opens a pty on `conn` (the login shell, or `command`) and attaches the terminal until
 * the remote side exits. Resolves with the remote exit status (null: killed or lost).
 * @throws OrchError when the connection's transport has no pty (local hosts).
 */
export async function attachPty(conn: Connection, io: TerminalIo, command?: string): Promise<number | null> {
  if (!conn.pty) throw new OrchError(`${conn.host}: this host's transport has no terminal sessions (local hosts: use your own shell)`);
  const session: PtySession = await conn.pty({
    term: process.env.TERM ?? 'xterm-256color',
    rows: io.stdout.rows ?? 24,
    cols: io.stdout.columns ?? 80,
    ...(command !== undefined && { command }),
  });
  const { stdin, stdout } = io;
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  if (stdin.isTTY) stdin.setRawMode(true);
  const onData = (d: Buffer): void => void session.stream.write(d);
  const onOut = (d: Buffer): void => void stdout.write(d);
  const onResize = (): void => session.resize(stdout.rows ?? 24, stdout.columns ?? 80);
  stdin.on('data', onData);
  stdin.resume();
  session.stream.on('data', onOut);
  (session.stream as unknown as { stderr?: NodeJS.ReadableStream }).stderr?.on('data', onOut);
  stdout.on('resize', onResize);
  try {
    return await session.exited;
  } finally {
    stdin.off('data', onData);
    stdout.off('resize', onResize);
    session.stream.off('data', onOut);
    if (stdin.isTTY) stdin.setRawMode(wasRaw);
    stdin.pause();
  }
}

/**
 * `connect` / `orch ssh` for a `transport: local` host: the user's login shell (`$SHELL`,
 * else bash) or `bash -c COMMAND` on this machine, on this terminal. Resolves with its exit status.
 */
export function runLocalShell(command?: string): Promise<number | null> {
  const [cmd, args] = command === undefined ? [process.env.SHELL || 'bash', ['-l']] : ['bash', ['-c', command]];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit' });
    child.on('error', () => resolve(null));
    child.on('close', (code) => resolve(code));
  });
}
