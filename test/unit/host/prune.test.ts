/** Behaviour of src/host/prune.sh under real bash. */
import { existsSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DELTA_SH, PRELUDE_SH, PRUNE_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';
import { appRoot } from './helpers.js';

const LIBS = [PRELUDE_SH, VERSIONS_SH, DELTA_SH, PRUNE_SH];

describe('prune.sh', () => {
  it('orch_prune keeps the newest KEEP plus current and previous, deletes the rest and their bundles', () => {
    const root = appRoot(['1', '2', '3', '4', '5'], '1');
    symlinkSync('versions/2', path.join(root, 'previous'));
    ['1', '2', '3', '4', '5'].forEach((v, i) => utimesSync(path.join(root, `versions/${v}/.orch-installed`), 1000 + i, 1000 + i));
    writeFileSync(path.join(root, 'versions/3/.orch-installed'), `${'c'.repeat(64)}\n`);
    utimesSync(path.join(root, 'versions/3/.orch-installed'), 1002, 1002);
    mkdirSync(path.join(root, '.orch/bundles'), { recursive: true });
    writeFileSync(path.join(root, `.orch/bundles/${'c'.repeat(64)}.tar.gz`), '');
    const r = runBash(LIBS, 'orch_prune "$1" 1', [root]);
    expect(r.stdout).toBe(`::orch:: pruned=4 4sha\n::orch:: pruned=3 ${'c'.repeat(64)}\n::orch:: status=changed\n`);
    expect(readdirSync(path.join(root, 'versions')).sort()).toEqual(['1', '2', '5']);
    expect(existsSync(path.join(root, `.orch/bundles/${'c'.repeat(64)}.tar.gz`))).toBe(false);
    expect(runBash(LIBS, 'orch_prune "$1" 1', [root]).stdout).toBe('::orch:: status=ok\n');
  });
  it('orders build-metadata release ids (1.0.0+g<sha>, +<timestamp>) by install time, not by name', () => {
    // Semver sorts build metadata as equal, and git shas sort at random: the marker's mtime decides.
    const ids = ['1.0.0+gffff111', '1.0.0+gffff111.dirty', '1.0.0+g0000aaa', '1.0.0+20261201120000'];
    const root = appRoot(ids, '1.0.0+20261201120000');
    ids.forEach((v, i) => utimesSync(path.join(root, `versions/${v}/.orch-installed`), 2000 + i, 2000 + i));
    expect(runBash(LIBS, 'orch_versions "$1"', [root]).stdout).toBe(`${[...ids].reverse().join('\n')}\n`);
    const r = runBash(LIBS, 'orch_prune "$1" 2', [root]);
    expect(r.stdout).toBe('::orch:: pruned=1.0.0+gffff111.dirty 1.0.0+gffff111.dirtysha\n::orch:: pruned=1.0.0+gffff111 1.0.0+gffff111sha\n::orch:: status=changed\n');
    expect(readdirSync(path.join(root, 'versions')).sort()).toEqual(['1.0.0+20261201120000', '1.0.0+g0000aaa']);
  });
  it('is ok on a root without versions', () => {
    expect(runBash(LIBS, 'orch_prune "$1" 5', ['/nonexistent-orch']).stdout).toBe('::orch:: status=ok\n');
  });
});
