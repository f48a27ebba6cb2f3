/**
 * The control masters (ORCH_SSH_PERSIST, src/transport/control-master.ts) that runs with
 * a given HOME started: each listens on `<pid>.sock` in `HOME/.cache/orch/cm`. For tests
 * and the bench, which stop the masters they started.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

/** The control master folder of runs whose HOME is `home` (no XDG_RUNTIME_DIR). */
export const controlDirOf = (home: string): string => path.join(home, '.cache', 'orch', 'cm');

/** Pids named by the `<pid>.sock` sockets in `home`'s control folder. */
export function controlMasterPids(home: string): number[] {
  let names: string[] = [];
  try {
    names = readdirSync(controlDirOf(home));
  } catch {
    return [];
  }
  return names.map((n) => /^(\d+)\.sock$/.exec(n)?.[1]).filter((p): p is string => p !== undefined).map(Number);
}

/** True while process `pid` exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to each live master of `home`, then waits up to 2 s (40 × 50 ms) for them to exit. */
export async function stopControlMasters(home: string): Promise<void> {
  const pids = controlMasterPids(home);
  for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 40 && pids.some(pidAlive); i++) await new Promise((r) => setTimeout(r, 50));
}
