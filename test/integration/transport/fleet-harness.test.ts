import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { canRunFleet, startFleet } from '../../harness/fleet.js';

const netnsList = (): string => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const ssh = (identity: string, knownHosts: string, address: string, cmd: string) =>
  spawnSync('ssh', ['-i', identity, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3', `root@${address}`, cmd], {
    encoding: 'utf8',
  });

describe('fleet harness', () => {
  it('can run here when root with the tools installed (never skips silently on CI)', () => {
    const tools = ['ip', 'unshare', 'nsenter', 'ssh-keygen'].every((t) => spawnSync('bash', ['-c', `command -v ${t}`]).status === 0);
    expect(canRunFleet()).toBe(process.getuid?.() === 0 && tools && existsSync('/usr/sbin/sshd'));
  });

  describe.skipIf(!canRunFleet())('with root', () => {
    it('starts hosts reachable with OpenSSH, with private dirs, and tears everything down', async () => {
      const t0 = Date.now();
      const fleet = await startFleet({ count: 3, name: 'fh' });
      try {
        expect(Date.now() - t0).toBeLessThan(5000);
        expect(fleet.hosts.map((h) => [h.name, h.address, h.port, h.netns])).toEqual(
          [1, 2, 3].map((i) => [`h${i}`, `10.231.${fleet.subnet}.${10 + i}`, 22, `fh-${process.pid}-${i}`]),
        );
        for (const h of fleet.hosts) expect(netnsList()).toContain(h.netns);

        // The real ssh client accepts the fleet's key and known_hosts (also hashed).
        const [h1, h2] = fleet.hosts as [(typeof fleet.hosts)[0], (typeof fleet.hosts)[0]];
        const r = ssh(fleet.identityFile, fleet.knownHostsFile, h1.address, 'echo hi > /srv/f; echo $HOME; cat /srv/f');
        expect([r.status, r.stdout]).toEqual([0, '/root\nhi\n']);
        const hashed = await fleet.writeHashedKnownHosts();
        expect(ssh(fleet.identityFile, hashed, h2.address, 'test -e /srv/f || echo absent').stdout).toBe('absent\n');

        // hostExec sees the host's own mounts and network.
        expect(await fleet.hostExec(h1, 'cat /srv/f; hostname -I')).toEqual({ code: 0, stdout: `hi\n${h1.address} \n`, stderr: '' });
        expect((await fleet.hostExec(h2, 'ls -A /srv /tmp')).stdout).toBe('/srv:\n\n/tmp:\n');
        expect(readFileSync(`${h1.dir}/srv/f`, 'utf8')).toBe('hi\n');

        // stop / start.
        await fleet.stopSshd(h2);
        expect(ssh(fleet.identityFile, fleet.knownHostsFile, h2.address, 'true').status).toBe(255);
        await expect(fleet.hostExec(h2, 'true')).rejects.toThrow('h2: sshd is stopped; hostExec needs its namespaces');
        await fleet.startSshd(h2);
        expect(ssh(fleet.identityFile, fleet.knownHostsFile, h2.address, 'echo back').stdout).toBe('back\n');

        // rotation: ssh now refuses the stale known_hosts.
        await fleet.rotateHostKey(h2);
        const refused = ssh(fleet.identityFile, fleet.knownHostsFile, h2.address, 'true');
        expect(refused.status).toBe(255);
        expect(refused.stderr).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');

        // inventory text.
        const inv = parseYaml(fleet.inventoryYaml({ defaults: { host_key_policy: 'accept-new' }, hosts: { h3: { vars: { w: 1 } } }, roles: { web: ['h1'] } }));
        expect(inv).toEqual({
          defaults: { user: 'root', identity: fleet.identityFile, known_hosts: fleet.knownHostsFile, host_key_policy: 'accept-new' },
          hosts: {
            h1: { address: h1.address, port: 22 },
            h2: { address: h2.address, port: 22 },
            h3: { address: fleet.hosts[2]!.address, port: 22, vars: { w: 1 } },
          },
          roles: { web: ['h1'] },
        });
      } finally {
        await fleet.teardown();
      }
      for (const h of fleet.hosts) expect(netnsList()).not.toContain(h.netns);
      expect(existsSync(`/sys/class/net/orb${fleet.subnet}`)).toBe(false);
      expect(existsSync(fleet.dir)).toBe(false);
      expect(fleet.hosts.every((h) => h.sshdPid === undefined)).toBe(true);
      await fleet.teardown(); // idempotent
    }, 30000);

    it('runs two fleets side by side without collisions, and refuses a taken netns name', async () => {
      const [a, b] = await Promise.all([startFleet({ count: 1, name: 'fa' }), startFleet({ count: 1, name: 'fb' })]);
      try {
        expect(a.subnet).not.toBe(b.subnet);
        expect(ssh(a.identityFile, a.knownHostsFile, a.hosts[0]!.address, 'echo a').stdout).toBe('a\n');
        expect(ssh(b.identityFile, b.knownHostsFile, b.hosts[0]!.address, 'echo b').stdout).toBe('b\n');
        await expect(startFleet({ count: 1, name: 'fa' })).rejects.toThrow(`Cannot create namespace file "/run/netns/fa-${process.pid}-1": File exists`);
        // The failed start did not remove the live fleet's netns.
        expect(netnsList()).toContain(`fa-${process.pid}-1`);
        expect(ssh(a.identityFile, a.knownHostsFile, a.hosts[0]!.address, 'echo a').stdout).toBe('a\n');
      } finally {
        await Promise.all([a.teardown(), b.teardown()]);
      }
    }, 30000);
  });
});
