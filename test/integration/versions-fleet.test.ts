/**
 * Release ids without editing VERSION, over real SSH (issue 11, item 7): 2 sshd test
 * hosts, a real git repository, the built CLI. `version: git` and `version: timestamp`
 * deploy an edited file as a new release with VERSION untouched, `prune` orders those
 * ids by install time; and a same-version/other-content bundle (`version: file`) is
 * refused by plan from the facts and by apply with 0 bytes uploaded.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { makeWork, orch, summaryOf } from './cli.js';

describe.skipIf(!canRunFleet())('release ids and same-version refusals over SSH (2 hosts)', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  const HOSTS = ['h1', 'h2'];
  const onHost = (name: string, p: string): string => join(fleet.hosts.find((h) => h.name === name)!.dir, p);
  const git = (...args: string[]): string => execFileSync('git', args, {
    cwd: work, encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: env.HOME, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' },
  }).trim();

  /** A playbook deploying bundle `app` (folder `app`) under `version:` `scheme` to /srv/<name>. */
  const playbook = (name: string, scheme: string, extra = ''): string => {
    const pb = join(work, `${name}.yml`);
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: ${name}, root: /srv/${name} }
bundles:
  ${name}: { source: app, version: ${scheme} }
nodes:
  web:
    steps:
      - install: { bundle: ${name} }
      - symlink: {}${extra}
`);
    return pb;
  };
  const current = (h: string, app: string): string => readlinkSync(onHost(h, `srv/${app}/current`)).replace(/^versions\//, '');

  beforeAll(async () => {
    fleet = await startFleet({ count: 2 });
    ({ dir: work, env } = makeWork('versions-fleet'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    mkdirSync(join(work, 'app'));
    writeFileSync(join(work, 'app', 'VERSION'), '2.0.0\n');
    writeFileSync(join(work, 'app', 'index.html'), 'one\n');
    writeFileSync(join(work, '.gitignore'), 'dist/\n*.yml\ninventory.yml\nhome/\ncache/\n');
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'one');
  }, 60_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('version: git — an edited file deploys as 2.0.0+g<sha>.dirty, a commit as +g<new sha>; VERSION untouched', async () => {
    const pb = playbook('gitapp', 'git');
    const sha1 = git('rev-parse', '--short', 'HEAD');
    const a1 = await orch(['apply', pb, '--yes'], env);
    expect(a1.code, a1.stdout + a1.stderr).toBe(0);
    for (const h of HOSTS) expect(current(h, 'gitapp')).toBe(`2.0.0+g${sha1}`);
    writeFileSync(join(work, 'app', 'index.html'), 'two\n');
    const a2 = await orch(['apply', pb, '--yes', '--json'], env);
    expect(a2.code, a2.stdout + a2.stderr).toBe(0);
    expect(summaryOf(a2.stdout).bytesUploaded).toBeGreaterThan(0);
    for (const h of HOSTS) {
      expect(current(h, 'gitapp')).toBe(`2.0.0+g${sha1}.dirty`);
      expect(readFileSync(onHost(h, 'srv/gitapp/current/index.html'), 'utf8')).toBe('two\n');
      const state = JSON.parse(readFileSync(onHost(h, 'srv/gitapp/.orch/state.json'), 'utf8'));
      expect(state).toMatchObject({ current: `2.0.0+g${sha1}.dirty`, previous: `2.0.0+g${sha1}` });
    }
    git('commit', '-qam', 'two');
    const sha2 = git('rev-parse', '--short', 'HEAD');
    const a3 = await orch(['apply', pb, '--yes'], env);
    expect(a3.code, a3.stdout + a3.stderr).toBe(0);
    for (const h of HOSTS) expect(current(h, 'gitapp')).toBe(`2.0.0+g${sha2}`);
    // Rollback goes to the release installed before (by time, not by name).
    const back = await orch(['rollback', pb, '--yes'], env);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    for (const h of HOSTS) expect(current(h, 'gitapp')).toBe(`2.0.0+g${sha1}.dirty`);
    expect(readFileSync(join(work, 'app', 'VERSION'), 'utf8')).toBe('2.0.0\n');
  }, 180_000);

  it('version: timestamp — each edit is a newer 2.0.0+<UTC yyyymmddHHMMSS>; prune keeps the newest installs', async () => {
    const pb = playbook('tsapp', 'timestamp', '\n      - prune: { keep: 1 }');
    const ids: string[] = [];
    for (const text of ['a\n', 'b\n', 'c\n']) {
      writeFileSync(join(work, 'app', 'index.html'), text);
      const r = await orch(['apply', pb, '--yes'], env);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      ids.push(current('h1', 'tsapp'));
      await new Promise((res) => setTimeout(res, 1100));
    }
    expect(ids.every((v) => /^2\.0\.0\+\d{14}$/.test(v))).toBe(true);
    expect(new Set(ids).size).toBe(3);
    for (const h of HOSTS) {
      expect(current(h, 'tsapp')).toBe(ids[2]);
      expect(readFileSync(onHost(h, 'srv/tsapp/current/index.html'), 'utf8')).toBe('c\n');
      // keep 1 + current + previous: the oldest install is gone.
      expect(readdirSync(onHost(h, 'srv/tsapp/versions')).sort()).toEqual([ids[1], ids[2]].sort());
    }
    expect(readFileSync(join(work, 'app', 'VERSION'), 'utf8')).toBe('2.0.0\n');
  }, 180_000);

  it('version: file — same version, other content: plan exits 4 naming it per host; apply uploads 0 bytes and changes nothing', async () => {
    const pb = playbook('fileapp', 'file');
    writeFileSync(join(work, 'app', 'index.html'), 'first\n');
    const a1 = await orch(['apply', pb, '--yes'], env);
    expect(a1.code, a1.stdout + a1.stderr).toBe(0);
    const shaOld = readFileSync(onHost('h1', 'srv/fileapp/versions/2.0.0/.orch-installed'), 'utf8').trim();
    writeFileSync(join(work, 'app', 'index.html'), 'second\n');
    const p = await orch(['plan', pb], env);
    expect(p.code, p.stdout + p.stderr).toBe(4);
    const why = (sha: string) => `version 2.0.0 is already installed in /srv/fileapp/versions/2.0.0 from another bundle (sha256 ${shaOld.slice(0, 12)}…, this bundle ${sha}…); one version is one release: give a new build a new version (bump VERSION, or version: git | timestamp)`;
    const shaNew = /this bundle ([0-9a-f]{12})…/.exec(p.stdout)![1]!;
    expect(p.stdout.split(why(shaNew)).length - 1).toBe(2);
    expect(p.stdout).toContain('2 steps will fail');
    const a2 = await orch(['apply', pb, '--yes', '--json'], env);
    expect(a2.code, a2.stdout + a2.stderr).toBe(4);
    const s = summaryOf(a2.stdout);
    expect(s.bytesUploaded).toBe(0);
    expect(s.failed).toBe(2);
    for (const hr of s.hosts) expect(hr.error).toContain(why(shaNew));
    for (const h of HOSTS) {
      expect(readdirSync(onHost(h, 'srv/fileapp/.orch/bundles'))).toEqual([`${shaOld}.tar.gz`]);
      expect(readFileSync(onHost(h, 'srv/fileapp/current/index.html'), 'utf8')).toBe('first\n');
    }
  }, 180_000);
});
