# shellcheck shell=bash
# The `supervisor` service manager: supervisorctl against the supervisord of
# the step's `config:` file or `server_url` (else supervisorctl's own search: ./supervisord.conf
# in the SSH user's home, then /etc/supervisord.conf). Before the action it runs
# `reread` and, when the program's config changed or is new, `update NAME` — so a
# changed command or numprocs takes effect (supervisorctl restart alone keeps the old
# config). The outcome is judged by `status NAME:*` afterwards (supervisorctl's exit
# status and result lines differ across versions and for groups), not by the output.
# Needs the prelude (orch_fail).

# supervisor_ctl CONFIG SERVER_URL SUDO ARGS...: supervisorctl [-c CONFIG] [-s URL] ARGS,
# under `sudo -n` when SUDO is 1. Empty CONFIG / SERVER_URL are left out.
supervisor_ctl() {
  local conf=$1 url=$2 sudo=$3
  shift 3
  local cmd=()
  if [ "$sudo" = 1 ]; then cmd+=(sudo -n); fi
  cmd+=(supervisorctl)
  if [ -n "$conf" ]; then cmd+=(-c "$conf"); fi
  if [ -n "$url" ]; then cmd+=(-s "$url"); fi
  "${cmd[@]}" "$@"
}

# supervisor_check CONFIG SERVER_URL SUDO NAME WANT ACTION OUTPUT: every process of NAME's
# group is in state WANT (RUNNING or STOPPED; STOPPED also accepts EXITED); else fails
# with `supervisorctl ACTION NAME: OUTPUT` and the status. Waits while a process is still
# STARTING/BACKOFF (RUNNING wanted) or STOPPING (STOPPED wanted), at most 120 s.
supervisor_check() {
  local conf=$1 url=$2 sudo=$3 name=$4 want=$5 action=$6 output=$7 st proc state rest n bad pending tries=0
  # A process stays STARTING for its startsecs (and BACKOFF between startretries) before
  # supervisord calls it RUNNING or FATAL (http://supervisord.org/subprocess.html#process-states):
  # poll while any process is there, at most 600 x 0.2 s; the first poll costs nothing extra.
  while :; do
    st=$(supervisor_ctl "$conf" "$url" "$sudo" status "$name:*" 2>&1) || true
    n=0 bad=0 pending=0
    while read -r proc state rest; do
      [ -n "$proc" ] || continue
      n=$((n + 1))
      case "$want:$state" in
        RUNNING:RUNNING | STOPPED:STOPPED | STOPPED:EXITED) ;;
        RUNNING:STARTING | RUNNING:BACKOFF | STOPPED:STOPPING) pending=1 bad=1 ;;
        *) bad=1 ;;
      esac
    done <<< "$st"
    if [ "$pending" = 0 ] || [ "$tries" -ge 600 ]; then break; fi
    tries=$((tries + 1))
    sleep 0.2
  done
  if [ "$n" = 0 ] || [ "$bad" = 1 ]; then orch_fail "supervisorctl $action $name: $output
$name is not ${want} after it:
$st"; fi
  printf '%s\n' "$st"
}

# supervisor_service CONFIG SERVER_URL SUDO NAME ACTION: reread (+ update NAME when its
# config changed), then ACTION (start | stop | restart | reload = HUP) on every process
# of NAME, then the status check.
supervisor_service() {
  local conf=$1 url=$2 sudo=$3 name=$4 action=$5 out updated=0
  out=$(supervisor_ctl "$conf" "$url" "$sudo" reread 2>&1) || orch_fail "supervisorctl reread failed: $out"
  case "$out" in
    *"$name: changed"* | *"$name: available"*)
      printf '%s\n' "$out"
      out=$(supervisor_ctl "$conf" "$url" "$sudo" update "$name" 2>&1) || orch_fail "supervisorctl update $name failed: $out"
      printf '%s\n' "$out"
      updated=1
      ;;
  esac
  case "$action" in
    restart)
      if [ "$updated" = 1 ]; then action=start; fi
      out=$(supervisor_ctl "$conf" "$url" "$sudo" "$action" "$name:*" 2>&1) || true
      ;;
    start | stop) out=$(supervisor_ctl "$conf" "$url" "$sudo" "$action" "$name:*" 2>&1) || true ;;
    reload) out=$(supervisor_ctl "$conf" "$url" "$sudo" signal HUP "$name:*" 2>&1) || true ;;
    *) orch_fail "supervisor: unknown action $action" ;;
  esac
  printf '%s\n' "$out"
  if [ "$action" = stop ]; then
    supervisor_check "$conf" "$url" "$sudo" "$name" STOPPED "$action" "$out"
  else
    supervisor_check "$conf" "$url" "$sudo" "$name" RUNNING "$action" "$out"
  fi
}
