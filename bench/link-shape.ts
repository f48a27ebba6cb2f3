/**
 * The control machine's uplink, for the benchmark: a token-bucket shaper (`tc qdisc
 * replace dev orb<S> root tbf rate R burst B latency 100ms`) on the egress of the test
 * fleet's bridge device, the one interface every packet this machine sends to any test
 * host leaves by (test/harness/fleet.ts: bridge `orb<subnet>`, address 10.231.S.1). All
 * hosts share the one rate, as a laptop's or a CI runner's uplink is shared by every host
 * it pushes to. Host -> control traffic (the host's acks and answers) and host <-> host
 * traffic (bridged between veths, it never passes the bridge device's own qdisc) are
 * not shaped.
 *
 * `checkTransfers` measures what the link really does (`ssh HOST 'wc -c' < FILE` to one
 * host, the same to every host at once, and `ssh HOST 'cat FILE'` back), so a report can
 * show that the shaper took effect and in which direction.
 *
 * Source: tc-tbf(8) (rate, burst, latency), Linux bridge: locally sent packets pass the
 * bridge device's root qdisc, bridged ones only the ports'.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Fleet } from '../test/harness/fleet.js';
import { runTimed, tailOf } from './proc.js';
import { summarizeSamples, type SampleSummary } from './stats.js';
import { SSH_OPTS, sshFanOut } from './workload.js';

/** A link rate: what `tc` is given, bits per second, and a label for the report. */
export interface LinkRate {
  /** tc's spelling, e.g. `100mbit`. */
  tc: string;
  bitsPerSecond: number;
  /** e.g. `100 Mbit/s`. */
  label: string;
}

const UNITS: Record<string, [number, string]> = { '': [1, 'bit/s'], k: [1e3, 'kbit/s'], m: [1e6, 'Mbit/s'], g: [1e9, 'Gbit/s'] };

/**
 * Parses a rate like `100mbit`, `1gbit`, `500kbit`, `2.5gbit` (tc's bit units; tc's
 * `bps` means bytes per second and is refused here to avoid that trap), or `off`.
 *
 * @returns the rate, or undefined for `off`
 * @throws Error naming `what` and the accepted forms for anything else, or a rate
 *   outside 100 kbit/s .. 100 Gbit/s
 */
export function parseLinkRate(raw: string, what = 'BENCH_DELTA_RATE'): LinkRate | undefined {
  const s = raw.trim().toLowerCase();
  if (s === 'off') return undefined;
  const m = /^(\d+(?:\.\d+)?)([kmg]?)bit$/.exec(s);
  const bad = (): Error => new Error(`${what}: a rate like 100mbit, 1gbit, 500kbit, or off; got ${JSON.stringify(raw)}`);
  if (!m) throw bad();
  const [mult, unit] = UNITS[m[2]!]!;
  const bitsPerSecond = Number(m[1]) * mult;
  if (!(bitsPerSecond >= 1e5 && bitsPerSecond <= 1e11)) throw new Error(`${what}: ${JSON.stringify(raw)} is outside 100kbit..100gbit`);
  return { tc: s, bitsPerSecond, label: `${m[1]} ${unit}` };
}

/**
 * Parses a comma list of rates (`parseLinkRate` each; `off` alone means none), e.g.
 * `100mbit` or `100mbit,20mbit`. Duplicates are refused.
 *
 * @throws Error as `parseLinkRate`, or for `off` inside a list or a repeated rate
 */
export function parseLinkRates(raw: string, what = 'BENCH_DELTA_RATE'): LinkRate[] {
  const parts = raw.split(',').map((x) => x.trim()).filter(Boolean);
  if (parts.length === 0) throw new Error(`${what}: a rate like 100mbit, a comma list of rates, or off; got ${JSON.stringify(raw)}`);
  if (parts.length === 1 && parts[0]!.toLowerCase() === 'off') return [];
  const rates = parts.map((p) => {
    const r = parseLinkRate(p, what);
    if (!r) throw new Error(`${what}: off cannot be part of a list; got ${JSON.stringify(raw)}`);
    return r;
  });
  const seen = new Set<number>();
  for (const r of rates) {
    if (seen.has(r.bitsPerSecond)) throw new Error(`${what}: ${r.label} repeats an earlier rate in ${JSON.stringify(raw)}`);
    seen.add(r.bitsPerSecond);
  }
  return rates;
}

/** The fleet's bridge device (test/harness/fleet.ts names it `orb<subnet>`). */
export function uplinkDevice(fleet: Pick<Fleet, 'subnet'>): string {
  return `orb${fleet.subnet}`;
}

/**
 * tc arguments of the shaper: burst is 256 KiB, or 2 ms worth of the rate when that is
 * more (a burst below one GSO packet of 64 KiB, or below what one timer tick releases,
 * would cap the rate below R); `latency 100ms` bounds the queue (a real uplink's buffer)
 * to 100 ms of the rate.
 */
export function tbfArgs(device: string, rate: LinkRate): string[] {
  const burst = Math.max(256 * 1024, Math.ceil((rate.bitsPerSecond / 8) * 0.002));
  return ['qdisc', 'replace', 'dev', device, 'root', 'tbf', 'rate', rate.tc, 'burst', String(burst), 'latency', '100ms'];
}

/** A shaped uplink; `remove()` restores the device's default qdisc. */
export interface ShapedUplink {
  device: string;
  rate: LinkRate;
  /** The `tc ...` command line that was run. */
  command: string;
  /** `tc -s qdisc show dev DEVICE` (counters: sent bytes, drops, overlimits). */
  stats(): string;
  /** The qdisc's `Sent N bytes` counter (everything it let through so far). */
  sentBytes(): number;
  /** Deletes the root qdisc; idempotent, never throws (the device may be gone already). */
  remove(): void;
}

/**
 * Shapes the control machine's traffic into the fleet (see the module doc). The qdisc
 * goes with the bridge when the fleet is torn down, and `remove()` also runs on process
 * exit, so it never outlives the run.
 *
 * @throws Error with tc's stderr when tc is missing (`apt-get install iproute2`) or the
 *   kernel has no sch_tbf
 */
export function shapeUplink(fleet: Pick<Fleet, 'subnet'>, rate: LinkRate): ShapedUplink {
  const device = uplinkDevice(fleet);
  const args = tbfArgs(device, rate);
  const r = spawnSync('tc', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`tc ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()} (needs iproute2 and a kernel with sch_tbf)`);
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    process.removeListener('exit', remove);
    spawnSync('tc', ['qdisc', 'del', 'dev', device, 'root'], { stdio: 'ignore', timeout: 10_000 });
  };
  process.once('exit', remove);
  const stats = (): string => spawnSync('tc', ['-s', 'qdisc', 'show', 'dev', device], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();
  return {
    device,
    rate,
    command: `tc ${args.join(' ')}`,
    stats,
    sentBytes: () => {
      const m = /^qdisc tbf [\s\S]*?Sent (\d+) bytes/m.exec(stats());
      if (!m) throw new Error(`no tbf qdisc on ${device}: ${stats()}`);
      return Number(m[1]);
    },
    remove,
  };
}

/** One measured transfer. */
export interface Transfer {
  /** `up-one`: control -> first host; `up-all`: control -> every host at once; `down-one`: first host -> control. */
  kind: 'up-one' | 'up-all' | 'down-one';
  /** Payload bytes moved (all hosts together for `up-all`). */
  bytes: number;
  /** Wall time of each run, ms, ssh connection set-up included. */
  ms: SampleSummary;
  /** bytes * 8 / median ms / 1000 (set-up included, so a little below the link's rate). */
  mbitPerSecond: number;
  /** The same of the fastest run: what a shaper must never let through above its rate. */
  peakMbitPerSecond: number;
}

/** Usage: `bash link-check.sh MODE HOSTLIST FILE` (MODE up-one | up-all | down-one); prints the byte counts received. */
function linkCheckScript(): string {
  return `#!/bin/bash
set -u
${SSH_OPTS}
mode=$1
list=$2
file=$3
case $mode in
  up-one)
    read -r addr port < "$list"
    ssh "\${opts[@]}" -p "$port" "root@$addr" 'wc -c' < "$file" ;;
  up-all)
${sshFanOut('"$list"', "'wc -c'", '"$file"')}
    exit $rc ;;
  down-one)
    read -r addr port < "$list"
    set -o pipefail
    ssh "\${opts[@]}" -p "$port" "root@$addr" "cat /tmp/$(basename "$file")" < /dev/null | wc -c ;;
  *) echo "link-check.sh: unknown mode $mode" >&2; exit 2 ;;
esac
`;
}

/** What `checkTransfers` needs. */
export interface TransferCheckOptions {
  fleet: Fleet;
  /** Folder for the script and the payloads. */
  work: string;
  /** `ADDRESS PORT` lines of every host (workload.ts hostListText). */
  hostList: string;
  /** KNOWN_HOSTS, IDENTITY, PATH, HOME for the script. */
  env: NodeJS.ProcessEnv;
  /** Payload to one host (default 20 MiB). */
  oneBytes?: number;
  /** Payload to each host in `up-all` (default 5 MiB, about the bench's release). */
  eachBytes?: number;
  /** Rounds; each runs the three kinds in turn (default 3). */
  runs?: number;
}

/**
 * Measures `up-one`, `up-all` and `down-one` (see `Transfer`) with random (incompressible)
 * payloads, `runs` times each, interleaved, checking that every byte arrived (the
 * receiver's `wc -c`).
 *
 * @throws Error when a transfer fails or a byte count differs
 */
export async function checkTransfers(o: TransferCheckOptions): Promise<Transfer[]> {
  const oneBytes = o.oneBytes ?? 20 * 1024 * 1024;
  const eachBytes = o.eachBytes ?? 5 * 1024 * 1024;
  const script = path.join(o.work, 'link-check.sh');
  const one = path.join(o.work, 'orch-bench-link-one.bin');
  const each = path.join(o.work, 'orch-bench-link-each.bin');
  await writeFile(script, linkCheckScript());
  await writeFile(one, randomBytes(oneBytes));
  await writeFile(each, randomBytes(eachBytes));
  // down-one reads the payload from the first host's /tmp (its private folder here).
  const first = o.fleet.hosts[0]!;
  await copyFile(one, path.join(first.dir, 'tmp', path.basename(one)));
  const n = o.fleet.hosts.length;
  const kinds = [['up-one', one, oneBytes, 1], ['up-all', each, eachBytes, n], ['down-one', one, oneBytes, 1]] as const;
  const ms: number[][] = kinds.map(() => []);
  for (let run = 0; run < (o.runs ?? 3); run++) {
    for (const [k, [kind, file, bytes, copies]] of kinds.entries()) {
      const r = await runTimed('bash', [script, kind, o.hostList, file], { env: o.env, timeoutMs: 600_000 });
      if (r.code !== 0) throw new Error(`link check ${kind} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${tailOf(r.stderr)}`);
      const counts = r.stdout.trim().split(/\s+/).map(Number);
      if (counts.length !== copies || counts.some((c) => c !== bytes)) throw new Error(`link check ${kind}: received ${JSON.stringify(counts)} bytes, want ${copies} x ${bytes}`);
      ms[k]!.push(r.ms);
    }
  }
  return kinds.map(([kind, , bytes, copies], k) => {
    const total = bytes * copies;
    const s = summarizeSamples(ms[k]!);
    return { kind, bytes: total, ms: s, mbitPerSecond: (total * 8) / s.median / 1000, peakMbitPerSecond: (total * 8) / s.min / 1000 };
  });
}
