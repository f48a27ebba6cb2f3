/** Behaviour of src/host/remote-build.sh (the build host's side of build_on) under real bash. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REMOTE_BUILD_SH } from '../../../src/host/embedded.generated.js';
import { parseRemoteBuildResult, remoteBuildCommand } from '../../../src/bundle/remote-build.js';
import { runBash } from '../../harness/bash.js';
import { makeTempDir } from './helpers.js';

const root = makeTempDir('orch-remote-build-sh-');
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = join(root, `t${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A payload tar.gz as remote-build.ts writes it. */
function payload(files: Record<string, string>, argv: string[] = []): Buffer {
  const d = fresh();
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(d, 'payload', f, '..'), { recursive: true });
    writeFileSync(join(d, 'payload', f), text);
  }
  mkdirSync(join(d, 'payload', 'src'), { recursive: true });
  mkdirSync(join(d, 'payload', 'hooks'), { recursive: true });
  writeFileSync(join(d, 'payload', 'build.argv'), argv.map((a) => `${a}\0`).join(''));
  return execFileSync('tar', ['-czf', '-', '-C', d, 'payload']);
}

describe('remote-build.sh functions', () => {
  it.each([
    ['Flask', 'flask'],
    ['zope.interface', 'zope-interface'],
    ['My__Pkg..x', 'my-pkg-x'],
  ])('orch_rb_norm %s = %s (PEP 503)', (name, want) => {
    expect(runBash([REMOTE_BUILD_SH], 'orch_rb_norm "$1"', [name]).stdout).toBe(want);
  });

  it('orch_rb_read_argv reads NUL-separated words, spaces and newlines kept, @@T@@ replaced', () => {
    const f = join(fresh(), 'argv');
    writeFileSync(f, 'pip\0--wheel-dir\0@@T@@/out/a b\0line\nbreak\0');
    const r = runBash([REMOTE_BUILD_SH], 'orch_rb_read_argv "$1" /tmp/T1; printf "<%s>" "${ORCH_RB_ARGV[@]}"', [f]);
    expect(r).toEqual({ code: 0, stdout: '<pip><--wheel-dir></tmp/T1/out/a b><line\nbreak>', stderr: '' });
  });

  it('orch_rb_hook runs the hook from HERE with the build variables, and a failing hook ends the build', () => {
    const d = fresh();
    mkdirSync(join(d, 'hooks'));
    mkdirSync(join(d, 'here'));
    writeFileSync(join(d, 'hooks', 'prebuild.sh'), 'pwd; echo "$DATA_DIR"\n');
    writeFileSync(join(d, 'hooks', 'postbuild.sh'), 'echo boom >&2; exit 3\n');
    const body = 'P="$1"; HERE="$1/here"; DATA_DIR=/d; export HERE DATA_DIR; orch_rb_hook prebuild; orch_rb_hook missing; orch_rb_hook postbuild; echo unreachable';
    const r = runBash([REMOTE_BUILD_SH], body, [d]);
    expect(r).toEqual({ code: 1, stdout: `${d}/here\n/d\n`, stderr: 'boom\npostbuild script failed with exit code 3\n' });
  });

  it('orch_rb_store_wheels caches dependency wheels (never the own one) and counts the ones the cache held', () => {
    const d = fresh();
    mkdirSync(join(d, 'data'));
    mkdirSync(join(d, 'cache'));
    for (const w of ['My_App-1.0-py3-none-any.whl', 'tinydep-0.3.1-py3-none-any.whl', 'other-2.0-py3-none-any.whl']) writeFileSync(join(d, 'data', w), w);
    writeFileSync(join(d, 'cache', 'other-2.0-py3-none-any.whl'), 'old');
    const r = runBash([REMOTE_BUILD_SH], 'orch_rb_store_wheels "$1/data" "$1/cache" my-app', [d]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'python: 3 wheels (1 cached)\n' });
    expect(readdirSync(join(d, 'cache')).sort()).toEqual(['other-2.0-py3-none-any.whl', 'tinydep-0.3.1-py3-none-any.whl']);
    expect(readFileSync(join(d, 'cache', 'other-2.0-py3-none-any.whl'), 'utf8')).toBe('old');
    // No cache (--no-cache): nothing copied, still counted.
    expect(runBash([REMOTE_BUILD_SH], 'orch_rb_store_wheels "$1/data" "" my-app', [d]).stderr).toBe('python: 3 wheels (0 cached)\n');
  });
});

describe('orch_rb_main (dir builder, as a build host runs it)', () => {
  it('streams out/<HERE>/ plus install-script.sh on stdout, its sha256 and size on the last stderr line, and cleans up', () => {
    const tmp = fresh();
    const input = payload({
      'src/hello.txt': 'hi\n',
      'src/bin/run': '#!/bin/sh\necho run\n',
      'hooks/postbuild.sh': 'echo "built" > "$DATA_DIR/BUILT"; echo "echo post" >> "$INSTALL_SCRIPT"; echo from-hook\n',
    });
    const d = join(tmp, 'x');
    mkdirSync(d);
    // The command remote-build.ts sends, run by the local bash.
    const cmd = remoteBuildCommand({ builder: 'dir', here: 'notes-1.0.0-any', python: 'python3', useCache: false, wheelTag: '-', platform: 'any', project: 'notes' });
    const spawned = execFileSync('bash', ['-c', `${cmd} 2>"$1"`, 'x', join(tmp, 'err')], { input, env: { PATH: process.env.PATH, TMPDIR: tmp } });
    const errLines = readFileSync(join(tmp, 'err'), 'utf8').trimEnd().split('\n');
    expect(errLines.slice(0, -1)).toEqual(['from-hook']);
    const result = parseRemoteBuildResult(errLines);
    expect(result).toEqual({ sha256: createHash('sha256').update(spawned).digest('hex'), size: spawned.length });
    writeFileSync(join(tmp, 'out.tar.gz'), spawned);
    const listing = execFileSync('tar', ['-tzf', join(tmp, 'out.tar.gz')], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(listing).toEqual(['out/', 'out/install-script.sh', 'out/notes-1.0.0-any/', 'out/notes-1.0.0-any/data/', 'out/notes-1.0.0-any/data/BUILT',
      'out/notes-1.0.0-any/data/bin/', 'out/notes-1.0.0-any/data/bin/run', 'out/notes-1.0.0-any/data/hello.txt']);
    execFileSync('tar', ['-xzf', join(tmp, 'out.tar.gz'), '-C', d]);
    expect(readFileSync(join(d, 'out', 'install-script.sh'), 'utf8')).toBe('echo post\n');
    expect(readFileSync(join(d, 'out', 'notes-1.0.0-any', 'data', 'hello.txt'), 'utf8')).toBe('hi\n');
    // The temp folders of both runs are gone.
    expect(readdirSync(tmp).filter((f) => f.startsWith('orch-remote-build'))).toEqual([]);
  });

  it('a failing build exits non-zero with no result line and removes its temp folder', () => {
    const tmp = fresh();
    const input = payload({ 'hooks/prebuild.sh': 'echo nope >&2; exit 5\n' });
    const cmd = remoteBuildCommand({ builder: 'dir', here: 'a-1-any', python: 'python3', useCache: false, wheelTag: '-', platform: 'any', project: 'a' });
    const script = join(tmp, 'run.sh');
    writeFileSync(script, `${cmd}\n`);
    chmodSync(script, 0o755);
    let code = 0;
    let stderr = '';
    try {
      execFileSync('bash', [script], { input, env: { PATH: process.env.PATH, TMPDIR: tmp }, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      code = (e as { status: number }).status;
      stderr = (e as { stderr: Buffer }).stderr.toString();
    }
    expect(code).toBe(1);
    expect(stderr).toBe('nope\nprebuild script failed with exit code 5\n');
    expect(parseRemoteBuildResult(stderr.split('\n'))).toBeUndefined();
    expect(readdirSync(tmp).filter((f) => f.startsWith('orch-remote-build'))).toEqual([]);
  });
});
