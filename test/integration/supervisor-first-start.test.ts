/**
 * `service: { manager: supervisor }`: the first deploy of a program supervisord has never seen.
 * `update` autostarts it and it stays STARTING for its startsecs; the step waits for RUNNING
 * instead of failing on STARTING (and then failing the automatic rollback: no previous release).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

const SUPERVISORD = ['/usr/bin/supervisord', '/usr/local/bin/supervisord'].find((p) => existsSync(p));

describe.skipIf(!canRunFleet() || !SUPERVISORD)('service manager: supervisor, first start of a new program', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let pb: string;

  beforeAll(async () => {
    fleet = await startFleet({ count: 2 });
    ({ dir: work, env } = makeWork('supervisor-first'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    const base = [
      '[unix_http_server]', 'file=/tmp/supervisor.sock', '',
      '[supervisord]', 'pidfile=/tmp/supervisord.pid', 'logfile=/tmp/supervisord.log', '',
      '[rpcinterface:supervisor]', 'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface', '',
      '[supervisorctl]', 'serverurl=unix:///tmp/supervisor.sock', '',
    ];
    for (const host of fleet.hosts) {
      writeFileSync(join(host.dir, 'root/supervisord.conf'), base.join('\n'));
      const started = await fleet.hostExec(host, `${SUPERVISORD} -c /root/supervisord.conf`);
      if (started.code !== 0) throw new Error(`supervisord: ${started.stderr}`);
      // The program is added after supervisord started: `reread` reports it "available", and
      // `update` autostarts it. It reaches RUNNING only after startsecs=2 (1.5 s + supervisord's tick).
      writeFileSync(join(host.dir, 'root/supervisord.conf'), [...base,
        '[program:newapp]', 'command=/srv/app/current/bin/run', 'startsecs=2', 'stopsignal=KILL', '',
        // Exits at its first spawn (BACKOFF), runs at the second: whether `update` autostarts it
        // before `supervisorctl start` arrives (ALREADY_STARTED, no wait) or `start` waits and
        // sees the exit (abnormal termination), supervisorctl returns while it is not RUNNING yet:
        // RUNNING comes ~4.5 s after the autostart (0.3 s run, 1 s backoff, startsecs=3).
        '[program:flaky]', 'command=/srv/app/current/bin/flaky', 'startsecs=3', 'startretries=3', 'stopsignal=KILL', ''].join('\n'));
    }
    mkdirSync(join(work, 'app', 'bin'), { recursive: true });
    writeFileSync(join(work, 'app', 'VERSION'), '1.0.0\n');
    writeFileSync(join(work, 'app', 'bin', 'run'), '#!/bin/bash\nexec sleep 600\n', { mode: 0o755 });
    writeFileSync(join(work, 'app', 'bin', 'flaky'),
      '#!/bin/bash\nif [ ! -e /tmp/flaky-spawned ]; then : > /tmp/flaky-spawned; sleep 0.3; exit 1; fi\nsleep 0.5\nexec sleep 600\n', { mode: 0o755 });
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: app, root: /srv/app }
bundles:
  app: { source: app }
steps:
  - install: { bundle: app }
  - symlink: {}
  - service: { name: newapp, manager: supervisor, action: restart }
  - service: { name: flaky, manager: supervisor, action: restart }
`);
  }, 60_000);

  afterAll(async () => {
    for (const host of fleet?.hosts ?? []) await fleet.hostExec(host, 'kill "$(cat /tmp/supervisord.pid)" 2>/dev/null; rm -f /tmp/flaky-spawned; true');
    await fleet?.teardown();
  });

  it('the first apply on 2 fresh hosts waits through STARTING and BACKOFF and succeeds; both programs are RUNNING', async () => {
    const t0 = Date.now();
    const r = await orch(['apply', pb, '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // The wait is real: startsecs=2 elapsed on the hosts before the step returned.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    for (const host of fleet.hosts) {
      const status = await fleet.hostExec(host, 'cd /root && supervisorctl status newapp flaky');
      expect(status.stdout).toMatch(/^newapp\s+RUNNING/m);
      expect(status.stdout).toMatch(/^flaky\s+RUNNING/m);
      // flaky really went through BACKOFF: its first spawn ran and exited.
      expect((await fleet.hostExec(host, 'test -e /tmp/flaky-spawned')).code).toBe(0);
    }
  }, 120_000);
});
