/** A bundle's install.sh: src/host/bundle-install.sh under real bash, as install-script.ts assembles it. */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_INSTALL_PYTHON_SH, BUNDLE_INSTALL_SH } from '../../../src/host/embedded.generated.js';
import { renderInstallScript } from '../../../src/bundle/install-script.js';
import { runBash as runLib } from '../../harness/bash.js';
import { makeTempDir, runBash } from './helpers.js';

const root = makeTempDir('orch-install-sh-');
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A bundle folder `<root>/bN/<ident>/` with data/ files and the rendered install.sh. */
function bundle(kind: 'dir' | 'python', postInstall: string, files: Record<string, string> = { 'a.txt': 'A\n', 'sub/b.txt': 'B\n' }): string {
  const here = join(root, `b${n++}`, 'app-1.0.0-any');
  mkdirSync(join(here, 'data'), { recursive: true });
  for (const [f, t] of Object.entries(files)) {
    mkdirSync(join(here, 'data', f, '..'), { recursive: true });
    writeFileSync(join(here, 'data', f), t);
  }
  writeFileSync(join(here, 'install.sh'), renderInstallScript(kind, 'app-1.0.0-any', postInstall));
  chmodSync(join(here, 'install.sh'), 0o755);
  return here;
}

describe('install.sh (dir)', () => {
  it('starts with the shebang and a header naming the bundle, ends with the post-install lines and the Installed line', () => {
    const text = renderInstallScript('dir', 'app-1.0.0-any', 'echo one\n\n\n');
    expect(text.split('\n').slice(0, 4)).toEqual([
      '#!/bin/bash',
      '# Installs app-1.0.0-any into TARGET: copies data/ into it (orch dir bundle, platter layout).',
      '# Usage: ./install.sh TARGET   (needs bash and coreutils only; no network)',
      'set -euo pipefail',
    ]);
    expect(text.endsWith('orch_bundle_install_dir "$@"\n# Post-install lines from the build scripts (INSTALL_SCRIPT), run from HERE.\necho one\necho "Installed app-1.0.0-any into $TARGET"\n')).toBe(true);
    expect(text).toContain(BUNDLE_INSTALL_SH.trimEnd());
    // A dir bundle carries no python installer; a python bundle carries both.
    expect(text).not.toContain('orch_bundle_install_python');
    expect(renderInstallScript('python', 'app-1.0.0-any', '')).toContain(`${BUNDLE_INSTALL_SH.trimEnd()}\n${BUNDLE_INSTALL_PYTHON_SH.trimEnd()}\norch_bundle_install_python "$@"\n`);
  });

  it('copies data/ into TARGET (created), then runs the post-install lines from HERE with HERE, DATA_DIR, TARGET', () => {
    const here = bundle('dir', 'echo "$PWD|$HERE|$DATA_DIR|$TARGET" > "$TARGET/env.txt"\n');
    const target = join(root, `t${n++}`, 'deep', 'target');
    const r = runBash('"$1" "$2"', [join(here, 'install.sh'), target], { env: { PATH: '/usr/bin:/bin' } });
    expect(r).toEqual({ code: 0, stdout: `Installed app-1.0.0-any into ${target}\n`, stderr: '' });
    expect(readFileSync(join(target, 'sub', 'b.txt'), 'utf8')).toBe('B\n');
    expect(readFileSync(join(target, 'env.txt'), 'utf8')).toBe(`${here}|${here}|${here}/data|${target}\n`);
  });

  it('a new TARGET and an existing empty one end up the same: data/\'s mode and times, same files (relative paths too)', () => {
    const here = bundle('dir', '');
    chmodSync(join(here, 'data'), 0o750);
    chmodSync(join(here, 'data', 'sub'), 0o700);
    utimesSync(join(here, 'data'), 1_000_000, 1_000_000);
    const fresh = join(root, `t${n++}`, 'new', 'target');
    const existing = join(root, `t${n++}`);
    mkdirSync(existing);
    for (const [cmd, t] of [['"$1" "$2"', fresh], ['cd "${2%/*}" && "$1" "${2##*/}"', existing]] as const) {
      const r = runBash(cmd, [join(here, 'install.sh'), t], { env: { PATH: '/usr/bin:/bin' } });
      expect(r).toEqual({ code: 0, stdout: `Installed app-1.0.0-any into ${t}\n`, stderr: '' });
      const st = statSync(t);
      expect([(st.mode & 0o7777).toString(8), st.mtimeMs]).toEqual(['750', 1_000_000_000]);
      expect((statSync(join(t, 'sub')).mode & 0o7777).toString(8)).toBe('700');
      expect(readFileSync(join(t, 'sub', 'b.txt'), 'utf8')).toBe('B\n');
    }
  });

  it('wrong usage: the usage line, exit 2, nothing made', () => {
    const here = bundle('dir', '');
    expect(runBash('"$1"', [join(here, 'install.sh')])).toEqual({ code: 2, stdout: '', stderr: `Usage: ${join(here, 'install.sh')} TARGET\n` });
    expect(runBash('"$1" a b', [join(here, 'install.sh')]).code).toBe(2);
  });

  it('a failing post-install line fails the install (set -e), before the Installed line', () => {
    const here = bundle('dir', 'false\n');
    const r = runBash('"$1" "$2"', [join(here, 'install.sh'), join(root, `t${n++}`)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
  });
});

describe('install.sh (python)', () => {
  it('orch_bundle_install_python: usage with -p, and no wheels is an error after the venv exists', () => {
    const here = bundle('python', '', { 'README': 'no wheels\n' });
    expect(runBash('"$1" -p', [join(here, 'install.sh')]).code).not.toBe(0);
    expect(runBash('"$1" -p python3', [join(here, 'install.sh')])).toEqual({ code: 2, stdout: '', stderr: `Usage: ${join(here, 'install.sh')} [-p PYTHON] TARGET\n` });
    const target = join(root, `t${n++}`);
    const r = runBash('"$1" -p /usr/bin/python3 "$2"', [join(here, 'install.sh'), target]);
    expect(r.stderr).toBe(`install.sh: no wheels in ${here}/data\n`);
    expect(r.code).toBe(1);
    expect(existsSync(join(target, 'bin', 'python'))).toBe(true);
  });

  it('orch_bundle_paths makes TARGET absolute and exports the three paths (HERE = the folder of $0)', () => {
    const d = join(root, `p${n++}`);
    mkdirSync(join(d, 'rel'), { recursive: true });
    const r = runLib([BUNDLE_INSTALL_SH], 'cd "$1" && orch_bundle_paths rel && bash -c \'echo "$TARGET $DATA_DIR"\'', [d]);
    expect(r.stdout).toBe(`${d}/rel ${d}/data\n`);
  });
});
