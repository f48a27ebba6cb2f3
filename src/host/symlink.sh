# shellcheck shell=bash
# The `symlink` step. Needs prelude.sh and switch.sh.

# orch_symlink ROOT VERSION PENDING STATE: points ROOT/current at versions/VERSION
# (orch_switch); refuses a version folder without .orch-installed.
orch_symlink() {
  local root=$1 v=$2
  [ -f "$root/versions/$v/.orch-installed" ] || orch_fail "cannot switch $root/current to $v: $root/versions/$v is not a complete install (no .orch-installed)"
  orch_switch "$root" "versions/$v" "$3" "$4"
}
