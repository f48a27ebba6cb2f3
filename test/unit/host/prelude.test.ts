/** Behaviour of src/host/prelude.sh under real bash. */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';
import { findExecutable } from '../../harness/fleet.js';

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
  it('orch_write_files writes each file in turn (multi-byte text, newlines, a symlink replaced, never followed)', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'orch-prelude-'));
    writeFileSync(path.join(d, 'target'), 'keep\n');
    symlinkSync('target', path.join(d, 'b.json'));
    const texts = ['été ✓ {"a":1}', 'two\nlines\n', ''];
    const r = runBash([PRELUDE_SH], 'orch_write_files "$1/sub/a.json" "$2" "$1/b.json" "$3" "$1/c" "$4"', [d, ...texts]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(d, 'sub/a.json'), 'utf8')).toBe(`${texts[0]}\n`);
    expect(readFileSync(path.join(d, 'b.json'), 'utf8')).toBe(`${texts[1]}\n`);
    expect(readFileSync(path.join(d, 'c'), 'utf8')).toBe('\n');
    expect(readFileSync(path.join(d, 'target'), 'utf8')).toBe('keep\n');
    expect(lstatSync(path.join(d, 'b.json')).isFile()).toBe(true);
    expect(statSync(path.join(d, 'c')).mode & 0o7777).toBe(0o644);
    expect(readdirSync(d).sort()).toEqual(['b.json', 'c', 'sub', 'target']);
  });
  it('orch_write_files stops at the first file it cannot write: those before it are written, none after, no temp file left', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'orch-prelude-'));
    // A folder that is not empty cannot be renamed over (even by root).
    mkdirSync(path.join(d, 'blocker'));
    writeFileSync(path.join(d, 'blocker', 'x'), 'x');
    const r = runBash([PRELUDE_SH], 'orch_write_files "$1/first" one "$1/blocker" two "$1/third" three', [d]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^orch: rename .*\/\.orch-tmp\.\d+\.\d{6} to .*\/blocker: /);
    expect(readFileSync(path.join(d, 'first'), 'utf8')).toBe('one\n');
    expect(readdirSync(d).sort()).toEqual(['blocker', 'first']);
  });
  it.skipIf(process.getuid?.() !== 0 || !findExecutable('setpriv'))('orch_write_files as root, 40 times, while nobody swaps every temp name in its folder for a symlink: the root-only file is unchanged', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'orch-prelude-race-'));
    chmodSync(d, 0o711);
    writeFileSync(path.join(d, 'secret'), 'root-only\n', { mode: 0o600 });
    const shared = path.join(d, 'shared');
    mkdirSync(shared);
    chownSync(shared, 65534, 65534);
    // A bounded loop (60 s) as nobody: every new temp name is renamed away and replaced with
    // a symlink to the root-only file (perl: no fork per swap).
    const racer = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'perl', '-e', `
      my ($dir) = @ARGV; chdir($dir) or exit 1; $| = 1; my $end = time + 60;
      while (time < $end) {
        for my $f (glob ".orch-tmp.*") {
          next if -l $f || !-e _;
          print "swap\n" if rename($f, "x$f") && symlink("../secret", $f);
          unlink("x$f");
        }
      }`, shared], { stdio: ['ignore', 'pipe', 'inherit'] });
    let swaps = 0;
    racer.stdout!.on('data', (b: Buffer) => { swaps += b.toString().split('\n').filter((l) => l === 'swap').length; });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const text = 'x'.repeat(20_000);
      for (let i = 0; i < 40; i++) {
        runBash([PRELUDE_SH], 'orch_write_files "$1/a" "$2" "$1/b" "$2" "$1/c" "$2"', [shared, `${i} ${text}`]);
        expect(readFileSync(path.join(d, 'secret'), 'utf8')).toBe('root-only\n');
      }
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      racer.kill('SIGKILL');
    }
    const st = statSync(path.join(d, 'secret'));
    expect([readFileSync(path.join(d, 'secret'), 'utf8'), st.mode & 0o7777, st.uid]).toEqual(['root-only\n', 0o600, 0]);
    // The race was run, not only started: some temp names were swapped under orch.
    expect(swaps).toBeGreaterThan(0);
  }, 120_000);
  it('b64 prints one line', () => {
    const r = runBash([PRELUDE_SH], 'printf %s "$1" | b64', ['x'.repeat(200)]);
    expect(r.stdout).toBe(Buffer.from('x'.repeat(200)).toString('base64'));
  });
  it('is strict: an unset variable fails', () => {
    expect(runBash([PRELUDE_SH], 'echo "$nope"').code).not.toBe(0);
  });
});
