/**
 * End to end over real SSH: 4 sshd test hosts in network namespaces, the built CLI run as
 * a subprocess, results checked on each host's private filesystem.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch, startOrch, summaryOf } from './cli.js';

const ROOT = '/srv/shop';

describe.skipIf(!canRunFleet())('deploy over SSH to a 4-host fleet', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let inv: string;
  let pb: string;
  const host = (name: string): TestHost => fleet.hosts.find((h) => h.name === name)!;
  /** A path on a test host, read through the host's private folder on the control machine. */
  const onHost = (name: string, p: string): string => join(host(name).dir, p);

  const writeApp = (version: string): void => {
    mkdirSync(join(work, 'app', 'bin'), { recursive: true });
    writeFileSync(join(work, 'app', 'VERSION'), `${version}\n`);
    writeFileSync(join(work, 'app', 'bin', 'run'), '#!/bin/sh\necho shop\n', { mode: 0o755 });
  };

  beforeAll(async () => {
    fleet = await startFleet({ count: 4 });
    ({ dir: work, env } = makeWork('deploy'));
    inv = join(work, 'inventory.yml');
    writeFileSync(inv, fleet.inventoryYaml({
      roles: { web: ['h1', 'h2'], db: ['h3'], lb: ['h4'] },
      groups: { eu: { hosts: ['h1', 'h3'] }, us: { hosts: ['h2', 'h4'] } },
    }));
    writeApp('1.0.0');
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: shop }
bundles:
  shop: { source: app, builder: dir }
templates:
  service_app:
    required: [root]
    roles: { host: web }
    steps:
      - install: { bundle: shop }
      - put: { dest: "{{root}}/shared/config.ini", content: "host={{host.name}}\\nrole={{role_label}}\\n" }
      - symlink: {}
      - service: { manager: command, command: "echo restarted >> {{root}}/restarts" }
roles: { web: web, db: db, lb: lb }
nodes:
  tier:
    vars: { role_label: default }
    nodes:
      shop:
        extends: service_app
        vars: { root: /srv/wrong }
      db:
        roles: { master: db }
        steps:
          - run: { cmd: "mkdir -p /srv/db && echo {{greeting}} > /srv/db/marker", creates: /srv/db/marker }
            on: master
tier__shop__root: ${ROOT}
tier__shop__role_label: "web & friends"
tier__db__greeting: "hi from db"
`);
  }, 60_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('deploys the right version, files and restarts to the right hosts only', async () => {
    const r = await orch(['apply', pb, '--json', '--detailed-exitcodes'], env);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    for (const h of ['h1', 'h2']) {
      expect(readlinkSync(onHost(h, `${ROOT}/current`))).toBe('versions/1.0.0');
      expect(readFileSync(onHost(h, `${ROOT}/versions/1.0.0/bin/run`), 'utf8')).toBe('#!/bin/sh\necho shop\n');
      expect(existsSync(onHost(h, `${ROOT}/versions/1.0.0/.orch-installed`))).toBe(true);
      expect(readFileSync(onHost(h, `${ROOT}/shared/config.ini`), 'utf8')).toBe(`host=${h}\nrole=web & friends\n`);
      expect(readFileSync(onHost(h, `${ROOT}/restarts`), 'utf8')).toBe('restarted\n');
      const state = JSON.parse(readFileSync(onHost(h, `${ROOT}/.orch/state.json`), 'utf8'));
      expect(state).toMatchObject({ app: 'shop', root: ROOT, current: '1.0.0', previous: null });
      expect(state.history.map((e: { action: string; version: string }) => `${e.action} ${e.version}`)).toEqual(['install 1.0.0', 'switch 1.0.0']);
      expect(JSON.parse(readFileSync(onHost(h, 'root/.orch/registry.json'), 'utf8'))).toEqual({ apps: { shop: ROOT } });
    }
    expect(readFileSync(onHost('h3', 'srv/db/marker'), 'utf8')).toBe('hi from db\n');
    for (const h of ['h3', 'h4']) expect(existsSync(onHost(h, 'srv/shop'))).toBe(false);
    for (const h of ['h1', 'h2', 'h4']) expect(existsSync(onHost(h, 'srv/db'))).toBe(false);
    expect(existsSync(onHost('h1', 'srv/wrong'))).toBe(false);
  }, 120_000);

  it('a second apply of the same release changes nothing, restarts nothing and uploads nothing', async () => {
    const r = await orch(['apply', pb, '--json', '--detailed-exitcodes'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const s = summaryOf(r.stdout);
    expect(s.changed).toBe(0);
    expect(s.bytesUploaded).toBe(0);
    for (const h of ['h1', 'h2']) expect(readFileSync(onHost(h, `${ROOT}/restarts`), 'utf8')).toBe('restarted\n');
  }, 120_000);

  it('plan reads each host in one round trip: nothing pending after a deploy; --remote-check runs bash -n on the hosts', async () => {
    const r = await orch(['plan', pb, '--remote-check', '--detailed-exitcodes'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout, r.stdout).toMatch(/Plan: 3 hosts, 0 steps to change\./);
    const offline = await orch(['plan', pb, '--offline', '--detailed-exitcodes'], env);
    expect(offline.code).toBe(2);
    expect(offline.stdout).toContain('may change');
  }, 60_000);

  it.each([
    ['web', ['h1', 'h2']],
    ['eu', ['h1', 'h3']],
    ['web:!eu', ['h2']],
    ['web:&eu', ['h1']],
    ['h*:!lb', ['h1', 'h2', 'h3']],
  ])('--limit %s selects exactly %j', async (pattern, want) => {
    const r = await orch(['hosts', '-i', inv, '--limit', pattern, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((h: { host: string }) => h.host)).toEqual(want);
  });

  it('a --limit that matches nothing exits 1', async () => {
    const r = await orch(['plan', pb, '--limit', 'nope*'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--limit "nope*" matches no host');
  });

  it('--limit applies to apply: only the selected host changes', async () => {
    writeApp('1.1.0');
    const r = await orch(['apply', pb, '--limit', 'h2', '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readlinkSync(onHost('h2', `${ROOT}/current`))).toBe('versions/1.1.0');
    expect(readlinkSync(onHost('h1', `${ROOT}/current`))).toBe('versions/1.0.0');
  }, 120_000);

  it('with one host\'s sshd stopped, the others complete, exit 4, and a re-run after restart converges', async () => {
    writeApp('2.0.0');
    await fleet.stopSshd(host('h1'));
    try {
      const r = await orch(['apply', pb, '--json'], env);
      expect(r.code, r.stdout + r.stderr).toBe(4);
      const s = summaryOf(r.stdout);
      expect(s.hosts.find((h) => h.host === 'h1')!.status).toBe('unreachable');
      expect(readlinkSync(onHost('h2', `${ROOT}/current`))).toBe('versions/2.0.0');
      expect(readlinkSync(onHost('h1', `${ROOT}/current`))).toBe('versions/1.0.0');
    } finally {
      await fleet.startSshd(host('h1'));
    }
    const again = await orch(['apply', pb, '--json'], env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(readlinkSync(onHost('h1', `${ROOT}/current`))).toBe('versions/2.0.0');
    const state = JSON.parse(readFileSync(onHost('h1', `${ROOT}/.orch/state.json`), 'utf8'));
    expect(state).toMatchObject({ current: '2.0.0', previous: '1.0.0' });
  }, 180_000);

  it('a step that fails bash -n stops plan and apply with exit 1 naming node, step and host; nothing runs', async () => {
    const bad = join(work, 'bad.yml');
    writeFileSync(bad, `
inventory: inventory.yml
nodes:
  broken:
    roles: { host: db }
    steps:
      - run: { cmd: "touch /srv/should-not-exist; if then fi" }
        name: broken step
`);
    // h3's lock record, from the earlier runs: an agent started on h3 would rewrite it.
    const lockInfo = onHost('h3', 'root/.orch/lock.info');
    const before = existsSync(lockInfo) ? `${statSync(lockInfo).mtimeMs} ${readFileSync(lockInfo, 'utf8')}` : 'absent';
    for (const cmd of ['plan', 'apply']) {
      const r = await orch(cmd === 'apply' ? [cmd, bad, '--yes'] : [cmd, bad], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/bad\.yml:7:\d+: node broken, step "broken step", host h3: script fails bash -n: /);
    }
    expect(existsSync(onHost('h3', 'srv/should-not-exist'))).toBe(false);
    // The connection to h3 was opened early (while the plan compiled) but nothing ran over it.
    expect(existsSync(lockInfo) ? `${statSync(lockInfo).mtimeMs} ${readFileSync(lockInfo, 'utf8')}` : 'absent').toBe(before);
  }, 60_000);

  it('build_on: the bundle is built on a test host and the result deploys', async () => {
    const remote = join(work, 'remote.yml');
    mkdirSync(join(work, 'rapp'), { recursive: true });
    writeFileSync(join(work, 'rapp', 'VERSION'), '7.0.0\n');
    writeFileSync(join(work, 'rapp', 'hello.txt'), 'built remotely\n');
    writeFileSync(remote, `
inventory: inventory.yml
vars: { app: rapp, root: /srv/rapp }
bundles:
  rapp: { source: rapp, builder: dir, build_on: h3 }
nodes:
  rapp:
    roles: { host: web }
    steps:
      - install: { bundle: rapp }
      - symlink: {}
`);
    const r = await orch(['apply', remote, '--json', '--limit', 'h2'], env, { cwd: work });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(onHost('h2', '/srv/rapp/current/hello.txt'), 'utf8')).toBe('built remotely\n');
    expect(readdirSync(join(work, 'dist'))).toContain('rapp-7.0.0-any.tar.gz');
  }, 120_000);

  it('orch exec runs an ad-hoc command on the selected hosts and attributes each output', async () => {
    const r = await orch(['exec', '-i', inv, '--limit', 'web', '--json', '--', 'readlink', '/srv/shop/current;', 'echo', '$(id -un)'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { host: 'h1', code: 0, stdout: 'versions/2.0.0\nroot\n', stderr: '' },
      { host: 'h2', code: 0, stdout: 'versions/2.0.0\nroot\n', stderr: '' },
    ]);
    const failing = await orch(['exec', '-i', inv, '--limit', 'h3', '--', 'exit 7'], env);
    expect(failing.code).toBe(4);
    expect(failing.stdout).toBe('h3 | FAILED (exit 7)\n');
  }, 60_000);

  it('a connection opened early (while the bundle builds) and lost before the run uses it is opened again', async () => {
    const dir = join(work, 'slow');
    mkdirSync(join(dir, 'app'), { recursive: true });
    writeFileSync(join(dir, 'app', 'VERSION'), '1.0.0\n');
    writeFileSync(join(dir, 'slow.sh'), '#!/bin/sh\nsleep 4\n', { mode: 0o755 });
    const slow = join(dir, 'slow.yml');
    writeFileSync(slow, `
inventory: ../inventory.yml
bundles:
  slow: { source: app, builder: dir, prebuild_script: ${join(dir, 'slow.sh')} }
nodes:
  slow:
    roles: { host: web }
    vars: { root: /srv/slow }
    steps:
      - install: { bundle: slow }
      - symlink: {}
`);
    const run = startOrch(['apply', slow, '--json', '--yes', '--limit', 'h1'], env, { cwd: dir });
    // By now h1's connection is open and the prebuild script still sleeps: cut it.
    await new Promise((r) => setTimeout(r, 2000));
    await fleet.stopSshd(host('h1'));
    await fleet.startSshd(host('h1'));
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(summaryOf(r.stdout).hosts.map((h) => `${h.host} ${h.status}`)).toEqual(['h1 changed']);
    expect(readlinkSync(onHost('h1', 'srv/slow/current'))).toBe('versions/1.0.0');
  }, 120_000);

  it('a host whose key changed fails with a clear message, nothing runs on it, the others deploy', async () => {
    writeApp('3.0.0');
    await fleet.rotateHostKey(host('h2'));
    const r = await orch(['apply', pb, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    const s = summaryOf(r.stdout);
    const h2 = s.hosts.find((h) => h.host === 'h2')!;
    expect(h2.status).toBe('unreachable');
    expect(h2.error).toMatch(/HOST KEY CHANGED/);
    expect(readlinkSync(onHost('h2', `${ROOT}/current`))).toBe('versions/2.0.0');
    expect(existsSync(onHost('h2', `${ROOT}/versions/3.0.0`))).toBe(false);
    expect(readlinkSync(onHost('h1', `${ROOT}/current`))).toBe('versions/3.0.0');
  }, 120_000);
});
