# shellcheck shell=bash
# The `run` step. Needs prelude.sh.

# orch_run CREATES UNLESS CMD: status skipped when the path CREATES exists ('' = no
# such check) or the function UNLESS succeeds ('' = none, output discarded); else runs
# the function CMD in a subshell (under set -euo pipefail: a failing command fails the
# step) and prints status changed.
orch_run() {
  local creates=$1 unless=$2 cmd=$3
  if [ -n "$creates" ] && [ -e "$creates" ]; then orch_status skipped; return 0; fi
  if [ -n "$unless" ] && ( "$unless" ) >/dev/null 2>&1; then orch_status skipped; return 0; fi
  ( "$cmd" )
  orch_status changed
}
