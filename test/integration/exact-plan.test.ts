/**
 * Exact plans and rendered labels over real SSH (2 sshd test hosts): after a clean
 * apply, `plan --detailed-exitcodes` exits 0 — put with mode/owner/group, healthcheck and
 * prune included (SPEC 0.2: every step kind plans exactly) — and drift of a mode or
 * owner is planned as a change on that host only. Labels are rendered per host in
 * `orch tree`, plan text, the line progress and JSON events.
 */
import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

const CONF = '/srv/shop/shared/app.conf';

describe.skipIf(!canRunFleet())('exact plans and rendered labels on a 2-host fleet', () => {
  let fleet: Fleet;
  let env: Record<string, string>;
  let pb: string;
  const host = (name: string): TestHost => fleet.hosts.find((h) => h.name === name)!;
  const onHost = (name: string, p: string): string => join(host(name).dir, p);
  const url = (name: string): string => `http://${host(name).address}:8000/health`;

  beforeAll(async () => {
    fleet = await startFleet({ count: 2 });
    let work: string;
    ({ dir: work, env } = makeWork('exact'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    mkdirSync(join(work, 'app'), { recursive: true });
    writeFileSync(join(work, 'app', 'VERSION'), '1.0.0\n');
    writeFileSync(join(work, 'app', 'run'), 'shop\n');
    pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: shop, root: /srv/shop }
bundles:
  shop: { source: app, builder: dir }
nodes:
  shop:
    steps:
      - install: {}
      - put: { dest: "{{root}}/shared/app.conf", content: "host={{host.name}}\\n", mode: "0640", owner: nobody, group: nogroup }
      - put: { dest: "{{root}}/shared/plain.txt", content: "plain\\n" }
      - symlink: {}
      - service: { name: "{{app}}", manager: command, command: "echo restarted >> {{root}}/restarts" }
      - healthcheck: { http: "http://{{host.address}}:8000/health", retries: 3, interval: 0.3 }
      - prune: { keep: 2 }
`);
    // A web server on each host's own address (the fleet's teardown kills every process of the host).
    for (const h of fleet.hosts) {
      const r = await fleet.hostExec(h, `mkdir -p /tmp/www && echo ok > /tmp/www/health && { setsid python3 -m http.server 8000 --bind ${h.address} --directory /tmp/www >/dev/null 2>&1 </dev/null & } && for i in $(seq 50); do (exec 3<>/dev/tcp/${h.address}/8000) 2>/dev/null && exit 0; sleep 0.1; done; exit 1`);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('orch tree shows rendered labels', async () => {
    const r = await orch(['tree', pb], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('step 5: service restart shop (service)');
    // Labels that differ per host are listed per host.
    expect(r.stdout).toContain('step 6: (healthcheck)');
    for (const h of ['h1', 'h2']) expect(r.stdout).toContain(`${h}: healthcheck ${url(h)}\n`);
    expect(r.stdout).not.toContain('{{');
  }, 60_000);

  it('the plan text renders each host\'s own label', async () => {
    const r = await orch(['plan', pb, '--offline'], env);
    expect(r.code, r.stderr).toBe(0);
    const [h1, h2] = r.stdout.split(/^h2 /m);
    expect(h1).toContain(`? shop: healthcheck ${url('h1')}  may change`);
    expect(h2).toContain(`? shop: healthcheck ${url('h2')}  may change`);
    expect(r.stdout).toContain('shop: service restart shop');
    expect(r.stdout).not.toContain('{{');
  }, 60_000);

  it('apply: JSON events carry each host\'s rendered label; files get their mode and owner', async () => {
    const r = await orch(['apply', pb, '--json', '--detailed-exitcodes'], env);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; host?: string; name?: string; status?: string });
    for (const h of ['h1', 'h2']) {
      const names = events.filter((e) => e.type === 'step-end' && e.host === h).map((e) => `${e.name}: ${e.status}`);
      expect(names).toEqual([
        'install shop 1.0.0: changed', `put ${CONF}: changed`, 'put /srv/shop/shared/plain.txt: changed', 'symlink current -> 1.0.0: changed',
        'service restart shop: changed', `healthcheck ${url(h)}: ok`, 'prune (keep 2): ok',
      ]);
      expect(events.filter((e) => e.type === 'step-start' && e.host === h).map((e) => e.name)).toContain(`healthcheck ${url(h)}`);
      const st = statSync(onHost(h, CONF));
      expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o640, 65534, 65534]);
    }
  }, 120_000);

  it('after a clean apply, plan --detailed-exitcodes exits 0: nothing may change', async () => {
    const r = await orch(['plan', pb, '--detailed-exitcodes'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Plan: 2 hosts, 0 steps to change\.\n$/);
    expect(r.stdout).not.toContain('may change');
  }, 60_000);

  it('drift of a mode (h1) or an owner (h2) is a planned change of that put (and the restart after it); apply fixes it, the plan is clean again', async () => {
    chmodSync(onHost('h1', CONF), 0o644);
    chownSync(onHost('h2', CONF), 0, 65534);
    const p = await orch(['plan', pb, '--detailed-exitcodes'], env);
    expect(p.code, p.stdout + p.stderr).toBe(2);
    expect(p.stdout.match(/~ shop: put \/srv\/shop\/shared\/app\.conf  will change/g)).toHaveLength(2);
    // Each host: the put, then the service restart that follows a change of its node.
    expect(p.stdout.match(/~ shop: service restart shop  will change/g)).toHaveLength(2);
    expect(p.stdout).toMatch(/Plan: 2 hosts, 4 steps to change\.\n$/);
    const a = await orch(['apply', pb, '--detailed-exitcodes'], env);
    expect(a.code, a.stdout + a.stderr).toBe(2);
    // The line progress (no terminal) names steps by their rendered labels too.
    expect(a.stdout).toContain(`h1: put ${CONF}: changed\n`);
    expect(a.stdout).toContain(`h2: healthcheck ${url('h2')}: ok\n`);
    for (const h of ['h1', 'h2']) {
      const st = statSync(onHost(h, CONF));
      expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o640, 65534, 65534]);
    }
    expect((await orch(['plan', pb, '--detailed-exitcodes'], env)).code).toBe(0);
  }, 120_000);
});
