/** The `service` step kind: exact script per manager, label and its prediction table. */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { COMMAND_SH, DAEMON_SH, SERVICE_SH, SUPERVISOR_SH, SYSTEMD_SH } from '../../../src/host/embedded.generated.js';
import { service } from '../../../src/steps/service.js';
import { buildStep, facts, scriptOf } from './helpers.js';

const PENDING = '/srv/shop/.orch/restart-pending';

describe('service', () => {
  it.each([
    [{ name: 'my app', action: 'stop', manager: 'sysv' }, 'service stop my app', `orch_service sysv stop 'my app' 0 ${PENDING}`],
  ])('%j: label %s, one call line', (args, label, call) => {
    const r = buildStep(service, args as never);
    expect(r.problems).toEqual([]);
    expect(r.label).toBe(label);
    expect(r.task!.script).toBe(scriptOf([COMMAND_SH, SERVICE_SH], call));
  });

  it.each([
    [{ name: '{{app}}' }, 'service restart shop', `systemd_service system 0 shop restart ${PENDING}`],
    [{ name: 'shop', action: 'reload', sudo: true }, 'service reload shop', `systemd_service system 1 shop reload ${PENDING}`],
    [{ name: 'shop', manager: 'systemd', scope: 'user', action: 'stop' }, 'service stop shop', `systemd_service user 0 shop stop ${PENDING}`],
  ])('systemd %j: label %s, systemd.sh and one call line, no probe', (args, label, call) => {
    const r = buildStep(service, args as never);
    expect(r.problems).toEqual([]);
    expect(r.label).toBe(label);
    expect(r.task!.script).toBe(scriptOf([SYSTEMD_SH], call));
    expect(r.task!.probes).toEqual([]);
    expect(r.task!.check).toEqual({ kind: 'service' });
  });

  const UNIT = "[Unit]\nDescription=shop\n[Service]\nExecStart='/srv/shop/current/bin/shop'\n";
  const sha = (t: string) => createHash('sha256').update(t).digest('hex');
  it.each([
    ['text', { unit: '[Unit]\nDescription={{app}}\n[Service]\nExecStart=\'{{root}}/current/bin/shop\'\n' }, {}, '/etc/systemd/system/shop.service', '/etc/systemd/system/shop.service'],
    ['content', { unit: { content: '[Unit]\nDescription={{app}}\n[Service]\nExecStart=\'{{root}}/current/bin/shop\'\n' } }, {}, '/etc/systemd/system/shop.service', '/etc/systemd/system/shop.service'],
    ['template, scope user', { unit: { template: 'units/shop.hbs' }, scope: 'user' }, { 'units/shop.hbs': '[Unit]\nDescription={{app}}\n[Service]\nExecStart=\'{{root}}/current/bin/shop\'\n' }, '~/.config/systemd/user/shop.service', '"$HOME"/.config/systemd/user/shop.service'],
  ])('unit as %s: rendered like put, passed quoted, its sha256 probed', (_n, extra, files, path, qpath) => {
    const r = buildStep(service, { name: 'shop', ...extra } as never, { files });
    expect(r.problems).toEqual([]);
    const scope = (extra as { scope?: string }).scope ?? 'system';
    expect(r.task!.script).toBe(scriptOf([SYSTEMD_SH], `systemd_service ${scope} 0 shop restart ${PENDING} ${qpath} '[Unit]\nDescription=shop\n[Service]\nExecStart='\\''/srv/shop/current/bin/shop'\\''\n'`));
    expect(r.task!.probes).toEqual([{ kind: 'sha256', path }]);
    expect(r.task!.check).toEqual({ kind: 'service', unit: { path, sha256: sha(UNIT) } });
  });

  it('a unit named with its type keeps it: shop.socket', () => {
    expect(buildStep(service, { name: 'shop.socket', unit: 'x' } as never).task!.probes).toEqual([{ kind: 'sha256', path: '/etc/systemd/system/shop.socket' }]);
  });

  it('a differing unit file is a change of its own (runs whatever the node did); the same one is not; offline: not', () => {
    const t = buildStep(service, { name: 'shop', unit: UNIT } as never).task!;
    const k = 'sha256:/etc/systemd/system/shop.service';
    expect(service.changesAlone!(facts({ [k]: 'f'.repeat(64) }), t as never)).toBe(true);
    expect(service.changesAlone!(facts({ [k]: null }), t as never)).toBe(true);
    expect(service.changesAlone!(facts({ [k]: sha(UNIT) }), t as never)).toBe(false);
    expect(service.changesAlone!(facts({}), t as never)).toBe(false);
    const f = facts({ [k]: null });
    expect(service.predict(f, t as never)).toBe('changed');
    expect(f.get(k)).toBe(sha(UNIT));
  });

  it('enabled: a systemd_enable line after the action; the is-enabled fact probed', () => {
    const r = buildStep(service, { name: 'shop', unit: UNIT, enabled: true } as never);
    expect(r.problems).toEqual([]);
    expect(r.task!.script).toBe(scriptOf([SYSTEMD_SH], `systemd_service system 0 shop restart ${PENDING} /etc/systemd/system/shop.service '[Unit]\nDescription=shop\n[Service]\nExecStart='\\''/srv/shop/current/bin/shop'\\''\n'`, 'systemd_enable system 0 shop 1'));
    expect(r.task!.probes).toEqual([{ kind: 'sha256', path: '/etc/systemd/system/shop.service' }, { kind: 'enabled', path: 'shop.service' }]);
    expect(buildStep(service, { name: 'web.socket', enabled: false, sudo: true } as never).task!.script).toBe(scriptOf([SYSTEMD_SH], `systemd_service system 1 web.socket restart ${PENDING}`, 'systemd_enable system 1 web.socket 0'));
    expect(buildStep(service, { name: 'shop', scope: 'user', enabled: true } as never).problems).toEqual(['enabled: enabled: applies to system units (scope: system)']);
    expect(buildStep(service, { name: 'shop', manager: 'daemon', command: 'x', enabled: true } as never).problems).toEqual(['enabled: unit, scope and enabled apply to manager: systemd only (manager is daemon)']);
  });

  it.each([
    [true, 'enabled', false], [true, 'static', false], [true, 'disabled', true], [true, null, true],
    [false, 'disabled', false], [false, 'masked', false], [false, null, false], [false, 'enabled', true],
  ])('enabled: %s with is-enabled %s: a change of its own = %s; after a predicted run it matches', (want, fact, differs) => {
    const t = buildStep(service, { name: 'shop', unit: UNIT, enabled: want } as never).task!;
    const f = facts({ 'sha256:/etc/systemd/system/shop.service': sha(UNIT), 'enabled:shop.service': fact });
    expect(service.changesAlone!(f, t as never)).toBe(differs);
    expect(service.predict(f, t as never)).toBe('changed');
    expect(service.changesAlone!(f, t as never)).toBe(false);
  });

  it('manager supervisor: src/host/supervisor.sh with config/server_url (reread + update, judged by status); orch logs knows it', () => {
    const r = buildStep(service, { name: 'shop', action: 'reload', manager: 'supervisor', sudo: true, config: '/etc/sv/a b.conf' } as never);
    expect(r.problems).toEqual([]);
    expect(r.label).toBe('service reload shop');
    expect(r.task!.script).toBe(scriptOf([SUPERVISOR_SH], "supervisor_service '/etc/sv/a b.conf' '' 1 shop reload", `rm -f -- ${PENDING}`, 'orch_status changed'));
    expect(r.task!.service).toEqual({ manager: 'supervisor', name: 'shop', config: '/etc/sv/a b.conf', sudo: true });
  });

  it('manager daemon: src/host/daemon.sh with root, name, action, the command and startsecs; needs name and command', () => {
    const r = buildStep(service, { name: 'web', manager: 'daemon', command: 'exec python3 app.py {{port}}', startsecs: 2 } as never, { vars: { port: '80 80' } });
    expect(r.problems).toEqual([]);
    expect(r.task!.script).toBe(scriptOf([DAEMON_SH], "daemon_service /srv/shop web restart 'exec python3 app.py '\\''80 80'\\''' 2", `rm -f -- ${PENDING}`, 'orch_status changed'));
    expect(r.task!.service).toEqual({ manager: 'daemon', name: 'web', root: '/srv/shop' });
    expect(buildStep(service, { name: 'web', manager: 'daemon' } as never).problems).toEqual(['(step): service with manager: daemon needs "name" and "command"']);
    expect(buildStep(service, { name: 'a/b', manager: 'daemon', command: 'x' } as never).problems).toEqual(['name: a daemon name is a file name: letters, digits, . _ - (got "a/b")']);
  });

  it('manager command: the command is a function (bash -n checks it); no var root: no marker', () => {
    const r = buildStep(service, { manager: 'command', command: 'kill -HUP $(cat {{pidfile}})' }, { vars: { root: undefined, pidfile: '/run/a b.pid' } });
    expect(r.label).toBe('service restart command');
    expect(r.task!.script).toBe(scriptOf([COMMAND_SH, SERVICE_SH], "orch_service_command() { :\nkill -HUP $(cat '/run/a b.pid')\n}", "orch_service command restart orch_service_command 0 ''"));
  });

  it.each([
    [{ name: 'x', action: 'bounce' }, ['action: action must be one of: restart, reload, start, stop']],
    [{ manager: 'command' }, ['(step): service with manager: command needs "command"']],
    [{ manager: 'supervisor' }, ['(step): service with manager: supervisor needs "name"']],
    [{ name: 'x', manager: 'supervisor', unit: 'x' }, ['unit: unit, scope and enabled apply to manager: systemd only (manager is supervisor)']],
    [{ name: 'x', scope: 'user', sudo: true }, ["sudo: scope: user runs the SSH user's own systemctl --user: sudo does not apply"]],
    [{ name: 'x', scope: 'global' }, ['scope: scope must be system or user']],
    [{ name: 'a/b', unit: 'x' }, ['name: a service with unit: needs a unit name that is a file name (letters, digits, _ . @ : - \\), got "a/b"']],
    [{ name: 'x', unit: { template: 'missing.hbs' } }, ['unit.template: cannot read missing.hbs']],
  ])('refuses %j', (args, want) => {
    expect(buildStep(service, args as never).problems).toEqual(want);
  });

  it('runs only after a change of its node by default; its own when wins', () => {
    expect(service.defaultWhen).toBe('changed');
    expect(service.whenOf!({ when: 'always' })).toBe('always');
    expect(service.whenOf!({})).toBeUndefined();
  });

  const task = buildStep(service, { name: 'shop' }).task!;
  it.each([
    ['no facts', {}, 'changed'],
    ['any facts', { 'link:/srv/shop/current': 'versions/1' }, 'changed'],
  ])('predicts %s (when it runs, it changes the host)', (_n, f, want) => {
    expect(service.predict(facts(f), task as never)).toBe(want);
  });
});
