# shellcheck shell=bash
# The `run` step. Needs prelude.sh and command.sh.

# orch_run CREATES UNLESS CMD [RESULT TESTS]: status skipped when the path CREATES exists
# ('' = no such check) or the function UNLESS succeeds ('' = none, output discarded);
# else runs the function CMD (orch_user_command). Without RESULT TESTS a failing command
# fails the step with its status, else the status is changed. With them (7 more
# arguments, changed_when/failed_when: run-result.sh orch_run_judged) they decide.
orch_run() {
  local creates=$1 unless=$2 cmd=$3
  if [ -n "$creates" ] && [ -e "$creates" ]; then orch_status skipped; return 0; fi
  if [ -n "$unless" ]; then
    orch_user_command "$unless" >/dev/null 2>&1
    if [ "$ORCH_RC" = 0 ]; then orch_status skipped; return 0; fi
  fi
  if [ $# -gt 3 ]; then
    shift 3
    orch_run_judged "$cmd" "$@"
    return 0
  fi
  orch_user_command "$cmd"
  [ "$ORCH_RC" = 0 ] || exit "$ORCH_RC"
  orch_status changed
}
