/**
 * Issue 6, row 15: 200 real sshd hosts at --forks 1, 20 and 50. Bounded memory (peak
 * RSS of the orch process) and file descriptors (`/proc/<pid>/fd`, sampled), per-host
 * output attributed correctly (each host's error carries the address the HOST itself
 * reports), results identical to the serial run.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, onHost, startOrch, summaryOf, writeFile, type Work } from './helpers.js';

const COUNT = 200;
const PER_FLEET = 25;

describe.skipIf(!canRunFleet())('load (issue 6 row 15)', () => {
  const fleets: Fleet[] = [];
  const all: { name: string; host: TestHost }[] = [];
  let work: Work;
  let pb: string;
  const serial: { results?: string } = {};

  beforeAll(async () => {
    const t0 = Date.now();
    // 8 fleets of 25: the harness starts a fleet's sshds all at once with a 5 s readiness
    // budget, which 200 at once on 2 cores exceed; each fleet has its own subnet and keys.
    for (let k = 0; k < COUNT / PER_FLEET; k++) fleets.push(await startFleet({ count: PER_FLEET, name: `orchld${k}` }));
    console.log(`row 15: ${COUNT}-host fleet up in ${Date.now() - t0} ms`);
    work = makeWork('load');
    const hosts: Record<string, unknown> = {};
    fleets.forEach((f, k) => f.hosts.forEach((h, i) => {
      const name = `f${k}-${String(i + 1).padStart(2, '0')}`;
      all.push({ name, host: h });
      hosts[name] = { address: h.address, port: h.port, identity: f.identityFile, known_hosts: f.knownHostsFile };
    }));
    writeFile(work, 'inventory.yml', stringifyYaml({ defaults: { user: 'root' }, hosts }));
    // Every host writes what IT says its address is; every 10th host fails, printing it.
    pb = writeFile(work, 'load.yml', [
      'inventory: inventory.yml',
      'steps:',
      '  - run: { cmd: "ip -4 -o addr show eth0 | awk \'{print $4}\' > /srv/who-{{run}}" }',
      '  - put: { dest: "/srv/name-{{run}}", content: "{{host.name}}" }',
      '  - run: { cmd: "case {{host.name}} in *0) echo \\"I am $(cat /srv/who-{{run}})\\" >&2; exit 7;; esac" }',
      '',
    ].join('\n'));
  }, 600_000);

  afterAll(async () => {
    for (const f of fleets) await f.teardown();
  });

  it.each([1, 20, 50])('--forks %i: bounded RSS and fds, output attributed, same results as serial', async (forks) => {
    // The run id has the same width for every row: step labels are cut at 60 characters, so
    // `who-1` and `who-20` would cut the same label at different places.
    const id = String(forks).padStart(2, '0');
    const run = startOrch(['apply', pb, '--json', '--forks', String(forks), '-e', `run=${id}`], work.env, { cwd: work.dir });
    const pid = run.child.pid!;
    let peakRss = 0;
    let peakFds = 0;
    const timer = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) peakRss = Math.max(peakRss, Number(m[1]));
        peakFds = Math.max(peakFds, readdirSync(`/proc/${pid}/fd`).length);
      } catch {
        /* exited */
      }
    }, 50);
    const r = await run.done;
    clearInterval(timer);
    console.log(`row 15: forks ${forks}: ${r.ms} ms, peak RSS ${Math.round(peakRss / 1024)} MiB, peak fds ${peakFds}`);
    expect(r.code, r.stdout.slice(-1500) + r.stderr).toBe(4);
    const s = summaryOf(r.stdout);
    expect(s.hosts).toHaveLength(COUNT);
    for (const { name, host } of all) {
      const res = s.hosts.find((x) => x.host === name)!;
      // The host's own result first: a host that failed for another reason (a connection
      // under load) says why, instead of an ENOENT on the file it never wrote.
      const whoFile = onHost(host, `/srv/who-${id}`);
      expect(existsSync(whoFile), `${name}: ${res.status} ${res.error ?? ''}`).toBe(true);
      const own = readFileSync(whoFile, 'utf8').trim();
      expect(own).toBe(`${host.address}/24`);
      expect(readFileSync(onHost(host, `/srv/name-${id}`), 'utf8')).toBe(name);
      if (name.endsWith('0')) {
        expect(res.status).toBe('failed');
        expect(res.error).toContain(`I am ${own}`);
      } else expect(res.status).toBe('changed');
    }
    const results = JSON.stringify(s.hosts.map((x) => [x.host, x.status, (x.error ?? '').replace(/-\d+\b/g, '-N').replace(/10\.231\.\d+\./g, 'X.')]));
    if (forks === 1) serial.results = results;
    else expect(results).toBe(serial.results);
    expect(peakRss).toBeGreaterThan(0);
    expect(peakRss).toBeLessThan(600 * 1024);
    expect(peakFds).toBeLessThan(COUNT + 100);
  }, 600_000);
});
