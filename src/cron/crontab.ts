/**
 * Reading and writing the current user's crontab through the `crontab` program
 * (crontab(1): `crontab -l` prints it, `crontab -` installs stdin), never by touching
 * `/var/spool/cron` directly, so cron's own checks and permissions (cron.allow) apply.
 * The program path is a parameter so tests can point it at a shim.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { OrchError } from '../model/errors.js';

/** The error message when no `crontab` program is on PATH. */
export const CRONTAB_MISSING = 'crontab not found: install cron (Debian: apt-get install cron)';

/**
 * Finds the `crontab` executable on `pathVar` (a `PATH` value, `:`-separated).
 * @returns its absolute path.
 * @throws OrchError `crontab not found: install cron (Debian: apt-get install cron)`.
 */
export function findCrontab(pathVar: string | undefined): string {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'crontab');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new OrchError(CRONTAB_MISSING);
}

function runCrontab(program: string, args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new OrchError(CRONTAB_MISSING) : new OrchError(`cannot run ${program}: ${e.message}`)));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.on('error', () => undefined); // EPIPE when crontab exits early; its stderr tells why
    p.stdin.end(stdin ?? '');
  });
}

/**
 * The current user's crontab text (`crontab -l`); `''` when the user has none
 * (`no crontab for USER` on stderr).
 * @throws OrchError with crontab's stderr on any other failure (e.g. not allowed to use cron).
 */
export async function readCrontab(program: string): Promise<string> {
  const r = await runCrontab(program, ['-l']);
  if (r.code === 0) return r.stdout;
  if (/^no crontab for /m.test(r.stderr)) return '';
  throw new OrchError(`${program} -l failed (exit ${r.code ?? 'signal'}): ${r.stderr.trim()}`);
}

/**
 * Installs `text` as the current user's crontab (`crontab -` reading stdin), replacing it whole.
 * @throws OrchError with crontab's stderr when it refuses (syntax errors, not allowed).
 */
export async function writeCrontab(program: string, text: string): Promise<void> {
  const r = await runCrontab(program, ['-'], text);
  if (r.code !== 0) throw new OrchError(`${program} - failed (exit ${r.code ?? 'signal'}): ${r.stderr.trim()}`);
}
