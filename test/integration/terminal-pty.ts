/**
 * A real pseudo-terminal for terminal tests: Debian's `tmux` on a private server socket
 * (`tmux -L orch-test-<pid>-<n>`), one session per command, read with `capture-pane`.
 * Each command runs as `sh -c 'CMD; echo "<<EXIT=$?>>"; sleep 600'` so the pane stays
 * readable after the command ended. `close()` kills only this server.
 */
import { spawnSync } from 'node:child_process';
import { quote } from '../../src/shell/quote.js';

let counter = 0;

/** True when tmux is installed. */
export function haveTmux(): boolean {
  return spawnSync('tmux', ['-V']).status === 0;
}

export class Pty {
  private readonly socket = `orch-test-${process.pid}-${++counter}`;

  /** Starts `argv` (run with `env` in `cwd`) in a `cols` x `rows` terminal. */
  constructor(argv: string[], env: Record<string, string>, opts: { cwd: string; cols?: number; rows?: number }) {
    const envs = Object.entries({ TERM: 'xterm-256color', LANG: 'C.UTF-8', PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
    const cmd = `cd ${quote(opts.cwd)} && env -i ${envs} ${argv.map(quote).join(' ')}; echo "<<EXIT=$?>>"; sleep 600`;
    this.tmux('new-session', '-d', '-s', 'main', '-x', String(opts.cols ?? 120), '-y', String(opts.rows ?? 40), cmd);
  }

  private tmux(...args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args[0]} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** The visible screen, one string per row (trailing spaces cut). `-J` joins wrapped lines. */
  screen(join = false): string[] {
    return this.tmux('capture-pane', '-p', ...(join ? ['-J'] : []), '-S', '-', '-t', 'main').split('\n').map((l) => l.trimEnd());
  }

  /** The screen as one text, without empty rows. */
  text(join = false): string {
    return this.screen(join).filter((l) => l !== '').join('\n');
  }

  /** Waits until `test` holds on the screen text (polls every 100 ms); throws with the screen after `ms`. */
  async waitFor(test: RegExp | ((text: string) => boolean), ms = 60_000): Promise<string> {
    const t0 = Date.now();
    for (;;) {
      const t = this.text();
      if (typeof test === 'function' ? test(t) : test.test(t)) return t;
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${String(test)}; screen:\n${t}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits for the command's end; returns its exit code and the screen. */
  async exit(ms = 120_000): Promise<{ code: number; text: string }> {
    const text = await this.waitFor(/<<EXIT=\d+>>/, ms);
    return { code: Number(/<<EXIT=(\d+)>>/.exec(text)![1]), text: text.replace(/\n?<<EXIT=\d+>>[\s\S]*$/, '') };
  }

  /** Types keys (tmux send-keys names: `y`, `Enter`, `C-c`). */
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'main', ...keys);
  }

  /** Kills this tmux server (and so the command in it). */
  close(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }
}
