/**
 * Node actions (`orch run`), `orch shell` and `orch ssh` against real sshd test hosts,
 * the built CLI run as a user would: batch commands as subprocesses, the interactive
 * parts in a real terminal (tmux).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch, ORCH, type CliResult } from './cli.js';
import { canRunTmux, startTmux, type Tmux } from './shell-tmux.js';

const SECRET = 'pw-7f3a9c1e';

describe.skipIf(!canRunFleet())('actions, orch shell and orch ssh on a 3-host fleet', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let inv: string;
  let pb: string;
  const host = (name: string): TestHost => fleet.hosts.find((h) => h.name === name)!;
  const onHost = (name: string, p: string): string => join(host(name).dir, p);
  const tmuxes: Tmux[] = [];

  /** `orch shell` with `input` on stdin (no terminal). */
  const shellPiped = (input: string): Promise<CliResult> => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [ORCH, 'shell', pb], { cwd: work, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
    child.stdin.end(input);
  });

  beforeAll(async () => {
    fleet = await startFleet({ count: 3, name: 'osh' });
    ({ dir: work, env } = makeWork('shell'));
    inv = join(work, 'inventory.yml');
    writeFileSync(inv, fleet.inventoryYaml({ roles: { web: ['h1', 'h2'], db: ['h3'] } }));
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `inventory: inventory.yml
vars: { app: shop, root: /srv/shop, db_password: ${SECRET} }
secret: [db_password]
roles: { web: web, db: db }
nodes:
  shop:
    roles: { host: web }
    vars: { greeting: hello }
    actions:
      hello:
        - run: { cmd: "echo {{greeting}} from $(hostname) pw={{db_password}} | tee /srv/hello-{{host.name}}" }
      migrate:
        - run: { cmd: "hostname > /srv/migrated", once: true }
      broken:
        - run: { cmd: "touch /srv/broken-ran" }
        - run: { cmd: "if then fi" }
      fail:
        - run: { cmd: "exit 3" }
    nodes:
      api:
        steps:
          - run: { cmd: "echo api > /srv/api-ran" }
  db:
    roles: { host: db }
    steps:
      - run: { cmd: "echo db > /srv/db-step" }
`);
  }, 60_000);

  afterAll(async () => {
    for (const t of tmuxes) t.kill();
    await fleet?.teardown();
  });

  describe('orch run PLAYBOOK NODE.ACTION', () => {
    it('runs on the node\'s hosts only, with its vars, output masked', async () => {
      const r = await orch(['run', pb, 'shop.hello'], env, { cwd: work });
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^h1: run echo .*: changed\n {4}hello from h1 pw=\*\*\*$/m);
      expect(r.stdout).toMatch(/^h2: run echo .*: changed\n {4}hello from h2 pw=\*\*\*$/m);
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      expect(r.stdout).not.toMatch(/^h3:/m);
      expect(readFileSync(onHost('h1', 'srv/hello-h1'), 'utf8')).toBe(`hello from h1 pw=${SECRET}\n`);
      expect(readFileSync(onHost('h2', 'srv/hello-h2'), 'utf8')).toBe(`hello from h2 pw=${SECRET}\n`);
      expect(existsSync(onHost('h3', 'srv/hello-h3'))).toBe(false);
      // Actions are never part of apply, and the node's steps are not part of the action.
      expect(existsSync(onHost('h3', 'srv/db-step'))).toBe(false);
    });

    it('honours once:, -e and --detailed-exitcodes', async () => {
      const r = await orch(['run', pb, 'shop.migrate', '--detailed-exitcodes'], env, { cwd: work });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(readFileSync(onHost('h1', 'srv/migrated'), 'utf8')).toBe('h1\n');
      expect(existsSync(onHost('h2', 'srv/migrated'))).toBe(false);
      const e = await orch(['run', pb, 'shop.hello', '-e', 'greeting=bonjour', '--limit', 'h2'], env, { cwd: work });
      expect(e.code, e.stdout + e.stderr).toBe(0);
      expect(readFileSync(onHost('h2', 'srv/hello-h2'), 'utf8')).toBe(`bonjour from h2 pw=${SECRET}\n`);
      expect(readFileSync(onHost('h1', 'srv/hello-h1'), 'utf8')).toBe(`hello from h1 pw=${SECRET}\n`);
    });

    it('fails on a bash -n error before anything runs (exit 1)', async () => {
      const r = await orch(['run', pb, 'shop.broken'], env, { cwd: work });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/playbook\.yml:\d+:\d+: node shop, step "run if then fi", hosts h1, h2: script fails bash -n: .*syntax error/);
      for (const h of ['h1', 'h2', 'h3']) expect(existsSync(onHost(h, 'srv/broken-ran'))).toBe(false);
    });

    it('exits 4 when the action fails on a host; 1 for an unknown action or node', async () => {
      const f = await orch(['run', pb, 'shop.fail'], env, { cwd: work });
      expect(f.code, f.stdout + f.stderr).toBe(4);
      expect(f.stdout).toMatch(/^h1: run exit 3: failed\n {4}exit 3$/m);
      const a = await orch(['run', pb, 'shop.nope'], env, { cwd: work });
      expect(a.code).toBe(1);
      expect(a.stderr).toBe('<command line>:1:1: shop.nope: node shop has no action "nope" (actions: hello, migrate, broken, fail)\n');
      const n = await orch(['run', pb, 'shp.hello'], env, { cwd: work });
      expect(n.code).toBe(1);
      expect(n.stderr).toBe('<command line>:1:1: shp.hello: the playbook has no child node "shp" (children: shop, db)\n');
    });

    it('orch tree lists the actions', async () => {
      const r = await orch(['tree', pb], env, { cwd: work });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`    action hello: run  (orch run ${pb} shop.hello)\n`);
    });
  });

  describe('orch shell without a terminal', () => {
    it('runs the commands of stdin in order and exits with the last one\'s code', async () => {
      const r = await shellPiped('cd shop\npwd\nls\ninspect\ncd api\npwd\ncd -\ncd ..\npwd\nexec hostname\n');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('/shop\nnodes:   api/\nactions: hello  migrate  broken  fail\nhosts:   h1, h2\n  role host: h1, h2\n');
      expect(r.stdout).toMatch(/node shop {2}\(.*playbook\.yml:6\)\nhosts: h1, h2\n {2}role host: h1, h2\nvars \(on h1\):\n {2}app = shop\n {2}db_password = \*\*\*\n {2}greeting = hello\n {2}root = \/srv\/shop\nactions:\n {2}hello: run echo/);
      expect(r.stdout).toContain('/shop/api\n/shop\n/\n');
      expect(r.stdout).toContain('h1 | ok\n  h1\nh2 | ok\n  h2\nh3 | ok\n  h3\n');
      expect(r.stdout).not.toContain(SECRET);
      const bad = await shellPiped('cd shop\nexec exit 5\n');
      expect(bad.code).toBe(4);
      const unknown = await shellPiped('cd nowhere\n');
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toBe('no node "nowhere" under / (children: shop, db)\n');
    });

    it('plan, sandbox and query act on the current subtree', async () => {
      const r = await shellPiped('cd shop/api\nplan\nsandbox\nquery\n');
      expect(r.stderr).toBe('');
      expect(r.code, r.stdout).toBe(0);
      const plans = r.stdout.split('Plan: ');
      expect(plans).toHaveLength(3); // plan and sandbox
      expect(plans[0]).toMatch(/^h1 \(root@10\.231\.\d+\.11\)\n {2}~ shop\.api: run echo api > \/srv\/api-ran {2}will change\nh2 /);
      expect(r.stdout).not.toMatch(/^h3 /m);
      expect(r.stdout).toMatch(/^HOST +APP/m); // query's table header, for h1 and h2 only
      const db = await shellPiped('cd db\nsandbox\n');
      expect(db.code).toBe(0);
      expect(db.stdout).toMatch(/^h3 \(root@.*\)\n {2}~ db: run echo db > \/srv\/db-step {2}will change$/m);
    });

    it('runs an action of the current node by name, with k=v parameters', async () => {
      rmSync(onHost('h1', 'srv/hello-h1'), { force: true });
      const r = await shellPiped('cd shop\nhello greeting=hey\n');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(readFileSync(onHost('h1', 'srv/hello-h1'), 'utf8')).toBe(`hey from h1 pw=${SECRET}\n`);
      expect(r.stdout).toContain('hey from h1 pw=***');
    });
  });

  describe.skipIf(!canRunTmux())('orch shell in a terminal', () => {
    it('navigates, tab-completes, connects to a host and comes back', async () => {
      const t = startTmux(work, 'nav', [process.execPath, ORCH, 'shell', pb], { ...env, PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm' });
      tmuxes.push(t);
      await t.waitFor(/orch:\/>$/m);
      t.type('cd sh');
      t.keys('Tab');
      await t.waitFor(/orch:\/> cd shop\/$/m);
      t.type('a');
      t.keys('Tab');
      await t.waitFor(/orch:\/> cd shop\/api\/$/m);
      t.keys('Enter');
      await t.waitFor(/orch:\/shop\/api>$/m);
      t.line('cd ..');
      await t.waitFor(/orch:\/shop>$/m);
      t.type('mig');
      t.keys('Tab');
      await t.waitFor(/orch:\/shop> migrate$/m);
      t.keys('C-c');
      await t.waitFor(/\^C\norch:\/shop>$/m);
      t.line('connect');
      await t.waitFor(/1\) h1\n\s+2\) h2\nHost \[1-2\]:$/m);
      t.line('2');
      await t.waitFor(/Connected to h2/);
      await t.waitFor(/root@h2:.*#$/m);
      t.line('hostname; stty size');
      await t.waitFor(/^h2\n50 160$/m);
      // The remote pty follows the terminal's size.
      t.resize(100, 30);
      t.line('clear; stty size');
      await t.waitFor(/^30 100$/m);
      t.line('exit');
      await t.waitFor(/orch:\/shop>$/m);
      t.resize(160, 50);
      t.line('clear');
      // Ctrl-C stops the running command, not the shell; the hosts are reachable again afterwards.
      t.line('exec sleep 30; echo never');
      await new Promise((r) => setTimeout(r, 1500));
      t.keys('C-c');
      await t.waitFor(/h1 \| INTERRUPTED\nh2 \| INTERRUPTED\norch:\/shop>$/m, 10_000);
      t.line('exec hostname');
      await t.waitFor(/h1 \| ok\n {2}h1\nh2 \| ok\n {2}h2\norch:\/shop>$/m);
      // apply runs orch apply on this subtree only, in the terminal.
      t.line('cd api');
      t.line('apply --yes');
      await t.waitFor(/2 hosts: 2 changed/);
      await t.waitFor(/orch:\/shop\/api>$/m);
      expect(existsSync(onHost('h1', 'srv/api-ran'))).toBe(true);
      expect(existsSync(onHost('h2', 'srv/api-ran'))).toBe(true);
      expect(existsSync(onHost('h3', 'srv/db-step'))).toBe(false);
      t.line('pwd');
      await t.waitFor(/^\/shop\/api\norch:\/shop\/api>$/m);
      t.keys('C-d');
      await t.waitFor(/\[exit 0\]/);
      expect(readFileSync(join(env.HOME!, '.orch', 'shell_history'), 'utf8')).toBe('cd shop/api/\ncd ..\nconnect\nclear\nexec sleep 30; echo never\nexec hostname\ncd api\napply --yes\npwd\n');
    }, 60_000);

    it('files: put and get a 1 MiB random file byte-exact; edit uploads atomically only when changed', async () => {
      const data = randomBytes(1024 * 1024);
      writeFileSync(join(work, 'blob.bin'), data);
      rmSync(join(work, 'back.bin'), { force: true });
      await fleet.hostExec(host('h1'), 'mkdir -p /srv/files && printf "a=1\\n" > /srv/files/app.conf && chmod 0640 /srv/files/app.conf');
      // A scripted editor: appends a line; a second one changes nothing.
      writeFileSync(join(work, 'editor.sh'), '#!/bin/bash\necho "b=2" >> "$1"\n', { mode: 0o755 });
      writeFileSync(join(work, 'noop-editor.sh'), '#!/bin/bash\ntrue\n', { mode: 0o755 });
      const t = startTmux(work, 'files', [process.execPath, ORCH, 'shell', pb], { ...env, PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm', EDITOR: join(work, 'editor.sh') });
      tmuxes.push(t);
      await t.waitFor(/orch:\/>$/m);
      t.line('cd shop');
      t.line('files h1');
      await t.waitFor(/files h1:\/root>$/m);
      t.type('cd /srv/fi');
      t.keys('Tab');
      await t.waitFor(/files h1:\/root> cd \/srv\/files\/$/m);
      t.keys('Enter');
      await t.waitFor(/files h1:\/srv\/files>$/m);
      t.line('put blob.bin');
      await t.waitFor(/-> \/srv\/files\/blob\.bin \(1048576 bytes\)/);
      t.line('get blob.bin back.bin');
      await t.waitFor(/-> .*back\.bin \(1048576 bytes\)/);
      expect(readFileSync(onHost('h1', 'srv/files/blob.bin')).equals(data)).toBe(true);
      expect(readFileSync(join(work, 'back.bin')).equals(data)).toBe(true);
      const inodeBefore = (await fleet.hostExec(host('h1'), 'stat -c %i /srv/files/app.conf')).stdout.trim();
      t.line('edit app.conf');
      await t.waitFor(/\/srv\/files\/app\.conf: saved \(8 bytes\)/);
      const st = await fleet.hostExec(host('h1'), 'cat /srv/files/app.conf; stat -c "%a %i" /srv/files/app.conf; ls -a /srv/files');
      const [content1, content2, meta] = st.stdout.split('\n');
      expect(`${content1}\n${content2}\n`).toBe('a=1\nb=2\n');
      const [mode, inode] = meta!.split(' ');
      expect(mode).toBe('640');
      expect(inode).not.toBe(inodeBefore); // a new file renamed into place, not rewritten in place
      expect(st.stdout).not.toMatch(/\.orch-/); // no temp file left
      t.line('ls');
      await t.waitFor(/-rw-r----- +8 .* app\.conf\n.* blob\.bin/);
      t.line('exit');
      await t.waitFor(/orch:\/shop>$/m);
      t.line('exit');
      await t.waitFor(/\[exit 0\]/);
      // An editor that changes nothing uploads nothing.
      const t2 = startTmux(work, 'files2', [process.execPath, ORCH, 'shell', pb], { ...env, PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm', EDITOR: join(work, 'noop-editor.sh') });
      tmuxes.push(t2);
      await t2.waitFor(/orch:\/>$/m);
      t2.line('cd shop');
      t2.line('files h1');
      await t2.waitFor(/files h1:\/root>$/m);
      t2.line('edit /srv/files/app.conf');
      await t2.waitFor(/app\.conf: unchanged; nothing uploaded/);
      expect((await fleet.hostExec(host('h1'), 'stat -c %i /srv/files/app.conf')).stdout.trim()).toBe(inode);
      t2.line('exit');
      t2.line('exit');
      await t2.waitFor(/\[exit 0\]/);
    }, 60_000);

    it('reports an unreachable host and goes on', async () => {
      await fleet.stopSshd(host('h2'));
      try {
        const r = await shellPiped('cd shop\nexec echo up\npwd\n');
        expect(r.stdout).toMatch(/h1 \| ok\n {2}up\nh2 \| UNREACHABLE: cannot connect to 10\.231\.\d+\.12:22: ECONNREFUSED\n\/shop\n/);
        expect(r.code).toBe(0); // the last command (pwd) succeeded
        // orch run: the reachable host runs the action, the run exits 4.
        rmSync(onHost('h1', 'srv/hello-h1'), { force: true });
        const a = await orch(['run', pb, 'shop.hello'], env, { cwd: work });
        expect(a.code, a.stdout + a.stderr).toBe(4);
        expect(a.stdout).toMatch(/^ {2}h2 +unreachable .* cannot connect to 10\.231\.\d+\.12:22: ECONNREFUSED$/m);
        expect(readFileSync(onHost('h1', 'srv/hello-h1'), 'utf8')).toBe(`hello from h1 pw=${SECRET}\n`);
      } finally {
        await fleet.startSshd(host('h2'));
      }
    });
  });

  describe.skipIf(!canRunTmux())('orch ssh', () => {
    it('opens a login shell on h2 through the bastion h1 named by the inventory', async () => {
      const jinv = join(work, 'jump.yml');
      writeFileSync(jinv, fleet.inventoryYaml({ hosts: { h2: { jump: 'h1' } } }));
      const accepted = (): number => (readFileSync(host('h2').logFile, 'utf8').match(new RegExp(`Accepted publickey for root from ${host('h1').address.replaceAll('.', '\\.')} `, 'g')) ?? []).length;
      const before = accepted();
      const t = startTmux(work, 'ssh', [process.execPath, ORCH, 'ssh', '-i', jinv, 'h2'], { ...env, PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm' });
      tmuxes.push(t);
      await t.waitFor(/root@h2:.*#$/m);
      t.line('hostname');
      await t.waitFor(/^h2$/m);
      t.line('exit 7');
      await t.waitFor(/\[exit 7\]/);
      expect(accepted()).toBe(before + 1);
      // Without a terminal: -- COMMAND with plain pipes, the remote exit code.
      const r = await orch(['ssh', '-i', jinv, 'h2', '--', 'hostname; exit 3'], env, { cwd: work });
      expect(r.stdout).toBe('h2\n');
      expect(r.code).toBe(3);
      expect(accepted()).toBe(before + 2);
      // A transport: local host is this machine: bash runs the command here.
      writeFileSync(join(work, 'local.yml'), 'hosts: { me: { transport: local } }\n');
      const l = await orch(['ssh', '-i', join(work, 'local.yml'), 'me', '--', 'echo "$PWD"; exit 5'], env, { cwd: work });
      expect([l.stdout, l.code]).toEqual([`${work}\n`, 5]);
      const u = await orch(['ssh', '-i', jinv, 'h9'], env, { cwd: work });
      expect(u.code).toBe(1);
      expect(u.stderr).toBe('<command line>:1:1: HOST: no host "h9" in the inventory (hosts: h1, h2, h3)\n');
    }, 60_000);
  });
});
