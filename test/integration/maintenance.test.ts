/**
 * `orch maintenance on|off PLAYBOOK` against a real nginx on every SSH test host: `on`
 * puts a 503 page in place and reloads nginx, so the app answers 503 on every host;
 * `off` removes it and the app answers again. Both show the plan before running.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const PORT = 8081;

/** nginx inside a test host: everything it writes under the host's private /tmp. */
const NGINX_CONF = `user root;
pid /tmp/nginx.pid;
error_log /tmp/nginx-error.log;
events {}
http {
  access_log off;
  client_body_temp_path /tmp/nginx-body;
  proxy_temp_path /tmp/nginx-proxy;
  fastcgi_temp_path /tmp/nginx-fastcgi;
  uwsgi_temp_path /tmp/nginx-uwsgi;
  scgi_temp_path /tmp/nginx-scgi;
  server {
    listen ${PORT};
    error_page 503 /maintenance.html;
    location = /maintenance.html { root /srv/www; internal; }
    location / {
      if (-f /srv/www/maintenance.html) { return 503; }
      return 200 "app is up\\n";
    }
  }
}
`;

describe.skipIf(!canRunFleet() || !NGINX)('orch maintenance on|off (real nginx on every host)', () => {
  let fleet: Fleet;
  let work: string;
  let env: Record<string, string>;
  let pb: string;

  const get = (h: TestHost): Promise<{ status: number; body: string }> => new Promise((resolve) => {
    http.get(`http://${h.address}:${PORT}/`, { agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
    }).on('error', (e) => resolve({ status: 0, body: e.message }));
  });

  beforeAll(async () => {
    fleet = await startFleet({ count: 2 });
    ({ dir: work, env } = makeWork('maintenance'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml({ roles: { web: fleet.hosts.map((h) => h.name) } }));
    for (const h of fleet.hosts) {
      writeFileSync(join(h.dir, 'tmp/nginx.conf'), NGINX_CONF);
      mkdirSync(join(h.dir, 'srv/www'), { recursive: true });
      const started = await fleet.hostExec(h, `${NGINX} -e /tmp/nginx-error.log -c /tmp/nginx.conf`);
      if (started.code !== 0) throw new Error(`nginx on ${h.name}: ${started.stderr}`);
    }
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { nginx: "${NGINX} -e /tmp/nginx-error.log -c /tmp/nginx.conf", page: "<h1>{{host.name}}: back soon</h1>" }
roles: { host: web }
steps:
  - run: { cmd: "echo deployed > /srv/www/deployed" }
maintenance:
  on:
    - put: { dest: /srv/www/maintenance.html, content: "{{page}}\\n" }
    - run: { cmd: "{{{nginx}}} -s reload" }
  off:
    - run: { cmd: "rm -f /srv/www/maintenance.html && {{{nginx}}} -s reload" }
`);
  }, 120_000);

  afterAll(async () => {
    for (const h of fleet?.hosts ?? []) await fleet.hostExec(h, 'kill "$(cat /tmp/nginx.pid)" 2>/dev/null; true');
    await fleet?.teardown();
  });

  it('on: plans, then the app answers 503 with the maintenance page on every host; off: it answers again', async () => {
    for (const h of fleet.hosts) expect(await get(h)).toEqual({ status: 200, body: 'app is up' });

    const on = await orch(['maintenance', 'on', pb, '--yes'], env);
    expect(on.code, on.stdout + on.stderr).toBe(0);
    // The plan comes first, as apply's does: the maintenance steps only, never the node's steps.
    const plan = on.stdout.slice(0, on.stdout.indexOf('== (root)'));
    for (const h of fleet.hosts) expect(plan).toMatch(new RegExp(`^${h.name} \\(root@[^)]+\\)  receives 23 B\\n  ~ put /srv/www/maintenance\\.html  will change\\n  ~ run \\S+nginx .*  will change$`, 'm'));
    expect(plan).toContain('Plan: 2 hosts, 4 steps to change.');
    expect(on.stdout).not.toMatch(/echo deployed/);
    for (const h of fleet.hosts) {
      const r = await get(h);
      expect(r).toEqual({ status: 503, body: `<h1>${h.name}: back soon</h1>` });
    }
    expect(existsSync(join(fleet.hosts[0]!.dir, 'srv/www/deployed'))).toBe(false);

    const off = await orch(['maintenance', 'off', pb, '--yes', '--json'], env);
    expect(off.code, off.stdout + off.stderr).toBe(0);
    for (const h of fleet.hosts) expect(await get(h)).toEqual({ status: 200, body: 'app is up' });
  }, 180_000);

  it('refuses a playbook without maintenance: and a mode other than on/off, before connecting', async () => {
    const none = join(work, 'none.yml');
    writeFileSync(none, 'inventory: inventory.yml\nsteps:\n  - run: { cmd: "true" }\n');
    const r = await orch(['maintenance', 'on', none, '--yes'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${none} has no maintenance: key (add maintenance: {on: [steps], off: [steps]} to the node whose hosts go into maintenance)`);
    const bad = await orch(['maintenance', 'up', pb, '--yes'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('expected on or off, got "up"');
  }, 60_000);
});
