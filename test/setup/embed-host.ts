/** Vitest global setup: re-embeds src/host/*.sh so tests never run stale host scripts. */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, [new URL('../../scripts/embed-host.mjs', import.meta.url).pathname], { stdio: 'inherit' });
}
