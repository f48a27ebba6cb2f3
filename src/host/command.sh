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

# orch_as_user USER TEXT: runs the shell text TEXT with `bash -c` as USER (the run step's
# `user:`, Ansible's become_user), with that user's HOME, USER and LOGNAME: through
# runuser(1) when this script runs as root, else `sudo -n -H -u USER`. Returns its status.
orch_as_user() {
  local home
  home=$(getent passwd -- "$1" | cut -d: -f6) || orch_fail "user $1 does not exist on this host"
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$1" -- env HOME="$home" USER="$1" LOGNAME="$1" bash -c "$2"
  else
    sudo -n -H -u "$1" -- bash -c "$2"
  fi
}
