# shellcheck shell=bash
# The `service` step. Needs prelude.sh and command.sh.

# orch_service MANAGER ACTION NAME SUDO PENDING: ACTION (restart | reload | start |
# stop) the service NAME through MANAGER (systemd | sysv | supervisor), or with
# MANAGER `command` run the function NAME; SUDO `1` wraps the manager in `sudo -n`.
# Then removes the restart-pending marker PENDING ('' = none) and prints status changed.
orch_service() {
  local manager=$1 action=$2 name=$3 sudo=$4 pending=$5
  case "$manager" in
    command)
      orch_user_command "$name"
      [ "$ORCH_RC" = 0 ] || orch_fail "service command failed (exit $ORCH_RC)"
      ;;
    systemd) orch_sudo "$sudo" systemctl "$action" -- "$name" ;;
    sysv) orch_sudo "$sudo" service "$name" "$action" ;;
    supervisor) orch_supervisor "$action" "$name" "$sudo" ;;
    *) orch_fail "unknown service manager $manager" ;;
  esac
  if [ -n "$pending" ]; then rm -f -- "$pending"; fi
  orch_status changed
}

# orch_sudo SUDO CMD...: runs CMD, through `sudo -n` when SUDO is 1.
orch_sudo() {
  if [ "$1" = 1 ]; then shift; sudo -n "$@"; else shift; "$@"; fi
}

# orch_supervisor ACTION NAME SUDO: supervisorctl's exit status is unreliable across
# versions (and `restart` of a stopped program says "ERROR (not running)" then
# "started"), so the result line decides: `NAME: started` etc. Reload = signal HUP.
orch_supervisor() {
  local action=$1 name=$2 out w
  local -a cmd=("$action" "$name") ok
  case "$action" in
    restart) ok=(started) ;;
    start) ok=(started 'ERROR (already started)') ;;
    stop) ok=(stopped 'ERROR (not running)') ;;
    reload) ok=(signalled); cmd=(signal HUP "$name") ;;
    *) orch_fail "unknown action $action" ;;
  esac
  out=$(orch_sudo "$3" supervisorctl "${cmd[@]}" 2>&1) || true
  for w in "${ok[@]}"; do
    case "$out" in *"$name: $w"*) printf '%s\n' "$out"; return 0 ;; esac
  done
  orch_fail "supervisorctl $action $name: $out"
}
