/**
 * The delta-release section of `npm run bench` (issue 16), on the bench's fleet:
 *
 * - **10 KB change**: the bench's app (VERSION, bin/run, the 5 MiB incompressible blob)
 *   plus a 10 KB file `conf.bin`; each measured release changes only `conf.bin`
 *   (random bytes). `orch apply` of the new release onto hosts holding the previous one,
 *   beside a bare parallel `ssh HOST 'mkdir; tar xz; ln -sfn; mv -T' < full.tar.gz` of
 *   the same tarball at once to every host (ControlMaster off), interleaved, order
 *   alternating. Bytes per host are orch's `bytesUploaded` / hosts against the tarball.
 * - **2,000 small files**: the same with `lib/f0000..f1999` (512 random bytes each)
 *   added to the app.
 * - **python**: a `python` bundle of an app wheel that depends on a 2 MiB wheel
 *   (`bigdep`, prebuilt in a wheelhouse, found with `--no-index --find-links`); the
 *   release changes only the app's code and version. Reports the bytes sent per host
 *   against the app's wheel, the dependency's wheel and the full tarball, and which
 *   bundle members changed (from the two tarballs' manifests).
 *
 * The two directory scenarios run unthrottled (loopback speed through the fleet's bridge)
 * and then again on each shaped uplink of `rates` (link-shape.ts: a tbf qdisc on the
 * bridge's egress, so every byte from this machine to all hosts together shares the
 * rate, like a laptop's or CI runner's uplink), each link with its own warm-up round.
 * A transfer check (`ssh HOST 'wc -c' < FILE` to one host, to every host at once, and
 * back) first shows what each link really carries.
 *
 * Every release is checked on every host afterwards (`current`, `conf.bin` bytes).
 * Environment: BENCH_DELTA_RUNS (default BENCH_RUNS), BENCH_DELTA_PY_HOSTS (2),
 * BENCH_DELTA_RATE (run.ts: `100mbit`, a comma list, or `off`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { cp, mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { readBundleManifest } from '../src/bundle/manifest.js';
import type { Fleet } from '../test/harness/fleet.js';
import { checkTransfers, shapeUplink, uplinkDevice, type LinkRate, type ShapedUplink, type Transfer } from './link-shape.js';
import { runTimed, tailOf, type TimedResult } from './proc.js';
import type { Ratio, Row } from './report.js';
import { ratioOf, summarizeSamples, type SampleSummary } from './stats.js';
import { BLOB_BYTES, SSH_OPTS, hostListText, sshFanOut, orchInventoryYaml, type Endpoint } from './workload.js';

/** What the section needs from the runner. */
export interface DeltaBenchOptions {
  fleet: Fleet;
  work: string;
  orch: string;
  orchEnv: Record<string, string>;
  runs: number;
  forkArgs: string[];
  haveSsh: boolean;
  /** Shaped uplinks the dir scenarios also run on (after the unthrottled runs); [] for none. */
  rates: LinkRate[];
  log: (s: string) => void;
}

/** One scenario's figures. */
export interface DeltaScenario {
  name: string;
  /** The shaped uplink it ran on; absent: unthrottled. */
  link?: LinkRate;
  hosts: number;
  tarballBytes: number[];
  bytesPerHost: number[];
  /**
   * Bytes this machine put on the wire into the test subnet per host during each measured
   * orch apply / bare run (the bridge device's tx_bytes: payload, ssh and TCP/IP overhead,
   * acks of what the hosts sent back).
   */
  orchWirePerHost: number[];
  bareWirePerHost: number[];
  orchMs: SampleSummary;
  bareMs?: SampleSummary;
  /** Members (path, bytes) that differ between the last two releases. */
  changed: Array<[string, number]>;
}

/** The python scenario's figures. */
export interface PythonDelta {
  hosts: number;
  bytesPerHost: number;
  tarballBytes: number;
  appWheel: [string, number];
  depWheel: [string, number];
  changed: Array<[string, number]>;
}

/** What one link carried in the transfer check (link-shape.ts checkTransfers). */
export interface LinkCheck {
  /** Absent: unthrottled. */
  link?: LinkRate;
  /** The tc command that shaped it. */
  command?: string;
  transfers: Transfer[];
  /** `tc -s qdisc show` of the bridge after the check (sent bytes, drops, overlimits). */
  qdisc?: string;
}

export interface DeltaResults {
  scenarios: DeltaScenario[];
  linkChecks: LinkCheck[];
  python?: PythonDelta;
  errors: string[];
}

/** `bash bare-release.sh HOSTLIST TARBALL ROOT VERSION`: unpacks the full tarball on every host at once and switches `current`. */
function bareReleaseScript(): string {
  return `#!/bin/bash
set -u
${SSH_OPTS}
remote="set -e; mkdir -p $3/versions/$4; tar xzf - -C $3/versions/$4 --strip-components=1; ln -sfn versions/$4 $3/current.tmp; mv -T $3/current.tmp $3/current"
${sshFanOut('"$1"', '"$remote"', '"$2"')}
exit $rc
`;
}

/**
 * install + symlink of bundle `key` (built from the folder of the same name, so `orch
 * bundle KEY` builds the same tarball). No prune: the bare script does not prune either
 * (its old releases are removed outside the timing).
 */
function playbookYaml(inventory: string, root: string, key: string, bundle: Record<string, unknown>): string {
  return stringifyYaml({
    inventory,
    vars: { app: path.basename(root), root },
    bundles: { [key]: { source: key, ...bundle } },
    nodes: { app: { steps: [{ install: { bundle: key } }, { symlink: {} }] } },
  });
}

function summaryOf(stdout: string): { changed: number; failed: number; bytesUploaded: number } | undefined {
  for (const line of stdout.trim().split('\n').reverse()) {
    try {
      const o = JSON.parse(line) as { type?: string };
      if (o.type === 'summary') return o as never;
    } catch {
      /* not JSON */
    }
  }
  return undefined;
}

/** Members (path, size) of tarball `b` whose content differs from tarball `a`'s. */
async function changedMembers(a: string, b: string): Promise<Array<[string, number]>> {
  const old = new Map((await readBundleManifest(a)).entries.map((e) => [e.path, e]));
  const out: Array<[string, number]> = [];
  for (const e of (await readBundleManifest(b)).entries) {
    const o = old.get(e.path);
    if (e.type === 'f' && !(o?.type === 'f' && o.sha256 === e.sha256)) out.push([e.path, e.size]);
  }
  return out;
}

/** Runs the delta section; never throws (errors are returned). */
export async function measureDelta(o: DeltaBenchOptions): Promise<DeltaResults> {
  const res: DeltaResults = { scenarios: [], linkChecks: [], errors: [] };
  const { fleet, work, log } = o;
  const hosts: Endpoint[] = fleet.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port }));
  const dwork = path.join(work, 'delta');
  await mkdir(dwork, { recursive: true });
  await writeFile(path.join(dwork, 'inventory.yml'), orchInventoryYaml(hosts, fleet.identityFile, fleet.knownHostsFile));
  await writeFile(path.join(dwork, 'hosts.txt'), hostListText(hosts));
  await writeFile(path.join(dwork, 'bare-release.sh'), bareReleaseScript());
  const sshEnv = { PATH: o.orchEnv.PATH!, LANG: 'C.UTF-8', HOME: o.orchEnv.HOME!, KNOWN_HOSTS: fleet.knownHostsFile, IDENTITY: fleet.identityFile };
  const orch = (args: string[], cwd = dwork): Promise<TimedResult> => runTimed(process.execPath, [o.orch, ...args], { cwd, env: o.orchEnv, timeoutMs: 600_000 });
  const must = (what: string, r: TimedResult): void => {
    if (r.code !== 0) throw new Error(`${what} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${tailOf(r.stderr || r.stdout)}`);
  };
  const bundle = async (cwd: string, src: string, extra: string[]): Promise<{ path: string; version: string }> => {
    const r = await orch(['bundle', src, ...extra, '--out', 'dist', '--json'], cwd);
    must(`orch bundle ${src}`, r);
    return JSON.parse(r.stdout) as { path: string; version: string };
  };
  const wipe = (root: string): Promise<unknown> => Promise.all(fleet.hosts.map((h) => rm(path.join(h.dir, root.slice(1)), { recursive: true, force: true })));
  const check = async (root: string, version: string, file?: [string, Buffer], only = fleet.hosts.length): Promise<void> => {
    for (const h of fleet.hosts.slice(0, only)) {
      const link = await readlink(path.join(h.dir, root.slice(1), 'current'));
      if (link !== `versions/${version}`) throw new Error(`${h.name}: ${root}/current -> ${link}, want versions/${version}`);
      if (file && !(await readFile(path.join(h.dir, root.slice(1), 'current', file[0]))).equals(file[1])) throw new Error(`${h.name}: ${root}/current/${file[0]} differs`);
    }
  };

  const txBytes = (): number => Number(readFileSync(`/sys/class/net/${uplinkDevice(fleet)}/statistics/tx_bytes`, 'utf8'));
  // The links: unthrottled, then each shaped uplink whose transfer check shows it shaped.
  const links: Array<LinkRate | undefined> = [undefined];
  const hostList = path.join(dwork, 'hosts.txt');
  const cwork = path.join(dwork, 'link-check');
  await mkdir(cwork, { recursive: true });
  const showTransfers = (t: Transfer[]): string => t.map((x) => `${x.kind} ${(x.bytes / 2 ** 20).toFixed(0)} MiB ${x.ms.median.toFixed(0)} ms = ${x.mbitPerSecond.toFixed(0)} Mbit/s (fastest ${x.peakMbitPerSecond.toFixed(0)})`).join('; ');
  if (o.haveSsh) {
    try {
      const transfers = await checkTransfers({ fleet, work: cwork, hostList, env: sshEnv });
      res.linkChecks.push({ transfers });
      log(`delta link check (unthrottled): ${showTransfers(transfers)}`);
    } catch (e) {
      res.errors.push(`delta link check (unthrottled): ${(e as Error).message}`);
      log(`ERROR delta link check (unthrottled): ${(e as Error).message}`);
    }
  }
  for (const rate of o.rates) {
    let up: ShapedUplink | undefined;
    try {
      up = shapeUplink(fleet, rate);
      log(`delta: ${up.command}`);
      if (o.haveSsh) {
        const transfers = await checkTransfers({ fleet, work: cwork, hostList, env: sshEnv });
        res.linkChecks.push({ link: rate, command: up.command, transfers, qdisc: up.stats() });
        log(`delta link check (${rate.label} uplink): ${showTransfers(transfers)}`);
        // Set-up time only lowers the figure: even the fastest run above the rate means the shaper missed the traffic.
        const over = transfers.filter((t) => t.kind !== 'down-one' && t.peakMbitPerSecond * 1e6 > rate.bitsPerSecond * 1.1);
        if (over.length) throw new Error(`the shaper on ${up.device} did not hold: ${showTransfers(over)} is above ${rate.label}`);
      }
      links.push(rate);
    } catch (e) {
      res.errors.push(`delta (${rate.label} uplink): ${(e as Error).message}`);
      log(`ERROR delta (${rate.label} uplink): ${(e as Error).message}`);
    } finally {
      up?.remove();
    }
  }

  // Dir scenarios.
  for (const sc of [{ name: 'one changed 10 KB file', small: 0 }, { name: '2,000 small files, one changed 10 KB file', small: 2000 }]) {
    const root = sc.small ? '/srv/delta-many' : '/srv/delta-one';
    const bareRoot = `${root}-bare`;
    const dir = path.join(dwork, sc.small ? 'many' : 'one');
    const src = path.join(dir, 'app');
    const pb = path.join(dir, 'playbook.yml');
    try {
      await mkdir(path.join(src, 'bin'), { recursive: true });
      await writeFile(path.join(src, 'bin', 'run'), '#!/bin/sh\necho app\n', { mode: 0o755 });
      await writeFile(path.join(src, 'blob.bin'), randomBytes(BLOB_BYTES));
      if (sc.small) {
        await mkdir(path.join(src, 'lib'), { recursive: true });
        for (let i = 0; i < sc.small; i++) await writeFile(path.join(src, 'lib', `f${String(i).padStart(4, '0')}`), randomBytes(512));
      }
      await writeFile(pb, playbookYaml('../inventory.yml', root, 'app', { builder: 'dir' }));
      await wipe(root);
      await wipe(bareRoot);
      let n = 0;
      const release = async (): Promise<{ version: string; conf: Buffer; tarball: string }> => {
        const version = `1.0.${n++}`;
        const conf = randomBytes(10 * 1024);
        await writeFile(path.join(src, 'VERSION'), `${version}\n`);
        await writeFile(path.join(src, 'conf.bin'), conf);
        return { version, conf, tarball: (await bundle(dir, 'app', ['--builder', 'dir'])).path };
      };
      // The base release everywhere (full tarball; unmeasured, unthrottled).
      let prev = await release();
      must('orch apply (base release)', await orch(['apply', 'playbook.yml', '--json', '--yes', ...o.forkArgs], dir));
      await check(root, prev.version, ['conf.bin', prev.conf]);
      for (const link of links) {
        const tag = link ? `delta (${link.label} uplink)` : 'delta';
        let up: ShapedUplink | undefined;
        try {
          if (link) up = shapeUplink(fleet, link);
          const orchMs: number[] = [];
          const bareMs: number[] = [];
          const perHost: number[] = [];
          const orchWire: number[] = [];
          const bareWire: number[] = [];
          const sizes: number[] = [];
          let changed: Array<[string, number]> = [];
          // Round 0 on each link is an unmeasured warm-up.
          for (let round = 0; round <= o.runs; round++) {
            const rel = await release();
            const contenders: Array<() => Promise<void>> = [
              async () => {
                const tx0 = txBytes();
                const r = await orch(['apply', 'playbook.yml', '--json', '--yes', ...o.forkArgs], dir);
                const wire = (txBytes() - tx0) / hosts.length;
                must('orch apply (delta)', r);
                const s = summaryOf(r.stdout);
                if (!s || s.changed !== hosts.length) throw new Error(`orch apply (delta): expected ${hosts.length} changed hosts, got ${JSON.stringify(s)}`);
                await check(root, rel.version, ['conf.bin', rel.conf]);
                if (round > 0) {
                  orchMs.push(r.ms);
                  perHost.push(s.bytesUploaded / hosts.length);
                  orchWire.push(wire);
                }
              },
            ];
            if (o.haveSsh) {
              contenders.push(async () => {
                const tx0 = txBytes();
                const r = await runTimed('bash', [path.join(dwork, 'bare-release.sh'), hostList, rel.tarball, bareRoot, rel.version], { env: sshEnv, timeoutMs: 300_000 });
                const wire = (txBytes() - tx0) / hosts.length;
                must('bare ssh tar x', r);
                await check(bareRoot, rel.version, ['data/conf.bin', rel.conf]);
                if (round > 0) {
                  bareMs.push(r.ms);
                  bareWire.push(wire);
                }
              });
            }
            if (round % 2) contenders.reverse();
            for (const c of contenders) await c();
            if (round > 0) sizes.push(statSync(rel.tarball).size);
            changed = await changedMembers(prev.tarball, rel.tarball);
            log(`${tag} (${sc.name}) ${round === 0 ? 'warm-up' : `run ${round}/${o.runs}`}: orch ${orchMs.at(-1)?.toFixed(0) ?? '-'} ms, ${perHost.at(-1) ?? '-'} B/host; bare ${bareMs.at(-1)?.toFixed(0) ?? '-'} ms`);
            prev = rel;
            // Bare releases pile up 5 MiB per host each: keep only the current one.
            await Promise.all(fleet.hosts.map(async (h) => {
              const vdir = path.join(h.dir, bareRoot.slice(1), 'versions');
              if (!existsSync(vdir)) return;
              for (const v of readdirSync(vdir)) if (v !== rel.version) await rm(path.join(vdir, v), { recursive: true, force: true });
            }));
          }
          res.scenarios.push({
            name: sc.name, ...(link && { link }), hosts: hosts.length, tarballBytes: sizes, bytesPerHost: perHost, orchWirePerHost: orchWire, bareWirePerHost: bareWire, orchMs: summarizeSamples(orchMs),
            ...(bareMs.length && { bareMs: summarizeSamples(bareMs) }), changed,
          });
        } catch (e) {
          res.errors.push(`${tag} (${sc.name}): ${(e as Error).message}`);
          log(`ERROR ${tag} (${sc.name}): ${(e as Error).message}`);
        } finally {
          up?.remove();
        }
      }
    } catch (e) {
      res.errors.push(`delta (${sc.name}): ${(e as Error).message}`);
      log(`ERROR delta (${sc.name}): ${(e as Error).message}`);
    } finally {
      await wipe(root);
      await wipe(bareRoot);
    }
  }

  // Python: only the app's wheel changes.
  const pyHosts = Math.min(hosts.length, Number(process.env.BENCH_DELTA_PY_HOSTS ?? 2) || 2);
  const root = '/srv/delta-py';
  try {
    const python = '/usr/bin/python3';
    const wheels = '/usr/share/python-wheels';
    if (!existsSync(python) || !existsSync(wheels)) throw new Error(`needs ${python} and ${wheels} (apt-get install python3-venv python3-setuptools-whl python3-wheel-whl)`);
    const house = path.join(dwork, 'wheels');
    await mkdir(house, { recursive: true });
    for (const w of readdirSync(wheels)) if (/^(setuptools|wheel)-.*\.whl$/.test(w)) await cp(path.join(wheels, w), path.join(house, w));
    const dep = path.join(dwork, 'bigdep');
    await mkdir(path.join(dep, 'src', 'bigdep'), { recursive: true });
    await writeFile(path.join(dep, 'pyproject.toml'), '[build-system]\nrequires = ["setuptools>=61", "wheel"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "bigdep"\nversion = "2.0.0"\nrequires-python = ">=3.8"\n\n[tool.setuptools.packages.find]\nwhere = ["src"]\n\n[tool.setuptools.package-data]\nbigdep = ["*.bin"]\n');
    await writeFile(path.join(dep, 'src', 'bigdep', '__init__.py'), 'NAME = "bigdep"\n');
    await writeFile(path.join(dep, 'src', 'bigdep', 'blob.bin'), randomBytes(2 * 1024 * 1024));
    const venv = path.join(dwork, 'wheel-venv');
    must('python3 -m venv', await runTimed(python, ['-m', 'venv', venv], { timeoutMs: 120_000 }));
    must('pip wheel bigdep', await runTimed(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'wheel', '--disable-pip-version-check', '--no-index', '--find-links', house, '--wheel-dir', house, dep], { timeoutMs: 300_000 }));
    const app = path.join(dwork, 'pyapp');
    await mkdir(path.join(app, 'src', 'pyapp'), { recursive: true });
    const writePy = async (version: string): Promise<void> => {
      await writeFile(path.join(app, 'pyproject.toml'), `[build-system]\nrequires = ["setuptools>=61", "wheel"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "pyapp"\nversion = "${version}"\nrequires-python = ">=3.8"\ndependencies = ["bigdep>=2"]\n\n[tool.setuptools.packages.find]\nwhere = ["src"]\n`);
      await writeFile(path.join(app, 'src', 'pyapp', '__init__.py'), `VERSION = "${version}"\nSALT = "${randomBytes(8).toString('hex')}"\n`);
    };
    const pyInv = path.join(dwork, 'inventory-py.yml');
    await writeFile(pyInv, orchInventoryYaml(hosts.slice(0, pyHosts), fleet.identityFile, fleet.knownHostsFile));
    const pyOpts = ['--no-index', `--find-links=${house}`];
    await writeFile(path.join(dwork, 'py.yml'), playbookYaml('inventory-py.yml', root, 'pyapp', { builder: 'python', python, pip_options: pyOpts }));
    const build = (): Promise<{ path: string; version: string }> => bundle(dwork, 'pyapp', ['--builder', 'python', '-p', python, ...pyOpts.map((p) => `--pip-option=${p}`)]);
    await wipe(root);
    await writePy('1.0.0');
    const t0 = (await build()).path;
    must('orch apply (python 1.0.0)', await orch(['apply', 'py.yml', '--json', '--yes']));
    await writePy('1.0.1');
    const b1 = await build();
    const t1 = b1.path;
    const r = await orch(['apply', 'py.yml', '--json', '--yes']);
    must('orch apply (python 1.0.1)', r);
    await check(root, b1.version, undefined, pyHosts);
    const s = summaryOf(r.stdout)!;
    const m = await readBundleManifest(t1);
    const wheel = (re: RegExp): [string, number] => {
      const e = m.entries.find((x) => x.type === 'f' && re.test(x.path));
      return e && e.type === 'f' ? [e.path, e.size] : ['?', NaN];
    };
    res.python = {
      hosts: pyHosts, bytesPerHost: s.bytesUploaded / pyHosts, tarballBytes: statSync(t1).size,
      appWheel: wheel(/^data\/pyapp-.*\.whl$/), depWheel: wheel(/^data\/bigdep-.*\.whl$/), changed: await changedMembers(t0, t1),
    };
    log(`delta (python): ${res.python.bytesPerHost} B/host; app wheel ${res.python.appWheel[1]} B, dep wheel ${res.python.depWheel[1]} B, tarball ${res.python.tarballBytes} B; changed ${res.python.changed.map(([p]) => p).join(', ')}`);
  } catch (e) {
    res.errors.push(`delta (python): ${(e as Error).message}`);
    log(`ERROR delta (python): ${(e as Error).message}`);
  } finally {
    await wipe(root);
  }
  return res;
}

const med = (xs: number[]): number => summarizeSamples(xs).median;

/** Table rows and ratios of the section. */
export function deltaReport(d: DeltaResults): { rows: Row[]; ratios: Ratio[] } {
  const rows: Row[] = [];
  const ratios: Ratio[] = [];
  const what: Record<Transfer['kind'], string> = {
    'up-one': "ssh h1 'wc -c' < FILE",
    'up-all': "ssh HOST 'wc -c' < FILE, every host at once",
    'down-one': "ssh h1 'cat FILE' (host -> control)",
  };
  for (const c of d.linkChecks) {
    for (const t of c.transfers) {
      rows.push({ label: `delta link check (${c.link ? `${c.link.label} uplink` : 'unthrottled'}): ${what[t.kind]}`, summary: t.ms, note: `${(t.bytes / 2 ** 20).toFixed(0)} MiB, ${t.mbitPerSecond.toFixed(0)} Mbit/s (fastest ${t.peakMbitPerSecond.toFixed(0)}; ssh set-up included)` });
    }
  }
  for (const s of d.scenarios) {
    const tb = med(s.tarballBytes);
    const changed = s.changed.map(([p, n]) => `${p} ${n}`).join(', ');
    const wire = (xs: number[]): string => (xs.length ? `; on the wire ${Math.round(med(xs))} B/host` : '');
    const bytesNote = `${Math.round(med(s.bytesPerHost))} B/host of a ${tb} B tarball${wire(s.orchWirePerHost)}`;
    const bareNote = wire(s.bareWirePerHost).slice(2);
    if (s.link) {
      // Bytes do not depend on the link: only the times get rows here.
      const tag = `delta (${s.link.label} uplink)`;
      rows.push({ label: `${tag}: ${s.name}, orch apply (${s.hosts} hosts)`, summary: s.orchMs, note: bytesNote });
      if (s.bareMs) rows.push({ label: `${tag}: ${s.name}, bare ssh tar x of the full tarball`, summary: s.bareMs, note: `${s.hosts} x ${tb} B through the shared ${s.link.label}${bareNote ? `; ${bareNote}` : ''}` });
      ratios.push({ name: `${tag}: ${s.name}: orch apply / bare ssh tar x (${s.hosts} hosts)`, value: ratioOf(s.orchMs.median, s.bareMs?.median ?? NaN), goal: '≤ 0.6' });
      continue;
    }
    rows.push({ label: `delta: ${s.name}, orch apply (${s.hosts} hosts)`, summary: s.orchMs, note: bytesNote });
    if (s.bareMs) rows.push({ label: `delta: ${s.name}, bare ssh tar x of the full tarball`, summary: s.bareMs, ...(bareNote && { note: bareNote }) });
    rows.push({ label: `delta: ${s.name}, bytes sent per host`, summary: summarizeSamples(s.bytesPerHost), unit: 'B', note: `changed members: ${changed}` });
    ratios.push({ name: `delta ${s.name}: bytes per host, % of the full tarball`, value: (100 * med(s.bytesPerHost)) / tb, goal: '≤ 1' });
    ratios.push({ name: `delta ${s.name}: orch apply / bare ssh tar x (${s.hosts} hosts)`, value: ratioOf(s.orchMs.median, s.bareMs?.median ?? NaN), goal: '≤ 0.6' });
  }
  const p = d.python;
  if (p) {
    rows.push({ label: `delta: python, only the app changed (${p.hosts} hosts)`, summary: summarizeSamples([p.bytesPerHost]), unit: 'B', note: `app wheel ${p.appWheel[1]} B, dep wheel ${p.depWheel[1]} B, tarball ${p.tarballBytes} B; changed members: ${p.changed.map(([x, n]) => `${x} ${n}`).join(', ')}` });
    ratios.push({ name: 'delta python: bytes per host / app wheel', value: p.bytesPerHost / p.appWheel[1], goal: '≈ 1 (only the app wheel)' });
    ratios.push({ name: 'delta python: bytes per host, % of the full tarball', value: (100 * p.bytesPerHost) / p.tarballBytes });
  }
  return { rows, ratios };
}
