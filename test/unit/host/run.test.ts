/** Behaviour of src/host/run.sh under real bash. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_SH, PRELUDE_SH, RUN_SH } from '../../../src/host/embedded.generated.js';
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
});
