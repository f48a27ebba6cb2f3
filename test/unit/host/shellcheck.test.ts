/** Every host-side bash library passes shellcheck (Debian's package; `.ci/run` installs it). */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../../src/host/', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.sh')).sort();

describe('src/host/*.sh', () => {
  it('has host libraries to check', () => {
    expect(files).toContain('prelude.sh');
  });
  it('is shellcheck clean', () => {
    const which = spawnSync('sh', ['-c', 'command -v shellcheck'], { encoding: 'utf8' });
    expect(which.status, 'shellcheck is not installed (apt-get install shellcheck)').toBe(0);
    const r = spawnSync('shellcheck', ['-s', 'bash', '-x', ...files], { cwd: dir, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

