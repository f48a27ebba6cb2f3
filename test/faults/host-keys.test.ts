/**
 * Issue 6, row 6: host keys, end to end through the CLI. A changed key is refused and
 * nothing runs (sshd logs no authentication); an unknown key is refused under `strict`;
 * `accept-new` pins on first contact and enforces after; a bastion whose key is wrong is
 * refused; hashed known_hosts entries work. Anchor: Ansible's host_key_checking default.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, onHost, orch, STACK_RE, summaryOf, writeFile, type Work } from './helpers.js';

/** "Accepted publickey" lines in the host's sshd log: authentications that happened. */
const logins = (host: TestHost): number => readFileSync(host.logFile, 'utf8').split('\n').filter((l) => l.includes('Accepted publickey')).length;

describe.skipIf(!canRunFleet())('host keys (issue 6 row 6)', () => {
  let fleet: Fleet;
  let work: Work;
  let pb: string;
  const h = (i: number): TestHost => fleet.hosts[i - 1]!;
  const kh = (name: string): string => {
    const p = join(work.dir, name);
    copyFileSync(fleet.knownHostsFile, p);
    return p;
  };
  /** apply with an inventory built from `extra`; each run touches /srv/ran-<marker>. */
  const apply = async (marker: string, extra: Parameters<Fleet['inventoryYaml']>[0]) => {
    const inv = writeFile(work, `inv-${marker}.yml`, fleet.inventoryYaml(extra));
    const r = await orch(['apply', pb, '-i', inv, '--json', '-e', `marker=${marker}`], work.env, { cwd: work.dir });
    expect(r.stderr).not.toMatch(STACK_RE);
    return { ...r, summary: summaryOf(r.stdout) };
  };
  const ran = (host: TestHost, marker: string): boolean => existsSync(onHost(host, `/srv/ran-${marker}`));

  beforeAll(async () => {
    fleet = await startFleet({ count: 4, name: 'orchkey' });
    work = makeWork('keys');
    pb = writeFile(work, 'keys.yml', 'steps:\n  - run: { cmd: "touch /srv/ran-{{marker}}" }\n');
  }, 120_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('hashed known_hosts entries work (ssh-keygen -H)', async () => {
    const hashed = await fleet.writeHashedKnownHosts();
    expect(readFileSync(hashed, 'utf8')).not.toContain(h(1).address);
    const r = await apply('hashed', { defaults: { known_hosts: hashed } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const host of fleet.hosts) expect(ran(host, 'hashed')).toBe(true);
  });

  it('strict: an unknown key is refused with a clear message and nothing runs there', async () => {
    const file = kh('kh-unknown');
    writeFileSync(file, readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith(`${h(2).address} `)).join('\n'));
    const before = logins(h(2));
    const r = await apply('unknown', { defaults: { known_hosts: file } });
    expect(r.code, r.stdout + r.stderr).toBe(4);
    const h2 = r.summary.hosts.find((x) => x.host === 'h2')!;
    expect(h2.status).toBe('unreachable');
    expect(h2.error).toBe(`host key for ${h(2).address} not in ${file}; add it with ssh-keyscan, or set host_key_policy: accept-new`);
    expect(ran(h(2), 'unknown')).toBe(false);
    expect(logins(h(2))).toBe(before);
    for (const i of [1, 3, 4]) expect(ran(h(i), 'unknown')).toBe(true);
  });

  it('accept-new pins an unknown key on first contact, then refuses it once it changed', async () => {
    const file = join(work.dir, 'kh-accept-new');
    writeFileSync(file, '');
    const first = await apply('pin1', { defaults: { known_hosts: file, host_key_policy: 'accept-new' } });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const pinned = readFileSync(file, 'utf8');
    const h3key = readFileSync(`${h(3).hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    expect(pinned).toContain(h3key);
    expect(pinned.trim().split('\n')).toHaveLength(4);
    await fleet.rotateHostKey(h(3));
    const before = logins(h(3));
    const second = await apply('pin2', { defaults: { known_hosts: file, host_key_policy: 'accept-new' } });
    expect(second.code, second.stdout + second.stderr).toBe(4);
    const h3 = second.summary.hosts.find((x) => x.host === 'h3')!;
    expect(h3.status).toBe('unreachable');
    expect(h3.error).toMatch(/^HOST KEY CHANGED for 10\.231\.\d+\.13 \(ssh-ed25519 SHA256:[A-Za-z0-9+/]+\); known_hosts line \d+ has a different key; possible man-in-the-middle — nothing was run$/);
    expect(ran(h(3), 'pin2')).toBe(false);
    expect(logins(h(3))).toBe(before);
    expect(readFileSync(file, 'utf8')).toBe(pinned); // the changed key was not recorded
    for (const i of [1, 2, 4]) expect(ran(h(i), 'pin2')).toBe(true);
  });

  it('a changed key (strict) is refused: nothing runs there, the others go on', async () => {
    const file = kh('kh-changed'); // h3's rotated key is not in it: changed under strict
    const before = logins(h(3));
    const r = await apply('changed', { defaults: { known_hosts: file } });
    expect(r.code, r.stdout + r.stderr).toBe(4);
    const h3 = r.summary.hosts.find((x) => x.host === 'h3')!;
    expect(h3.error).toMatch(/^HOST KEY CHANGED for 10\.231\.\d+\.13 .*nothing was run$/);
    expect(ran(h(3), 'changed')).toBe(false);
    expect(logins(h(3))).toBe(before);
    for (const i of [1, 2, 4]) expect(ran(h(i), 'changed')).toBe(true);
  });

  it('a bastion with a wrong key is refused: the host behind it is unreachable, nothing runs on either', async () => {
    const file = kh('kh-bastion'); // holds h3's OLD key: h3 as a bastion presents a changed key
    const before = [logins(h(3)), logins(h(4))];
    const r = await apply('bastion', { defaults: { known_hosts: file }, hosts: { h4: { jump: 'h3' } } });
    expect(r.code, r.stdout + r.stderr).toBe(4);
    const h4 = r.summary.hosts.find((x) => x.host === 'h4')!;
    expect(h4.status).toBe('unreachable');
    expect(h4.error).toMatch(/^jump host h3: HOST KEY CHANGED for 10\.231\.\d+\.13 .*nothing was run$/);
    expect(ran(h(4), 'bastion')).toBe(false);
    expect([logins(h(3)), logins(h(4))]).toEqual(before);
    // With the bastion's key right, the same hop works (the refusal was the key, not the route).
    const good = kh('kh-bastion-good');
    const rot = readFileSync(`${h(3).hostKeyFile}.pub`, 'utf8').trim().split(/\s+/);
    writeFileSync(good, readFileSync(good, 'utf8').replace(new RegExp(`^${h(3).address.replace(/\./g, '\\.')} .*$`, 'm'), `${h(3).address} ${rot[0]} ${rot[1]}`));
    const ok = await apply('bastion-ok', { defaults: { known_hosts: good }, hosts: { h4: { jump: 'h3' } } });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ran(h(4), 'bastion-ok')).toBe(true);
  });
});
