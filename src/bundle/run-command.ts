/**
 * Runs a build tool (python, pip, npm, node) as a child process, streaming its output
 * lines to the build log and keeping the tail for error messages.
 * Source: platter's `Builder.execute` (log every line, fail with the command's output).
 */
import { spawn } from 'node:child_process';
import { BundleError } from './bundle-error.js';

/** Result of {@link runCommand}: complete stdout text (stderr only reaches the log and errors). */
export interface CommandResult {
  stdout: string;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** Each output line (stdout and stderr) prefixed with `prefix: `; omitted = silent. */
  log?: (line: string) => void;
  /** Log prefix, e.g. `python` or `npm`. */
  prefix: string;
  /** Keep stdout out of the log (it is parsed by the caller). */
  quietStdout?: boolean;
}

/** How many trailing output lines a failure message quotes. */
export const ERROR_TAIL_LINES = 15;

/**
 * Spawns `argv[0]` with `argv.slice(1)` (no shell), stdin closed.
 * @returns stdout as text.
 * @throws BundleError `<what> failed with exit code N: <last 15 output lines>` when
 *   it exits non-zero or by a signal; `<what>: cannot run <argv0>: <reason>` when it
 *   cannot be started (ENOENT...).
 */
export async function runCommand(what: string, argv: readonly string[], opts: RunCommandOptions): Promise<CommandResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new BundleError(`${what}: empty command`);
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const out: Buffer[] = [];
  const pipe = (stream: NodeJS.ReadableStream, isStdout: boolean): void => {
    let buf = '';
    const emit = (line: string): void => {
      tail.push(line);
      if (tail.length > ERROR_TAIL_LINES) tail.shift();
      if (opts.log && !(isStdout && opts.quietStdout)) opts.log(`${opts.prefix}: ${line}`);
    };
    stream.on('data', (chunk: Buffer) => {
      if (isStdout) out.push(chunk);
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        emit(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    stream.on('end', () => {
      if (buf) emit(buf);
    });
  };
  pipe(child.stdout, true);
  pipe(child.stderr, false);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res, rej) => {
    child.on('error', (err) => rej(new BundleError(`${what}: cannot run ${cmd}: ${err.message}`)));
    child.on('close', (c, s) => res([c, s]));
  });
  if (code !== 0) {
    const why = code === null ? `signal ${signal}` : `exit code ${code}`;
    throw new BundleError(`${what} failed with ${why}${tail.length ? `:\n${tail.join('\n')}` : ''}`);
  }
  return { stdout: Buffer.concat(out).toString('utf8') };
}
