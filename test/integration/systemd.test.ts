/**
 * `service` with `manager: systemd` and `unit:` through the CLI on the local transport
 * (issue 11, item 8): real bash, tar and files; `systemctl` is a stand-in on PATH that
 * records its argv (no systemd on the test hosts). What is proved: the unit is written
 * from a template and daemon-reloaded only when it changed, a unit-only change plans
 * and applies as a change of the step's own (restart without a new release), and an
 * unchanged playbook plans exactly (`--detailed-exitcodes` 0, no systemctl call).
 * Kept here because the stand-in shows the exact systemctl calls (`--user`, daemon-reload
 * only when the unit changed) in seconds; what needs a real systemd — the unit runs as
 * written after the reload, enablement survives a reboot, a unit-only change restarts the
 * process — is proved on booted Debian machines in test/integration/server.test.ts.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeWork, orch } from './cli.js';

let work: string;
let env: Record<string, string>;
let log: string;

beforeEach(() => {
  ({ dir: work, env } = makeWork('systemd'));
  const bin = join(work, 'bin');
  mkdirSync(bin);
  log = join(work, 'systemctl.log');
  writeFileSync(join(bin, 'systemctl'), `#!/bin/bash\nprintf '%s\\n' "systemctl $*" >> ${log}\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  env = { ...env, PATH: `${bin}:${process.env.PATH}` };
  mkdirSync(join(work, 'app'));
  writeFileSync(join(work, 'app', 'VERSION'), '1.0.0\n');
  writeFileSync(join(work, 'app', 'run.sh'), '#!/bin/sh\necho hi\n');
  writeFileSync(join(work, 'shop.service.hbs'), '[Unit]\nDescription={{app}} {{bundle.version}}\n\n[Service]\nExecStart={{root}}/current/run.sh --workers {{workers}}\n');
  writeFileSync(join(work, 'inventory.yml'), 'hosts:\n  l1: { transport: local }\n');
  writeFileSync(join(work, 'playbook.yml'), `
inventory: inventory.yml
vars: { app: shop, root: ${join(work, 'srv')}, workers: 2 }
bundles:
  shop: { source: app }
nodes:
  web:
    steps:
      - install: { bundle: shop }
      - symlink: {}
      - service: { name: shop, scope: user, unit: { template: shop.service.hbs } }
`);
});

const calls = (): string[] => (existsSync(log) ? readFileSync(log, 'utf8').trimEnd().split('\n') : []);
const unitFile = (): string => readFileSync(join(env.HOME!, '.config', 'systemd', 'user', 'shop.service'), 'utf8');

describe('service manager: systemd with unit: and scope: user', () => {
  it('writes the unit, reloads only when it changed, restarts on a unit-only change, plans exactly', async () => {
    const pb = join(work, 'playbook.yml');
    const a1 = await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(a1.code, a1.stdout + a1.stderr).toBe(0);
    expect(unitFile()).toBe(`[Unit]\nDescription=shop 1.0.0\n\n[Service]\nExecStart=${join(work, 'srv')}/current/run.sh --workers 2\n`);
    expect(calls()).toEqual(['systemctl --user daemon-reload', 'systemctl --user restart -- shop']);

    // Nothing changed: the plan is exact and apply touches nothing.
    const p1 = await orch(['plan', pb, '--detailed-exitcodes'], env, { cwd: work });
    expect(p1.code, p1.stdout + p1.stderr).toBe(0);
    expect(p1.stdout).toContain('- web: service restart shop  skipped');
    const a2 = await orch(['apply', pb, '--yes', '--detailed-exitcodes'], env, { cwd: work });
    expect(a2.code, a2.stdout + a2.stderr).toBe(0);
    expect(calls()).toHaveLength(2);

    // Only the unit changes (a var it renders): the step changes on its own; no new release.
    writeFileSync(pb, readFileSync(pb, 'utf8').replace('workers: 2', 'workers: 3'));
    const p2 = await orch(['plan', pb, '--detailed-exitcodes'], env, { cwd: work });
    expect(p2.code, p2.stdout + p2.stderr).toBe(2);
    expect(p2.stdout).toContain('  web: install shop 1.0.0  ok\n');
    expect(p2.stdout).toContain('~ web: service restart shop  will change');
    const a3 = await orch(['apply', pb, '--yes', '--detailed-exitcodes'], env, { cwd: work });
    expect(a3.code, a3.stdout + a3.stderr).toBe(2);
    expect(unitFile()).toContain('--workers 3\n');
    expect(calls().slice(2)).toEqual(['systemctl --user daemon-reload', 'systemctl --user restart -- shop']);

    // A new release with the same unit text: restart, no daemon-reload.
    writeFileSync(join(work, 'shop.service.hbs'), '[Unit]\nDescription={{app}}\n\n[Service]\nExecStart={{root}}/current/run.sh --workers {{workers}}\n');
    await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(calls().slice(4)).toEqual(['systemctl --user daemon-reload', 'systemctl --user restart -- shop']);
    writeFileSync(join(work, 'app', 'VERSION'), '1.0.1\n');
    const a4 = await orch(['apply', pb, '--yes'], env, { cwd: work });
    expect(a4.code, a4.stdout + a4.stderr).toBe(0);
    expect(calls().slice(6)).toEqual(['systemctl --user restart -- shop']);
  }, 120_000);

  it('a unit change runs the step inside a segment too, after a step that changed nothing on the host', async () => {
    // The run step plans as `?` (with `user:` its unless must run as that user, so the plan
    // does not probe it and it is decided on the host), so it and the service go to the host
    // as one segment, where the run reports skipped: the unit still counts.
    const pb = join(work, 'segment.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: shop, root: ${join(work, 'srv2')} }
nodes:
  web:
    steps:
      - run: { cmd: "echo ran >> ${join(work, 'ran')}", unless: "true", user: ${userInfo().username} }
      - service: { name: shop, scope: user, unit: "[Service]\\nExecStart=/bin/true\\n" }
`);
    // The run may change the node (?), but the unit differs for sure: will change.
    const p = await orch(['plan', pb], env, { cwd: work });
    expect(p.stdout).toContain('? web: run');
    expect(p.stdout).toContain('~ web: service restart shop  will change');
    const a = await orch(['apply', pb, '--yes', '--json'], env, { cwd: work });
    expect(a.code, a.stdout + a.stderr).toBe(0);
    const ends = a.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; name?: string; status?: string }).filter((e) => e.type === 'step-end');
    expect(ends.map((e) => `${e.name} ${e.status}`)).toEqual([expect.stringMatching(/^run .* skipped$/), 'service restart shop changed']);
    expect(existsSync(join(work, 'ran'))).toBe(false);
    expect(unitFile()).toBe('[Service]\nExecStart=/bin/true\n');
    expect(calls()).toEqual(['systemctl --user daemon-reload', 'systemctl --user restart -- shop']);
    const again = await orch(['apply', pb, '--yes', '--json'], env, { cwd: work });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(calls()).toHaveLength(2);
  }, 60_000);
});
