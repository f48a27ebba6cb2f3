/**
 * The operator at a terminal (issue 12), in a real pty (tmux) against 3 real sshd hosts:
 * the plan and the prompt are on screen, and nothing has run, before any key is typed;
 * `n` leaves the hosts untouched, `y` applies; a failing Python step shows its traceback's
 * last line under the host, in the terminal and in plain output; 40 columns stay readable.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { makeWork, orch, ORCH } from './cli.js';
import { haveTmux, Pty } from './terminal-pty.js';

describe.skipIf(!canRunFleet() || !haveTmux())('orch at a terminal (tmux) on a 3-host fleet', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let pb: string;
  let failing: string;
  const ptys: Pty[] = [];
  const pty = (args: string[], size: { cols?: number; rows?: number } = {}): Pty => {
    const p = new Pty([process.execPath, ORCH, ...args], env, { cwd: work, ...size });
    ptys.push(p);
    return p;
  };
  const onHost = (name: string, p: string): string => join(fleet.hosts.find((h) => h.name === name)!.dir, p);

  beforeAll(async () => {
    fleet = await startFleet({ count: 3 });
    ({ dir: work, env } = makeWork('terminal'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml({ roles: { web: ['h1', 'h2', 'h3'], db: ['h2'] } }));
    mkdirSync(join(work, 'app', 'bin'), { recursive: true });
    writeFileSync(join(work, 'app', 'VERSION'), '1.0.0\n');
    writeFileSync(join(work, 'app', 'bin', 'run'), '#!/bin/sh\necho shop\n', { mode: 0o755 });
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: shop, root: /srv/shop, greeting: hello }
bundles:
  shop: { source: app, builder: dir }
nodes:
  web:
    roles: { host: web }
    steps:
      - install: { bundle: shop }
      - put: { dest: "{{root}}/shared/notes.conf", content: "host={{host.name}} greeting={{greeting}}\\n" }
      - symlink: {}
`);
    failing = join(work, 'failing.yml');
    writeFileSync(failing, `
inventory: inventory.yml
vars: { app: shop }
nodes:
  migrate:
    roles: { db: db }
    steps:
      - name: migrate db
        on: db
        run:
          cmd: |
            echo migrating users
            python3 -c 'import json; json.loads("{}"); raise ValueError("no such table: users")'
`);
  }, 120_000);

  afterEach(() => {
    for (const p of ptys.splice(0)) p.close();
  });

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('shows the whole plan and the prompt before any key, has run nothing; n leaves hosts untouched', async () => {
    const p = pty(['apply', pb]);
    const screen = await p.waitFor(/Apply these changes\? \[y\/N\]/);
    for (const h of ['h1', 'h2', 'h3']) expect(screen).toMatch(new RegExp(`^${h} \\(root@10\\.231\\.`, 'm'));
    expect(screen).toMatch(/~ web: install shop 1\.0\.0\s+will change/);
    expect(screen).toMatch(/Plan: 3 hosts, 9 steps to change\./);
    // It waits: the prompt is still the last line a while later, and nothing ran on any host.
    await new Promise((r) => setTimeout(r, 1500));
    const lines = p.text().split('\n');
    expect(lines[lines.length - 1]).toBe('Apply these changes? [y/N]');
    expect(p.text()).not.toMatch(/Reading the state|Connecting to|⠋|✔/);
    for (const h of ['h1', 'h2', 'h3']) expect(existsSync(onHost(h, 'srv/shop'))).toBe(false);
    p.keys('n', 'Enter');
    const { code, text } = await p.exit();
    expect(code).toBe(1);
    expect(text).toMatch(/Cancelled; nothing was changed\./);
    for (const h of ['h1', 'h2', 'h3']) expect(existsSync(onHost(h, 'srv/shop'))).toBe(false);
  }, 120_000);

  it('y applies, with live progress after the plan and a summary', async () => {
    const p = pty(['apply', pb]);
    await p.waitFor(/Apply these changes\? \[y\/N\]$/);
    expect(existsSync(onHost('h1', 'srv/shop'))).toBe(false);
    p.keys('y', 'Enter');
    const { code, text } = await p.exit();
    expect(code, text).toBe(0);
    // Stages in order: plan, prompt, host lines, summary.
    const at = (re: RegExp): number => text.search(re);
    expect(at(/Plan: 3 hosts/)).toBeLessThan(at(/Apply these changes/));
    expect(at(/Apply these changes/)).toBeLessThan(at(/✔ h1 {2}done, 3 changed/));
    expect(at(/✔ h1 {2}done/)).toBeLessThan(at(/^Summary:/m));
    for (const h of ['h1', 'h2', 'h3']) {
      expect(readFileSync(onHost(h, 'srv/shop/shared/notes.conf'), 'utf8')).toBe(`host=${h} greeting=hello\n`);
      expect(text).toMatch(new RegExp(`^ {2}${h} +changed +ok=0 changed=3`, 'm'));
    }
  }, 120_000);

  it('a failing Python step shows its traceback under the host, in the terminal and in plain output', async () => {
    const p = pty(['apply', failing, '--yes']);
    const { code, text } = await p.exit();
    expect(code, text).toBe(4);
    const block = text.slice(text.search(/^h2: migrate: migrate db: failed$/m));
    expect(block, text).toMatch(/^h2: migrate: migrate db: failed\n {4}exit 1\n {4}stderr:\n {6}Traceback \(most recent call last\):\n(.*\n)*? {6}ValueError: no such table: users\n {4}stdout:\n {6}migrating users\n/);
    expect(text.search(/ValueError: no such table/)).toBeLessThan(text.search(/^Summary:/m));

    const plain = await orch(['apply', failing], env, { cwd: work });
    expect(plain.code).toBe(4);
    expect(plain.stdout).toMatch(/^== migrate \(1 host\)\nh2: migrate db: failed\n {4}exit 1\n {4}stderr:\n {6}Traceback \(most recent call last\):\n(.*\n)*? {6}ValueError: no such table: users\n {4}stdout:\n {6}migrating users\n/m);
    // --json keeps the full text in the step's event.
    const json = await orch(['apply', failing, '--json'], env, { cwd: work });
    const end = json.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.type === 'step-end' && e.status === 'failed')!;
    expect(end).toMatchObject({ host: 'h2', exitCode: 1, stdout: 'migrating users' });
    expect(end.stderr).toMatch(/^Traceback[\s\S]*ValueError: no such table: users$/);
  }, 120_000);

  it('live progress shows the step running now with its elapsed time, and hosts waiting for their batch', async () => {
    const slow = join(work, 'slow.yml');
    writeFileSync(slow, `
inventory: inventory.yml
vars: { app: shop }
nodes:
  slow:
    serial: 1
    steps:
      - run: { cmd: "true" }
      - name: wait a bit
        run: { cmd: "sleep 2.5" }
`);
    const p = pty(['apply', slow, '--yes']);
    const live = await p.waitFor(/h1 {2}slow: wait a bit {2}[12] s/);
    expect(live).toMatch(/h2 {2}waiting for batch 2 of 3 \(slow\)/);
    expect(live).toMatch(/h3 {2}waiting for batch 3 of 3 \(slow\)/);
    // The finished first step is not shown as running.
    expect(live).not.toMatch(/h1 {2}slow: run true/);
    const later = await p.waitFor(/h2 {2}slow: wait a bit {2}[12] s/);
    expect(later).toMatch(/h1 {2}done, 2 changed/);
    expect(later).toMatch(/h3 {2}waiting for batch 3 of 3 \(slow\)/);
    expect((await p.exit()).code).toBe(0);
  }, 120_000);

  it('stage, then switch: every host shows its install running at once, then batches switch one after the other', async () => {
    const staged = join(work, 'staged.yml');
    writeFileSync(staged, `
inventory: inventory.yml
vars: { app: shop, root: /srv/staged }
bundles:
  shop: { source: app, builder: dir }
nodes:
  staged:
    serial: 1
    steps:
      - install: { bundle: shop, after: "sleep 2" }
      - symlink: {}
      - name: warm up
        run: { cmd: "sleep 1.5" }
`);
    const p = pty(['apply', staged, '--yes']);
    const live = await p.waitFor(/h3 {2}staged: install shop 1\.0\.0 {2}1 s/);
    for (const h of ['h1', 'h2']) expect(live).toMatch(new RegExp(`${h} {2}staged: install shop 1\\.0\\.0 {2}[12] s`));
    const later = await p.waitFor(/h1 {2}staged: (symlink current -> 1\.0\.0|warm up) {2}\d s/);
    expect(later).toMatch(/h2 {2}waiting for batch 2 of 3 \(staged\)/);
    expect(later).toMatch(/h3 {2}waiting for batch 3 of 3 \(staged\)/);
    expect((await p.exit()).code).toBe(0);
  }, 120_000);

  it('a 40-column terminal stays readable: one line per host, the summary intact', async () => {
    writeFileSync(pb, readFileSync(pb, 'utf8').replace('greeting: hello', 'greeting: hello-again'));
    const p = pty(['apply', pb, '--yes'], { cols: 40, rows: 30 });
    const { code } = await p.exit();
    expect(code).toBe(0);
    const rows = p.screen().filter((l) => l !== '' && !l.startsWith('<<EXIT'));
    for (const h of ['h1', 'h2', 'h3']) expect(rows.filter((l) => l.startsWith(`✔ ${h} `)), rows.join('\n')).toEqual([`✔ ${h}  done, 1 changed`]);
    expect(rows).toContain('Summary:');
    expect(rows.join('\n')).toMatch(/3 hosts: 3 changed, 0 ok, 0 failed, 0/);
    expect(rows.some((l) => /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/.test(l)), rows.join('\n')).toBe(false);
  }, 120_000);

  it('plan --diff after a template edit shows the changed lines for each host, current X -> Y, and nothing of a secret', async () => {
    // State on the hosts: 1.0.0 with notes.conf "greeting=hello-again" (the test above).
    writeFileSync(join(work, 'app', 'VERSION'), '1.1.0\n');
    writeFileSync(join(work, 'notes.conf.hbs'), 'host={{host.name}} greeting={{greeting}}\n');
    writeFileSync(join(work, 'diff.yml'), readFileSync(pb, 'utf8')
      .replace('greeting: hello-again', 'greeting: bye, db_password: "s3cr3t-pw"')
      .replace('inventory: inventory.yml', 'inventory: inventory.yml\nsecret: [db_password]')
      .replace('content: "host={{host.name}} greeting={{greeting}}\\n"', 'template: notes.conf.hbs')
      .replace('      - symlink: {}', '      - put: { dest: "{{root}}/shared/db.env", content: "PASSWORD={{db_password}}\\n", mode: "0600" }\n      - symlink: {}'));
    const r = await orch(['plan', join(work, 'diff.yml'), '--diff'], env, { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('s3cr3t-pw');
    for (const h of ['h1', 'h2', 'h3']) {
      const block = r.stdout.slice(r.stdout.indexOf(`${h} (root@`));
      expect(block).toMatch(/^ {2}~ web: install shop 1\.1\.0 {2}will change\n {6}release 1\.0\.0 -> 1\.1\.0: 0 added, 0 removed, 1 changed file; bundle \d+(\.\d)? (B|KiB)\n {8}~ VERSION\n/m);
      expect(block).toContain([
        '  ~ web: put /srv/shop/shared/notes.conf  will change',
        '      --- /srv/shop/shared/notes.conf (on the host)',
        '      +++ /srv/shop/shared/notes.conf (new)',
        '      @@ -1,1 +1,1 @@',
        `      -host=${h} greeting=hello-again`,
        `      +host=${h} greeting=bye`,
        '  ~ web: put /srv/shop/shared/db.env  will change',
        '      (contents changed; hidden: uses a secret)',
        '  ~ web: symlink current -> 1.1.0  will change',
        '      current 1.0.0 -> 1.1.0',
      ].join('\n'));
    }
    const json = await orch(['plan', join(work, 'diff.yml'), '--diff', '--json'], env, { cwd: work });
    expect(json.stdout).not.toContain('s3cr3t-pw');
    const plan = JSON.parse(json.stdout) as { hosts: { host: string; steps: { name: string; diff?: unknown }[] }[] };
    expect(plan.hosts[0]!.steps.map((st) => st.diff).filter(Boolean)).toEqual([
      { kind: 'install', from: '1.0.0', to: '1.1.0', added: [], removed: [], changed: ['VERSION'], bytes: expect.any(Number) },
      { kind: 'put', path: '/srv/shop/shared/notes.conf', unified: '@@ -1,1 +1,1 @@\n-host=h1 greeting=hello-again\n+host=h1 greeting=bye' },
      { kind: 'put', path: '/srv/shop/shared/db.env', contents: 'hidden: uses a secret' },
      { kind: 'symlink', current: { from: '1.0.0', to: '1.1.0' } },
    ]);
    // apply --diff shows the same diff above the prompt; n changes nothing.
    const p = pty(['apply', join(work, 'diff.yml'), '--diff']);
    const screen = await p.waitFor(/Apply these changes\? \[y\/N\]$/);
    expect(screen).toMatch(/^ {6}\+host=h3 greeting=bye$/m);
    expect(screen).not.toContain('s3cr3t-pw');
    p.keys('n', 'Enter');
    expect((await p.exit()).code).toBe(1);
    expect(readFileSync(onHost('h1', 'srv/shop/shared/notes.conf'), 'utf8')).toBe('host=h1 greeting=hello-again\n');
  }, 120_000);
});
