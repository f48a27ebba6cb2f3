/** Behaviour of src/host/tar-check.sh under real bash and GNU tar (the full table is in test/unit/bundle/artifact.test.ts, shared with the TypeScript checker). */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_MEMBERS, MAX_TOTAL_SIZE } from '../../../src/bundle/artifact.js';
import { PRELUDE_SH, TAR_CHECK_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, TAR_CHECK_SH];
function tarball(extra?: (top: string) => void): string {
  const d = mkdtempSync(path.join(tmpdir(), 'orch-tarchk-'));
  const top = path.join(d, 'app-1-any');
  mkdirSync(path.join(top, 'data'), { recursive: true });
  for (const f of ['PACKAGE', 'VERSION', 'PLATFORM']) writeFileSync(path.join(top, f), 'x\n');
  writeFileSync(path.join(top, 'install.sh'), '#!/bin/sh\n');
  chmodSync(path.join(top, 'install.sh'), 0o755);
  extra?.(top);
  execFileSync('tar', ['-czf', path.join(d, 'b.tar.gz'), '-C', d, 'app-1-any']);
  return path.join(d, 'b.tar.gz');
}

describe('tar-check.sh', () => {
  it('uses the same limits as the control machine', () => {
    expect(TAR_CHECK_SH).toContain(`-gt ${MAX_MEMBERS} `);
    expect(TAR_CHECK_SH).toContain(`-gt ${MAX_TOTAL_SIZE} `);
  });
  it('orch_check_tar accepts a platter bundle', () => {
    expect(runBash(LIBS, 'orch_check_tar "$1" app-1-any', [tarball()])).toEqual({ code: 0, stdout: '', stderr: '' });
  });
  it.each<[string, (top: string) => void, string]>([
    ['a symlink leaving the bundle', (t) => symlinkSync('../../etc/passwd', path.join(t, 'data/x')), 'unsafe bundle member: app-1-any/data/x: symlink target "../../etc/passwd" leaves the bundle folder\n'],
    ['a missing data folder', (t) => execFileSync('rm', ['-r', path.join(t, 'data')]), 'bundle layout incomplete: missing app-1-any/data (a folder)\n'],
    ['install.sh not executable', (t) => chmodSync(path.join(t, 'install.sh'), 0o644), 'bundle layout incomplete: app-1-any/install.sh is not executable\n'],
  ])('orch_check_tar refuses %s', (_n, extra, msg) => {
    expect(runBash(LIBS, 'orch_check_tar "$1" app-1-any', [tarball(extra)])).toEqual({ code: 1, stdout: '', stderr: msg });
  });
  it('orch_check_tar refuses another top folder', () => {
    expect(runBash(LIBS, 'orch_check_tar "$1" other', [tarball()]).stderr).toBe('unsafe bundle member: app-1-any/: outside the top folder other/\n');
  });
  it.each([['a/./b/', 'a/b'], ['a/../b', 'b'], ['../x', '..'], ['a//b/..', 'a']])('orch_norm_path %s -> %s', (p, want) => {
    expect(runBash(LIBS, 'orch_norm_path "$1"', [p]).stdout).toBe(`${want}\n`);
  });
});
