/**
 * playbooks/server.yml on two real Debian machines (test/harness/machines.ts: systemd as
 * PID 1, apt through apt-cacher-ng), as a new user would run it: from bare machines to
 * apps/greet serving as its own user under an enabled systemd unit behind nginx, planned
 * exactly (plan exits 2 before and changes nothing, 0 after), a second apply restarts
 * nothing, a reboot serves again with no orch run, drift by hand is named and repaired.
 * Then the `package`, `user` and `run user:` steps' own edges: a name with shell syntax,
 * a package that does not exist, a dpkg lock held by another process.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { canRunMachines, startMachines, type Machines } from '../harness/machines.js';
import { makeWheelhouse, pythonToolchainMissing } from './bundle/toolchain.js';
import { makeWork, orch, summaryOf, type Work } from './cli.js';

const REPO = join(import.meta.dirname, '../..');
const PLAYBOOK = join(REPO, 'playbooks/server.yml');
const can = canRunMachines() && pythonToolchainMissing() === undefined;
let ms: Machines;
let work: Work;
let inventory: string;
/** orch's environment: PyPI is not reachable here, so pip builds from a local wheelhouse (pip reads PIP_* from the environment). */
let env: Record<string, string>;

beforeAll(async () => {
  if (!can) return;
  ms = await startMachines({ count: 2, prefix: 'osv' });
  work = makeWork('server');
  inventory = await ms.writeInventory(join(work.dir, 'inventory.yml'));
  const wheels = makeWheelhouse(join(work.dir, 'wheels'), work.dir);
  env = { ...work.env, PIP_NO_INDEX: '1', PIP_FIND_LINKS: wheels };
}, 20 * 60_000);

afterAll(async () => {
  await ms?.stop();
}, 120_000);

function ssh(i: number, cmd: string): { code: number; out: string } {
  const m = ms.machines[i]!;
  const r = spawnSync('ssh', ['-i', ms.keyFile, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `root@${m.address}`, cmd], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`.trim() };
}

const serverRun = (cmd: 'plan' | 'apply', ...extra: string[]) =>
  orch([cmd, PLAYBOOK, '-i', inventory, '--detailed-exitcodes', ...(cmd === 'apply' ? ['--yes'] : []), ...extra], env, { timeoutMs: 900_000 });

/** What proves a machine serves: nginx on port 80 answers with the app's words. */
const served = (i: number): string => ssh(i, 'curl -fsS --max-time 5 http://127.0.0.1/').out;

describe.skipIf(!can)('playbooks/server.yml on two bare Debian machines', () => {
  it('plan before: exit 2, and nothing on the machines changed', async () => {
    const r = await serverRun('plan');
    expect(r.code, r.stdout + r.stderr).toBe(2);
    for (const i of [0, 1]) {
      expect(ssh(i, `dpkg-query -W -f='\${db:Status-Abbrev}\\n' nginx python3-venv 2>/dev/null | grep -c ^ii || true`).out).toBe('0');
      expect(ssh(i, 'getent passwd greet || echo none; test -e /srv/greet && echo root-there || echo no-root').out).toBe('none\nno-root');
    }
  }, 900_000);

  it('one apply takes both machines to serving: packages, a system user, the app as that user under an enabled unit, nginx in front', async () => {
    const r = await serverRun('apply');
    expect(r.code, r.stdout + r.stderr).toBe(2);
    for (const i of [0, 1]) {
      expect(served(i)).toBe('greet 1.0.0 as greet');
      expect(ssh(i, 'systemctl is-enabled greet nginx; systemctl is-active greet; ps -o user= -p "$(systemctl show -p MainPID --value greet)"').out).toBe('enabled\nenabled\nactive\ngreet');
      expect(ssh(i, 'getent passwd greet | cut -d: -f6,7; id -gn greet').out).toBe('/srv/greet:/usr/sbin/nologin\ngreet');
    }
  }, 900_000);

  it('after it: plan exits 0 (packages, users, enablement, unit all ok); a second apply exits 0 and restarts nothing', async () => {
    const plan = await serverRun('plan');
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    const pids = [0, 1].map((i) => ssh(i, 'systemctl show -p MainPID --value greet; systemctl show -p MainPID --value nginx').out);
    const r = await serverRun('apply', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(summaryOf(r.stdout).changed).toBe(0);
    expect([0, 1].map((i) => ssh(i, 'systemctl show -p MainPID --value greet; systemctl show -p MainPID --value nginx').out)).toEqual(pids);
  }, 900_000);

  it('an orderly reboot: the machine serves again with no orch run', async () => {
    expect(ssh(0, 'touch /run/orch-boot').code).toBe(0);
    await ms.machines[0]!.reboot();
    expect(ssh(0, 'test -e /run/orch-boot && echo same-boot || echo new-boot').out).toBe('new-boot');
    // The units start after sshd may already answer: poll (bounded) until nginx serves.
    let body = '';
    for (let t = 0; t < 60 && body !== 'greet 1.0.0 as greet'; t++) {
      body = served(0);
      if (body !== 'greet 1.0.0 as greet') await new Promise((r) => setTimeout(r, 1000));
    }
    expect(body).toBe('greet 1.0.0 as greet');
  }, 300_000);

  it('drift by hand on one machine (service disabled, nginx removed): the plan names that machine only; apply repairs it', async () => {
    const m1 = ms.machines[1]!.name;
    const m0 = ms.machines[0]!.name;
    expect(ssh(1, `systemctl disable greet >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get -y -q remove nginx >/dev/null 2>&1; systemctl is-enabled greet; dpkg-query -W -f='\${db:Status-Abbrev}' nginx`).out).toMatch(/^disabled\n(rc|un)/); // nginx is no longer installed (rc: its config files kept)
    const plan = await serverRun('plan', '--json');
    expect(plan.code, plan.stdout + plan.stderr).toBe(2);
    // The plan event: per host the steps and their predicted status.
    const planEvent = plan.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; hosts?: { host: string; steps: { name: string; status: string }[] }[] }).find((e) => e.type === 'plan')!;
    const changing = (host: string) => planEvent.hosts!.find((h) => h.host === host)!.steps.filter((s) => s.status !== 'ok' && s.status !== 'skipped').map((s) => s.name);
    expect(changing(m0)).toEqual([]);
    expect(changing(m1)).toEqual(expect.arrayContaining(['service restart greet', 'package nginx']));
    const r = await serverRun('apply');
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(ssh(1, 'systemctl is-enabled greet').out).toBe('enabled');
    expect(served(1)).toBe('greet 1.0.0 as greet');
    expect((await serverRun('plan')).code).toBe(0);
  }, 900_000);
});

describe.skipIf(!can)('package, user and run user: on the machines', () => {
  /** A playbook in the work dir with the given steps on every machine; host vars per machine. */
  function playbook(name: string, steps: unknown[], hostVars?: Record<string, unknown>[]): { pb: string; inv: string } {
    const inv = join(work.dir, `${name}-inventory.yml`);
    const doc = parseYaml(readFileSync(inventory, 'utf8')) as { hosts: Record<string, Record<string, unknown>> };
    ms.machines.forEach((m, i) => {
      if (hostVars?.[i]) doc.hosts[m.name]!.vars = hostVars[i];
    });
    writeFileSync(inv, stringifyYaml(doc));
    const pb = join(work.dir, `${name}.yml`);
    writeFileSync(pb, stringifyYaml({ inventory: inv, nodes: { main: { steps } } }));
    return { pb, inv };
  }

  it('a package name with shell syntax: error with file:line:column, exit 1, no host touched', async () => {
    const pb = join(work.dir, 'badname.yml');
    writeFileSync(pb, `inventory: ${inventory}\nnodes:\n  main:\n    steps:\n      - package:\n          name: [hello, "hello; touch /tmp/pwned"]\n`);
    const r = await orch(['apply', pb, '--yes'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${pb}:6:25: nodes.main.steps[0].package.name[1]: "hello; touch /tmp/pwned" is not a Debian package name: lowercase letters, digits, + - .`);
    for (const i of [0, 1]) expect(ssh(i, 'test -e /tmp/pwned && echo yes || echo no; dpkg-query -W hello 2>/dev/null || echo no-hello').out).toBe('no\nno-hello');
  }, 120_000);

  it('a package that does not exist: that host fails with apt\'s words (exit 4), the other host goes on; run user: runs as that user', async () => {
    const { pb } = playbook('missing', [
      { package: { name: '{{pkg}}' } },
      { run: { cmd: 'id -un > /tmp/ran-as; echo "$HOME" >> /tmp/ran-as', user: 'nobody' } },
    ], [{ pkg: 'orch-no-such-package' }, { pkg: 'hello' }]);
    const r = await orch(['apply', pb, '--yes'], env, { timeoutMs: 300_000 });
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout + r.stderr).toContain('Unable to locate package orch-no-such-package');
    expect(ssh(0, 'test -e /tmp/ran-as && echo ran || echo not-run').out).toBe('not-run');
    expect(ssh(1, `dpkg-query -W -f='\${db:Status-Abbrev}' hello; echo; cat /tmp/ran-as`).out).toBe('ii \nnobody\n/nonexistent');
  }, 300_000);

  it('a dpkg lock held by another process for 10 s: the package step waits and succeeds', async () => {
    const { pb } = playbook('locked', [{ package: { name: 'cowsay' } }]);
    // Holds the locks apt and dpkg take (fcntl on lock-frontend and lock), as a running apt does.
    const hold = "python3 -c 'import fcntl,time\nfs=[open(p,\"w\") for p in (\"/var/lib/dpkg/lock-frontend\",\"/var/lib/dpkg/lock\")]\nfor f in fs: fcntl.lockf(f, fcntl.LOCK_EX)\nopen(\"/run/held\",\"w\").close()\ntime.sleep(10)'";
    expect(ssh(0, `rm -f /run/held; (${hold}) >/dev/null 2>&1 </dev/null & for i in $(seq 50); do test -e /run/held && break; sleep 0.2; done; test -e /run/held && echo held`).out).toBe('held');
    const t0 = Date.now();
    const r = await orch(['apply', pb, '--yes', '--limit', ms.machines[0]!.name], env, { timeoutMs: 300_000 });
    const took = (Date.now() - t0) / 1000;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(ssh(0, `dpkg-query -W -f='\${db:Status-Abbrev}' cowsay`).out).toBe('ii');
    expect(took).toBeGreaterThan(7);
  }, 300_000);
  it('a unit-only change on real systemd: planned as the step\'s own change, written, daemon-reloaded and restarted (the new unit runs); unchanged: plan 0, nothing restarted', async () => {
    const unit = (tick: number) => `[Unit]\nDescription=orch tick\n\n[Service]\nEnvironment=TICK=${tick}\nExecStart=/bin/sleep infinity\n\n[Install]\nWantedBy=multi-user.target\n`;
    const m0 = ms.machines[0]!.name;
    const { pb } = playbook('tick', [{ service: { name: 'orch-tick', enabled: true, unit: unit(1) } }]);
    const run = (cmd: 'plan' | 'apply') => orch([cmd, pb, '--limit', m0, '--detailed-exitcodes', ...(cmd === 'apply' ? ['--yes'] : [])], env, { timeoutMs: 300_000 });
    const state = () => ssh(0, 'systemctl is-enabled orch-tick; systemctl is-active orch-tick; systemctl show -p Environment -p NeedDaemonReload --value orch-tick').out;
    const pid = () => ssh(0, 'systemctl show -p MainPID --value orch-tick').out;
    const a1 = await run('apply');
    expect(a1.code, a1.stdout + a1.stderr).toBe(2);
    expect(state()).toBe('enabled\nactive\nTICK=1\nno');
    const first = pid();
    expect((await run('plan')).code).toBe(0);
    expect((await run('apply')).code).toBe(0);
    expect(pid()).toBe(first);
    writeFileSync(pb, readFileSync(pb, 'utf8').replace('TICK=1', 'TICK=2'));
    const p2 = await run('plan');
    expect(p2.code, p2.stdout + p2.stderr).toBe(2);
    expect(p2.stdout).toContain('~ main: service restart orch-tick  will change');
    const a2 = await run('apply');
    expect(a2.code, a2.stdout + a2.stderr).toBe(2);
    // systemd runs the new unit (daemon-reload happened: NeedDaemonReload=no), in a new process.
    expect(state()).toBe('enabled\nactive\nTICK=2\nno');
    expect(pid()).not.toBe(first);
    expect((await run('plan')).code).toBe(0);
  }, 600_000);

  it('become: the same playbook through a sudo user (user: admin, become: true): a converged no-op exits 0; a changed file lands owned by root; a sudo asking for a password fails at connect naming the host', async () => {
    const pub = readFileSync(`${ms.keyFile}.pub`, 'utf8').trim();
    // The sudo users, made with orch's own steps: admin with passwordless sudo, nopw with a sudo that asks.
    const { pb: setup } = playbook('sudoers', [
      { user: { name: 'admin', shell: '/bin/bash', authorized_keys: [pub] } },
      { user: { name: 'nopw', shell: '/bin/bash', groups: ['sudo'], authorized_keys: [pub] } },
      { put: { dest: '/etc/sudoers.d/admin', content: 'admin ALL=(ALL) NOPASSWD:ALL\n', mode: '0440' } },
    ]);
    const s = await orch(['apply', setup, '--yes'], env, { timeoutMs: 300_000 });
    expect(s.code, s.stdout + s.stderr).toBe(0);
    const asAdmin = await ms.writeInventory(join(work.dir, 'admin-inventory.yml'), { user: 'admin', become: true });
    const plan = await orch(['plan', PLAYBOOK, '-i', asAdmin, '--detailed-exitcodes'], env, { timeoutMs: 600_000 });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    const apply = await orch(['apply', PLAYBOOK, '-i', asAdmin, '--detailed-exitcodes', '--yes'], env, { timeoutMs: 600_000 });
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    const pb = join(work.dir, 'become-put.yml');
    writeFileSync(pb, stringifyYaml({ inventory: asAdmin, nodes: { main: { steps: [{ put: { dest: '/etc/orch-become.txt', content: 'through sudo\n' } }] } } }));
    const put = await orch(['apply', pb, '--yes'], env, { timeoutMs: 300_000 });
    expect(put.code, put.stdout + put.stderr).toBe(0);
    for (const i of [0, 1]) expect(ssh(i, 'stat -c %U:%G /etc/orch-become.txt; cat /etc/orch-become.txt').out).toBe('root:root\nthrough sudo');
    const asNopw = await ms.writeInventory(join(work.dir, 'nopw-inventory.yml'), { user: 'nopw', become: true });
    const bad = await orch(['apply', pb, '-i', asNopw, '--yes'], env, { timeoutMs: 300_000 });
    expect(bad.code, bad.stdout + bad.stderr).toBe(4);
    for (const m of ms.machines) expect(bad.stdout + bad.stderr).toContain(`${m.name} (nopw@${m.address})\n  ! unreachable: become: sudo -n as root failed (sudo: a password is required): become needs passwordless sudo (NOPASSWD in sudoers) for the login user nopw`);
  }, 900_000);
});

describe.skipIf(!can)('orch remove on the machines', () => {
  const remove = (...extra: string[]) => orch(['remove', PLAYBOOK, '-i', inventory, '--detailed-exitcodes', '--yes', ...extra], env, { timeoutMs: 600_000 });
  const apps = async (): Promise<string[]> => {
    const q = await orch(['query', '-i', inventory, '--json'], env, { timeoutMs: 120_000 });
    expect(q.code, q.stdout + q.stderr).toBe(0);
    return (JSON.parse(q.stdout) as { host: string; app: string }[]).map((r) => `${r.host} ${r.app}`).sort();
  };
  const names = () => ms.machines.map((m) => m.name);

  it('runs the hooks kept with the release (its own values), stops, disables and deletes the unit, deletes the releases, keeps shared/ and packages, drops the app from query; --purge takes the root; a new apply brings it back', async () => {
    // Serving first (converged by the tests above: exit 0; alone: 2).
    const up = await serverRun('apply');
    expect([0, 2], up.stdout + up.stderr).toContain(up.code);
    expect(await apps()).toEqual(names().map((n) => `${n} greet`));
    for (const i of [0, 1]) expect(ssh(i, 'mkdir -p /srv/greet/shared && echo keep > /srv/greet/shared/data').code).toBe(0);
    const since = ssh(0, 'date "+%Y-%m-%d %H:%M:%S"').out;
    // The playbook changed since the install (another port): the hooks run with the release's own values.
    const r = await remove('-e', 'port=9999');
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain('remove greet from /srv/greet; stop and disable greet; delete /etc/systemd/system/greet.service; keep shared/');
    for (const i of [0, 1]) {
      expect(ssh(i, `journalctl -t greet --since ${JSON.stringify(since)} --no-pager -o cat`).out).toBe('removing greet 1.0.0 port 8000\nremoved greet from /srv/greet');
      expect(ssh(i, 'systemctl is-active greet; test -e /etc/systemd/system/greet.service && echo unit-there || echo unit-gone; systemctl is-enabled greet 2>/dev/null || echo not-enabled').out).toBe('inactive\nunit-gone\nnot-enabled');
      expect(ssh(i, 'ls -A /srv/greet; cat /srv/greet/shared/data').out).toBe('shared\nkeep');
      expect(ssh(i, `dpkg-query -W -f='\${db:Status-Abbrev}' nginx python3-venv; echo; getent passwd greet | cut -d: -f1`).out).toBe('ii ii \ngreet');
    }
    expect(await apps()).toEqual([]);
    // Nothing of the app is left: removing again changes nothing.
    expect((await remove()).code).toBe(0);
    const purge = await remove('--purge');
    expect(purge.code, purge.stdout + purge.stderr).toBe(2);
    for (const i of [0, 1]) expect(ssh(i, 'test -e /srv/greet && echo root-there || echo root-gone').out).toBe('root-gone');
    const back = await serverRun('apply');
    expect(back.code, back.stdout + back.stderr).toBe(2);
    for (const i of [0, 1]) expect(served(i)).toBe('greet 1.0.0 as greet');
    expect(await apps()).toEqual(names().map((n) => `${n} greet`));
  }, 1_200_000);
});
