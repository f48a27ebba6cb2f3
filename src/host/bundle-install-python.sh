# shellcheck shell=bash
# The python installer of a python bundle's install.sh (after bundle-install.sh, whose
# orch_bundle_paths it uses; see src/bundle/install-script.ts).

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
