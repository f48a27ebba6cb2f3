import { describe, expect, it } from 'vitest';
import { capInFlight, FIRST_CAP, InFlightCap, PING_EVERY_MS } from '../../../src/transport/upload-window.js';

const FULL = 2 * 1024 * 1024;

/**
 * A model of one upload through a capped channel: the link delays every byte by `rttMs`
 * (there and back), the host's reader consumes at most `readerRate` bytes/ms, and the
 * server credits what was consumed in adjusts of 128 KiB (as OpenSSH does past 96 KiB).
 * Steps of 1 ms; returns the controller and the ms taken to move `total` bytes.
 */
function simulate(rttMs: number, readerRate: number, total: number): { ctl: InFlightCap; ms: number; maxQueued: number } {
  const ctl = new InFlightCap(FULL);
  ctl.rtt(rttMs);
  let sent = 0;
  let credited = 0;
  let consumed = 0;
  let maxQueued = 0;
  const arriving: Array<{ at: number; bytes: number }> = [];
  const credits: Array<{ at: number; bytes: number }> = [];
  let pendingCredit = 0;
  let t = 0;
  for (; t < 600_000 && credited < total; t++) {
    for (const c of credits.filter((c) => c.at <= t)) {
      const blocked = sent - credited >= ctl.cap;
      credited += c.bytes;
      ctl.credit(c.bytes, t, blocked);
    }
    credits.splice(0, credits.filter((c) => c.at <= t).length);
    const room = Math.min(ctl.cap - (sent - credited), total - sent);
    if (room > 0) {
      arriving.push({ at: t + rttMs / 2, bytes: room });
      sent += room;
    }
    let arrived = 0;
    while (arriving.length && arriving[0]!.at <= t) arrived += arriving.shift()!.bytes;
    const queue = sent - consumed - arriving.reduce((n, a) => n + a.bytes, 0);
    maxQueued = Math.max(maxQueued, queue);
    const eat = Math.min(readerRate, queue);
    consumed += eat;
    pendingCredit += eat;
    if (pendingCredit >= 128 * 1024 || (consumed === total && pendingCredit > 0)) {
      credits.push({ at: t + rttMs / 2, bytes: pendingCredit });
      pendingCredit = 0;
    }
  }
  return { ctl, ms: t, maxQueued };
}

describe('in-flight cap (upload-window.ts)', () => {
  it('keeps the cap at its floor when the reader, not a LAN link, sets the pace', () => {
    // 0.2 ms round trip, a reader of 20 MB/s: sshd would otherwise hold up to 2 MiB.
    const { ctl, maxQueued } = simulate(0.2, 20_000, 20 * 1024 * 1024);
    expect(ctl.cap).toBe(FIRST_CAP);
    expect(maxQueued).toBeLessThanOrEqual(FIRST_CAP);
  });

  it.each([
    [25, 3],
    [50, 1],
    [100, 0],
  ])('grows to the full window on a %i ms link, losing at most %i round trips to an uncapped upload', (rtt, lost) => {
    const total = 40 * 1024 * 1024;
    const capped = simulate(rtt, 1_000_000, total);
    expect(capped.ctl.cap).toBe(FULL);
    // Uncapped: the full window per round trip from the start, and one more round trip for
    // the last credit to come back (the model's end); 2 ms for its 1 ms steps.
    const uncappedMs = (Math.ceil(total / FULL) + 1) * rtt + 2;
    expect(capped.ms).toBeLessThanOrEqual(uncappedMs + lost * rtt);
  });

  it('opens the cap by the assumed 100 Mbit/s at the first round trip: full window from 84 ms, the floor below 10 ms', () => {
    const far = new InFlightCap(FULL);
    far.rtt(84);
    expect(far.cap).toBe(FULL);
    const mid = new InFlightCap(FULL);
    mid.rtt(50);
    expect(mid.cap).toBe(2 * 12_500 * 50);
    const near = new InFlightCap(FULL);
    near.rtt(9);
    expect(near.cap).toBe(FIRST_CAP);
  });

  it('never goes below the floor, and takes a smaller round trip as it comes', () => {
    const ctl = new InFlightCap(FULL);
    ctl.rtt(40);
    for (let t = 0; t <= 400; t += 10) ctl.credit(64 * 1024, t, true);
    const high = ctl.cap;
    expect(high).toBeGreaterThan(FIRST_CAP);
    ctl.rtt(0.1);
    expect(ctl.cap).toBe(FIRST_CAP);
    expect(ctl.minRttMs).toBe(0.1);
  });

  it('does not measure credits that come while the sender had nothing to send', () => {
    const ctl = new InFlightCap(FULL);
    ctl.rtt(5);
    // A burst of credits 1 ms apart, but the sender was not held back: no rate sample.
    for (let t = 0; t < 100; t++) ctl.credit(128 * 1024, t, false);
    expect(ctl.maxRate).toBe(0);
    expect(ctl.cap).toBe(FIRST_CAP);
  });

  it('pings at most every PING_EVERY_MS while the sender is held back, one ping at a time', () => {
    const pings: number[] = [];
    const ch = { outgoing: { window: FULL }, _client: { _callbacks: [] as Array<(f: boolean) => void>, _protocol: { ping: () => pings.push(now) } } };
    let now = 0;
    const ctl = capInFlight(ch, 'OpenSSH_9.2p1', () => now)!;
    expect(pings).toEqual([0]);
    now = 2;
    ch._client._callbacks.shift()!(false);
    expect(ctl.minRttMs).toBe(2);
    const block = (): void => void (ch.outgoing.window = ch.outgoing.window - ch.outgoing.window);
    block();
    // A credit to a held-back sender sooner than PING_EVERY_MS after the last ping: no ping.
    now = PING_EVERY_MS - 1;
    ch.outgoing.window += 128 * 1024;
    expect(pings).toEqual([0]);
    block();
    now = PING_EVERY_MS;
    ch.outgoing.window += 128 * 1024;
    expect(pings).toEqual([0, PING_EVERY_MS]);
    // Its reply has not come: no second ping in flight, however long it takes.
    block();
    now = 3 * PING_EVERY_MS;
    ch.outgoing.window += 128 * 1024;
    expect(pings).toEqual([0, PING_EVERY_MS]);
    now = 3 * PING_EVERY_MS + 1;
    ch._client._callbacks.shift()!(false);
    expect(ctl.minRttMs).toBe(2);
    expect(ch._client._callbacks).toHaveLength(0);
  });

  it('applies to OpenSSH only, and hides all but the cap from a writer that follows ssh2\'s window rules', () => {
    const pings: number[] = [];
    const fake = () => ({ outgoing: { window: FULL }, _client: { _callbacks: [] as Array<(f: boolean) => void>, _protocol: { ping: () => pings.push(1) } } });
    expect(capInFlight(fake(), 'dropbear_2022.83')).toBeUndefined();
    expect(capInFlight(fake(), undefined)).toBeUndefined();
    const ch = fake();
    let now = 0;
    const ctl = capInFlight(ch, 'OpenSSH_9.2p1', () => now)!;
    expect(ctl).toBeDefined();
    expect(pings).toHaveLength(1);
    // ssh2's Channel._write: read the window, send up to it, write back what is left.
    const write = (n: number): number => {
      const w = ch.outgoing.window;
      const s = Math.min(w, n);
      ch.outgoing.window = w - s;
      return s;
    };
    expect(write(FULL)).toBe(FIRST_CAP);
    expect(write(1)).toBe(0);
    // A credit of 100 KiB (the peer's window grows back by it) lets 100 KiB more go.
    now = 5;
    ch.outgoing.window += 100 * 1024;
    expect(write(FULL)).toBe(100 * 1024);
    // The ping's reply (callbacks run in order) records a round trip.
    now = 7;
    ch._client._callbacks.shift()!(true);
    expect(ctl.minRttMs).toBe(7);
  });
});
