/** Behaviour of src/host/versions.sh under real bash. */
import { mkdirSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';
import { appRoot } from './helpers.js';

describe('versions.sh', () => {
  it('orch_versions lists complete versions newest install first; skips folders without the marker', () => {
    const root = appRoot(['a', 'b', 'c']);
    mkdirSync(path.join(root, 'versions', 'incomplete'));
    utimesSync(path.join(root, 'versions/a/.orch-installed'), 3000, 3000);
    utimesSync(path.join(root, 'versions/b/.orch-installed'), 1000, 1000);
    utimesSync(path.join(root, 'versions/c/.orch-installed'), 2000, 2000);
    expect(runBash([PRELUDE_SH, VERSIONS_SH], 'orch_versions "$1"', [root]).stdout).toBe('a\nc\nb\n');
  });
  it('prints nothing without a versions folder', () => {
    expect(runBash([PRELUDE_SH, VERSIONS_SH], 'orch_versions "$1"', ['/nonexistent-orch'])).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});
