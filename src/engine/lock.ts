/**
 * Host locks: two runs never act on the same host at once. The lock is a `flock` held
 * by a shell in a session of the run's own connection for the whole run, so the kernel
 * frees it when that session ends for any reason (orch exits, is SIGKILLed, the network
 * drops): no stale lock files, no check-then-write race (the bug class Capistrano's and
 * Deployer's lock files have).
 */
import { PassThrough } from 'node:stream';
import { quote } from '../shell/quote.js';
import type { Connection, ExecResult } from '../transport/transport.js';

/** Exit code of the lock script when another run holds the lock. */
export const LOCKED_EXIT = 75;

/**
 * The remote script: opens `~/.orch/lock`, waits up to `waitSeconds` for the flock,
 * records who holds it (`USER@HOST pid N since T`), prints `::orch:: locked`, then holds
 * the lock until its stdin closes.
 */
export function lockScript(waitSeconds: number, holder: string, then = ''): string {
  const wait = waitSeconds > 0 ? `-w ${Math.ceil(waitSeconds)}` : '-n';
  return [
    'set -u',
    'command -v flock >/dev/null || { echo "flock not found on the host (util-linux)" >&2; exit 70; }',
    'mkdir -p -- "$HOME/.orch" || exit 70',
    'exec 9>>"$HOME/.orch/lock"',
    `if ! flock ${wait} 9; then`,
    '  info=$(cat -- "$HOME/.orch/lock.info" 2>/dev/null || true)',
    '  printf \'locked by %s\\n\' "${info:-another orch run}" >&2',
    `  exit ${LOCKED_EXIT}`,
    'fi',
    `printf '%s\\n' ${quote(holder)} > "$HOME/.orch/lock.info.tmp.$$" && mv -f -- "$HOME/.orch/lock.info.tmp.$$" "$HOME/.orch/lock.info"`,
    'echo "::orch:: locked"',
    // Facts are read under the lock, in the same round trip (no stale reads, no extra exec).
    ...(then ? [`( ${then} )`, 'echo "::orch:: end"'] : []),
    'cat >/dev/null',
    '',
  ].join('\n');
}

/** A held lock; `release` ends the holding session (without waiting for it). `output`: what `then` printed. */
export interface HeldLock {
  release(): Promise<void>;
  output: string;
}

/**
 * Takes the host lock through `conn`. Resolves once held; rejects with an Error whose
 * message is `locked by USER@HOST pid N since T` when another run holds it past the wait.
 */
export function acquireLock(conn: Connection, waitSeconds: number, holder: string, then = ''): Promise<HeldLock> {
  const hold = new PassThrough();
  return new Promise<HeldLock>((resolve, reject) => {
    let locked = false;
    let seen = '';
    const marker = then ? '::orch:: end\n' : '::orch:: locked\n';
    const done: Promise<ExecResult> = conn.exec(`bash -c ${quote(lockScript(waitSeconds, holder, then))}`, {
      stdin: hold,
      onStdout: (chunk) => {
        if (locked) return;
        seen += chunk.toString('utf8');
        const end = seen.indexOf(marker);
        if (end >= 0) {
          locked = true;
          const start = seen.indexOf('::orch:: locked\n') + '::orch:: locked\n'.length;
          resolve({
            output: then ? seen.slice(start, end) : '',
            // Ending stdin lets the holder exit; the run closes the connection right after,
            // which ends the session (and so the flock) too: no round trip is waited for.
            release: async () => {
              hold.end();
              done.catch(() => undefined);
            },
          });
        }
      },
    });
    done.then(
      (res) => {
        if (locked) return;
        hold.end();
        const msg = res.stderr.toString('utf8').trim();
        reject(new Error(res.code === LOCKED_EXIT ? msg : `could not take the host lock (exit ${res.code}): ${msg}`));
      },
      (err: unknown) => {
        if (!locked) {
          hold.end();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      },
    );
  });
}
