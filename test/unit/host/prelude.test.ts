/** Behaviour of src/host/prelude.sh under real bash. */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
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
  it('b64 prints one line', () => {
    const r = runBash([PRELUDE_SH], 'printf %s "$1" | b64', ['x'.repeat(200)]);
    expect(r.stdout).toBe(Buffer.from('x'.repeat(200)).toString('base64'));
  });
  it('is strict: an unset variable fails', () => {
    expect(runBash([PRELUDE_SH], 'echo "$nope"').code).not.toBe(0);
  });
});
