/**
 * Behaviour of src/host/systemd.sh under real bash. The test hosts have no systemd, so
 * `systemctl` (and `sudo`) are stand-ins on PATH that record their argv; the unit files
 * are real files in a temp folder.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH, SYSTEMD_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, SYSTEMD_SH];

/**
 * A folder with a fake systemctl logging `systemctl ARGS [XDG_RUNTIME_DIR]` (it fails
 * with `Job for NAME failed.` when its last argument is `$FAIL_UNIT`) and a fake sudo
 * logging `sudo ARGS` before running them without `-n`.
 */
function tools(): { env: NodeJS.ProcessEnv; log: string; dir: string; read: () => string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'orch-systemd-'));
  const log = path.join(dir, 'log');
  writeFileSync(path.join(dir, 'systemctl'), `#!/bin/bash
printf '%s\\n' "systemctl $* \${XDG_RUNTIME_DIR:-}" >> ${log}
if [ -n "\${FAIL_UNIT:-}" ] && [ "\${!#}" = "$FAIL_UNIT" ]; then echo "Job for $FAIL_UNIT.service failed." >&2; exit 1; fi
`);
  writeFileSync(path.join(dir, 'sudo'), `#!/bin/bash\nprintf '%s\\n' "sudo $*" >> ${log}\n[ "$1" = -n ] && shift\nexec "$@"\n`);
  chmodSync(path.join(dir, 'systemctl'), 0o755);
  chmodSync(path.join(dir, 'sudo'), 0o755);
  const env: NodeJS.ProcessEnv = { PATH: `${dir}:${process.env.PATH}`, HOME: path.join(dir, 'home'), XDG_RUNTIME_DIR: '/run/user/test' };
  return { env, log, dir, read: () => (existsSync(log) ? readFileSync(log, 'utf8').trimEnd().split('\n') : []) };
}

const UNIT = '[Unit]\nDescription=shop $HOME \\ `x`\n\n[Service]\nExecStart=/srv/shop/current/bin/shop\n\n';

describe('systemd.sh', () => {
  it('systemd_service without a unit: systemctl ACTION -- NAME, the restart-pending marker removed', () => {
    const t = tools();
    const pending = path.join(t.dir, 'pending');
    writeFileSync(pending, '');
    const r = runBash(LIBS, 'systemd_service "$@"', ['system', '0', 'shop', 'restart', pending], { env: t.env });
    expect(r).toEqual({ code: 0, stdout: '::orch:: status=changed\n', stderr: '' });
    expect(t.read()).toEqual(['systemctl restart -- shop /run/user/test']);
    expect(existsSync(pending)).toBe(false);
  });

  it('writes the unit byte for byte (folder created, mode 0644), daemon-reloads only when it changed, then ACTION', () => {
    const t = tools();
    const file = path.join(t.dir, 'etc', 'systemd', 'system', 'shop.service');
    const run = (text: string) => runBash(LIBS, 'systemd_service "$@"', ['system', '0', 'shop', 'restart', '', file, text], { env: t.env });
    const first = run(UNIT);
    expect(first).toEqual({ code: 0, stdout: `unit ${file} written\n::orch:: status=changed\n`, stderr: '' });
    expect(readFileSync(file, 'utf8')).toBe(UNIT);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(t.read()).toEqual(['systemctl daemon-reload /run/user/test', 'systemctl restart -- shop /run/user/test']);
    // Same text: no write, no reload; a text differing only in its trailing newline is a change.
    const mtime = statSync(file).mtimeMs;
    expect(run(UNIT).stdout).toBe('::orch:: status=changed\n');
    expect(statSync(file).mtimeMs).toBe(mtime);
    expect(t.read().slice(2)).toEqual(['systemctl restart -- shop /run/user/test']);
    expect(run(UNIT.trimEnd()).stdout).toBe(`unit ${file} written\n::orch:: status=changed\n`);
    expect(readFileSync(file, 'utf8')).toBe(UNIT.trimEnd());
    expect(t.read().slice(3)).toEqual(['systemctl daemon-reload /run/user/test', 'systemctl restart -- shop /run/user/test']);
    // No temp file left beside the unit.
    expect(runBash([], 'ls -A "$1"', [path.dirname(file)]).stdout).toBe('shop.service\n');
  });

  it('scope user: systemctl --user, the unit under the home folder, XDG_RUNTIME_DIR kept when set', () => {
    const t = tools();
    const file = path.join(t.env.HOME!, '.config', 'systemd', 'user', 'shop.service');
    const r = runBash(LIBS, 'systemd_service "$@"', ['user', '0', 'shop', 'start', '', file, UNIT], { env: t.env });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(UNIT);
    expect(t.read()).toEqual(['systemctl --user daemon-reload /run/user/test', 'systemctl --user start -- shop /run/user/test']);
  });

  it('scope user sets XDG_RUNTIME_DIR to /run/user/UID only when unset and that folder exists', () => {
    const t = tools();
    const { XDG_RUNTIME_DIR: _x, ...env } = t.env;
    const r = runBash(LIBS, 'systemd_service user 0 shop restart ""', [], { env });
    expect(r.code, r.stderr).toBe(0);
    const uid = runBash([], 'id -u').stdout.trim();
    expect(t.read()).toEqual([`systemctl --user restart -- shop ${existsSync(`/run/user/${uid}`) ? `/run/user/${uid}` : ''}`.trimEnd()]);
  });

  it('SUDO 1: the unit is written and systemctl run through sudo -n', () => {
    const t = tools();
    const file = path.join(t.dir, 'units', 'shop.service');
    const r = runBash(LIBS, 'systemd_service "$@"', ['system', '1', 'shop', 'reload', '', file, UNIT], { env: t.env });
    expect(r.code, r.stderr).toBe(0);
    const log = t.read();
    expect(log[0]).toBe(`sudo -n mkdir -p -- ${path.dirname(file)}`);
    // The safe write's perl program (several lines of argv), run through sudo -n, with the unit's path, mode 644 and rename.
    const ctl = log.indexOf('sudo -n systemctl daemon-reload');
    expect(log[1]).toMatch(/^sudo -n perl -e use strict;/);
    expect(log[ctl - 1]).toMatch(new RegExp(` -- ${file} 644   1$`));
    expect(log.slice(ctl)).toEqual(['sudo -n systemctl daemon-reload', 'systemctl daemon-reload /run/user/test', 'sudo -n systemctl reload -- shop', 'systemctl reload -- shop /run/user/test']);
    expect(readFileSync(file, 'utf8')).toBe(UNIT);
  });

  it('a failing systemctl fails the step with its words; the restart-pending marker stays', () => {
    const t = tools();
    const pending = path.join(t.dir, 'pending');
    writeFileSync(pending, '');
    const r = runBash(LIBS, 'systemd_service "$@"', ['user', '0', 'shop', 'restart', pending], { env: { ...t.env, FAIL_UNIT: 'shop' } });
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'systemctl --user restart shop failed: Job for shop.service failed.\n' });
    expect(existsSync(pending)).toBe(true);
  });

  it('an unwritable unit folder fails the step and leaves no temp file', () => {
    const t = tools();
    writeFileSync(path.join(t.dir, 'notadir'), '');
    const r = runBash(LIBS, 'systemd_service "$@"', ['system', '0', 'shop', 'restart', '', path.join(t.dir, 'notadir', 'shop.service'), UNIT], { env: { ...t.env, TMPDIR: t.dir } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot write unit file ${path.join(t.dir, 'notadir', 'shop.service')}`);
    expect(t.read()).toEqual([]);
    expect(runBash([], 'ls -A "$1"', [t.dir]).stdout.split('\n').filter((n) => n.startsWith('orch-unit'))).toEqual([]);
  });
});
