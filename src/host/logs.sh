# shellcheck shell=bash
# `orch logs`: the last lines of a service's log, per manager (Kamal's `app logs`).
# Each function prints the lines on stdout; FOLLOW=1 keeps following (until the
# connection closes). Needs supervisor.sh for logs_supervisor.

# logs_daemon ROOT NAME LINES FOLLOW: <root>/shared/log/<name>.log (src/host/daemon.sh),
# opened with O_NOFOLLOW and read by `tail` from that descriptor: a symlink another
# user planted there is refused, never read through (so FOLLOW follows the file that was
# opened, not a new one renamed into place).
logs_daemon() {
  local f="$1/shared/log/$2.log" cmd=(tail -n "$3")
  if [ "$4" = 1 ]; then cmd+=(-f); fi
  if [ -L "$f" ]; then printf 'orch logs: %s is a symlink (to %s); not reading through it\n' "$f" "$(readlink -- "$f")" >&2; return 1; fi
  [ -f "$f" ] || { printf 'orch logs: no log yet at %s\n' "$f" >&2; return 1; }
  # shellcheck disable=SC2016
  perl -e 'use strict; use warnings; use Fcntl qw(O_RDONLY O_NOFOLLOW O_NONBLOCK);
my ($f, @cmd) = @ARGV;
sysopen(my $fh, $f, O_RDONLY | O_NOFOLLOW | O_NONBLOCK) or die($!{ELOOP} ? "orch logs: $f is a symlink; not reading through it\n" : "orch logs: cannot open $f: $!\n");
-f $fh or die "orch logs: $f is not a file\n";
open(STDIN, "<&", $fh) or die "orch logs: $!\n"; close($fh);
exec { $cmd[0] } @cmd or die "orch logs: cannot run tail: $!\n";' -- "$f" "${cmd[@]}"
}

# logs_systemd NAME LINES FOLLOW SUDO [USER]: journalctl -u NAME (--user -u for USER=1).
logs_systemd() {
  local cmd=()
  if [ "$4" = 1 ]; then cmd+=(sudo -n); fi
  cmd+=(journalctl --no-pager -o short-iso)
  if [ "${5:-0}" = 1 ]; then cmd+=(--user); fi
  cmd+=(-u "$1" -n "$2")
  if [ "$3" = 1 ]; then cmd+=(-f); fi
  "${cmd[@]}"
}

# logs_supervisor CONFIG SERVER_URL SUDO NAME LINES FOLLOW: supervisorctl tail of every
# process of NAME's group (stdout, then stderr unless redirect_stderr), last LINES lines.
logs_supervisor() {
  local conf=$1 url=$2 sudo=$3 name=$4 lines=$5 follow=$6 procs p
  procs=$(supervisor_ctl "$conf" "$url" "$sudo" status "$name:*" 2>&1 | awk '{print $1}') || true
  [ -n "$procs" ] || { printf 'orch logs: supervisor knows no program %s\n' "$name" >&2; return 1; }
  if [ "$follow" = 1 ]; then
    for p in $procs; do supervisor_ctl "$conf" "$url" "$sudo" tail -f "$p" & done
    wait
    return 0
  fi
  for p in $procs; do
    supervisor_ctl "$conf" "$url" "$sudo" tail -65536 "$p" stdout | tail -n "$lines"
    supervisor_ctl "$conf" "$url" "$sudo" tail -65536 "$p" stderr 2>/dev/null | tail -n "$lines"
  done
}
