/** Behaviour of src/host/run.sh under real bash. */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_SH, PRELUDE_SH, RUN_RESULT_SH, RUN_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, COMMAND_SH, RUN_SH];
const CMD = 'orch_cmd() { :\necho ran\n}\norch_unless() { :\n[ "$X" = yes ]\n}';

describe('run.sh', () => {
  it('runs the command and says changed', () => {
    expect(runBash(LIBS, `${CMD}\norch_run '' '' orch_cmd`)).toEqual({ code: 0, stdout: 'ran\n::orch:: status=changed\n', stderr: '' });
  });
  it('skips when creates exists', () => {
    const f = path.join(mkdtempSync(path.join(tmpdir(), 'orch-run-')), 'done');
    writeFileSync(f, '');
    expect(runBash(LIBS, `${CMD}\norch_run "$1" '' orch_cmd`, [f]).stdout).toBe('::orch:: status=skipped\n');
  });
  it('skips when unless succeeds (its output discarded), runs otherwise', () => {
    expect(runBash(LIBS, `${CMD}\norch_run '' orch_unless orch_cmd`, [], { env: { ...process.env, X: 'yes' } }).stdout).toBe('::orch:: status=skipped\n');
    expect(runBash(LIBS, `${CMD}\norch_run '' orch_unless orch_cmd`, [], { env: { ...process.env, X: 'no' } }).stdout).toBe('ran\n::orch:: status=changed\n');
  });
  it('a failing line of a multi-line command fails the step (set -e in the subshell); exit inside does not skip the failure', () => {
    const r = runBash(LIBS, 'orch_cmd() { :\nfalse\necho not reached\n}\norch_run \'\' \'\' orch_cmd');
    expect([r.code, r.stdout]).toEqual([1, '']);
    expect(runBash(LIBS, 'orch_cmd() { :\nexit 7\n}\norch_run \'\' \'\' orch_cmd').code).toBe(7);
  });

  describe('with result tests (run-result.sh)', () => {
    const JUDGED = [...LIBS, RUN_RESULT_SH];
    const call = (cmd: string, ...tests: string[]): string => `orch_cmd() { :\n${cmd}\n}\norch_run '' '' orch_cmd ${tests.map((t) => `'${t}'`).join(' ')}`;
    it.each<[string, string[], { code: number; stdout: string; stderr: string }]>([
      ['echo hi', ['false', '', '', 'not-exit', '0', '', ''], { code: 0, stdout: 'hi\n::orch:: status=ok\n', stderr: '' }],
      ['exit 2', ['test', '2', '', 'not-exit', '0,2', '', 'not one of 0, 2'], { code: 0, stdout: '::orch:: status=changed\n', stderr: '' }],
      ['exit 0', ['test', '2', '', 'not-exit', '0,2', '', 'not one of 0, 2'], { code: 0, stdout: '::orch:: status=ok\n', stderr: '' }],
      ['exit 5', ['test', '2', '', 'not-exit', '0,2', '', 'not one of 0, 2'], { code: 5, stdout: '', stderr: 'not one of 0, 2 (exit 5)\n' }],
      ['echo Applied 1', ['test', '', '=Applied', 'not-exit', '0', '', ''], { code: 0, stdout: 'Applied 1\n::orch:: status=changed\n', stderr: '' }],
      ['printf "a\\nb\\n"', ['test', '', '=a\nb', 'not-exit', '0', '', ''], { code: 0, stdout: 'a\nb\n::orch:: status=changed\n', stderr: '' }],
      ['echo "*"', ['test', '', '=Applied', 'not-exit', '0', '', ''], { code: 0, stdout: '*\n::orch:: status=ok\n', stderr: '' }],
      ['echo ERROR', ['true', '', '', 'test', '', '=ERROR', 'failed_when holds'], { code: 1, stdout: 'ERROR\n', stderr: 'failed_when holds (exit 0)\n' }],
      ['false\necho not reached', ['false', '', '', 'not-exit', '0', '', ''], { code: 1, stdout: '', stderr: '' }],
    ])('%j with %j', (cmd, tests, expected) => {
      expect(runBash(JUDGED, call(cmd, ...tests))).toEqual(expected);
    });
    it('leaves no temp file', () => {
      const tmp = mkdtempSync(path.join(tmpdir(), 'orch-run-tmp-'));
      const r = runBash(JUDGED, call('echo x', 'false', '', '', 'not-exit', '0', '', ''), [], { env: { ...process.env, TMPDIR: tmp } });
      expect(r.code).toBe(0);
      expect(readdirSync(tmp)).toEqual([]);
    });
  });
});
