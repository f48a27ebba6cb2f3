/**
 * Behaviour of src/host/supervisor.sh against a real supervisord with its own config
 * file and socket (not the system one): restart, a changed command / numprocs taking
 * effect through reread + update, a spawn error failing the step.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRELUDE_SH, SUPERVISOR_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const SUPERVISORD = ['/usr/bin/supervisord', '/usr/local/bin/supervisord'].find((p) => existsSync(p));

describe.skipIf(!SUPERVISORD)('supervisor.sh (real supervisord, own config and socket)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'orch-sup-'));
  const conf = path.join(dir, 'supervisord.conf');
  const sock = path.join(dir, 's.sock');
  const writeConf = (program: string[]): void => writeFileSync(conf, [
    '[unix_http_server]', `file=${sock}`, '',
    '[supervisord]', `pidfile=${dir}/supervisord.pid`, `logfile=${dir}/supervisord.log`, `childlogdir=${dir}`, '',
    '[rpcinterface:supervisor]', 'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface', '',
    '[supervisorctl]', `serverurl=unix://${sock}`, '',
    '[program:web]', ...program, 'autostart=false', 'startsecs=1', 'startretries=0', 'stopsignal=KILL', '',
  ].join('\n'));
  const svc = (action: string, how: 'config' | 'url' = 'config') =>
    runBash([PRELUDE_SH, SUPERVISOR_SH], 'supervisor_service "$@"', how === 'config' ? [conf, '', '0', 'web', action] : ['', `unix://${sock}`, '0', 'web', action], { cwd: dir });
  const pids = (): string => (runBash([], 'supervisorctl -c "$1" status "web:*"', [conf]).stdout.match(/pid (\d+)/g) ?? []).join(' ');
  const running = (marker: string): number => Number(spawnSync('pgrep', ['-fc', marker], { encoding: 'utf8' }).stdout.trim() || 0);

  beforeAll(() => {
    writeConf(['command=sleep 401']);
    const r = spawnSync(SUPERVISORD!, ['-c', conf], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    for (let i = 0; i < 100 && !existsSync(sock); i++) spawnSync('sleep', ['0.1']);
  });
  afterAll(() => {
    try { process.kill(Number(readFileSync(path.join(dir, 'supervisord.pid'), 'utf8')), 'SIGTERM'); } catch { /* gone */ }
  });

  it('start and restart through config: and server_url; the status decides', () => {
    const r = svc('start');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/web\s+RUNNING/);
    const p1 = pids();
    expect(p1).toMatch(/^pid \d+$/);
    const r2 = svc('restart', 'url');
    expect(r2.code, r2.stderr).toBe(0);
    expect(pids()).not.toBe(p1);
    expect(running('sleep 401')).toBe(1);
  });

  it('a changed command and numprocs take effect (reread + update), then stop', () => {
    writeConf(['command=sleep 40%(process_num)d', 'process_name=%(program_name)s_%(process_num)d', 'numprocs=3', 'numprocs_start=2']);
    const r = svc('restart');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/web: changed/);
    expect(r.stdout).toMatch(/web:web_2\s+RUNNING[\s\S]*web:web_3\s+RUNNING[\s\S]*web:web_4\s+RUNNING/);
    expect(running('sleep 401')).toBe(0);
    expect(running('sleep 40[234]')).toBe(3);
    const again = svc('restart');
    expect(again.stdout).not.toMatch(/changed/);
    const stop = svc('stop');
    expect(stop.code, stop.stderr).toBe(0);
    expect(running('sleep 40[234]')).toBe(0);
  });

  it('a program that cannot start fails the step with its status', () => {
    writeConf(['command=/nonexistent/app']);
    const r = svc('restart');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^supervisorctl (restart|start) web: [\s\S]*\nweb is not RUNNING after it:\nweb\s+(FATAL|BACKOFF|STOPPED)/);
  });
});

describe('supervisor.sh status check waits through STARTING (supervisorctl stubbed)', () => {
  it('a process STARTING on the first three status calls, then RUNNING, passes the check; FATAL fails it at once', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'orch-sup-stub-'));
    // The stub answers `status` with STARTING three times (counted in a file: each call is a subshell), then STATE.
    const stub = 'supervisor_ctl() { local n; n=$(cat "$DIR/n" 2>/dev/null || echo 0); echo $((n + 1)) > "$DIR/n";'
      + ' if [ "$n" -lt 3 ]; then echo "web  STARTING"; else echo "web  $STATE   pid 42, uptime 0:00:02"; fi; }';
    const r = runBash([PRELUDE_SH, SUPERVISOR_SH], `DIR=${dir} STATE=RUNNING; ${stub}; supervisor_check "" "" 0 web RUNNING start "web: started"`, []);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('web  RUNNING   pid 42, uptime 0:00:02');
    expect(readFileSync(path.join(dir, 'n'), 'utf8').trim()).toBe('4');
    const bad = runBash([PRELUDE_SH, SUPERVISOR_SH], `DIR=${dir} STATE=FATAL; ${stub}; supervisor_check "" "" 0 web RUNNING start "web: ERROR (spawn error)"`, []);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr + bad.stdout).toContain('supervisorctl start web: web: ERROR (spawn error)\nweb is not RUNNING after it:\nweb  FATAL   pid 42, uptime 0:00:02');
  });
});
