/**
 * `npm run bench:trace`: the per-phase trace (`ORCH_TRACE=1`, src/engine/trace.ts) of a
 * fresh deploy and then a no-op redeploy of the bench's workload (workload.ts) on
 * BENCH_HOSTS (default 2) sshd test hosts, printed as orch wrote it (stderr lines and the
 * exit table), with an `ssh HOST true` fan-out's wall time beside it. Needs root.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFleet } from '../test/harness/fleet.js';
import { runTimed, tailOf } from './proc.js';
import { hostListText, orchInventoryYaml, orchPlaybookYaml, sshTrueScript, writeApp } from './workload.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const hosts = Math.max(1, Math.min(50, Number(process.env.BENCH_HOSTS) || 2));
const work = await mkdtemp(path.join(os.tmpdir(), 'orch-bench-trace-'));
const fleet = await startFleet({ count: hosts, name: 'obtrace' });
try {
  await writeApp(work, async (args) => void (await runTimed('tar', args)));
  const eps = fleet.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port }));
  await writeFile(path.join(work, 'inventory.yml'), orchInventoryYaml(eps, fleet.identityFile, fleet.knownHostsFile));
  await writeFile(path.join(work, 'playbook.yml'), orchPlaybookYaml('inventory.yml'));
  await writeFile(path.join(work, 'hosts.txt'), hostListText(eps));
  await writeFile(path.join(work, 'ssh-true.sh'), sshTrueScript());
  const home = path.join(work, 'home');
  await mkdir(home, { recursive: true });
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: home, XDG_CACHE_HOME: path.join(home, 'cache'), ORCH_TRACE: '1', NO_COLOR: '1' };
  for (const what of ['fresh deploy', 'no-op', 'no-op']) {
    const r = await runTimed(process.execPath, [path.join(REPO, 'bin', 'orch.js'), 'apply', 'playbook.yml', '--json', '--yes'], { cwd: work, env, timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`orch apply exited ${r.code}: ${tailOf(r.stderr)}`);
    console.log(`\n## ${what}, ${hosts} hosts: ${r.ms.toFixed(0)} ms wall\n${r.stderr.trim()}`);
  }
  const t = await runTimed('bash', [path.join(work, 'ssh-true.sh'), path.join(work, 'hosts.txt')], { env: { ...env, KNOWN_HOSTS: fleet.knownHostsFile, IDENTITY: fleet.identityFile } });
  console.log(`\nssh true fan-out, ${hosts} hosts: ${t.ms.toFixed(0)} ms (exit ${t.code})`);
} finally {
  await fleet.teardown();
  await rm(work, { recursive: true, force: true });
}
