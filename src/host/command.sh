# shellcheck shell=bash
# ORCH_RC is read by the callers (run.sh, install.sh, service.sh):
# shellcheck disable=SC2034
# The user's commands (run cmd/unless, install before/after, service command). Needs prelude.sh.

# orch_user_command FN: runs the function FN in a subshell under `set -euo pipefail` —
# its first failing command (even a killed child) stops it, as in the task itself —
# and sets ORCH_RC to its status; returns 0. Call it as a plain statement, never in a
# condition (`if`, `||`, `!`): there bash ignores set -e inside, down to FN. Its stdin
# is /dev/null.
ORCH_RC=0
orch_user_command() {
  local pid
  ORCH_RC=0
  ( "$1" ) &
  pid=$!
  wait "$pid" || ORCH_RC=$?
}

