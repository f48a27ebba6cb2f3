# shellcheck shell=bash
# The body of every bundle's `install.sh TARGET` (platter's install.sh contract: runs by
# hand on a host with no orch and no network). src/bundle/install-script.ts writes
# install.sh as: a header comment, `set -euo pipefail`, this library, one call of
# orch_bundle_install_dir or orch_bundle_install_python with the script's arguments,
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

# orch_bundle_install_python [-p PYTHON] TARGET: python bundles. `PYTHON -m venv TARGET`
# (default python3), `pip install --no-index --find-links data/` of every wheel in
# data/, `pip check`, then cd HERE; VIRTUAL_ENV=TARGET exported. No network. Wrong
# usage: `Usage: $0 [-p PYTHON] TARGET` on stderr, exit 2; no wheels: exit 1.
orch_bundle_install_python() {
  local python=python3
  local -a wheels
  if [ "${1:-}" = "-p" ]; then
    python="${2:?-p needs an interpreter}"
    shift 2
  fi
  if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "Usage: $0 [-p PYTHON] TARGET" >&2
    exit 2
  fi
  "$python" -m venv -- "$1"
  orch_bundle_paths "$1"
  VIRTUAL_ENV="$TARGET"
  export VIRTUAL_ENV
  shopt -s nullglob
  wheels=("$DATA_DIR"/*.whl)
  shopt -u nullglob
  if [ "${#wheels[@]}" -eq 0 ]; then
    echo "install.sh: no wheels in $DATA_DIR" >&2
    exit 1
  fi
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$TARGET/bin/python" -m pip install --no-index --no-input --find-links "$DATA_DIR" "${wheels[@]}"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$TARGET/bin/python" -m pip check
  cd "$HERE" || exit 1
}
