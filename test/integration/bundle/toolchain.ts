/**
 * The offline python toolchain of the bundle tests: Debian's `/usr/bin/python3` (with
 * `python3-venv`) and the build backend wheels Debian ships in `/usr/share/python-wheels`
 * (`python3-setuptools-whl`, `python3-wheel-whl`): PyPI is never reachable here.
 * Debian's setuptools wheel is patched for Debian's python, so both come from Debian.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const DEBIAN_PYTHON = '/usr/bin/python3';
const WHEELS = '/usr/share/python-wheels';
export const FIXTURES = join(import.meta.dirname, '../../fixtures/bundle');

/** The setuptools and wheel wheels, or undefined when missing. */
function backendWheels(): string[] | undefined {
  if (!existsSync(WHEELS)) return undefined;
  const names = readdirSync(WHEELS);
  const pick = (p: RegExp): string | undefined => names.find((n) => p.test(n));
  const st = pick(/^setuptools-.*\.whl$/);
  const wh = pick(/^wheel-.*\.whl$/);
  return st && wh ? [join(WHEELS, st), join(WHEELS, wh)] : undefined;
}

/** Why the python bundle tests cannot run here, or undefined when they can. */
export function pythonToolchainMissing(): string | undefined {
  if (!existsSync(DEBIAN_PYTHON)) return `${DEBIAN_PYTHON} missing`;
  if (spawnSync(DEBIAN_PYTHON, ['-c', 'import ensurepip, venv']).status !== 0) return 'python3-venv missing (apt-get install python3-venv)';
  if (!backendWheels()) return `setuptools/wheel wheels missing in ${WHEELS} (apt-get install python3-setuptools-whl python3-wheel-whl)`;
  return undefined;
}

/**
 * Makes a local wheelhouse at `dir`: the build backend wheels plus `tinydep` built from
 * its fixture with `pip wheel --no-index` (a real offline build). Returns `dir`.
 */
export function makeWheelhouse(dir: string, work: string): string {
  mkdirSync(dir, { recursive: true });
  for (const w of backendWheels() ?? []) copyFileSync(w, join(dir, w.split('/').pop()!));
  const dep = join(work, 'tinydep-src');
  cpSync(join(FIXTURES, 'py-dep'), dep, { recursive: true });
  const venv = join(work, 'wheelhouse-venv');
  execFileSync(DEBIAN_PYTHON, ['-m', 'venv', venv], { stdio: 'pipe' });
  execFileSync(join(venv, 'bin', 'python'), ['-m', 'pip', 'wheel', '--disable-pip-version-check', '--no-index', '--find-links', dir, '--wheel-dir', dir, dep], { stdio: 'pipe' });
  return dir;
}
