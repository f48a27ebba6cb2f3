/** Behaviour of src/host/put.sh (`orch_put`) under real bash. */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, symlinkSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { META_SH, PRELUDE_SH, PUT_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, META_SH, PUT_SH];
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const dir = (): string => mkdtempSync(path.join(tmpdir(), 'orch-put-'));
const put = (payload: string, dest: string, content: string, mode = '', stdin = content) =>
  runBash(LIBS, 'orch_put "$@"', [payload, dest, sha(content), mode, '', ''], { stdin });

describe('put.sh', () => {
  it('writes a new file from stdin (0644, folders made), leaves no temp file, says changed', () => {
    const d = dir();
    const dest = path.join(d, 'a/b.conf');
    expect(put('1', dest, 'hello\n')).toEqual({ code: 0, stdout: '::orch:: status=changed\n', stderr: '' });
    expect(readFileSync(dest, 'utf8')).toBe('hello\n');
    expect(statSync(dest).mode & 0o777).toBe(0o644);
    expect(readdirSync(path.dirname(dest))).toEqual(['b.conf']);
  });
  it('is ok when the content is already there, without needing the payload', () => {
    const dest = path.join(dir(), 'x');
    writeFileSync(dest, 'same');
    expect(put('0', dest, 'same', '', '')).toEqual({ code: 0, stdout: '::orch:: status=ok\n', stderr: '' });
  });
  it('same content, other mode: fixes the mode, says changed', () => {
    const dest = path.join(dir(), 'x');
    writeFileSync(dest, 'same', { mode: 0o644 });
    expect(put('0', dest, 'same', '0600', '').stdout).toBe('::orch:: status=changed\n');
    expect(statSync(dest).mode & 0o777).toBe(0o600);
  });
  it('asks for the payload (exit 99) when it is needed and was not sent', () => {
    const dest = path.join(dir(), 'x');
    expect(put('0', dest, 'new', '', '').code).toBe(99);
    expect(existsSync(dest)).toBe(false);
  });
  it('reads the payload from a private file (f:PATH) and keeps the old file\'s mode', () => {
    const d = dir();
    const dest = path.join(d, 'x');
    writeFileSync(dest, 'old', { mode: 0o640 });
    writeFileSync(path.join(d, 'in'), 'new');
    expect(put(`f:${path.join(d, 'in')}`, dest, 'new', '', '').stdout).toBe('::orch:: status=changed\n');
    expect([readFileSync(dest, 'utf8'), statSync(dest).mode & 0o777]).toEqual(['new', 0o640]);
  });
  it('refuses content whose sha256 differs and leaves the old file', () => {
    const dest = path.join(dir(), 'x');
    writeFileSync(dest, 'old');
    const r = put('1', dest, 'expected', '', 'tampered');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`checksum mismatch uploading ${dest}: got ${sha('tampered')}, want ${sha('expected')}\n`);
    expect(readFileSync(dest, 'utf8')).toBe('old');
    expect(readdirSync(path.dirname(dest))).toEqual(['x']);
  });
  it('a symlink at dest fails the step; with FOLLOW 1 the file it points to is written (a new file there)', () => {
    const d = dir();
    writeFileSync(path.join(d, 'real.conf'), 'old\n', { mode: 0o600 });
    symlinkSync('real.conf', path.join(d, 'app.conf'));
    const dest = path.join(d, 'app.conf');
    const refused = put('1', dest, 'new\n');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`${dest} is a symlink (to real.conf); refusing to write through it: remove the link, put the file at its target, or say follow: true\n`);
    expect(readFileSync(path.join(d, 'real.conf'), 'utf8')).toBe('old\n');
    const r = runBash(LIBS, 'orch_put "$@"', ['1', dest, sha('new\n'), '', '', '', '1'], { stdin: 'new\n' });
    expect(r).toEqual({ code: 0, stdout: '::orch:: status=changed\n', stderr: '' });
    expect(readFileSync(path.join(d, 'real.conf'), 'utf8')).toBe('new\n');
    expect(statSync(path.join(d, 'real.conf')).mode & 0o7777).toBe(0o600);
    expect(lstatSync(dest).isSymbolicLink()).toBe(true);
    expect(readdirSync(d).sort()).toEqual(['app.conf', 'real.conf']);
  });
});
