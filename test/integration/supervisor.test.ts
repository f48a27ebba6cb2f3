/**
 * `service: { manager: supervisor }` against a real supervisord on an SSH test host:
 * each deploy restarts the program, which then runs the new release.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

const SUPERVISORD = ['/usr/bin/supervisord', '/usr/local/bin/supervisord'].find((p) => existsSync(p));

describe.skipIf(!canRunFleet() || !SUPERVISORD)('service manager: supervisor (real supervisord)', () => {
  let fleet: Fleet;
  let host: TestHost;
  let work: string;
  let env: Record<string, string>;
  let pb: string;
  const onHost = (p: string): string => join(host.dir, p);

  const writeApp = (version: string): void => {
    mkdirSync(join(work, 'app', 'bin'), { recursive: true });
    writeFileSync(join(work, 'app', 'VERSION'), `${version}\n`);
    // The program records which release it runs and its pid, then stays up.
    writeFileSync(join(work, 'app', 'bin', 'run'), '#!/bin/bash\nv=$(cat "$(dirname "$0")/../VERSION")\necho "$v $$" > /srv/app/running\nexec sleep 600\n', { mode: 0o755 });
  };
  const running = (): string => readFileSync(onHost('srv/app/running'), 'utf8').trim();

  beforeAll(async () => {
    fleet = await startFleet({ count: 1 });
    host = fleet.hosts[0]!;
    ({ dir: work, env } = makeWork('supervisor'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    // supervisorctl finds ./supervisord.conf in its working directory: the SSH user's home.
    writeFileSync(onHost('root/supervisord.conf'), [
      '[unix_http_server]', 'file=/tmp/supervisor.sock', '',
      '[supervisord]', 'pidfile=/tmp/supervisord.pid', 'logfile=/tmp/supervisord.log', '',
      '[rpcinterface:supervisor]', 'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface', '',
      '[supervisorctl]', 'serverurl=unix:///tmp/supervisor.sock', '',
      '[program:app]', 'command=/srv/app/current/bin/run', 'autostart=false', 'startsecs=0', 'stopsignal=KILL', '',
    ].join('\n'));
    const started = await fleet.hostExec(host, `${SUPERVISORD} -c /root/supervisord.conf`);
    if (started.code !== 0) throw new Error(`supervisord: ${started.stderr}`);
    writeApp('1.0.0');
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: app, root: /srv/app }
bundles:
  app: { source: app }
steps:
  - install: { bundle: app }
  - symlink: {}
  - service: { name: app, manager: supervisor, action: restart }
`);
  }, 60_000);

  afterAll(async () => {
    if (host) await fleet.hostExec(host, 'kill "$(cat /tmp/supervisord.pid)" 2>/dev/null; true');
    await fleet?.teardown();
  });

  it('restarts the program through supervisorctl on each new release, and not on a no-op', async () => {
    const first = await orch(['apply', pb, '--json'], env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    await expect.poll(running, { timeout: 10_000 }).toMatch(/^1\.0\.0 \d+$/);
    const pid1 = running().split(' ')[1];

    writeApp('2.0.0');
    const second = await orch(['apply', pb, '--json'], env);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    await expect.poll(running, { timeout: 10_000 }).toMatch(/^2\.0\.0 \d+$/);
    expect(running().split(' ')[1]).not.toBe(pid1);

    const status = await fleet.hostExec(host, 'cd /root && supervisorctl status app');
    expect(status.stdout).toMatch(/^app\s+RUNNING/);
    const before = running();
    const noop = await orch(['apply', pb, '--json', '--detailed-exitcodes'], env);
    expect(noop.code, noop.stdout + noop.stderr).toBe(0);
    expect(running()).toBe(before);
  }, 120_000);

  it('a supervisorctl failure (unknown program) fails the host with supervisor\'s message', async () => {
    const bad = join(work, 'bad.yml');
    writeFileSync(bad, readFileSync(pb, 'utf8').replace('name: app,', 'name: nosuchprogram,'));
    writeApp('3.0.0');
    const r = await orch(['apply', bad, '--json'], env);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/supervisorctl restart nosuchprogram: .*(ERROR|no such process)/i);
  }, 120_000);

  it('config: and server_url name the supervisord; a changed command and numprocs take effect on the next release (reread + update)', async () => {
    const conf = readFileSync(onHost('root/supervisord.conf'), 'utf8')
      .replace('command=/srv/app/current/bin/run', 'command=/srv/app/current/bin/run %(process_num)d\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d');
    // supervisord rereads the file it was started with: the program changes there.
    writeFileSync(onHost('root/supervisord.conf'), conf);
    const own = join(work, 'own.yml');
    writeFileSync(own, readFileSync(pb, 'utf8').replace('manager: supervisor,', 'manager: supervisor, config: /root/supervisord.conf, server_url: "unix:///tmp/supervisor.sock",'));
    writeApp('4.0.0');
    const r = await orch(['apply', own, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const status = await fleet.hostExec(host, 'supervisorctl -c /root/supervisord.conf status "app:*"');
    expect(status.stdout).toMatch(/^app:app_0\s+RUNNING[\s\S]*\napp:app_1\s+RUNNING/);
    expect(status.stdout).not.toMatch(/^app\s/m);
  }, 120_000);
});
