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
  local dir=.
  # dirname by parameter expansion (no process).
  case "$0" in */*) dir=${0%/*}; dir=${dir:-/} ;; esac
  HERE="$(cd "$dir" && pwd)"
  DATA_DIR="$HERE/data"
  TARGET="$(cd "$1" && pwd)"
  export HERE DATA_DIR TARGET
}

# orch_bundle_install_dir TARGET: dir and node bundles. `mkdir -p TARGET`, then
# `cp -a data/. TARGET/` (a TARGET that does not exist yet: `cp -a -T data TARGET`, the
# same result), then cd HERE. Needs bash and coreutils only. Wrong usage:
# `Usage: $0 TARGET` on stderr, exit 2.
orch_bundle_install_dir() {
  if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "Usage: $0 TARGET" >&2
    exit 2
  fi
  local here=. parent=.
  case "$0" in */*) here=${0%/*}; here=${here:-/} ;; esac
  if [ -e "$1" ] || [ -L "$1" ] || [ -L "$here/data" ] || [ ! -d "$here/data" ]; then
    mkdir -p -- "$1"
    orch_bundle_paths "$1"
    cp -a -- "$DATA_DIR/." "$TARGET/"
  else
    # A new TARGET is made by cp itself, a copy of the folder data/: the same folder
    # (mode, times) as `mkdir -p TARGET` then `cp -a data/. TARGET/` give, one process fewer.
    case "$1" in */*) parent=${1%/*}; parent=${parent:-/} ;; esac
    [ -d "$parent" ] || mkdir -p -- "$parent"
    cp -a -T -- "$here/data" "$1"
    orch_bundle_paths "$1"
  fi
  cd "$HERE" || exit 1
}
