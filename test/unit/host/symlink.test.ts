/** Behaviour of src/host/symlink.sh under real bash. */
import { readlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH, SWITCH_SH, SYMLINK_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';
import { appRoot } from './helpers.js';

const LIBS = [PRELUDE_SH, VERSIONS_SH, SWITCH_SH, SYMLINK_SH];

describe('symlink.sh', () => {
  it('orch_symlink switches to a complete version', () => {
    const root = appRoot(['1', '2'], '1');
    expect(runBash(LIBS, 'orch_symlink "$1" 2 "" ""', [root]).stdout).toBe('::orch:: status=changed\n');
    expect(readlinkSync(path.join(root, 'current'))).toBe('versions/2');
    expect(runBash(LIBS, 'orch_symlink "$1" 2 "" ""', [root]).stdout).toBe('::orch:: status=ok\n');
  });
  it('orch_symlink refuses an incomplete version and changes nothing', () => {
    const root = appRoot(['1'], '1');
    const r = runBash(LIBS, 'orch_symlink "$1" 3 "" ""', [root]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`cannot switch ${root}/current to 3: ${root}/versions/3 is not a complete install (no .orch-installed)\n`);
    expect(readlinkSync(path.join(root, 'current'))).toBe('versions/1');
  });
});
