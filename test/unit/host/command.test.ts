/** Behaviour of src/host/command.sh under real bash. */
import { describe, expect, it } from 'vitest';
import { COMMAND_SH, PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, COMMAND_SH];

describe('command.sh', () => {
  it('orch_user_command runs the function and returns its status', () => {
    expect(runBash(LIBS, 'f() { :\necho hi\n}\norch_user_command f; echo "rc=$ORCH_RC"')).toMatchObject({ code: 0, stdout: 'hi\nrc=0\n' });
    expect(runBash(LIBS, 'f() { :\nexit 4\n}\norch_user_command f; echo "rc=$ORCH_RC"').stdout).toBe('rc=4\n');
  });
  it('stops at the first failing command (set -e in force inside)', () => {
    const r = runBash(LIBS, 'f() { :\nfalse\necho not reached\n}\norch_user_command f; echo "rc=$ORCH_RC"');
    expect(r.stdout).toBe('rc=1\n');
  });
  it('a killed child stops the command: the rest does not run', () => {
    const r = runBash(LIBS, 'f() { :\nsh -c \'kill -9 $$\'\necho not reached\n}\norch_user_command f; echo "rc=$ORCH_RC"');
    expect(r.stdout).toBe('rc=137\n');
  });
  it('gives the command an empty stdin', () => {
    expect(runBash(LIBS, 'f() { :\nwc -c\n}\norch_user_command f', [], { stdin: 'payload bytes' }).stdout.trim()).toBe('0');
  });
});
