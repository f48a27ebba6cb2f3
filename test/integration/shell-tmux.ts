/**
 * A real terminal for integration tests: a private tmux server (`tmux -L NAME`) running
 * one command in a pane; keys are sent with `send-keys`, the screen read with
 * `capture-pane`. Only the server this helper started is killed.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function canRunTmux(): boolean {
  return spawnSync('tmux', ['-V']).status === 0;
}

export interface Tmux {
  /** Types text literally (no Enter). */
  type(text: string): void;
  /** Sends named keys: `Enter`, `Tab`, `C-c`, `C-d`. */
  keys(...names: string[]): void;
  /** Types a line and Enter. */
  line(text: string): void;
  /** The pane's text, with scrollback. */
  screen(): string;
  /** Waits until the screen matches `re` (polls every 50 ms); throws with the screen after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** Resizes the terminal (characters). */
  resize(cols: number, rows: number): void;
  /** True while the pane's command runs. */
  alive(): boolean;
  kill(): void;
}

/** Starts `command` (argv) in a fresh tmux server, with `env` and cwd `dir` (a script in `dir` holds them). */
export function startTmux(dir: string, name: string, argv: string[], env: Record<string, string>): Tmux {
  const socket = `orch-${name}-${process.pid}`;
  const script = join(dir, `${name}.sh`);
  const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
  writeFileSync(script, [
    '#!/bin/bash',
    `cd ${q(dir)}`,
    ...Object.entries(env).map(([k, v]) => `export ${k}=${q(v)}`),
    `${argv.map(q).join(' ')}`,
    'echo "[exit $?]"',
    'sleep 600',
    '',
  ].join('\n'), { mode: 0o755 });
  const tmux = (...args: string[]): string => {
    const r = spawnSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  tmux('new-session', '-d', '-s', 't', '-x', '160', '-y', '50', script);
  const t: Tmux = {
    type: (text) => void tmux('send-keys', '-t', 't', '-l', text),
    keys: (...names) => void tmux('send-keys', '-t', 't', ...names),
    line: (text) => {
      t.type(text);
      t.keys('Enter');
    },
    screen: () => tmux('capture-pane', '-p', '-t', 't', '-S', '-2000'),
    async waitFor(re, ms = 20_000) {
      const end = Date.now() + ms;
      for (;;) {
        const s = t.screen();
        if (re.test(s)) return s;
        if (Date.now() > end) throw new Error(`timed out waiting for ${re}; screen:\n${s}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    resize: (cols, rows) => void tmux('resize-window', '-t', 't', '-x', String(cols), '-y', String(rows)),
    alive: () => spawnSync('tmux', ['-L', socket, 'has-session', '-t', 't']).status === 0,
    kill: () => void spawnSync('tmux', ['-L', socket, 'kill-server']),
  };
  return t;
}
