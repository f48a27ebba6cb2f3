/** Behaviour of src/host/shared.sh (shared paths linked into releases) under real bash. */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH, SHARED_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const link = (root: string, rel: string, ...paths: string[]) =>
  runBash([PRELUDE_SH, SHARED_SH], 'shared_link "$@"', [root, path.join(root, rel), ...paths]);

function release(root: string, v: string, files: Record<string, string> = {}): void {
  mkdirSync(path.join(root, 'versions', v), { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, 'versions', v, f)), { recursive: true });
    writeFileSync(path.join(root, 'versions', v, f), text);
  }
}

describe('shared.sh', () => {
  it('creates shared folders and files once, seeded from the first release, and links every release to them', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-shared-'));
    release(root, '1', { 'instance/seed.txt': 'from 1', 'config.py': 'A = 1\n' });
    const r1 = link(root, 'versions/1', 'instance/', 'log/', 'config.py');
    expect(r1, r1.stderr).toMatchObject({ code: 0, stdout: 'changed\n' });
    expect(readlinkSync(path.join(root, 'versions/1/instance'))).toBe(path.join(root, 'shared/instance'));
    expect(readFileSync(path.join(root, 'shared/instance/seed.txt'), 'utf8')).toBe('from 1');
    expect(readFileSync(path.join(root, 'shared/config.py'), 'utf8')).toBe('A = 1\n');
    expect(lstatSync(path.join(root, 'shared/log')).isDirectory()).toBe(true);

    // The app writes its database through the link; the next releases see it, their own copies are replaced.
    writeFileSync(path.join(root, 'versions/1/instance/app.sqlite'), 'rows');
    release(root, '2', { 'instance/seed.txt': 'from 2', 'config.py': 'A = 2\n' });
    release(root, '3');
    for (const v of ['2', '3']) expect(link(root, `versions/${v}`, 'instance/', 'log/', 'config.py').stdout).toBe('changed\n');
    expect(readFileSync(path.join(root, 'versions/3/instance/app.sqlite'), 'utf8')).toBe('rows');
    expect(readFileSync(path.join(root, 'versions/2/instance/seed.txt'), 'utf8')).toBe('from 1');
    expect(readFileSync(path.join(root, 'versions/2/config.py'), 'utf8')).toBe('A = 1\n');
    // Again: nothing to do. A pruned release leaves shared/ as it was.
    expect(link(root, 'versions/3', 'instance/', 'log/', 'config.py')).toMatchObject({ code: 0, stdout: '' });
    rmSync(path.join(root, 'versions/1'), { recursive: true });
    expect(readFileSync(path.join(root, 'shared/instance/app.sqlite'), 'utf8')).toBe('rows');
  });

  it('creates nested parents, an empty file when no release has it', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-shared-'));
    release(root, '1');
    expect(link(root, 'versions/1', 'var/db/app.sqlite').code).toBe(0);
    expect(readFileSync(path.join(root, 'shared/var/db/app.sqlite'), 'utf8')).toBe('');
    expect(readlinkSync(path.join(root, 'versions/1/var/db/app.sqlite'))).toBe(path.join(root, 'shared/var/db/app.sqlite'));
  });

  it('refuses absolute paths, .. parts and a file/folder mismatch, changing nothing', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-shared-'));
    release(root, '1');
    for (const bad of ['/etc/', '../x', 'a/../../b', './a']) {
      const r = link(root, 'versions/1', bad);
      expect(r.code, bad).toBe(1);
      expect(r.stderr).toMatch(/shared path must be relative/);
    }
    expect(existsSync(path.join(root, 'shared'))).toBe(false);
    expect(link(root, 'versions/1', 'data/').code).toBe(0);
    release(root, '2');
    const r = link(root, 'versions/2', 'data');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/shared path data is a folder in .*shared \(write data\/\)/);
  });
});
