/** Behaviour of src/host/service.sh under real bash, with stand-in systemctl/supervisorctl on PATH. */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_SH, PRELUDE_SH, SERVICE_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, COMMAND_SH, SERVICE_SH];

/** A folder with fake service tools that log their argv, and supervisorctl answering `reply`. */
function tools(reply: string): { env: NodeJS.ProcessEnv; log: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'orch-svc-'));
  const log = path.join(dir, 'log');
  for (const t of ['systemctl', 'service']) {
    writeFileSync(path.join(dir, t), `#!/bin/sh\necho "${t} $*" >> ${log}\n`);
    chmodSync(path.join(dir, t), 0o755);
  }
  writeFileSync(path.join(dir, 'supervisorctl'), `#!/bin/sh\necho "supervisorctl $*" >> ${log}\nprintf '%s\\n' ${JSON.stringify(reply)}\nexit 1\n`);
  chmodSync(path.join(dir, 'supervisorctl'), 0o755);
  return { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, log, dir };
}

describe('service.sh', () => {
  it.each([
    ['systemd', 'restart', 'systemctl restart -- shop'],
    ['sysv', 'reload', 'service shop reload'],
  ])('orch_service %s %s', (manager, action, line) => {
    const t = tools('');
    const pending = path.join(t.dir, 'pending');
    writeFileSync(pending, '');
    const r = runBash(LIBS, 'orch_service "$@"', [manager, action, 'shop', '0', pending], { env: t.env });
    expect(r).toEqual({ code: 0, stdout: '::orch:: status=changed\n', stderr: '' });
    expect(readFileSync(t.log, 'utf8')).toBe(`${line}\n`);
    expect(existsSync(pending)).toBe(false);
  });
  it('supervisor: judged by the result line (its exit status is unreliable); reload is signal HUP', () => {
    const t = tools('shop: signalled');
    expect(runBash(LIBS, 'orch_service supervisor reload shop 0 ""', [], { env: t.env }).stdout).toBe('shop: signalled\n::orch:: status=changed\n');
    expect(readFileSync(t.log, 'utf8')).toBe('supervisorctl signal HUP shop\n');
    const t2 = tools('shop: ERROR (not running)\nshop: started');
    expect(runBash(LIBS, 'orch_service supervisor restart shop 0 ""', [], { env: t2.env }).code).toBe(0);
  });
  it('supervisor: any other answer fails with supervisor\'s message', () => {
    const t = tools('nosuch: ERROR (no such process)');
    const r = runBash(LIBS, 'orch_service supervisor restart nosuch 0 ""', [], { env: t.env });
    expect([r.code, r.stderr]).toEqual([1, 'supervisorctl restart nosuch: nosuch: ERROR (no such process)\n']);
  });
  it('command: runs the function; its failure fails the step with the exit code', () => {
    expect(runBash(LIBS, 'orch_service_command() { :\necho hup\n}\norch_service command restart orch_service_command 0 ""').stdout).toBe('hup\n::orch:: status=changed\n');
    const r = runBash(LIBS, 'orch_service_command() { :\nexit 4\n}\norch_service command restart orch_service_command 0 ""');
    expect([r.code, r.stderr]).toEqual([1, 'service command failed (exit 4)\n']);
  });
  it('orch_sudo runs through sudo -n only when asked', () => {
    const t = tools('');
    writeFileSync(path.join(t.dir, 'sudo'), `#!/bin/sh\necho "sudo $*" >> ${t.log}\n`);
    chmodSync(path.join(t.dir, 'sudo'), 0o755);
    runBash(LIBS, 'orch_sudo 1 systemctl stop x; orch_sudo 0 systemctl start x', [], { env: t.env });
    expect(readFileSync(t.log, 'utf8')).toBe('sudo -n systemctl stop x\nsystemctl start x\n');
  });
});
