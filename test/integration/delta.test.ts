/**
 * Delta releases end to end over real SSH (issue 16): a 2-host fleet, the built CLI, a
 * dir bundle of 200 small files plus one 10 KB file. An upgrade with one changed file
 * sends about that file; a corrupted object on a host is detected and that host gets
 * the full tarball; prune removes the objects no kept release uses; the tarball's
 * install.sh still works by hand.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { PassThrough, type Readable } from 'node:stream';
import { readBundleManifest } from '../../src/bundle/manifest.js';
import { Session } from '../../src/engine/apply-plan.js';
import { preparePlan } from '../../src/engine/prepare.js';
import { TRANSPORTS, transportsFor } from '../../src/transport/registry.js';
import type { Connection, ExecOptions } from '../../src/transport/transport.js';
import { makeWork, orch, summaryOf } from './cli.js';

const ROOT = '/srv/shop';

/** Paths (manifest order) and total size of the regular members of `b` that differ from `a`. */
async function changedBytes(a: string, b: string): Promise<{ paths: string[]; bytes: number }> {
  const old = new Map((await readBundleManifest(a)).entries.map((e) => [e.path, e]));
  const paths: string[] = [];
  let bytes = 0;
  for (const e of (await readBundleManifest(b)).entries) {
    const o = old.get(e.path);
    if (e.type === 'f' && !(o?.type === 'f' && o.sha256 === e.sha256)) { paths.push(e.path); bytes += e.size; }
  }
  return { paths, bytes };
}

/**
 * Counts the payload bytes an agent's stdin really carries (src/host/agent.sh's frames:
 * the code `N` + N bytes, then `C`, `F LEN`, `S LEN P`, `D LEN` + data, `H`, `X`, `Q`):
 * the sum of the `D` frames' data.
 */
class FrameCounter {
  payload = 0;
  #buf = Buffer.alloc(0);
  #skip = 0;
  #first = true;
  feed(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    for (;;) {
      if (this.#skip) {
        const n = Math.min(this.#skip, this.#buf.length);
        this.#buf = this.#buf.subarray(n);
        this.#skip -= n;
        if (this.#skip) return;
      }
      const nl = this.#buf.indexOf(0x0a);
      if (nl < 0) return;
      const line = this.#buf.subarray(0, nl).toString('latin1');
      this.#buf = this.#buf.subarray(nl + 1);
      if (this.#first) {
        this.#first = false;
        this.#skip = Number(line);
        continue;
      }
      const [kind, len] = line.split(' ');
      if (kind === 'F' || kind === 'S') this.#skip = Number(len);
      else if (kind === 'D') {
        this.payload += Number(len);
        this.#skip = Number(len);
      }
    }
  }
}

/** The connection with every stdin it is given fed through `counter` on its way. */
function counting(conn: Connection, counter: FrameCounter): Connection {
  const exec = (command: string, options: ExecOptions = {}) => {
    const stdin = options.stdin;
    if (stdin === undefined) return conn.exec(command, options);
    if (Buffer.isBuffer(stdin)) {
      counter.feed(stdin);
      return conn.exec(command, options);
    }
    const tee = new PassThrough();
    (stdin as Readable).on('data', (c: Buffer) => {
      counter.feed(c);
      tee.write(c);
    });
    (stdin as Readable).on('end', () => tee.end());
    return conn.exec(command, { ...options, stdin: tee });
  };
  return { host: conn.host, exec, close: () => conn.close(), get bytesSent() { return conn.bytesSent; } };
}

/** The distinct sha256 of a tarball's regular members: the objects its release needs. */
async function objectsOf(tarball: string): Promise<Set<string>> {
  const m = await readBundleManifest(tarball);
  return new Set(m.entries.flatMap((e) => (e.type === 'f' ? [e.sha256] : [])));
}

describe.skipIf(!canRunFleet())('delta releases over SSH', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let pb: string;
  const onHost = (name: string, p: string): string => join(fleet.hosts.find((h) => h.name === name)!.dir, p);
  // Seeded content: the same run gives the same bundles (seed printed for a re-run).
  const seed = 16;
  let counter = 0;
  /** n incompressible bytes: sha256 of (seed, counter) blocks. */
  const bytes = (n: number): Buffer => {
    const out: Buffer[] = [];
    for (let len = 0; len < n; len += 32) out.push(createHash('sha256').update(`${seed}:${counter++}`).digest());
    return Buffer.concat(out).subarray(0, n);
  };

  const writeApp = (version: string, big: Buffer): void => {
    writeFileSync(join(work, 'app', 'VERSION'), `${version}\n`);
    writeFileSync(join(work, 'app', 'big.bin'), big);
  };
  /** Builds the bundle as the playbook does; returns its tarball path and size. */
  const bundle = async (): Promise<{ file: string; size: number }> => {
    const r = await orch(['bundle', join(work, 'app'), '--builder', 'dir', '--out', join(work, 'dist'), '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout).path as string;
    return { file, size: statSync(file).size };
  };

  beforeAll(async () => {
    console.log(`delta test seed ${seed}`);
    fleet = await startFleet({ count: 2 });
    ({ dir: work, env } = makeWork('delta'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml({ roles: { web: ['h1', 'h2'] } }));
    mkdirSync(join(work, 'app', 'lib'), { recursive: true });
    for (let i = 0; i < 200; i++) writeFileSync(join(work, 'app', 'lib', `m${i}.txt`), bytes(1024));
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: shop, root: ${ROOT} }
bundles:
  app: { source: app, builder: dir }
nodes:
  shop:
    roles: { host: web }
    steps:
      - install: { bundle: app }
      - symlink: {}
      - prune: { keep: 1 }
`);
  }, 60_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  let big1: Buffer;
  const tarballs: Record<string, string> = {};
  it('a first install sends the full tarball and records manifest, objects and tree', async () => {
    big1 = bytes(10_000);
    writeApp('1.0.0', big1);
    const { size, file } = await bundle();
    tarballs['1.0.0'] = file;
    const r = await orch(['apply', pb, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(summaryOf(r.stdout).bytesUploaded).toBe(2 * size);
    const want = await objectsOf(file);
    expect(want.size).toBeGreaterThan(200);
    for (const h of ['h1', 'h2']) {
      expect(readFileSync(onHost(h, `${ROOT}/versions/1.0.0/.orch-manifest`), 'utf8')).toContain('data/big.bin\tf\t644\t10000\t');
      expect(new Set(readdirSync(onHost(h, `${ROOT}/.orch/objects`)))).toEqual(want);
      expect(readdirSync(onHost(h, `${ROOT}/.orch/trees`))).toEqual(['1.0.0']);
    }
  }, 180_000);

  it('an upgrade with one changed 10 KB file sends about that file', async () => {
    writeApp('1.0.1', bytes(10_000));
    const { size, file } = await bundle();
    tarballs['1.0.1'] = file;
    const r = await orch(['apply', pb, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const sent = summaryOf(r.stdout).bytesUploaded;
    console.log(`delta upgrade: ${sent / 2} bytes per host, full tarball ${size} bytes`);
    // Only the members that changed travel: big.bin (10 KB, incompressible), the VERSION
    // files, install.sh (its comment names the version) and info.json (a per-build record
    // listing every data file's sha256: 18 KB here, sent as a line patch over the base's).
    const changed = await changedBytes(tarballs['1.0.0']!, file);
    expect(changed.paths).toEqual(['VERSION', 'data/VERSION', 'data/big.bin', 'info.json', 'install.sh']);
    expect(changed.bytes).toBeGreaterThan(10_000 + 18_000);
    expect(sent / 2).toBeGreaterThan(10_000);
    expect(sent / 2).toBeLessThan(10_000 + 2048);
    expect(sent / 2).toBeLessThan(size / 10);
    const m = await readBundleManifest(file);
    for (const h of ['h1', 'h2']) {
      expect(readFileSync(onHost(h, `${ROOT}/versions/1.0.1/big.bin`)).equals(readFileSync(join(work, 'app', 'big.bin')))).toBe(true);
      expect(readFileSync(onHost(h, `${ROOT}/versions/1.0.1/lib/m17.txt`)).equals(readFileSync(join(work, 'app', 'lib', 'm17.txt')))).toBe(true);
      expect(readFileSync(onHost(h, `${ROOT}/versions/1.0.1/.orch-manifest`), 'utf8').split('\n').length).toBe(m.entries.length + 1);
      expect(readFileSync(onHost(h, `${ROOT}/versions/1.0.1/VERSION`), 'utf8')).toBe('1.0.1\n');
    }
  }, 180_000);

  it('a corrupted object is detected and that host gets the full tarball; prune removes objects no kept release uses', async () => {
    // h1: corrupt the object of an unchanged file (its kept tree shares the inode).
    const m = await readBundleManifest(tarballs['1.0.1']!);
    const victim = m.entries.find((e) => e.path === 'data/lib/m3.txt');
    if (victim?.type !== 'f') throw new Error('fixture');
    writeFileSync(onHost('h1', `${ROOT}/.orch/objects/${victim.sha256}`), 'tampered\n');

    writeApp('1.0.2', bytes(10_000));
    const { size, file } = await bundle();
    const want = new Set([...await objectsOf(tarballs['1.0.1']!), ...await objectsOf(file)]);
    const r = await orch(['apply', pb, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const sent = summaryOf(r.stdout).bytesUploaded;
    // h2: a delta; h1: a delta that failed verification, then the full tarball.
    const changed = await changedBytes(tarballs['1.0.1']!, file);
    expect(sent).toBeGreaterThan(size + 2 * 10_000);
    expect(sent).toBeLessThan(size + 2 * (changed.bytes + 2048));
    for (const h of ['h1', 'h2']) {
      expect(readFileSync(onHost(h, `${ROOT}/versions/1.0.2/lib/m3.txt`)).equals(readFileSync(join(work, 'app', 'lib', 'm3.txt')))).toBe(true);
      expect(readFileSync(onHost(h, `${ROOT}/versions/1.0.2/big.bin`)).equals(readFileSync(join(work, 'app', 'big.bin')))).toBe(true);
      // keep 1 (+ previous): 1.0.0 is pruned, with its tree and the object only it used.
      expect(readdirSync(onHost(h, `${ROOT}/versions`)).sort()).toEqual(['1.0.1', '1.0.2']);
      // h1's tree of 1.0.1 shared the corrupted inode: it went with the failed rebuild.
      expect(readdirSync(onHost(h, `${ROOT}/.orch/trees`)).sort()).toEqual(h === 'h1' ? ['1.0.2'] : ['1.0.1', '1.0.2']);
      const objects = new Set(readdirSync(onHost(h, `${ROOT}/.orch/objects`)));
      const sha0 = spawnSync('sha256sum', { input: big1 }).stdout.toString().slice(0, 64);
      expect(objects.has(sha0)).toBe(false);
      expect(objects.has(victim.sha256)).toBe(true);
      expect(objects).toEqual(want);
    }
    expect(readFileSync(onHost('h1', `${ROOT}/.orch/objects/${victim.sha256}`)).equals(readFileSync(join(work, 'app', 'lib', 'm3.txt')))).toBe(true);
  }, 180_000);

  it('plan shows the bytes each host will receive, and bytesUploaded is what the transport really streamed (a delta on h1, the full tarball on h2)', async () => {
    writeApp('1.0.3', bytes(10_000));
    const { size } = await bundle();
    // h2 forgets its content store: it holds releases but no objects, so it gets the tarball.
    spawnSync('rm', ['-rf', '--', onHost('h2', `${ROOT}/.orch/objects`), onHost('h2', `${ROOT}/.orch/trees`)]);
    const p = await orch(['plan', pb, '--json'], env);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const planned = new Map((JSON.parse(p.stdout) as { hosts: { host: string; bytes: number; steps: { name: string; bytes?: number; send?: string; fullBytes?: number }[] }[] }).hosts.map((h) => [h.host, h]));
    const install = (h: string) => planned.get(h)!.steps.find((s) => s.bytes !== undefined)!;
    expect(install('h1')).toMatchObject({ send: 'delta', fullBytes: size });
    expect(install('h2')).toMatchObject({ send: 'full', bytes: size });
    expect(planned.get('h1')!.bytes).toBeLessThan(size / 10);
    const text = await orch(['plan', pb, '--no-color'], env);
    expect(text.stdout).toMatch(/^h1 \(root@[0-9.]+\) {2}receives [0-9.]+ KiB \(delta; [0-9.]+ KiB in full\)$/m);
    expect(text.stdout).toMatch(/^h2 \(root@[0-9.]+\) {2}receives [0-9.]+ KiB$/m);
    expect(text.stdout).toMatch(/\nUpload: [0-9.]+ KiB to 2 hosts \([0-9.]+ KiB without deltas\)\.\nPlan: 2 hosts, /);

    // The same apply in this process, its connections counting the agents' data frames.
    const prepared = await preparePlan({ playbook: pb, inventories: [], extraVars: {}, env: { ...process.env, ...env }, now: () => new Date() });
    const plan = prepared.plan!;
    const base = await transportsFor(plan.hosts);
    const counters = new Map<string, FrameCounter>();
    const sessionConns: Connection[] = [];
    const session = new Session(plan, {
      forks: 10,
      transportFor: (ph) => ({
        connect: async (host, o) => {
          const c = counting(await base(ph).connect(host, o), counters.get(ph.name) ?? counters.set(ph.name, new FrameCounter()).get(ph.name)!);
          sessionConns.push(c);
          return c;
        },
      }),
      connect: { hosts: plan.hosts, env: { ...process.env, ...env } },
      emit: () => undefined, masker: prepared.masker, now: () => new Date(), by: 'test@ctl',
      lock: { waitSeconds: 10 }, sameMachine: (ph) => TRANSPORTS[ph.transport]?.sameMachine === true,
    });
    let summary;
    try {
      const prediction = session.predict(await session.gatherFacts());
      const bytes = await session.payloadBytes(prediction);
      await session.execute(prediction);
      summary = session.summary();
      for (const h of ['h1', 'h2']) {
        // What plan said, what the engine planned in-process, and what the transport carried agree.
        expect(bytes.get(h)!.bytes).toBe(planned.get(h)!.bytes);
        expect(counters.get(h)!.payload).toBe(planned.get(h)!.bytes);
      }
      expect(sessionConns.reduce((n, c) => n + c.bytesSent, 0)).toBeGreaterThan(summary.bytesUploaded);
    } finally {
      await session.close();
    }
    expect(summary.failed).toBe(0);
    expect(summary.bytesUploaded).toBe(counters.get('h1')!.payload + counters.get('h2')!.payload);
    expect(counters.get('h2')!.payload).toBe(size);
    console.log(`bytesUploaded ${summary.bytesUploaded}: h1 delta ${counters.get('h1')!.payload} B, h2 full ${counters.get('h2')!.payload} B (tarball ${size} B)`);
    for (const h of ['h1', 'h2']) expect(readFileSync(onHost(h, `${ROOT}/versions/1.0.3/big.bin`)).equals(readFileSync(join(work, 'app', 'big.bin')))).toBe(true);
  }, 180_000);

  it('install.sh by hand still works on the tarball', async () => {
    const { file } = await bundle();
    const scratch = join(work, 'by-hand');
    mkdirSync(scratch, { recursive: true });
    const r = spawnSync('bash', ['-c', 'cd "$1" && tar -xzf "$2" && ./*/install.sh "$1/target"', 'x', scratch, file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(scratch, 'target', 'big.bin')).equals(readFileSync(join(work, 'app', 'big.bin')))).toBe(true);
    expect(existsSync(join(scratch, 'target', '.orch-manifest'))).toBe(false);
  }, 60_000);
});
