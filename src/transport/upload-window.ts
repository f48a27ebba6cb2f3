/**
 * How much stdin data an exec channel keeps in flight to an OpenSSH server.
 *
 * Why: OpenSSH's sshd holds the data it received for a session but its child has not read
 * yet in one buffer (sshbuf), which it grows by reallocating and copying the whole content
 * (openbsd-compat recallocarray: a new block, a copy, the old block zeroed). sshd lets the
 * client send up to its full channel window (2 MiB, CHAN_SES_WINDOW_DEFAULT in OpenSSH's
 * channels.h) ahead of the child. When the child reads slower than the network brings data
 * (always on a LAN: the host writes files while the link is idle), that buffer stays near
 * 2 MiB and every 32 KiB packet costs a copy of it: `perf` on the bench's 8-host fresh
 * deploy of a 5 MiB release put 40 % of all CPU in sshd's memmove and its page faults, as
 * much as orch's own work on the hosts (bench/README.md, "Third pass").
 *
 * What: the client keeps at most `cap` bytes in flight (sent, not yet credited back by a
 * window adjust): twice the bandwidth-delay product it measures, at least {@link FIRST_CAP}
 * (see {@link InFlightCap}). A slow reader on the host then leaves little in sshd's
 * buffer, and a long link still gets the in-flight data its throughput needs.
 *
 * Deadlock: an OpenSSH server sends a window adjust once more than 3 packets (96 KiB) were
 * received and some were consumed (channel_check_window in channels.c, unchanged since
 * OpenSSH 5.x), so a cap of 256 KiB always gets credit back. Other servers may adjust only
 * at half of a larger window: the cap is applied to OpenSSH servers only.
 *
 * How: ssh2 (1.x, checked against 1.17) keeps the peer's window in `channel.outgoing.window`,
 * decreases it as it sends and increases it on CHANNEL_WINDOW_ADJUST before it resumes a
 * blocked write. That field is replaced by an accessor: the real window is tracked from the
 * changes ssh2 makes (a decrease is data sent, an increase a credit), and ssh2 reads the
 * real window minus what the cap holds back, never below 0. The cap grows inside a credit,
 * before ssh2 resumes a blocked write. A ping reply can raise it too (the assumed rate ×
 * a first round trip): ssh2 sees that at the next credit, which comes because a held-back
 * sender has at least FIRST_CAP in flight, above OpenSSH's adjust threshold.
 */

/** The first cap and the least, bytes (256 KiB: above OpenSSH's 96 KiB adjust threshold). */
export const FIRST_CAP = 0x40000;

/** The cap is this many times the measured bandwidth-delay product (BBR's startup gain is 2.89; 2 doubles per round trip). */
const GAIN = 2;

/**
 * The link rate assumed before one is measured, bytes/ms (12,500: 100 Mbit/s). With the
 * first round trip it sets the least cap, GAIN × this × round trip: below 10 ms (a LAN, or
 * a busy control machine's event loop) that is under FIRST_CAP, so the floor holds; at
 * 50 ms it is 1.25 MB and from 84 ms the full window, so a long link does not wait for the
 * cap to grow from 256 KiB. On a long link the link, not the reader, is usually the
 * slower, and sshd's buffer stays short anyway.
 */
const PRIOR_RATE = 12_500;

/** Credit-rate samples kept for the maximum (each over at least one cap's worth of credits and one round trip). */
const RATE_SAMPLES = 4;

/** Least span of a credit-rate sample, ms. */
const MIN_SAMPLE_MS = 20;

/**
 * Least time between two round-trip pings of one channel while it sends, ms. A ping's
 * round trip includes the time both ends' event loops take to answer it: on a busy control
 * machine single pings read 5-60 ms on a LAN. A ping every 50 ms gives the minimum enough
 * tries: on the bench's 8 loaded test hosts it came to 1.5-7 ms (every 200 ms: 0.3-20 ms,
 * and caps up to 795 KiB), for two small packets per 50 ms.
 */
export const PING_EVERY_MS = 50;

/**
 * The cap's controller, separate from ssh2 so it can be tested alone: the cap is
 * {@link GAIN} × the bandwidth-delay product, the product of the largest recent credit
 * rate (while the sender was held back; at least {@link PRIOR_RATE}) and the smallest
 * round trip seen (SSH pings, answered by sshd's main loop: no queue behind them). A host
 * whose reader sets the pace gives a small product (its rate × a LAN round trip): the cap
 * stays at FIRST_CAP. On a long link the first round trip alone opens the cap to the
 * assumed rate's product, and from there the rate grows with the cap (rate = cap / round
 * trip), so the cap doubles about once per round trip until the peer's full window, as
 * TCP's slow start does. Times in ms (any
 * monotonic clock), sizes in bytes.
 */
export class InFlightCap {
  /** The current cap, bytes (between FIRST_CAP and the peer's full window). */
  cap: number;
  /** The smallest round trip measured, ms (undefined: none yet). */
  minRttMs: number | undefined;
  #rates: number[] = [];
  #sampleStart: number | undefined;
  #sampleBytes = 0;

  /** @param fullWindow the peer's window when the channel opened (the cap never exceeds it). */
  constructor(readonly fullWindow: number) {
    this.cap = Math.min(FIRST_CAP, fullWindow);
  }

  /** The largest recent credit rate, bytes/ms (0: none measured). */
  get maxRate(): number {
    return this.#rates.length ? Math.max(...this.#rates) : 0;
  }

  /** Records a measured round trip, ms. */
  rtt(ms: number): void {
    if (!(ms >= 0)) return;
    this.minRttMs = this.minRttMs === undefined ? ms : Math.min(this.minRttMs, ms);
    this.#update();
  }

  /**
   * Records `bytes` credited by a window adjust at time `now`. `blocked`: whether the
   * sender had used all the cap let it send when the credit came; credits that come while
   * it had not are the sender's pace, not the link's or the reader's, and start a new
   * sample.
   */
  credit(bytes: number, now: number, blocked: boolean): void {
    if (!blocked) {
      this.#sampleStart = undefined;
      this.#sampleBytes = 0;
      return;
    }
    if (this.#sampleStart === undefined) {
      // The first credit of a run of them starts the clock.
      this.#sampleStart = now;
      return;
    }
    this.#sampleBytes += bytes;
    // A sample spans one cap's worth of credits and one round trip (at least MIN_SAMPLE_MS):
    // credits that a busy control machine handles in a clump must not read as a fast link.
    const span = now - this.#sampleStart;
    if (this.#sampleBytes < this.cap || span < Math.max(MIN_SAMPLE_MS, this.minRttMs ?? 0)) return;
    this.#rates.push(this.#sampleBytes / span);
    if (this.#rates.length > RATE_SAMPLES) this.#rates.shift();
    this.#sampleStart = now;
    this.#sampleBytes = 0;
    this.#update();
  }

  #update(): void {
    if (this.minRttMs === undefined) return;
    const want = GAIN * Math.max(PRIOR_RATE, this.maxRate) * this.minRttMs;
    this.cap = Math.min(this.fullWindow, Math.max(FIRST_CAP, Math.ceil(want)));
  }
}

/** The part of an ssh2 channel and client this module touches (ssh2 1.x internals). */
interface ChannelInternals {
  outgoing?: { window: number };
  _client?: { _callbacks?: Array<(failed: boolean) => void>; _protocol?: { ping(): void } };
}

/**
 * Applies the in-flight cap to `channel` (an ssh2 ClientChannel just opened) when the
 * server's software version (`client._remoteVer`, e.g. `OpenSSH_9.2p1`) is OpenSSH.
 * Round trips are measured with OpenSSH's keepalive request (`keepalive@openssh.com`,
 * as ssh2's own keepalive sends it): one when the channel opens, then at most one every
 * {@link PING_EVERY_MS} while credits come to a held-back sender.
 * Returns the controller, or undefined when the cap was not applied (another server, an
 * ssh2 without these internals).
 */
export function capInFlight(channel: unknown, serverSoftware: string | undefined, now: () => number = () => performance.now()): InFlightCap | undefined {
  if (!serverSoftware || !/^OpenSSH_/.test(serverSoftware)) return undefined;
  const ch = channel as ChannelInternals;
  const outgoing = ch.outgoing;
  const client = ch._client;
  if (!outgoing || typeof outgoing.window !== 'number' || !Array.isArray(client?._callbacks) || typeof client?._protocol?.ping !== 'function') return undefined;
  const desc = Object.getOwnPropertyDescriptor(outgoing, 'window');
  if (!desc || !desc.writable || !desc.configurable) return undefined;
  const full = outgoing.window;
  if (full <= FIRST_CAP) return undefined;
  const ctl = new InFlightCap(full);
  let pingAt: number | undefined;
  let lastPing = -Infinity;
  const ping = (): void => {
    if (pingAt !== undefined) return;
    const callbacks = client._callbacks;
    if (!callbacks) return;
    pingAt = lastPing = now();
    // Replies come in order of the requests (RFC 4254 4): a callback queued now is this ping's.
    callbacks.push(() => {
      if (pingAt !== undefined) ctl.rtt(now() - pingAt);
      pingAt = undefined;
    });
    try {
      client._protocol!.ping();
    } catch {
      callbacks.pop();
      pingAt = undefined;
    }
  };
  ping();
  // `real` is the peer's true window; ssh2 sees it less what the cap holds back.
  let real = full;
  let shown = 0;
  const view = (): number => Math.max(0, real - (ctl.fullWindow - ctl.cap));
  Object.defineProperty(outgoing, 'window', {
    configurable: true,
    enumerable: true,
    get: () => (shown = view()),
    set: (v: number) => {
      // ssh2 only ever writes what it read, less what it sent or plus a credit.
      const delta = v - shown;
      real += delta;
      if (delta > 0) {
        const t = now();
        ctl.credit(delta, t, shown === 0);
        if (shown === 0 && t - lastPing >= PING_EVERY_MS) ping();
      }
      shown = view();
    },
  });
  return ctl;
}
