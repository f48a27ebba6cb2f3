/** Behaviour of src/host/directory.sh under real bash. */
import { chownSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIRECTORY_SH, META_SH, PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, META_SH, DIRECTORY_SH];
const base = (): string => mkdtempSync(path.join(tmpdir(), 'orch-dir-'));

describe('directory.sh', () => {
  it('orch_directory makes the folder and its parents with the mode, then is ok', () => {
    const d = path.join(base(), 'a/b');
    expect(runBash(LIBS, 'orch_directory "$1" 0750 "" ""', [d])).toEqual({ code: 0, stdout: '::orch:: status=changed\n', stderr: '' });
    expect(statSync(d).mode & 0o7777).toBe(0o750);
    expect(statSync(path.dirname(d)).mode & 0o777).toBe(0o755);
    expect(runBash(LIBS, 'orch_directory "$1" 0750 "" ""', [d]).stdout).toBe('::orch:: status=ok\n');
  });
  it('fixes the mode of an existing folder; a bare path leaves it alone', () => {
    const d = base();
    mkdirSync(path.join(d, 'x'), { mode: 0o700 });
    expect(runBash(LIBS, 'orch_directory "$1" "" "" ""', [path.join(d, 'x')]).stdout).toBe('::orch:: status=ok\n');
    expect(runBash(LIBS, 'orch_directory "$1" 755 "" ""', [path.join(d, 'x')]).stdout).toBe('::orch:: status=changed\n');
    expect(statSync(path.join(d, 'x')).mode & 0o777).toBe(0o755);
  });
  it.skipIf(process.getuid?.() !== 0)('sets owner and group', () => {
    const d = path.join(base(), 'o');
    mkdirSync(d);
    chownSync(d, 0, 0);
    expect(runBash(LIBS, 'orch_directory "$1" "" nobody nogroup', [d]).stdout).toBe('::orch:: status=changed\n');
    expect([statSync(d).uid, statSync(d).gid]).toEqual([65534, 65534]);
    expect(runBash(LIBS, 'orch_directory "$1" "" nobody nogroup', [d]).stdout).toBe('::orch:: status=ok\n');
  });
  it('refuses a file in the way and leaves it', () => {
    const f = path.join(base(), 'f');
    writeFileSync(f, 'x');
    expect(runBash(LIBS, 'orch_directory "$1" "" "" ""', [f])).toEqual({ code: 1, stdout: '', stderr: `${f} exists and is not a folder\n` });
    expect(statSync(f).isFile()).toBe(true);
  });
});
