/** Behaviour of src/host/rollback.sh under real bash. */
import { readlinkSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH, ROLLBACK_SH, SWITCH_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';
import { appRoot } from './helpers.js';

const LIBS = [PRELUDE_SH, VERSIONS_SH, SWITCH_SH, ROLLBACK_SH];
const links = (root: string): string[] => ['current', 'previous'].map((l) => readlinkSync(path.join(root, l)));

describe('rollback.sh', () => {
  it('orch_rollback without TO goes to previous and swaps the links', () => {
    const root = appRoot(['1', '2'], '2');
    symlinkSync('versions/1', path.join(root, 'previous'));
    expect(runBash(LIBS, 'orch_rollback "$1" "" "" ""', [root]).stdout).toBe('::orch:: target=1\n::orch:: status=changed\n');
    expect(links(root)).toEqual(['versions/1', 'versions/2']);
  });
  it('orch_rollback TO: to that version; ok when already there', () => {
    const root = appRoot(['1', '2', '3'], '3');
    expect(runBash(LIBS, 'orch_rollback "$1" 1 "" ""', [root]).stdout).toBe('::orch:: target=1\n::orch:: status=changed\n');
    expect(links(root)).toEqual(['versions/1', 'versions/3']);
    expect(runBash(LIBS, 'orch_rollback "$1" 1 "" ""', [root]).stdout).toBe('::orch:: target=1\n::orch:: status=ok\n');
  });
  it.each([
    [['1'], '', (r: string) => `no previous version recorded in ${r} (previous link missing); use --to VERSION\n`],
    [['1'], '9', (r: string) => `cannot roll back to 9: ${r}/versions/9 is not a complete install\n`],
  ])('orch_rollback refuses (versions %j, to %j)', (versions, to, msg) => {
    const root = appRoot(versions, '1');
    const r = runBash(LIBS, 'orch_rollback "$1" "$2" "" ""', [root, to]);
    expect([r.code, r.stderr]).toEqual([1, msg(root)]);
  });
  it('orch_rollback_previous: a failed release\'s way back, writes state, prints rolledback', () => {
    const root = appRoot(['1', '2'], '2');
    symlinkSync('versions/1', path.join(root, 'previous'));
    const r = runBash(LIBS, 'orch_rollback_previous "$1" ""', [root]);
    expect(r).toEqual({ code: 0, stdout: '::orch:: status=changed\n::orch:: rolledback=1\n', stderr: '' });
    expect(links(root)).toEqual(['versions/1', 'versions/2']);
  });
  it('orch_rollback_previous refuses without a complete previous', () => {
    const root = appRoot(['2'], '2');
    expect(runBash(LIBS, 'orch_rollback_previous "$1" ""', [root])).toMatchObject({ code: 1, stderr: `cannot roll back ${root}: no complete previous version\n` });
  });
});
