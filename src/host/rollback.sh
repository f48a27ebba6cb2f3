# shellcheck shell=bash
# Rollbacks: `orch rollback` and a failed healthcheck's. Needs prelude.sh and switch.sh.

# orch_rollback ROOT TO PENDING STATE: points ROOT/current at versions/TO, or with TO
# empty at what the `previous` link names (orch_switch). Prints `::orch:: target=V`.
orch_rollback() {
  local root=$1 target=$2
  if [ -z "$target" ]; then orch_link_of "$root/previous" target; target=${target#versions/}; fi
  [ -n "$target" ] || orch_fail "no previous version recorded in $root (previous link missing); use --to VERSION"
  [ -f "$root/versions/$target/.orch-installed" ] || orch_fail "cannot roll back to $target: $root/versions/$target is not a complete install"
  printf '::orch:: target=%s\n' "$target"
  orch_switch "$root" "versions/$target" "$3" "$4"
}

# orch_rollback_previous ROOT STATE: a failed healthcheck's way back: points current at
# `previous` (which then names the release that failed). Prints `::orch:: rolledback=V`.
orch_rollback_previous() {
  local root=$1 prev
  orch_link_of "$root/previous" prev
  if [ -z "$prev" ] || [ ! -f "$root/$prev/.orch-installed" ]; then orch_fail "cannot roll back $root: no complete previous version"; fi
  orch_switch "$root" "$prev" "" "$2"
  printf '::orch:: rolledback=%s\n' "${prev#versions/}"
}
