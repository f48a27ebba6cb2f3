/**
 * The Debian test machines of test/harness/machines.ts: two bookworm systems booted with
 * systemd as PID 1 under systemd-nspawn. What is proved: root login by key over real SSH,
 * systemd is PID 1, apt reaches the archive through apt-cacher-ng on the bridge, each
 * machine's changes stay in its own overlay, an orderly reboot boots a new system, and
 * orch's systemd `service` step meets a real systemd (unit written, daemon-reloaded, active).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_TREE, canRunMachines, startMachines, type Machines } from '../harness/machines.js';
import { makeWork, orch } from './cli.js';

const can = canRunMachines();
let ms: Machines;

beforeAll(async () => {
  if (can) ms = await startMachines({ count: 2, prefix: 'omt' });
}, 20 * 60_000);

afterAll(async () => {
  await ms?.stop();
}, 120_000);

function ssh(i: number, cmd: string): { code: number; out: string } {
  const m = ms.machines[i]!;
  const r = spawnSync('ssh', ['-i', ms.keyFile, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `root@${m.address}`, cmd], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!can)('Debian machines under systemd-nspawn', () => {
  it('logs in as root by key, runs systemd as PID 1, keeps changes in each overlay', () => {
    for (const i of [0, 1]) {
      const r = ssh(i, 'cat /proc/1/comm; hostname; systemctl is-system-running --wait || true');
      expect(r.code).toBe(0);
      const [comm, host, state] = r.out.trim().split('\n');
      expect(comm).toBe('systemd');
      expect(host).toBe(ms.machines[i]!.name);
      expect(['running', 'degraded']).toContain(state);
    }
    expect(ssh(0, 'echo zero > /etc/orch-mark').code).toBe(0);
    expect(ssh(1, 'test -e /etc/orch-mark').code).toBe(1);
    expect(existsSync(join(BASE_TREE, 'etc/orch-mark'))).toBe(false);
  }, 120_000);

  it('apt reaches the archive through apt-cacher-ng on the bridge', () => {
    const r = ssh(0, 'apt-get -q update && apt-cache policy hello | grep -c Candidate');
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toMatch(/\b503\b/);
    // The request went through the proxy: apt-cacher-ng logged the bookworm index.
    expect(readFileSync(join(ms.dir, 'acng-log', 'apt-cacher.log'), 'utf8')).toMatch(/bookworm/);
  }, 300_000);

  it('orch writes a real systemd unit and starts it; an orderly reboot boots a new system', async () => {
    const { dir: work, env } = makeWork('machines');
    mkdirSync(join(work, 'app'));
    writeFileSync(join(work, 'app', 'VERSION'), '1.0.0\n');
    writeFileSync(join(work, 'app', 'run.sh'), '#!/bin/sh\nexec sleep infinity\n');
    spawnSync('chmod', ['+x', join(work, 'app', 'run.sh')]);
    writeFileSync(join(work, 'shop.service.hbs'), '[Unit]\nDescription={{app}} {{bundle.version}}\n\n[Service]\nExecStart={{root}}/current/run.sh\n');
    await ms.writeInventory(join(work, 'inventory.yml'));
    writeFileSync(join(work, 'playbook.yml'), `
inventory: inventory.yml
vars: { app: shop, root: /srv/shop }
bundles:
  shop: { source: app }
nodes:
  web:
    steps:
      - install: { bundle: shop }
      - symlink: {}
      - service: { name: shop, unit: { template: shop.service.hbs } }
`);
    const r = await orch(['apply', join(work, 'playbook.yml'), '--yes'], env, { timeoutMs: 300_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const i of [0, 1]) expect(ssh(i, 'systemctl is-active shop').out.trim()).toBe('active');

    // /run is a tmpfs of the running system: a marker there is gone after a real reboot.
    expect(ssh(0, 'touch /run/orch-boot').code).toBe(0);
    await ms.machines[0]!.reboot();
    const after = ssh(0, 'test -e /run/orch-boot && echo same-boot || echo new-boot; cat /etc/orch-mark');
    expect(after.code).toBe(0);
    expect(after.out.trim().split('\n')).toEqual(['new-boot', 'zero']); // the overlay survives the reboot
  }, 600_000);
});
