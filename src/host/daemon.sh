# shellcheck shell=bash
# The `daemon` service manager: runs an app that has no process manager of its own
# (issue 11; the shape of start-stop-daemon and Capistrano's shared/tmp/pids).
#
# Layout under an app's <root>:
#   <root>/shared/log/<name>.log   the app's stdout and stderr, appended (never truncated)
#   <root>/shared/pids/<name>.pid  the pid of the app's session leader (= its process group)
#
# The app starts under setsid (its own session and process group, no controlling
# terminal), in <root>/current, with stdin from /dev/null and stdout/stderr appended to
# its log: nothing ties it to the SSH channel or to the step's temp files. stop and
# restart signal the whole process group (TERM, then KILL after a bounded wait), so
# workers the app forked go too and a restart leaves exactly one app.
# Needs the prelude (orch_fail). Functions return 0 on success; failures go through
# orch_fail with the log's last lines.

# daemon_pidfile ROOT NAME / daemon_logfile ROOT NAME: the two paths above.
daemon_pidfile() { printf '%s/shared/pids/%s.pid' "$1" "$2"; }
daemon_logfile() { printf '%s/shared/log/%s.log' "$1" "$2"; }

# daemon_pid PIDFILE: prints the recorded pid when its process group is alive; else
# returns 1 (no file, not a number, or the group is gone).
daemon_pid() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat -- "$1" 2>/dev/null) || return 1
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 -- "-$pid" 2>/dev/null || return 1
  printf '%s' "$pid"
}

# daemon_tail LOGFILE: the log's lines since the last start (at most 20), indented, for
# failure messages: earlier runs of the app are not this start's reason.
daemon_tail() {
  local from
  from=$(grep -n '^== orch: starting ' -- "$1" 2>/dev/null | tail -n 1 | cut -d: -f1 || true)
  tail -n "+${from:-1}" -- "$1" 2>/dev/null | tail -n 20 | sed 's/^/  | /' || true
}

# daemon_start ROOT NAME COMMAND [STARTSECS]: starts COMMAND (a bash command line) unless
# NAME already runs; then waits STARTSECS seconds (default 1, like supervisord's
# startsecs) and fails if the app exited in that time. Prints what it did.
daemon_start() {
  local root=$1 name=$2 cmd=$3 startsecs=${4:-1} pidf logf dir pid i
  pidf=$(daemon_pidfile "$root" "$name")
  logf=$(daemon_logfile "$root" "$name")
  mkdir -p -- "${pidf%/*}" "${logf%/*}"
  if pid=$(daemon_pid "$pidf"); then
    printf '%s: already running (pid %s)\n' "$name" "$pid"
    return 0
  fi
  rm -f -- "$pidf"
  dir="$root/current"
  [ -d "$dir" ] || dir=$root
  printf '== orch: starting %s at %s in %s\n' "$name" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$dir" >> "$logf"
  (
    cd -- "$dir" || exit 1
    # shellcheck disable=SC2016
    exec setsid bash -c 'printf %s "$$" > "$1.tmp" && mv -f -- "$1.tmp" "$1" && exec bash -c "$2"' orch-daemon "$pidf" "$cmd" < /dev/null >> "$logf" 2>&1
  ) &
  for ((i = 0; i < 100; i++)); do
    [ -s "$pidf" ] && break
    sleep 0.05
  done
  [ -s "$pidf" ] || orch_fail "$name: did not start within 5s; its output since the start (in $logf):
$(daemon_tail "$logf")"
  sleep "$startsecs"
  if ! pid=$(daemon_pid "$pidf"); then
    rm -f -- "$pidf"
    orch_fail "$name: exited within ${startsecs}s of starting; its output since the start (in $logf):
$(daemon_tail "$logf")"
  fi
  printf '%s: started (pid %s, log %s)\n' "$name" "$pid" "$logf"
}

# daemon_stop ROOT NAME [TIMEOUT]: TERM to the app's process group, KILL after TIMEOUT
# seconds (default 10); returns once the group is gone. A stopped app is not an error.
daemon_stop() {
  local root=$1 name=$2 timeout=${3:-10} pidf pid i
  pidf=$(daemon_pidfile "$root" "$name")
  if ! pid=$(daemon_pid "$pidf"); then
    rm -f -- "$pidf"
    printf '%s: not running\n' "$name"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  kill -0 -- "-$pid" 2>/dev/null && orch_fail "$name: process group $pid survived KILL"
  rm -f -- "$pidf"
  printf '%s: stopped (pid %s)\n' "$name" "$pid"
}

# daemon_service ROOT NAME ACTION COMMAND [STARTSECS]: ACTION is start | stop | restart |
# reload (HUP to the group; starts the app when it is not running).
daemon_service() {
  local root=$1 name=$2 action=$3 cmd=$4 startsecs=${5:-1} pid
  case "$action" in
    start) daemon_start "$root" "$name" "$cmd" "$startsecs" ;;
    stop) daemon_stop "$root" "$name" ;;
    restart)
      daemon_stop "$root" "$name"
      daemon_start "$root" "$name" "$cmd" "$startsecs"
      ;;
    reload)
      if pid=$(daemon_pid "$(daemon_pidfile "$root" "$name")"); then
        kill -HUP -- "-$pid"
        printf '%s: signalled HUP (pid %s)\n' "$name" "$pid"
      else
        daemon_start "$root" "$name" "$cmd" "$startsecs"
      fi
      ;;
    *) orch_fail "daemon: unknown action $action" ;;
  esac
}
