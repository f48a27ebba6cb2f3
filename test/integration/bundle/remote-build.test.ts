/**
 * `build_on`: SOURCE shipped to a real sshd test host, built there by the remote build
 * script (python3/pip and node/npm of the host, no orch), the tarball streamed back,
 * sha256-verified and checked by inspectArtifact; then installed on that host by hand.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectArtifact } from '../../../src/bundle/artifact.js';
import { buildRemote } from '../../../src/bundle/remote-build.js';
import type { PlanHost } from '../../../src/model/plan.js';
import type { Connection } from '../../../src/transport/transport.js';
import { SshTransport } from '../../../src/transport/ssh.js';
import { canRunFleet, startFleet, type Fleet } from '../../harness/fleet.js';
import { FIXTURES, makeWheelhouse, pythonToolchainMissing } from './toolchain.js';

describe.skipIf(!canRunFleet() || pythonToolchainMissing() !== undefined)('buildRemote on an SSH test host', () => {
  let fleet: Fleet;
  let conn: Connection;
  let work: string;
  const lines: string[] = [];
  const ctx = () => ({ env: { PATH: process.env.PATH, HOME: join(work, 'home'), XDG_CACHE_HOME: join(work, 'cache'), SOURCE_DATE_EPOCH: '1700000000' }, now: () => new Date(), log: (l: string) => lines.push(l) });

  beforeAll(async () => {
    fleet = await startFleet({ count: 1 });
    const h = fleet.hosts[0]!;
    const host: PlanHost = { name: h.name, address: h.address, addressExplicit: true, transport: 'ssh', user: 'root', port: h.port, identity: fleet.identityFile, knownHosts: fleet.knownHostsFile, hostKeyPolicy: 'strict', jump: [] };
    conn = await new SshTransport().connect(host, { hosts: { [h.name]: host } });
    work = mkdtempSync(join(tmpdir(), 'orch-remote-build-'));
    mkdirSync(join(work, 'home'));
    // The build host's own wheelhouse (a local mirror), at /srv/wheels as the host sees it.
    makeWheelhouse(join(h.dir, 'srv', 'wheels'), work);
  }, 180_000);
  afterAll(async () => {
    await conn?.close();
    await fleet?.teardown();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds a python bundle on the host; the tarball passes inspectArtifact, its sha256 matches, and it installs there', async () => {
    const src = join(work, 'app');
    cpSync(join(FIXTURES, 'py-app'), src, { recursive: true });
    writeFileSync(join(work, 'post.sh'), 'echo "on $(hostname -I | tr -d " ")" > "$DATA_DIR/BUILT-ON"\necho \'touch "$TARGET/post-ran"\' >> "$INSTALL_SCRIPT"\n');
    const info = await buildRemote(
      { source: src, builder: 'python', outDir: join(work, 'dist'), pipOptions: ['--no-index', '--find-links=/srv/wheels'], postbuildScript: join(work, 'post.sh') },
      conn, ctx(),
    );
    const h = fleet.hosts[0]!;
    expect(lines).toContain(`${h.name}: python: building wheels...`);
    expect(lines).toContain(`${h.name}: python: 2 wheels (0 cached)`);
    expect(info.path).toBe(join(work, 'dist', 'greeter-1.4.0-linux-x86_64.tar.gz'));
    const bytes = readFileSync(info.path);
    expect(info.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const { cached: _c, ...plain } = info;
    expect(await inspectArtifact(info.path)).toEqual(plain);
    const listing = execFileSync('tar', ['-tzf', info.path], { encoding: 'utf8' }).trim().split('\n');
    expect(listing).toContain('greeter-1.4.0-linux-x86_64/data/tinydep-0.3.1-py3-none-any.whl');
    expect(listing).toContain('greeter-1.4.0-linux-x86_64/data/greeter-1.4.0-py3-none-any.whl');
    expect(execFileSync('tar', ['-xzOf', info.path, 'greeter-1.4.0-linux-x86_64/data/BUILT-ON'], { encoding: 'utf8' })).toBe(`on ${h.address}\n`);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', info.path, 'greeter-1.4.0-linux-x86_64/info.json'], { encoding: 'utf8' }));
    expect(manifest).toMatchObject({ builder: 'python', dependencies: ['tinydep==0.3.1'], tools: { 'build-host': h.name } });
    expect(Object.keys(manifest.files)).toEqual(['BUILT-ON', 'greeter-1.4.0-py3-none-any.whl', 'tinydep-0.3.1-py3-none-any.whl']);
    // The host cleaned up after itself; its wheel cache kept the dependency.
    expect(readdirSync(join(h.dir, 'tmp')).filter((n) => n.startsWith('orch-remote-build'))).toEqual([]);
    expect(readdirSync(join(h.dir, 'root', '.cache', 'orch', 'wheels'))).toEqual([expect.stringMatching(/^cp3\d+-linux-x86_64$/)]);

    // Deploy by hand on the host: upload, unpack, install.sh, run the console script.
    const up = await conn.exec('mkdir -p /srv/x && tar -xzf - -C /srv/x && /srv/x/greeter-1.4.0-linux-x86_64/install.sh /srv/greeter >/dev/null && /srv/greeter/bin/greeter fleet && ls /srv/greeter/post-ran', { stdin: bytes });
    expect(up.stderr.toString()).toBe('');
    expect(up.stdout.toString()).toBe('HELLO FLEET!\n/srv/greeter/post-ran\n');

    // Same source and options again: a local cache hit, nothing uploaded.
    const sent = conn.bytesSent;
    const again = await buildRemote({ source: src, builder: 'python', outDir: join(work, 'dist2'), pipOptions: ['--no-index', '--find-links=/srv/wheels'], postbuildScript: join(work, 'post.sh') }, conn, ctx());
    expect(again.cached).toBe(true);
    expect(conn.bytesSent).toBe(sent);
    expect(readFileSync(again.path).equals(bytes)).toBe(true);
  }, 180_000);

  it('builds the node app on the host (vendored file: dependency, plain npm ci)', async () => {
    const info = await buildRemote({ source: join(FIXTURES, 'node-app'), builder: 'node', outDir: join(work, 'dist'), format: 'dir' }, conn, ctx());
    expect(info.path).toBe(join(work, 'dist', 'padder-0.7.0-any'));
    expect(execFileSync(join(info.path, 'install.sh'), [join(work, 'padder')], { encoding: 'utf8' })).toBe(`Installed padder-0.7.0-any into ${join(work, 'padder')}\n`);
    expect(execFileSync(join(work, 'padder', 'bin', 'padder.js'), ['z'], { encoding: 'utf8' })).toBe('padder: [*****z]\n');
  }, 120_000);

  it('reports a failing build with the host\'s last lines', async () => {
    const src = join(work, 'app');
    await expect(buildRemote({ source: src, builder: 'python', outDir: join(work, 'dist3'), noCache: true, pipOptions: ['--no-index', '--find-links=/srv/nowhere'] }, conn, ctx()))
      .rejects.toThrow(new RegExp(`^build host ${fleet.hosts[0]!.name}: remote build failed with exit code 1:\\n[\\s\\S]*(No matching distribution found for setuptools|Could not find a version)`));
  }, 120_000);
});
