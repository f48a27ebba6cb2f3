/**
 * Playbook bundles through the CLI on the local transport (real bash, tar, git): the
 * package name of a bundle (issue 17), release ids without editing VERSION (issue 11,
 * item 7), `plan --offline` with `build_on` making no connection (issue 18, item 2),
 * and the temp file a killed build leaves in dist/ (issue 18, item 6).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWork, ORCH, orch, startOrch, summaryOf } from '../cli.js';
import { haveTmux, Pty } from '../terminal-pty.js';

let work: string;
let env: Record<string, string>;

beforeEach(() => {
  ({ dir: work, env } = makeWork('pb-bundles'));
});

const INVENTORY = 'hosts:\n  l1: { transport: local }\nroles:\n  app: [l1]\n';

/** Writes app/ (VERSION + one file), the inventory and a playbook with `bundle` as the bundles: entry. */
function setup(bundle: string, opts: { name?: string; vars?: string } = {}): string {
  mkdirSync(join(work, 'app'), { recursive: true });
  writeFileSync(join(work, 'app', 'VERSION'), '1.0.0\n');
  writeFileSync(join(work, 'app', 'page.txt'), 'first\n');
  writeFileSync(join(work, 'inventory.yml'), INVENTORY);
  const name = opts.name ?? 'notes';
  const pb = join(work, 'playbook.yml');
  writeFileSync(pb, `
inventory: inventory.yml
vars: { ${opts.vars ?? `root: ${join(work, 'srv')}`} }
bundles:
  ${name}: ${bundle}
nodes:
  web:
    steps:
      - install: { bundle: ${name} }
      - symlink: {}
`);
  return pb;
}

const current = (): string => readlinkSync(join(work, 'srv', 'current'));
const versions = (): string[] => readdirSync(join(work, 'srv', 'versions')).sort();

describe('bundle package names (issue 17)', () => {
  it('bundles: { notes: { source: ./app, builder: dir } } shows install notes 1.0.0 and writes notes-1.0.0-any.tar.gz', async () => {
    const pb = setup('{ source: ./app, builder: dir }');
    const p = await orch(['plan', pb], env, { cwd: work });
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain('install notes 1.0.0');
    expect(p.stdout).not.toContain('install app');
    expect(readdirSync(join(work, 'dist'))).toEqual(['notes-1.0.0-any.tar.gz']);
    const a = await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(a.code, a.stderr).toBe(0);
    expect(readFileSync(join(work, 'srv', 'versions', '1.0.0', 'PACKAGE'), 'utf8')).toBe('notes\n');
    // The app's name in state.json is the package name when no `app` var is set.
    expect(JSON.parse(readFileSync(join(work, 'srv', '.orch', 'state.json'), 'utf8')).app).toBe('notes');
  }, 60_000);

  it('the package key wins; metadata beats the bundle key; an install made under the old name keeps working', async () => {
    const pb = setup('{ source: ./app, package: app }', { vars: `app: notes, root: ${join(work, 'srv')}` });
    const first = await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(first.code, first.stderr).toBe(0);
    expect(readdirSync(join(work, 'dist'))).toEqual(['app-1.0.0-any.tar.gz']);
    // As before issue 17 (the folder's name); now without the key and at the next version.
    writeFileSync(pb, readFileSync(pb, 'utf8').replace('{ source: ./app, package: app }', '{ source: ./app }'));
    writeFileSync(join(work, 'app', 'VERSION'), '1.0.1\n');
    const next = await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('install notes 1.0.1');
    expect(current()).toBe('versions/1.0.1');
    const q = await orch(['query', '-i', join(work, 'inventory.yml'), '--json'], env, { cwd: work });
    expect(JSON.parse(q.stdout)).toMatchObject([{ host: 'l1', app: 'notes', current: '1.0.1', previous: '1.0.0', versions: ['1.0.0', '1.0.1'] }]);
    const back = await orch(['rollback', pb, '--yes'], env, { cwd: work });
    expect(back.code, back.stderr).toBe(0);
    expect(current()).toBe('versions/1.0.0');
    // package.json's name beats the bundle key.
    writeFileSync(join(work, 'app', 'package.json'), '{"name":"@acme/notes-web","version":"9.9.9"}\n');
    const p = await orch(['plan', pb], env, { cwd: work });
    expect(p.stdout).toContain('install acme-notes-web 1.0.1');
  }, 90_000);
});

describe('release ids without editing VERSION (issue 11, item 7)', () => {
  const gitEnv = { GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: work, env: { PATH: process.env.PATH, HOME: env.HOME!, ...gitEnv }, encoding: 'utf8' }).trim();

  it('version: git — an edited file deploys as <base>+g<sha>.dirty, a commit as <base>+g<new sha>; VERSION never touched', async () => {
    const pb = setup('{ source: app, version: git }');
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'one');
    const sha1 = git('rev-parse', '--short', 'HEAD');
    const a1 = await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(a1.code, a1.stderr).toBe(0);
    expect(current()).toBe(`versions/1.0.0+g${sha1}`);
    // Unchanged: nothing to do.
    const again = await orch(['apply', pb, '--yes', '--detailed-exitcodes'], env, { cwd: work });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    // Edit one file, no commit: a new release.
    writeFileSync(join(work, 'app', 'page.txt'), 'second\n');
    const a2 = await orch(['apply', pb, '--yes', '--json'], env, { cwd: work });
    expect(a2.code, a2.stderr).toBe(0);
    expect(summaryOf(a2.stdout).changed).toBeGreaterThan(0);
    expect(current()).toBe(`versions/1.0.0+g${sha1}.dirty`);
    expect(readFileSync(join(work, 'srv', 'current', 'page.txt'), 'utf8')).toBe('second\n');
    git('commit', '-qam', 'two');
    const sha2 = git('rev-parse', '--short', 'HEAD');
    const a3 = await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(a3.code, a3.stderr).toBe(0);
    expect(current()).toBe(`versions/1.0.0+g${sha2}`);
    expect(versions()).toEqual([`1.0.0+g${sha1}`, `1.0.0+g${sha1}.dirty`, `1.0.0+g${sha2}`].sort());
    expect(readFileSync(join(work, 'app', 'VERSION'), 'utf8')).toBe('1.0.0\n');
  }, 90_000);

  it('version: timestamp — unchanged content keeps its release id (cache), an edited file deploys as a newer <base>+<UTC yyyymmddHHMMSS>', async () => {
    const pb = setup('{ source: app, version: timestamp }');
    const a1 = await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(a1.code, a1.stderr).toBe(0);
    const v1 = current().replace('versions/', '');
    expect(v1).toMatch(/^1\.0\.0\+\d{14}$/);
    const stamp = v1.slice('1.0.0+'.length);
    const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    expect(Number(now) - Number(stamp)).toBeGreaterThanOrEqual(0);
    expect(Number(now) - Number(stamp)).toBeLessThan(100);
    await new Promise((r) => setTimeout(r, 1100));
    const again = await orch(['apply', pb, '--yes', '--detailed-exitcodes'], env, { cwd: work });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(current()).toBe(`versions/${v1}`);
    writeFileSync(join(work, 'app', 'page.txt'), 'second\n');
    const a2 = await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(a2.code, a2.stderr).toBe(0);
    const v2 = current().replace('versions/', '');
    expect(v2).toMatch(/^1\.0\.0\+\d{14}$/);
    expect(v2 > v1).toBe(true);
    expect(readFileSync(join(work, 'srv', 'current', 'page.txt'), 'utf8')).toBe('second\n');
    expect(versions()).toEqual([v1, v2]);
    expect(readFileSync(join(work, 'app', 'VERSION'), 'utf8')).toBe('1.0.0\n');
  }, 90_000);

  it('orch version bump also updates package.json (and its lockfile) so the package reports the new version', async () => {
    mkdirSync(join(work, 'web'));
    writeFileSync(join(work, 'web', 'package.json'), '{\n  "name": "web",\n  "version": "2.3.4"\n}\n');
    const r = await orch(['version', 'bump', 'minor', 'web'], env, { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${join(work, 'web', 'VERSION')}: 2.3.4 -> 2.4.0\n${join(work, 'web', 'package.json')}: 2.3.4 -> 2.4.0\n`);
    expect(JSON.parse(readFileSync(join(work, 'web', 'package.json'), 'utf8'))).toEqual({ name: 'web', version: '2.4.0' });
    // pyproject.toml: that one value edited, the rest byte for byte.
    mkdirSync(join(work, 'py'));
    const toml = "[project]\nname = 'shop'  # ours\nversion = '0.9.1'  # keep me\n\n[tool.ruff]\nline-length = 100\n";
    writeFileSync(join(work, 'py', 'pyproject.toml'), toml);
    const py = await orch(['version', 'bump', 'patch', 'py'], env, { cwd: work });
    expect(py.code, py.stderr).toBe(0);
    expect(py.stdout).toBe(`${join(work, 'py', 'VERSION')}: 0.9.1 -> 0.9.2\n${join(work, 'py', 'pyproject.toml')}: 0.9.1 -> 0.9.2\n`);
    expect(readFileSync(join(work, 'py', 'pyproject.toml'), 'utf8')).toBe(toml.replace("'0.9.1'", "'0.9.2'"));
  });
});

describe('same version, other content (issue 11, item 7)', () => {
  it('is refused by plan from the facts and by apply with 0 bytes uploaded; the host keeps serving the old release', async () => {
    const pb = setup('{ source: app }');
    const a1 = await orch(['apply', pb, '--yes', '--json'], env, { cwd: work });
    expect(a1.code, a1.stderr).toBe(0);
    // The counter counts on this transport: the first install sent the bundle.
    expect(summaryOf(a1.stdout).bytesUploaded).toBeGreaterThan(0);
    const shaOld = readFileSync(join(work, 'srv', 'versions', '1.0.0', '.orch-installed'), 'utf8').trim();
    writeFileSync(join(work, 'app', 'page.txt'), 'second\n');

    const p = await orch(['plan', pb], env, { cwd: work });
    expect(p.code, p.stdout + p.stderr).toBe(4);
    const shaNew = /this bundle ([0-9a-f]{12})…/.exec(p.stdout)?.[1];
    expect(shaNew).toBeDefined();
    expect(shaNew).not.toBe(shaOld.slice(0, 12));
    const why = `version 1.0.0 is already installed in ${join(work, 'srv', 'versions', '1.0.0')} from another bundle (sha256 ${shaOld.slice(0, 12)}…, this bundle ${shaNew}…); one version is one release: give a new build a new version (bump VERSION, or version: git | timestamp)`;
    expect(p.stdout).toContain(`! web: install notes 1.0.0  failed\n    ${why}\n  - web: symlink current -> 1.0.0  skipped\n`);
    expect(p.stdout).toContain('1 step will fail');
    const pj = await orch(['plan', pb, '--json'], env, { cwd: work });
    expect(pj.code).toBe(4);
    expect(JSON.parse(pj.stdout).hosts[0].steps[0]).toMatchObject({ name: 'install notes 1.0.0', status: 'failed', reason: why });

    const a2 = await orch(['apply', pb, '--yes', '--json'], env, { cwd: work });
    expect(a2.code, a2.stdout + a2.stderr).toBe(4);
    const s = summaryOf(a2.stdout);
    expect(s.bytesUploaded).toBe(0);
    expect(s.hosts[0]).toMatchObject({ host: 'l1', status: 'failed' });
    expect(s.hosts[0]!.error).toContain(why);
    // Nothing on the host changed: the old bundle alone, the old release current.
    expect(readdirSync(join(work, 'srv', '.orch', 'bundles'))).toEqual([`${shaOld}.tar.gz`]);
    expect(current()).toBe('versions/1.0.0');
    expect(readFileSync(join(work, 'srv', 'current', 'page.txt'), 'utf8')).toBe('first\n');
  }, 90_000);
});

describe.skipIf(!haveTmux())('same version, other content, at a terminal (tmux)', () => {
  it('apply shows the step as failing with the reason under it, asks nothing, and the host fails with the same words', async () => {
    const pb = setup('{ source: app }');
    expect((await orch(['apply', pb, '--yes'], env, { cwd: work })).code).toBe(0);
    writeFileSync(join(work, 'app', 'page.txt'), 'second\n');
    const pty = new Pty([process.execPath, ORCH, 'apply', pb], env, { cwd: work, cols: 100, rows: 40 });
    try {
      const { code } = await pty.exit();
      const text = pty.text(true);
      expect(code, text).toBe(4);
      expect(text).toMatch(/! web: install notes 1\.0\.0 {2}failed\n {4}version 1\.0\.0 is already installed in \S+\/srv\/versions\/1\.0\.0 from another bundle \(sha256 [0-9a-f]{12}…, this bundle [0-9a-f]{12}…\); one version is one release: give a new build a new version \(bump VERSION, or version: git \| timestamp\)\n {2}- web: symlink current -> 1\.0\.0 {2}skipped/);
      expect(text).toContain('Plan: 1 host, 0 steps to change, 1 step will fail.');
      expect(text).not.toContain('Apply these changes?');
      // Under the failed host, the host's own refusal: the same words.
      expect(text.split('is already installed in').length - 1).toBeGreaterThanOrEqual(2);
      expect(readFileSync(join(work, 'srv', 'current', 'page.txt'), 'utf8')).toBe('first\n');
    } finally {
      pty.close();
    }
  }, 90_000);
});

describe('plan --offline with a build_on bundle (issue 18, item 2)', () => {
  let server: Server;
  let accepted: number;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('never connects: the bundle is shown as built on the build host at apply, with its version from SOURCE', async () => {
    // The "build host": a TCP listener on loopback that counts every connection.
    accepted = 0;
    server = createServer((s) => {
      accepted++;
      sockets.push(s);
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    mkdirSync(join(work, 'rapp'), { recursive: true });
    writeFileSync(join(work, 'rapp', 'VERSION'), '7.0.0\n');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'id')]);
    writeFileSync(join(work, 'inventory.yml'), `hosts:\n  web1: { address: 127.0.0.1, port: ${port}, identity: ${join(work, 'id')}, host_key_policy: accept-new, known_hosts: ${join(work, 'known_hosts')} }\n  l1: { transport: local }\nroles:\n  app: [l1]\n`);
    const pb = join(work, 'remote.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: rapp, root: ${join(work, 'srv')} }
bundles:
  rapp: { source: rapp, builder: dir, build_on: web1 }
nodes:
  rapp:
    roles: { host: app }
    steps:
      - install: { bundle: rapp }
      - symlink: {}
`);
    const off = await orch(['plan', pb, '--offline'], env, { cwd: work });
    expect(off.code, off.stdout + off.stderr).toBe(0);
    expect(off.stderr).toContain('bundle rapp: rapp 7.0.0, built on web1 at apply');
    expect(off.stdout).toContain('install rapp 7.0.0');
    const json = await orch(['plan', pb, '--offline', '--json'], env, { cwd: work });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: 'plan', offline: true, notes: ['bundle rapp: rapp 7.0.0, built on web1 at apply'] });
    expect(accepted).toBe(0);
    expect(existsSync(join(work, 'dist'))).toBe(false);
    // In a real terminal (the status line is erased before the plan), the note stays, under the plan.
    if (haveTmux()) {
      const pty = new Pty([process.execPath, ORCH, 'plan', pb, '--offline'], env, { cwd: work });
      try {
        const { code, text } = await pty.exit(60_000);
        expect(code, text).toBe(0);
        expect(text).toMatch(/install rapp 7\.0\.0[\s\S]*Plan \(offline\)[\s\S]*\nbundle rapp: rapp 7\.0\.0, built on web1 at apply$/);
      } finally {
        pty.close();
      }
    }
    expect(accepted).toBe(0);
    // The same plan online does reach for the build host (so the count above means something).
    const online = await orch(['plan', pb], env, { cwd: work });
    expect(online.code, online.stderr).toBe(1);
    expect(accepted).toBeGreaterThan(0);
  }, 60_000);
});

describe('a build killed while writing dist/ (issue 18, item 6)', () => {
  it('leaves .NAME-V-any.tar.gz.PID.*.tmp behind; the next build removes it', async () => {
    mkdirSync(join(work, 'big'), { recursive: true });
    writeFileSync(join(work, 'big', 'VERSION'), '1.0.0\n');
    // Incompressible bytes, so gzip -9 takes long enough to be caught writing.
    writeFileSync(join(work, 'big', 'blob.bin'), execFileSync('head', ['-c', String(48 * 1024 * 1024), '/dev/urandom'], { maxBuffer: 200 * 1024 * 1024 }));
    const dist = join(work, 'dist');
    const run = startOrch(['bundle', 'big', '--out', dist, '--no-cache'], env, { cwd: work });
    let temp: string | undefined;
    for (let i = 0; i < 600 && temp === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      temp = (existsSync(dist) ? readdirSync(dist) : []).find((n) => /^\.big-1\.0\.0-any\.tar\.gz\.\d+\.[0-9a-f]+\.tmp$/.test(n));
    }
    expect(temp, 'the build never wrote its temp file').toBeDefined();
    run.child.kill('SIGKILL');
    await run.done;
    expect(readdirSync(dist)).toContain(temp);
    expect(temp).toContain(`.${run.child.pid}.`);
    // The next build (here of another bundle into the same dist/) sweeps it.
    mkdirSync(join(work, 'small'));
    writeFileSync(join(work, 'small', 'VERSION'), '2.0.0\n');
    const next = await orch(['bundle', 'small', '--out', dist], env, { cwd: work });
    expect(next.code, next.stderr).toBe(0);
    expect(readdirSync(dist)).toEqual(['small-2.0.0-any.tar.gz']);
  }, 120_000);
});
