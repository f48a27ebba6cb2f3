/**
 * The control machine's side of the remote agent (src/host/agent.sh): one agent per host
 * and run, started in one session of the run's connection. It takes the host lock, reads
 * the facts (one round trip for both), then runs every segment as its own child; all of
 * the run's work on the host is one process tree under the lock holder, and a
 * dead-man's switch ends it when this side goes quiet (pyinfra and Mitogen keep one
 * long-lived remote shell for the same reason).
 *
 * The framed protocol (agent.sh's header documents both directions): the session's
 * command is a fixed bootstrap that reads the agent's code from stdin (so no script or
 * secret is ever in a command line); then frames `C`, `F`, `S`/`D`, `H`, `X`, `Q`.
 */
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { AGENT_SH, LOCK_SH, PROTOCOL_SH, SEGMENT_SH } from '../host/embedded.generated.js';
import { EXIT, LIMITS, parseLine } from '../host/protocol.js';
import { ConnectError, InternalError, LockedError, RemoteCommandError } from '../model/errors.js';
import { quote } from '../shell/quote.js';
import type { Connection, ExecResult } from '../transport/transport.js';
import { now, span } from './trace.js';

/** Exit code of the agent when another run holds the lock (lock.sh). */
export const LOCKED_EXIT = EXIT.LOCKED;

/** Default seconds without a frame after which the agent stops the run's work on its host. */
export const DEFAULT_GIVE_UP_SECONDS = 30;

/** Seconds between heartbeats (a third of the smallest give-up, at most 5). */
export function heartbeatSeconds(giveUpSeconds: number): number {
  return Math.max(0.5, Math.min(5, giveUpSeconds / 3));
}

/** Seconds the agent waits after TERM before it KILLs what is left. */
export const STOP_GRACE_SECONDS = 1;

/** Largest data frame of a payload, bytes (a frame is one `head -c` on the host). */
export const DATA_FRAME_MAX = LIMITS.DATA_FRAME_BYTES;

/**
 * The session's command: reads a length line and that many bytes of bash (the agent's
 * functions) from stdin and runs them. Constant, so `ps` on the host shows nothing else.
 * The bytes are read by bash's own `read -N` in the C locale (a count of bytes; no `head`
 * process to start; the code holds no NUL).
 */
export const AGENT_BOOTSTRAP = `bash -c ${quote('IFS= read -r n && LC_ALL=C IFS= read -r -N "$n" s && eval "$s"')} orch-agent`;

/**
 * The bash the bootstrap reads from stdin: the host libraries, then the main loop, which
 * waits for the settings frame (and the facts script after it). It depends on nothing of
 * the run, so an agent can start before the plan exists (`HostAgent.launch`).
 */
export function agentCode(): string {
  return `${PROTOCOL_SH}${LOCK_SH}\n${SEGMENT_SH}\n${AGENT_SH}\norch_agent\n`;
}

/**
 * `holder` for the settings frame: one word, every byte but `[A-Za-z0-9@.:_+-]` written
 * `\xHH`, which the agent decodes with bash's `printf '%b'` (no process).
 */
export function holderArg(holder: string): string {
  let out = '';
  for (const b of Buffer.from(holder, 'utf8')) out += /[A-Za-z0-9@.:_+-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/** The code frame an agent reads first (the bootstrap's length line and bash). */
export function agentCodeFrame(): Buffer {
  const code = agentCode();
  return Buffer.from(`${Buffer.byteLength(code)}\n${code}`, 'utf8');
}

/**
 * The settings frame: `C GIVEUP GRACE LOCKWAIT HOLDER FLEN`, then the facts script's FLEN
 * bytes; with `speculated`, FLEN is `=` and no script follows (the agent's speculative
 * facts, read under the lock it keeps, are the run's).
 */
export function agentSettingsFrame(opts: { giveUpSeconds: number; graceSeconds: number; lockWaitSeconds?: number; holder: string; factsScript: string; speculated?: boolean }): Buffer {
  const lockWait = opts.lockWaitSeconds === undefined ? '-' : String(Math.ceil(opts.lockWaitSeconds));
  const facts = opts.speculated ? Buffer.alloc(0) : Buffer.from(opts.factsScript, 'utf8');
  return Buffer.concat([Buffer.from(`C ${opts.giveUpSeconds} ${opts.graceSeconds} ${lockWait} ${holderArg(opts.holder)} ${opts.speculated ? '=' : facts.length}\n`), facts]);
}

/** The first frames an agent reads: the code, then the settings and the facts script. */
export function agentStartFrames(opts: { giveUpSeconds: number; graceSeconds: number; lockWaitSeconds?: number; holder: string; factsScript: string }): Buffer {
  return Buffer.concat([agentCodeFrame(), agentSettingsFrame(opts)]);
}

/**
 * An early launch (`HostAgent.launch` before the plan exists, agent.sh `P` frame):
 * heartbeats keep the waiting agent alive until `begin`; with `lockHolder` it takes the
 * host lock at once when the lock is free and its file exists.
 */
export interface EarlyLaunch {
  /** Seconds without a frame before the waiting agent exits (default 30). */
  giveUpSeconds?: number;
  /** `USER@HOST pid N since T`: take the lock early, recorded in ~/.orch/lock.info. */
  lockHolder?: string;
  /**
   * Speculative facts: a facts script (the previous run's for this host, facts-memo.ts) the
   * agent runs as soon as it holds the early lock. When `begin` brings the same script, its
   * output is the run's facts and the facts are not read again (one exchange after the
   * compile, not two). Ignored without `lockHolder`, and when the lock was not free.
   */
  factsScript?: string;
}

/** How to start an agent. */
export interface AgentOptions {
  /** Take the host lock, waiting up to this many seconds; undefined = no lock (a same-machine host whose lock another agent of the run holds). */
  lockWaitSeconds?: number;
  /** `USER@HOST pid N since T`, recorded in ~/.orch/lock.info for `locked by ...` messages. */
  holder: string;
  /** The facts script, run under the lock. */
  factsScript: string;
  /** Dead-man's switch: seconds without a frame before the agent stops (default 30). */
  giveUpSeconds?: number;
  /** Fails the start (ConnectError) when lock + facts take longer than this, ms. */
  timeoutMs?: number;
  /** Called with the agent as soon as it exists (before the lock is held). */
  onAgent?: (agent: HostAgent) => void;
}

/** One segment's raw output lines (segment.sh), and the runner's exit code. */
export interface SegmentOutput {
  text: string;
  rc: number;
}

type Waiter = { resolve: (o: SegmentOutput) => void; reject: (e: Error) => void; onStart?: (index: number) => void; lines: string[] };

/**
 * A running agent. Frames are written in order through one queue, so a heartbeat never
 * lands inside a payload's data frame. Errors: a lost connection rejects the pending
 * segment with ConnectError; the agent dying otherwise rejects it with RemoteCommandError.
 */
export class HostAgent {
  readonly #stdin = new PassThrough();
  readonly #done: Promise<ExecResult>;
  #queue: Promise<void> = Promise.resolve();
  #partial = '';
  // Facts come as UTF-8 text: a character split between two chunks is joined, not replaced.
  readonly #decoder = new StringDecoder('utf8');
  #waiter: Waiter | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #ended: Error | undefined;
  #stopped = false;
  #exit: ExecResult | undefined;

  /** Where a line outside a segment goes (the start's phases and the facts). */
  #onLine: (line: string) => void = (line) => {
    if (parseLine(line)?.type === 'started') this.#startedAt = now();
  };
  /** When `::orch:: started` came before `begin` (a launched agent), trace time. */
  #startedAt: number | undefined;
  #begun = false;
  /** The speculative facts script sent at launch, and its output once the agent runs it (`speculating` .. `speculated`). */
  #specScript: string | undefined;
  #spec: { lines: string[]; done: boolean; at: number } | undefined;
  /** With a speculative script sent: resolves when the agent said `speculated` (ran or not), or ended. */
  #specSettled: Promise<void> | undefined;
  #settleSpec: () => void = () => {};

  private constructor(readonly host: string, conn: Connection) {
    // `spare`: the bootstrap reads its code before it does anything, so a control master may hand over one it started ahead.
    this.#done = conn.exec(AGENT_BOOTSTRAP, { stdin: this.#stdin, onStdout: (c) => this.#onStdout(c), spare: true });
    this.#done.then(
      (res) => {
        this.#exit = res;
        this.#end(this.#stopped ? new ConnectError(host, 'the run was stopped') : new RemoteCommandError(host, 'the host agent exited', res.code, res.stderr.toString('utf8').trim().slice(-500)));
      },
      (err: unknown) => this.#end(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /**
   * Starts an agent on `conn` that waits for its settings: the session and its bash start
   * and read the code; nothing on the host changes until `begin` (with
   * `early.lockHolder`: but the host lock, taken when free and its file exists). The CLI launches agents on the
   * connections it opens early (connections.ts), so their start, and for an apply the
   * lock, overlap the compile. An agent never begun ends with `discard`.
   */
  static launch(host: string, conn: Connection, early?: EarlyLaunch): HostAgent {
    const agent = new HostAgent(host, conn);
    if (!early) {
      agent.#send(agentCodeFrame());
      return agent;
    }
    const giveUp = Math.max(1, Math.ceil(early.giveUpSeconds ?? DEFAULT_GIVE_UP_SECONDS));
    const lock = early.lockHolder === undefined ? '0 -' : `1 ${holderArg(early.lockHolder)}`;
    const spec = early.lockHolder !== undefined && early.factsScript ? Buffer.from(early.factsScript, 'utf8') : Buffer.alloc(0);
    if (spec.length) {
      agent.#specScript = early.factsScript;
      agent.#specSettled = new Promise((r) => (agent.#settleSpec = r));
    }
    agent.#send(Buffer.concat([agentCodeFrame(), Buffer.from(`P ${giveUp} ${lock} ${spec.length}\n`), spec]));
    agent.#heartbeat = setInterval(() => agent.#send(Buffer.from('H\n')), heartbeatSeconds(giveUp) * 1000);
    agent.#heartbeat.unref();
    return agent;
  }

  /**
   * Starts the agent on `conn`: the code, the settings and the facts script go out in one write; resolves with
   * the facts output once the lock is held and the facts were read (one round trip).
   * @throws LockedError (`locked by USER@HOST pid N since T`) when another run keeps the
   *   lock past the wait; ConnectError when the connection is lost; RemoteCommandError
   *   when the agent cannot start.
   */
  static start(host: string, conn: Connection, opts: AgentOptions): Promise<{ agent: HostAgent; factsOutput: string }> {
    return HostAgent.launch(host, conn).begin(opts);
  }

  /**
   * Sends a launched agent its settings and facts script (once); resolves as `start` does.
   * @throws as `start`; InternalError when called twice.
   */
  begin(opts: AgentOptions): Promise<{ agent: HostAgent; factsOutput: string }> {
    if (this.#begun) return Promise.reject(new InternalError(`${this.host}: the agent was already given its settings`));
    this.#begun = true;
    const host = this.host;
    let speculated = false;
    return new Promise((resolve, reject) => {
      let phase: 'wait' | 'facts' | 'ready' = 'wait';
      const facts: string[] = [];
      let t = now();
      let timer: NodeJS.Timeout | undefined;
      // Started before it was given its settings (launched early): no wait to trace.
      if (this.#startedAt !== undefined) span('agent start', t, host);
      this.#onLine = (line) => {
        if (phase === 'wait' && parseLine(line)?.type === 'started') {
          span('agent start', t, host);
          t = now();
        } else if (phase === 'wait' && parseLine(line)?.type === 'locked') {
          span('lock', t, host);
          t = now();
          phase = 'facts';
        } else if (phase === 'facts' && parseLine(line)?.type === 'end') {
          span('facts', t, host);
          phase = 'ready';
          clearTimeout(timer);
          resolve({ agent: this, factsOutput: `${(speculated ? this.#spec!.lines : facts).join('\n')}\n` });
        } else if (phase === 'facts') facts.push(line);
      };
      opts.onAgent?.(this);
      const giveUp = Math.max(1, Math.ceil(opts.giveUpSeconds ?? DEFAULT_GIVE_UP_SECONDS));
      const settings = (): void => {
        // The speculative facts stand for the facts when the agent ran them under the early
        // lock (`speculating` came), they ended whole, their script is this one, and the run
        // keeps that lock.
        const spec = this.#spec;
        speculated = spec !== undefined && spec.done && spec.lines.at(-1) === 'END' && this.#specScript === opts.factsScript && opts.lockWaitSeconds !== undefined;
        void this.#send(agentSettingsFrame({
          giveUpSeconds: giveUp, graceSeconds: STOP_GRACE_SECONDS, holder: opts.holder, factsScript: opts.factsScript,
          ...(opts.lockWaitSeconds !== undefined && { lockWaitSeconds: opts.lockWaitSeconds }),
          ...(speculated && { speculated: true }),
        }));
      };
      // The settings go once the agent is done with the speculative facts (it says
      // `speculated`): it then reads them with a plain read, never while it polls its stdin
      // around a child (agent.sh orch_agent_unbeat says why).
      if (this.#specSettled) void this.#specSettled.then(settings);
      else settings();
      clearInterval(this.#heartbeat);
      this.#heartbeat = setInterval(() => this.#send(Buffer.from('H\n')), heartbeatSeconds(giveUp) * 1000);
      this.#heartbeat.unref();
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          if (phase === 'ready') return;
          reject(new ConnectError(host, `no lock and facts within ${Math.round(opts.timeoutMs! / 1000)} s`));
          void this.close();
        }, opts.timeoutMs + (opts.lockWaitSeconds ?? 0) * 1000);
      }
      this.#done.then(
        (res) => {
          if (phase === 'ready') return;
          clearTimeout(timer);
          const msg = res.stderr.toString('utf8').trim();
          if (res.code === LOCKED_EXIT) reject(new LockedError(msg.split('\n').filter((l) => l.startsWith('locked by ')).pop() ?? msg, host));
          else reject(new RemoteCommandError(host, 'starting the host agent', res.code, msg.slice(-500)));
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (phase !== 'ready') reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Ends a launched agent that was never begun (its stdin closes; it exits, having changed nothing). */
  discard(): void {
    if (this.#begun) return;
    this.#begun = true;
    clearInterval(this.#heartbeat);
    this.#stdin.end();
    this.#done.catch(() => undefined);
  }

  #onStdout(chunk: Buffer): void {
    // A long line (the facts: one base64 line of up to MBs) arrives in many chunks:
    // gather them without re-splitting what came before (no quadratic scan).
    const text = this.#decoder.write(chunk);
    if (!text.includes('\n')) {
      this.#partial += text;
      return;
    }
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      const w = this.#waiter;
      if (!w) {
        this.#lineOutsideSegment(line);
        continue;
      }
      const done = /^::orch-seg:: done (\d+)$/.exec(line);
      if (done) {
        this.#waiter = undefined;
        w.resolve({ text: `${w.lines.join('\n')}\n`, rc: Number(done[1]) });
        continue;
      }
      const start = /^::orch-seg-start:: (\d+)$/.exec(line);
      if (start) w.onStart?.(Number(start[1]));
      w.lines.push(line);
    }
  }

  /** A line before the first segment: the speculative facts' block, else the start's phases and the facts. */
  #lineOutsideSegment(line: string): void {
    const spec = this.#spec;
    if (spec && !spec.done) {
      if (parseLine(line)?.type === 'speculated') {
        spec.done = true;
        span('speculative facts', spec.at, this.host);
        this.#settleSpec();
      } else spec.lines.push(line);
      return;
    }
    // `speculated` without `speculating`: the agent did not run them (no lock).
    if (parseLine(line)?.type === 'speculated' && !spec) {
      this.#settleSpec();
      return;
    }
    if (parseLine(line)?.type === 'speculating' && !spec) {
      this.#spec = { lines: [], done: false, at: now() };
      return;
    }
    this.#onLine(line);
  }

  #end(err: Error): void {
    this.#ended ??= err;
    this.#settleSpec();
    clearInterval(this.#heartbeat);
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(this.#ended);
  }

  /** Queues a frame (bytes in order; never interleaved with another frame). */
  #send(data: Buffer): Promise<void> {
    const next = this.#queue.then(() => this.#write(data));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #write(data: Buffer): Promise<void> {
    if (this.#ended || this.#stdin.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.#stdin.write(data)) resolve();
      else this.#stdin.once('drain', resolve);
    });
  }

  /**
   * Runs one segment (its fields as segment.sh reads them) with an optional payload
   * streamed as data frames. `onStart(k)` is called as the host starts entry `k`.
   * Resolves with the segment's output lines once the host reports it done.
   */
  runSegment(fields: Buffer, payload?: Buffer | Readable, onStart?: (index: number) => void): Promise<SegmentOutput> {
    if (this.#ended) return Promise.reject(this.#ended);
    if (this.#waiter) return Promise.reject(new InternalError(`${this.host}: a segment is already running on this agent`));
    const result = new Promise<SegmentOutput>((resolve, reject) => {
      this.#waiter = { resolve, reject, lines: [], ...(onStart && { onStart }) };
    });
    const header = Buffer.concat([Buffer.from(`S ${fields.length} ${payload ? 1 : 0}\n`), fields]);
    const sent = this.#queue.then(async () => {
      await this.#write(header);
      if (payload) await this.#pump(payload);
    });
    this.#queue = sent.catch(() => undefined);
    sent.catch((e: unknown) => this.#end(new RemoteCommandError(this.host, `payload stream failed: ${(e as Error).message}`, null, '')));
    return result;
  }

  /** Streams a payload as `D LEN` frames of at most DATA_FRAME_MAX bytes, then `D 0`. */
  async #pump(payload: Buffer | Readable): Promise<void> {
    const frame = async (b: Buffer): Promise<void> => {
      for (let off = 0; off < b.length; off += DATA_FRAME_MAX) {
        const part = b.subarray(off, off + DATA_FRAME_MAX);
        await this.#write(Buffer.concat([Buffer.from(`D ${part.length}\n`), part]));
      }
    };
    if (Buffer.isBuffer(payload)) await frame(payload);
    else {
      let pending: Buffer[] = [];
      let size = 0;
      for await (const chunk of payload) {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        pending.push(b);
        size += b.length;
        if (size >= DATA_FRAME_MAX) {
          await frame(Buffer.concat(pending));
          pending = [];
          size = 0;
        }
      }
      if (size) await frame(Buffer.concat(pending));
    }
    await this.#write(Buffer.from('D 0\n'));
  }

  /**
   * Ctrl-C: tells the agent to stop (TERM to every child, KILL after the grace) and
   * waits, at most `waitMs`, for it to exit. Never rejects.
   */
  async stop(waitMs = (STOP_GRACE_SECONDS + 3) * 1000): Promise<void> {
    if (this.#exit || this.#stopped) return;
    this.#stopped = true;
    this.#stdin.write('X\n');
    await Promise.race([this.#done.catch(() => undefined), new Promise((r) => setTimeout(r, waitMs).unref())]);
    this.#stdin.end();
  }

  /**
   * Says goodbye (the agent exits; processes a step left in the background stay) and
   * ends its stdin. Does not wait for the host: closing the connection right after
   * ends the session too.
   */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    if (this.#exit || this.#stdin.writableEnded) return;
    await Promise.race([this.#queue, new Promise((r) => setTimeout(r, 1000).unref())]);
    if (!this.#stopped && !this.#waiter) this.#stdin.write('Q\n');
    this.#stdin.end();
    this.#done.catch(() => undefined);
  }

  /** False once the agent's session ended (e.g. a launched agent that gave up waiting). */
  get running(): boolean {
    return this.#ended === undefined;
  }

  /** Resolves when the agent's session has ended. */
  get finished(): Promise<void> {
    return this.#done.then(() => undefined, () => undefined);
  }
}
