/** Runs the built CLI (`bin/orch.js`) as a subprocess, as a user would. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ORCH = fileURLToPath(new URL('../../bin/orch.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `orch ARGS` with `env` added to a minimal environment (HOME must be given). */
export function orch(args: string[], env: Record<string, string>, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [ORCH, ...args], {
      cwd: opts.cwd ?? process.cwd(),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Parses JSON Lines output; returns the `summary` event. */
export function summaryOf(stdout: string): { hosts: { host: string; status: string; changedSteps: string[]; error?: string }[]; changed: number; failed: number; unreachable: number; bytesUploaded: number } {
  const lines = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string });
  const s = lines.find((l) => l.type === 'summary');
  if (!s) throw new Error(`no summary in output:\n${stdout}`);
  return s as never;
}
