/** Behaviour of src/host/prelude.sh under real bash. */
import { lstatSync, statSync, symlinkSync, writeFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

describe('prelude.sh', () => {
  it('orch_status prints the protocol line', () => {
    expect(runBash([PRELUDE_SH], 'orch_status changed').stdout).toBe('::orch:: status=changed\n');
  });
  it('orch_fail prints on stderr and exits 1', () => {
    const r = runBash([PRELUDE_SH], 'orch_fail "no such" thing; echo unreachable');
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'no such thing\n' });
  });
  it('orch_write creates folders and leaves no temp file', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'orch-prelude-'));
    const f = path.join(d, 'a/b/state.json');
    const r = runBash([PRELUDE_SH], 'orch_write "$1" "$2"', [f, '{"x":1}']);
    expect(r.code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('{"x":1}\n');
    expect(readdirSync(path.dirname(f))).toEqual(['state.json']);
  });
  it('orch_write replaces a symlink at FILE with a file; the link target is never written', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'orch-prelude-'));
    writeFileSync(path.join(d, 'target'), 'keep\n', { mode: 0o600 });
    symlinkSync('target', path.join(d, 'state.json'));
    const r = runBash([PRELUDE_SH], 'orch_write "$1" "$2"', [path.join(d, 'state.json'), '{}']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(d, 'target'), 'utf8')).toBe('keep\n');
    expect(lstatSync(path.join(d, 'state.json')).isFile()).toBe(true);
    expect(statSync(path.join(d, 'state.json')).mode & 0o7777).toBe(0o644);
    expect(readdirSync(d).sort()).toEqual(['state.json', 'target']);
  });
  it('orch_safe_write: mode set on the new file, name printed for the caller; a missing folder fails and leaves nothing', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'orch-prelude-'));
    const r = runBash([PRELUDE_SH], 'orch_safe_write "$1" 0640 "" ""', [path.join(d, 'x.conf')], { stdin: 'data' });
    expect(r.code, r.stderr).toBe(0);
    const tmp = r.stdout.trim();
    expect(tmp).toMatch(new RegExp(`^${d}/\\.orch-tmp\\.\\d+\\.\\d{6}$`));
    expect(readFileSync(tmp, 'utf8')).toBe('data');
    expect(statSync(tmp).mode & 0o7777).toBe(0o640);
    const bad = runBash([PRELUDE_SH], 'orch_safe_write "$1" 0640 "" "" 1', [path.join(d, 'no/x.conf')], { stdin: 'data' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^orch: cannot create a temp file in .*\/no: No such file or directory\n$/);
  });
  it('b64 prints one line', () => {
    const r = runBash([PRELUDE_SH], 'printf %s "$1" | b64', ['x'.repeat(200)]);
    expect(r.stdout).toBe(Buffer.from('x'.repeat(200)).toString('base64'));
  });
  it('is strict: an unset variable fails', () => {
    expect(runBash([PRELUDE_SH], 'echo "$nope"').code).not.toBe(0);
  });
});
