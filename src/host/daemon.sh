# shellcheck shell=bash
# The `daemon` service manager: runs an app that has no process manager of its own
# (the shape of start-stop-daemon and Capistrano's shared/tmp/pids).
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
# Needs the prelude (orch_fail, ORCH_SAFE_WRITE_PL). Functions return 0 on success;
# failures go through orch_fail with the log's last lines.
#
# shared/ is often writable by the app's user, who must not gain root's power through
# it: the log is opened with O_NOFOLLOW (a symlink there is refused, and the step says
# so), the pid file is written with the safe write and read with O_NOFOLLOW, and a pid is
# signalled only when daemon_pid trusts it (see there); never 0, 1 or a negative pid.

# daemon_pidfile ROOT NAME / daemon_logfile ROOT NAME: the two paths above.
daemon_pidfile() { printf '%s/shared/pids/%s.pid' "$1" "$2"; }
daemon_logfile() { printf '%s/shared/log/%s.log' "$1" "$2"; }

# DAEMON_LOG_PL: perl program `LOGFILE CMD ARGS...`: opens LOGFILE for appending with
# O_NOFOLLOW (created 0644), makes it stdout and stderr, and execs CMD.
# shellcheck disable=SC2016
DAEMON_LOG_PL='use strict; use warnings; use Fcntl qw(O_WRONLY O_APPEND O_CREAT O_NOFOLLOW);
my $f = shift;
sysopen(my $fh, $f, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0644) or die($!{ELOOP} ? "orch: $f is a symlink; not writing the log through it (remove the link)\n" : "orch: cannot open the log $f: $!\n");
open(STDOUT, ">&", $fh) or die "orch: $!\n"; open(STDERR, ">&", $fh) or die "orch: $!\n"; close($fh);
exec { $ARGV[0] } @ARGV or die "orch: cannot run $ARGV[0]: $!\n";'

# daemon_pid PIDFILE: prints the recorded pid when orch can trust it and its process
# group is alive; else returns 1. Trusted: PIDFILE, opened with O_NOFOLLOW, is a regular
# file with one link owned by the user orch runs as (another user cannot make such a
# file), it holds a number > 1, and /proc/PID/stat shows a session and group leader
# (pid = pgrp = sid, as setsid made it) that started within 10 s before the file was
# written (its mtime; boot time from /proc/stat, clock ticks from sysconf), so a pid
# reused by another process is not signalled. proc(5).
daemon_pid() {
  perl -e 'use strict; use warnings; use Fcntl qw(O_RDONLY O_NOFOLLOW O_NONBLOCK); use POSIX ();
my $f = shift;
sysopen(my $fh, $f, O_RDONLY | O_NOFOLLOW | O_NONBLOCK) or exit 1;
my @st = stat($fh); exit 1 unless @st && -f _ && $st[4] == $> && $st[3] == 1;
my $pid = do { local $/; <$fh> } // ""; $pid =~ s/\s+\z//;
exit 1 unless $pid =~ /^[0-9]{1,9}\z/ && $pid > 1;
open(my $ps, "<", "/proc/$pid/stat") or exit 1; my $line = <$ps>; close($ps);
$line =~ s/^.*\) //s; my @p = split / /, $line;
exit 1 unless $p[2] == $pid && $p[3] == $pid;
open(my $sf, "<", "/proc/stat") or exit 1; my ($btime) = map { /^btime (\d+)/ ? $1 : () } <$sf>;
my $started = $btime + $p[19] / POSIX::sysconf(POSIX::_SC_CLK_TCK());
exit 1 if $started > $st[9] + 2 || $started < $st[9] - 10;
exit 1 unless kill(0, -$pid);
print $pid;' -- "$1"
}

# daemon_tail LOGFILE: the log's lines since the last start (at most 20), indented, for
# failure messages: earlier runs of the app are not this start's reason.
daemon_tail() {
  local from
  if [ -L "$1" ]; then printf '  | (%s is a symlink; not read)\n' "$1"; return 0; fi
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
  perl -e "$DAEMON_LOG_PL" -- "$logf" printf '== orch: starting %s at %s in %s\n' "$name" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$dir" < /dev/null || exit 1
  (
    cd -- "$dir" || exit 1
    # The pid file through the safe write (prelude.sh), then the app in the same process.
    # shellcheck disable=SC2016
    exec perl -e "$DAEMON_LOG_PL" -- "$logf" setsid bash -c 'printf %s "$$" | perl -e "$3" -- "$1" 644 "" "" 1 && exec bash -c "$2"' orch-daemon "$pidf" "$cmd" "$ORCH_SAFE_WRITE_PL" < /dev/null
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
  if kill -0 -- "-$pid" 2>/dev/null && [ "$(daemon_pid "$pidf" || true)" = "$pid" ]; then
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
  local root=$1 name=$2 action=$3 cmd=$4 startsecs=${5:-1} pid logf
  logf=$(daemon_logfile "$root" "$name")
  if [ "$action" != stop ] && [ -L "$logf" ]; then
    orch_fail "$name: the log $logf is a symlink (to $(readlink -- "$logf")); refusing to write the log through it, so $action was not done: remove the link"
  fi
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
