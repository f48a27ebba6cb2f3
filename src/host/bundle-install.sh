# shellcheck shell=bash
# The body of every bundle's `install.sh TARGET` (platter's install.sh contract: runs by
# hand on a host with no orch and no network). src/bundle/install-script.ts writes
# install.sh as: a header comment, `set -euo pipefail`, this library (plus
# bundle-install-python.sh for python bundles), one call of orch_bundle_install_dir or
# orch_bundle_install_python with the script's arguments,
# then the lines the build scripts appended to INSTALL_SCRIPT (run from HERE with HERE,
# DATA_DIR, TARGET and, for python, VIRTUAL_ENV exported), then `Installed ... into TARGET`.

# orch_bundle_paths TARGET: sets and exports HERE (the bundle folder: this script's),
# DATA_DIR (HERE/data) and TARGET (made absolute; the folder must exist).
orch_bundle_paths() {
  HERE="$(cd "$(dirname "$0")" && pwd)"
  DATA_DIR="$HERE/data"
  TARGET="$(cd "$1" && pwd)"
  export HERE DATA_DIR TARGET
}

# orch_bundle_install_dir TARGET: dir and node bundles. `mkdir -p TARGET`, then
# `cp -a data/. TARGET/`, then cd HERE. Needs bash and coreutils only. Wrong usage:
# `Usage: $0 TARGET` on stderr, exit 2.
orch_bundle_install_dir() {
  if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "Usage: $0 TARGET" >&2
    exit 2
  fi
  mkdir -p -- "$1"
  orch_bundle_paths "$1"
  cp -a -- "$DATA_DIR/." "$TARGET/"
  cd "$HERE" || exit 1
}
