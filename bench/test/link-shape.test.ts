import { describe, expect, it } from 'vitest';
import { deltaReport, type DeltaResults } from '../delta.js';
import { parseLinkRate, parseLinkRates, tbfArgs, uplinkDevice } from '../link-shape.js';
import { summarizeSamples } from '../stats.js';

describe('parseLinkRate', () => {
  it.each([
    ['100mbit', 1e8, '100 Mbit/s', '100mbit'],
    ['1gbit', 1e9, '1 Gbit/s', '1gbit'],
    ['500kbit', 5e5, '500 kbit/s', '500kbit'],
    [' 2.5GBit ', 2.5e9, '2.5 Gbit/s', '2.5gbit'],
  ])('%j -> %d bit/s, label %j, tc %j', (raw, bps, label, tc) => {
    expect(parseLinkRate(raw)).toEqual({ tc, bitsPerSecond: bps, label });
  });

  it('off means no shaping', () => {
    expect(parseLinkRate('off')).toBeUndefined();
    expect(parseLinkRate('OFF')).toBeUndefined();
  });

  it.each(['100', '100mbps', '12mb', 'fast', '', '-1mbit'])('refuses %j with the accepted forms', (raw) => {
    expect(() => parseLinkRate(raw)).toThrow(/BENCH_DELTA_RATE: a rate like 100mbit, 1gbit, 500kbit, or off; got/);
  });

  it('refuses rates outside 100kbit..100gbit', () => {
    expect(() => parseLinkRate('10kbit')).toThrow(/outside 100kbit\.\.100gbit/);
    expect(() => parseLinkRate('200gbit')).toThrow(/outside/);
  });
});

describe('parseLinkRates', () => {
  it('reads a comma list in order', () => {
    expect(parseLinkRates('100mbit, 20mbit').map((r) => r.bitsPerSecond)).toEqual([1e8, 2e7]);
  });
  it('off alone is the empty list; off inside a list and duplicates are refused', () => {
    expect(parseLinkRates('off')).toEqual([]);
    expect(() => parseLinkRates('100mbit,off')).toThrow(/off cannot be part of a list/);
    expect(() => parseLinkRates('1gbit,1000mbit')).toThrow(/1000 Mbit\/s repeats an earlier rate/);
    expect(() => parseLinkRates(' , ')).toThrow(/BENCH_DELTA_RATE/);
  });
});

describe('tbfArgs', () => {
  it('shapes the root of the bridge with a 256 KiB burst and a 100 ms queue', () => {
    expect(tbfArgs(uplinkDevice({ subnet: 7 }), parseLinkRate('100mbit')!)).toEqual(
      ['qdisc', 'replace', 'dev', 'orb7', 'root', 'tbf', 'rate', '100mbit', 'burst', String(256 * 1024), 'latency', '100ms'],
    );
  });
  it('grows the burst to 2 ms of the rate at high rates', () => {
    const a = tbfArgs('orb1', parseLinkRate('10gbit')!);
    expect(a[a.indexOf('burst') + 1]).toBe(String(2_500_000));
  });
});

describe('deltaReport with a shaped link', () => {
  const base = { hosts: 8, tarballBytes: [5_250_000], bytesPerHost: [12_000], orchWirePerHost: [40_000], bareWirePerHost: [5_500_000], changed: [['data/conf.bin', 10240]] as Array<[string, number]> };
  const d: DeltaResults = {
    scenarios: [
      { name: 'one changed 10 KB file', ...base, orchMs: summarizeSamples([1000]), bareMs: summarizeSamples([2000]) },
      { name: 'one changed 10 KB file', link: parseLinkRate('100mbit')!, ...base, orchMs: summarizeSamples([1100]), bareMs: summarizeSamples([4400]) },
    ],
    linkChecks: [{ link: parseLinkRate('100mbit')!, transfers: [{ kind: 'up-one', bytes: 20 * 2 ** 20, ms: summarizeSamples([2000, 1900, 2100]), mbitPerSecond: 83.9, peakMbitPerSecond: 88.3 }] }],
    errors: [],
  };
  const { rows, ratios } = deltaReport(d);

  it('keeps the unthrottled names and labels the shaped ones with the link', () => {
    const r = Object.fromEntries(ratios.map((x) => [x.name, x.value]));
    expect(r['delta one changed 10 KB file: orch apply / bare ssh tar x (8 hosts)']).toBe(0.5);
    expect(r['delta (100 Mbit/s uplink): one changed 10 KB file: orch apply / bare ssh tar x (8 hosts)']).toBe(0.25);
    expect(rows.map((x) => x.label)).toEqual([
      "delta link check (100 Mbit/s uplink): ssh h1 'wc -c' < FILE",
      'delta: one changed 10 KB file, orch apply (8 hosts)',
      'delta: one changed 10 KB file, bare ssh tar x of the full tarball',
      'delta: one changed 10 KB file, bytes sent per host',
      'delta (100 Mbit/s uplink): one changed 10 KB file, orch apply (8 hosts)',
      'delta (100 Mbit/s uplink): one changed 10 KB file, bare ssh tar x of the full tarball',
    ]);
    expect(rows[0]!.note).toBe('20 MiB, 84 Mbit/s (fastest 88; ssh set-up included)');
    expect(rows[4]!.note).toBe('12000 B/host of a 5250000 B tarball; on the wire 40000 B/host');
    expect(rows[5]!.note).toBe('8 x 5250000 B through the shared 100 Mbit/s; on the wire 5500000 B/host');
  });
});
