/**
 * The `directory` step over real SSH (1 sshd test host): made with its mode, owner and
 * group, then planned exactly — `plan --detailed-exitcodes` exits 0 after a clean apply,
 * and a changed mode is a planned change.
 */
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

describe.skipIf(!canRunFleet())('directory on an sshd test host', () => {
  let fleet: Fleet;
  let env: Record<string, string>;
  let pb: string;
  const onHost = (p: string): string => join(fleet.hosts[0]!.dir, p);

  beforeAll(async () => {
    fleet = await startFleet({ count: 1 });
    let work: string;
    ({ dir: work, env } = makeWork('directory'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { base: /srv/data }
steps:
  - directory: { path: "{{base}}/{{host.name}}/log", mode: "0750", owner: nobody, group: nogroup }
  - directory: { path: "{{base}}/cache" }
`);
  }, 60_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('apply makes the folders; the plan is then exact: exit 0; a mode drift is a planned change', async () => {
    const a = await orch(['apply', pb, '--detailed-exitcodes'], env);
    expect(a.code, a.stdout + a.stderr).toBe(2);
    expect(a.stdout).toContain('h1: directory /srv/data/h1/log: changed\n');
    const st = statSync(onHost('srv/data/h1/log'));
    expect([st.isDirectory(), st.mode & 0o7777, st.uid, st.gid]).toEqual([true, 0o750, 65534, 65534]);
    expect(statSync(onHost('srv/data/cache')).isDirectory()).toBe(true);

    const p = await orch(['plan', pb, '--detailed-exitcodes'], env);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    expect(p.stdout).toContain('    directory /srv/data/h1/log  ok\n');
    expect(p.stdout).toMatch(/Plan: 1 host, 0 steps to change\.\n$/);

    chmodSync(onHost('srv/data/h1/log'), 0o755);
    const drift = await orch(['plan', pb, '--detailed-exitcodes'], env);
    expect(drift.code).toBe(2);
    expect(drift.stdout).toContain('  ~ directory /srv/data/h1/log  will change\n');
    expect(drift.stdout).toContain('    directory /srv/data/cache  ok\n');
    expect((await orch(['apply', pb, '--detailed-exitcodes'], env)).code).toBe(2);
    expect((await orch(['plan', pb, '--detailed-exitcodes'], env)).code).toBe(0);
  }, 120_000);
});
