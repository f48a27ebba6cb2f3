/**
 * A node app bundle (npm ci --omit=dev, vendored `file:` dependency, no registry)
 * deployed with `orch apply` to an SSH test host, and run there.
 */
import { cpSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../../harness/fleet.js';
import { makeWork, orch } from '../cli.js';
import { FIXTURES } from './toolchain.js';

describe.skipIf(!canRunFleet())('node bundle deployed to an SSH test host', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    fleet = await startFleet({ count: 1 });
    ({ dir: work, env } = makeWork('node-deploy'));
    cpSync(join(FIXTURES, 'node-app'), join(work, 'node-app'), { recursive: true });
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    writeFileSync(join(work, 'playbook.yml'), `
inventory: inventory.yml
vars: { app: padder, root: /srv/padder }
bundles:
  padder: { source: node-app, builder: node }
steps:
  - install: { bundle: padder }
  - symlink: {}
`);
  }, 60_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('installs into versions/<V>, switches current, and the app runs on the host with its dependency', async () => {
    const r = await orch(['apply', join(work, 'playbook.yml'), '--json'], env, { cwd: work });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const host = fleet.hosts[0]!;
    expect(readlinkSync(join(host.dir, 'srv/padder/current'))).toBe('versions/0.7.0');
    const run = await fleet.hostExec(host, '/srv/padder/current/bin/padder.js z');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('padder: [*****z]\n');
  }, 120_000);
});
