/**
 * Issue 6, row 5: hostile `artifact:` bundles (tar-slip family: node-tar CVE-2021-32803/
 * 32804/37701/37712/37713 and successors). Each is refused on the control machine before
 * any host is touched, AND by the host-side `orch_check_tar` before unpacking when the
 * tarball reaches a host anyway (the install script run directly on a host with the
 * hostile tarball swapped in). Nothing is written outside; `current` is unchanged.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, lstatSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, onHost, orch, STACK_RE, summaryOf, writeFile, type Work } from './helpers.js';

const MAKE_HOSTILE = join(import.meta.dirname, '../fixtures/bundle/make-hostile.py');
const ROOT = '/srv/art';
const TOP2 = 'art-2.0.0-any';

/** Every path under a host's private folders (relative), minus uploaded bundle blobs. */
function snapshot(host: TestHost): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const rel = relative(host.dir, p);
      if (/\.orch\/bundles\/[0-9a-f]{64}\.tar\.gz$/.test(rel)) continue;
      out.push(`${rel} ${e.isSymbolicLink() ? `-> ${readlinkSync(p)}` : lstatSync(p).mode.toString(8)}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(host.dir);
  return out.sort();
}

const CASES: [string, RegExp][] = [
  ['dotdot', /unsafe bundle member: art-2\.0\.0-any\/\.\.\/evil: parent directory segment \(\.\.\)/],
  ['absolute', /unsafe bundle member: \/srv\/evil-abs: absolute path/],
  ['symlink-escape', /unsafe bundle member: art-2\.0\.0-any\/data\/link: symlink target "\.\.\/\.\.\/" leaves the bundle folder/],
  ['symlink-absolute', /unsafe bundle member: art-2\.0\.0-any\/data\/etc: symlink target "\/etc" leaves the bundle folder/],
  ['through-symlink', /unsafe bundle member: art-2\.0\.0-any\/data\/link\/file: path goes through symlink art-2\.0\.0-any\/data\/link/],
  ['symlink-chain', /unsafe bundle member: art-2\.0\.0-any\/data\/esc: symlink target "d\/up\/\.\.\/\.\.\/\.\.\/x" passes through symlink art-2\.0\.0-any\/data\/d\/up/],
  ['hardlink', /unsafe bundle member: art-2\.0\.0-any\/data\/shadow: hard link/],
  ['chardev', /unsafe bundle member: art-2\.0\.0-any\/data\/null: character device/],
  ['blockdev', /unsafe bundle member: art-2\.0\.0-any\/data\/disk: block device/],
  ['fifo', /unsafe bundle member: art-2\.0\.0-any\/data\/pipe: fifo/],
  ['setuid', /unsafe bundle member: art-2\.0\.0-any\/data\/su: setuid\/setgid bit/],
  ['gzip-bomb', /unsafe bundle member: art-2\.0\.0-any\/data\/zeros: total size exceeds 1 GiB/],
];

describe.skipIf(!canRunFleet())('hostile artifacts (issue 6 row 5)', () => {
  let fleet: Fleet;
  let work: Work;
  let good2: string;
  const h = (i: number): TestHost => fleet.hosts[i - 1]!;
  const make = (out: string, kase: string, top: string): string => {
    execFileSync('python3', [MAKE_HOSTILE, out, kase, top, '/srv/evil-abs']);
    return out;
  };
  const playbook = (artifact: string): string =>
    writeFile(work, 'art.yml', `inventory: inventory.yml\nvars: { app: art, root: ${ROOT} }\nbundles:\n  art: { artifact: ${artifact} }\nsteps:\n  - install: {}\n  - symlink: {}\n`);

  beforeAll(async () => {
    fleet = await startFleet({ count: 3, name: 'orchart' });
    work = makeWork('art');
    writeFile(work, 'inventory.yml', fleet.inventoryYaml());
    const good1 = make(join(work.dir, 'art-1.0.0-any.tar.gz'), 'good', 'art-1.0.0-any');
    good2 = make(join(work.dir, 'good2.tar.gz'), 'good', TOP2);
    const r = await orch(['apply', playbook(good1), '--json'], work.env, { cwd: work.dir });
    if (r.code !== 0) throw new Error(`first deploy failed: ${r.stdout}${r.stderr}`);
  }, 300_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it.each(CASES)('control side: a %s artifact is refused before any connection (exit 1); hosts unchanged', async (kase, message) => {
    const before = fleet.hosts.map(snapshot);
    const art = make(join(work.dir, `${TOP2}.tar.gz`), kase, TOP2);
    const r = await orch(['apply', playbook(art), '--json'], work.env, { cwd: work.dir, timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK_RE);
    console.log(`row 5: control side ${kase}: refused in ${r.ms} ms`);
    for (const [i, host] of fleet.hosts.entries()) {
      expect(readlinkSync(onHost(host, `${ROOT}/current`))).toBe('versions/1.0.0');
      expect(snapshot(host)).toEqual(before[i]);
    }
  }, 180_000);

  it.each(CASES)('host side: orch_check_tar refuses a %s tarball swapped into the install script before unpacking', async (kase, message) => {
    // The real install script of a good 2.0.0 artifact, from a saved plan...
    const planFile = join(work.dir, 'art.plan.json');
    const p = await orch(['plan', playbook(good2), '-o', planFile], work.env, { cwd: work.dir });
    expect(p.code, p.stderr).toBe(2 - 2); // plan exit 0 without --detailed-exitcodes
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as { phases: { steps: { kind: string; tasks: Record<string, { script: string }> }[] }[] };
    const script = plan.phases[0]!.steps.find((s) => s.kind === 'install')!.tasks.h1!.script;
    // ...with the hostile tarball's sha256 swapped in, so the upload's checksum passes.
    const evil = make(join(work.dir, `host-${kase}.tar.gz`), kase, TOP2);
    const sha = createHash('sha256').update(readFileSync(evil)).digest('hex');
    const swapped = script.replace(/^(orch_install .* )[0-9a-f]{64}( )/m, `$1${sha}$2`); // the sha256 argument of the call line
    expect(swapped).not.toBe(script);
    writeFileSync(onHost(h(1), '/tmp/install.sh'), swapped);
    copyFileSync(evil, onHost(h(1), '/tmp/evil.tar.gz'));
    const before = snapshot(h(1));
    const others = [snapshot(h(2)), snapshot(h(3))];
    const t0 = Date.now();
    const r = await fleet.hostExec(h(1), 'cd /root && bash -c "$(cat /tmp/install.sh)" orch 1 "" "" < /tmp/evil.tar.gz');
    console.log(`row 5: host side ${kase}: refused in ${Date.now() - t0} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).not.toContain('status=changed');
    // Nothing unpacked, nothing written outside, current unchanged; the other hosts untouched.
    const after = snapshot(h(1)).filter((l) => !l.startsWith('tmp/install.sh ') && !l.startsWith('tmp/evil.tar.gz '));
    expect(after).toEqual(before.filter((l) => !l.startsWith('tmp/install.sh ') && !l.startsWith('tmp/evil.tar.gz ')));
    expect(existsSync(onHost(h(1), '/srv/evil-abs'))).toBe(false);
    expect(existsSync(onHost(h(1), `${ROOT}/versions/2.0.0`))).toBe(false);
    expect(readlinkSync(onHost(h(1), `${ROOT}/current`))).toBe('versions/1.0.0');
    expect([snapshot(h(2)), snapshot(h(3))]).toEqual(others);
  }, 180_000);

  it('the good 2.0.0 artifact still deploys everywhere afterwards (the refusals left nothing in the way)', async () => {
    const r = await orch(['apply', playbook(good2), '--json'], work.env, { cwd: work.dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(summaryOf(r.stdout).hosts.map((x) => x.status)).toEqual(['changed', 'changed', 'changed']);
    for (const host of fleet.hosts) {
      expect(readlinkSync(onHost(host, `${ROOT}/current`))).toBe('versions/2.0.0');
      expect(readFileSync(onHost(host, `${ROOT}/current/hello.txt`), 'utf8')).toBe('hello\n');
    }
  }, 180_000);
});
