/**
 * A bundle's `install.sh TARGET` (platter's contract: runs by hand on a host with no orch
 * and no network): a header naming the bundle, `set -euo pipefail`, the library
 * src/host/bundle-install.sh (python: plus bundle-install-python.sh), one call of its
 * dir or python installer, then the lines
 * the build scripts appended to INSTALL_SCRIPT (run from HERE with HERE, DATA_DIR,
 * TARGET and, for python, VIRTUAL_ENV exported), then `Installed <ident> into <TARGET>`.
 * Source: platter's install.sh template; kamal's split of builders (here) and the shell
 * they run (the .sh file).
 */
import { BUNDLE_INSTALL_PYTHON_SH, BUNDLE_INSTALL_SH } from '../host/embedded.generated.js';

/** Which installer of src/host/bundle-install.sh an install.sh calls. */
export type InstallKind = 'dir' | 'python';

/**
 * The install.sh text of bundle `ident` (`<package>-<version>-<platform>`).
 * @param postInstall the collected INSTALL_SCRIPT text (may be empty; trailing blank lines dropped).
 */
export function renderInstallScript(kind: InstallKind, ident: string, postInstall: string): string {
  const header = kind === 'python'
    ? [
      `# Installs ${ident} into a new virtualenv at TARGET from the bundled wheels`,
      '# (orch python bundle, platter layout).',
      '# Usage: ./install.sh [-p PYTHON] TARGET   (needs PYTHON with venv, default python3; no network)',
    ]
    : [
      `# Installs ${ident} into TARGET: copies data/ into it (orch dir bundle, platter layout).`,
      '# Usage: ./install.sh TARGET   (needs bash and coreutils only; no network)',
    ];
  const extra = postInstall.replace(/\s+$/, '');
  return [
    '#!/bin/bash',
    ...header,
    'set -euo pipefail',
    BUNDLE_INSTALL_SH.trimEnd(),
    ...(kind === 'python' ? [BUNDLE_INSTALL_PYTHON_SH.trimEnd()] : []),
    kind === 'python' ? 'orch_bundle_install_python "$@"' : 'orch_bundle_install_dir "$@"',
    '# Post-install lines from the build scripts (INSTALL_SCRIPT), run from HERE.',
    ...(extra ? [extra] : []),
    `echo "Installed ${ident} into $TARGET"`,
    '',
  ].join('\n');
}
