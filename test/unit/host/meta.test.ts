/** Behaviour of src/host/meta.sh under real bash (chown needs root; the test hosts run as root too). */
import { chownSync, symlinkSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { META_SH, PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, META_SH];
const isRoot = process.getuid?.() === 0;
const file = (mode = 0o600): string => {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'orch-meta-')), 'f');
  writeFileSync(f, 'x', { mode });
  return f;
};

describe('meta.sh', () => {
  it('orch_meta refuses a symlink at PATH and leaves its target alone', () => {
    const f = file(0o600);
    const link = `${f}.link`;
    symlinkSync(f, link);
    const r = runBash(LIBS, 'orch_meta "$1" 0777 "" ""', [link]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(`orch: ${link} is a symlink; refusing to change its target\n`);
    expect(statSync(f).mode & 0o7777).toBe(0o600);
  });
  it.each([['0644', '644'], ['644', '644'], ['4755', '4755'], ['0600', '600']])('orch_octal %s -> %s', (m, want) => {
    expect(runBash(LIBS, 'orch_octal "$1"', [m]).stdout).toBe(`${want}\n`);
  });
  it('orch_meta sets a different mode and says so', () => {
    const f = file(0o600);
    const r = runBash(LIBS, 'orch_meta "$1" 0640 "" ""; echo "$ORCH_META_CHANGED"', [f]);
    expect(r).toMatchObject({ code: 0, stdout: '1\n' });
    expect(statSync(f).mode & 0o7777).toBe(0o640);
  });
  it('orch_meta leaves a matching mode alone and empty values alone', () => {
    const f = file(0o640);
    expect(runBash(LIBS, 'orch_meta "$1" 640 "" ""; echo "$ORCH_META_CHANGED"', [f]).stdout).toBe('0\n');
    expect(runBash(LIBS, 'orch_meta "$1" "" "" ""; echo "$ORCH_META_CHANGED"', [f]).stdout).toBe('0\n');
  });
  it.skipIf(!isRoot)('orch_meta chowns and chgrps by name, and matches by name or id', () => {
    const f = file();
    chownSync(f, 0, 0);
    expect(runBash(LIBS, 'orch_meta "$1" "" nobody nogroup; echo "$ORCH_META_CHANGED"', [f]).stdout).toBe('1\n');
    expect([statSync(f).uid, statSync(f).gid]).toEqual([65534, 65534]);
    expect(runBash(LIBS, 'orch_meta "$1" "" nobody nogroup; echo "$ORCH_META_CHANGED"', [f]).stdout).toBe('0\n');
    expect(runBash(LIBS, 'orch_meta "$1" "" 65534 65534; echo "$ORCH_META_CHANGED"', [f]).stdout).toBe('0\n');
  });
  it('orch_meta fails the script for an unknown owner', () => {
    const r = runBash(LIBS, 'orch_meta "$1" "" no-such-user-orch ""; echo after', [file()]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no-such-user-orch');
  });
});
