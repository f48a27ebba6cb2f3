/**
 * One live status line for the stages before the plan (bundles, facts) in a terminal:
 * `⠋ Reading the state of 3 hosts: 1 of 3 done`. It is redrawn in place on stderr
 * (carriage return + erase line, truncated to the terminal's width so it never wraps)
 * and erased by `clear()` before the plan is printed, so stages never overlap.
 * Disabled (no output at all) when the stream is not a terminal: CI logs get no
 * spinner frames.
 */

/** The stream a status line draws on. */
export interface StatusStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class StatusLine {
  private text = '';
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;
  private readonly started = Date.now();

  /** `enabled` false (not a terminal, --json): every call is a no-op. */
  constructor(private readonly stream: StatusStream, readonly enabled: boolean = stream.isTTY === true) {}

  /** Shows `text` (replacing the previous one); starts the spinner on first use. */
  set(text: string): void {
    if (!this.enabled) return;
    this.text = text.replace(/\s+/g, ' ');
    if (!this.timer) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
    this.draw();
  }

  private draw(): void {
    this.frame = (this.frame + 1) % FRAMES.length;
    const secs = Math.floor((Date.now() - this.started) / 1000);
    const line = `${FRAMES[this.frame]} ${this.text}${secs >= 2 ? ` (${secs} s)` : ''}`;
    const width = Math.max(10, (this.stream.columns ?? 80) - 1);
    this.stream.write(`\r${[...line].slice(0, width).join('')}\x1b[K`);
    this.drawn = true;
  }

  /** Erases the line and stops the spinner; safe to call more than once. */
  clear(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
