# shellcheck shell=bash
# orch_versions ROOT: the complete versions of ROOT (folders of ROOT/versions holding
# .orch-installed), newest install first (fractional mtimes of the markers), one per
# line; nothing when ROOT/versions does not exist.
orch_versions() {
  [ -d "$1/versions" ] || return 0
  find "$1/versions" -mindepth 2 -maxdepth 2 -name .orch-installed -type f -printf '%T@ %h\n' | sort -rn | sed 's#^[^ ]* .*/##'
}
