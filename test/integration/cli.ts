/** Runs the built CLI (`bin/orch.js`) as a subprocess, as a user would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ORCH = fileURLToPath(new URL('../../bin/orch.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A CLI run in the background: `child` to signal it, `done` for its result. */
export interface BackgroundRun {
  child: ChildProcess;
  done: Promise<CliResult>;
}

/** Starts `orch ARGS` with `env` added to a minimal environment (HOME must be given), without waiting. */
export function startOrch(args: string[], env: Record<string, string>, opts: { cwd?: string } = {}): BackgroundRun {
  const t0 = Date.now();
  const child = spawn(process.execPath, [ORCH, ...args], {
    cwd: opts.cwd ?? process.cwd(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
  });
  return { child, done };
}

/** Runs `orch ARGS` to the end (killed after `timeoutMs`, default 120 s). */
export async function orch(args: string[], env: Record<string, string>, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const run = startOrch(args, env, opts);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  try {
    return await run.done;
  } finally {
    clearTimeout(timer);
  }
}

/** A scratch folder with `home/` and `cache/`; `env` is what `orch()` needs. */
export interface Work {
  dir: string;
  env: Record<string, string>;
}

/** Creates a fresh work dir under the OS temp dir (not inside a test host's view). */
export function makeWork(prefix: string): Work {
  const dir = mkdtempSync(join(tmpdir(), `orch-${prefix}-`));
  const env = { HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'cache') };
  mkdirSync(env.HOME, { recursive: true });
  return { dir, env };
}

/** Parses JSON Lines output; returns the `summary` event. */
export function summaryOf(stdout: string): { hosts: { host: string; status: string; changedSteps: string[]; error?: string }[]; changed: number; failed: number; unreachable: number; bytesUploaded: number } {
  const lines = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string });
  const s = lines.find((l) => l.type === 'summary');
  if (!s) throw new Error(`no summary in output:\n${stdout}`);
  return s as never;
}
