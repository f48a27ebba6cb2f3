/**
 * Runs host-side bash (src/host/*.sh, as embedded) under the real bash of this machine,
 * for behaviour tests of the host libraries: `runBash([PRELUDE_SH], 'orch_write "$1" hi', ['/tmp/x'])`.
 */
import { spawnSync } from 'node:child_process';
import { PROTOCOL_SH } from '../../src/host/embedded.generated.js';

export interface BashResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs protocol.sh, then `libs` (concatenated) followed by `body` as one `bash -c` script with `args` as
 * `$1...`, `stdin` on standard input, in `cwd` (default the process's). Never throws
 * for a non-zero exit: the caller asserts it.
 */
export function runBash(libs: string[], body: string, args: string[] = [], opts: { stdin?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): BashResult {
  // protocol.sh (src/host/protocol.ts) goes ahead of the libraries, as in every host script.
  const script = `${PROTOCOL_SH}${libs.join('\n')}\n${body}\n`;
  const r = spawnSync('bash', ['-c', script, 'orch-test', ...args], {
    input: opts.stdin ?? '',
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
