# shellcheck shell=bash
# The run step's `user:` (Ansible's become_user). Needs prelude.sh.

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
