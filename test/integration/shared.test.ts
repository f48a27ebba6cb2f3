/**
 * Shared paths with a real app (test/fixtures/apps/health-app counts its requests in the
 * SQLite database instance/app.sqlite): `shared: [instance/]` on the node plus the
 * install step's own `shared: [log/]`; the database survives three releases, a rollback
 * and a prune (issue 11; Capistrano's linked_dirs).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

const APP = new URL('../fixtures/apps/health-app/app.py', import.meta.url).pathname;

describe.skipIf(!canRunFleet())('shared paths with a real app', () => {
  let fleet: Fleet;
  let host: TestHost;
  let work: string;
  let env: Record<string, string>;
  let pb: string;
  const onHost = (p: string): string => join(host.dir, p);
  const writeApp = (version: string): void => {
    rmSync(join(work, 'app'), { recursive: true, force: true });
    mkdirSync(join(work, 'app', 'instance'), { recursive: true });
    copyFileSync(APP, join(work, 'app', 'app.py'));
    writeFileSync(join(work, 'app', 'VERSION'), `${version}\n`);
    // A release's own database (1000 rows) seeds shared/ once and never wins over it later.
    execFileSync('python3', ['-c', 'import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); d.execute("CREATE TABLE hits (n INTEGER)"); d.executemany("INSERT INTO hits VALUES (?)", [(1,)]*1000); d.commit()', join(work, 'app', 'instance', 'app.sqlite')]);
  };
  const hit = async (): Promise<string> => (await fleet.hostExec(host, 'curl -s http://127.0.0.1:8000/')).stdout.trim();

  beforeAll(async () => {
    fleet = await startFleet({ count: 1 });
    host = fleet.hosts[0]!;
    ({ dir: work, env } = makeWork('shared'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: web, root: /srv/web }
bundles:
  web: { source: app }
shared: [instance/]
steps:
  - install: { bundle: web, shared: [log/], after: "for d in /srv/web/versions/*/; do test -L $d/instance; done" }
  - symlink: {}
  - service: { name: web, manager: daemon, command: "exec python3 app.py 8000", startsecs: 0.5 }
  - healthcheck: { http: "http://127.0.0.1:8000/health", retries: 4, interval: 1 }
  - prune: { keep: 2 }
`);
  }, 60_000);

  afterAll(async () => {
    if (host) await fleet.hostExec(host, 'p=$(cat /srv/web/shared/pids/web.pid 2>/dev/null) && kill -KILL -- "-$p"; true').catch(() => undefined);
    await fleet?.teardown();
  });

  it('the database in shared/instance survives three releases, a rollback and a prune', async () => {
    writeApp('1.0.0');
    let r = await orch(['apply', pb], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // The first release seeded shared/instance from its own copy (Deployer's rule), then counts on.
    expect(await hit()).toBe('hello 1.0.0 hits=1001');
    for (const v of ['1.1.0', '1.2.0']) {
      writeApp(v);
      r = await orch(['apply', pb], env);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(readlinkSync(onHost(`srv/web/versions/${v}/instance`))).toBe('/srv/web/shared/instance');
    }
    expect(await hit()).toBe('hello 1.2.0 hits=1002');
    // prune keep 2 removed 1.0.0; shared/ is untouched
    expect(existsSync(onHost('srv/web/versions/1.0.0'))).toBe(false);
    expect(lstatSync(onHost('srv/web/shared/instance')).isDirectory()).toBe(true);
    r = await orch(['rollback', pb, '--yes'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await hit()).toBe('hello 1.1.0 hits=1003');
    const rows = (await fleet.hostExec(host, 'python3 -c \'import sqlite3; print(sqlite3.connect("/srv/web/shared/instance/app.sqlite").execute("SELECT COUNT(*) FROM hits").fetchone()[0])\'')).stdout.trim();
    expect(rows).toBe('1003');
    expect(readlinkSync(onHost('srv/web/versions/1.2.0/log'))).toBe('/srv/web/shared/log');
  }, 240_000);
});
