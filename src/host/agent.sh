# shellcheck shell=bash
# The remote agent: one per host and run, started in the run's session on the host
# (src/engine/agent.ts starts it). It takes the host lock (lock.sh), reads the facts,
# then runs every segment (segment.sh) as its own child, so all of the run's work on
# the host is one tree of processes under the lock holder. Dead-man's switch: when its
# stdin closes without a goodbye, or no frame arrived for GIVEUP seconds — also while it
# waits for the lock or runs the facts — it stops every process of its session (TERM to
# its process group, then to any newcomer, KILL after GRACE seconds) and exits once none
# is left; the lock (held by the agent and its watchdog only) is free only then.
#
# Frames on stdin (control machine -> agent), one header line each:
#   P GIVEUP LOCK HOLDER [SLEN]          optional, first: launched early (see orch_agent);
#     + SLEN bytes                        SLEN bytes of a speculative facts script follow
#   C GIVEUP GRACE LOCKWAIT HOLDER FLEN  settings; LOCKWAIT - = take no lock; HOLDER
#     + FLEN bytes                        with every byte but [A-Za-z0-9@.:_+-] written \xHH;
#                                         then the facts script (FLEN bytes), run under the
#                                         lock; FLEN `=`: the speculative facts stand for
#                                         them (only after `speculating`). The control
#                                         machine may start the agent before it knows them
#                                         (the agent waits, changing nothing on the host
#                                         until it has them).
#   S LEN PAYLOAD + LEN bytes             a segment (segment.sh fields); PAYLOAD 1 = data frames follow
#   D LEN + LEN bytes ... D 0             payload data of the segment (spooled), then its end
#   H                                     heartbeat (every few seconds)
#   X                                     stop: end every child (TERM, KILL after GRACE), exit
#   Q                                     goodbye: exit, leaving background processes alone
# Output (agent -> control machine; parsed by src/engine/agent.ts):
#   ::orch:: started                                       once, as the agent's code runs (a trace point)
#   ::orch:: speculating / the facts output / ::orch:: speculated
#                                                          launched early with a speculative
#                                                          facts script and the lock taken
#   ::orch:: locked / the facts output / ::orch:: end      once, after the lock is held
#   segment.sh's lines, then ::orch-seg:: done RC          per segment
#   ::orch:: stopped                                        after X
# Exit: 0 goodbye, 75 lock held by another run (message on stderr), 70 bad input.

# orch_agent_now: seconds since the epoch, into the variable named by $1 (no fork).
orch_agent_now() { printf -v "$1" '%(%s)T' -1; }

# orch_agent_alive: records that the control machine was heard from just now (for the
# watchdog; nothing to do before the scratch folder exists, see orch_agent_ready).
orch_agent_alive() { [ -z "$ORCH_AGENT_DIR" ] || printf '%(%s)T\n' -1 > "$ORCH_AGENT_DIR/alive"; }

# orch_agent_ms VAR: milliseconds since the epoch into VAR (bash 5's EPOCHREALTIME: no
# fork; `date` on older bash).
orch_agent_ms() {
  local t=${EPOCHREALTIME:-}
  if [ -n "$t" ]; then
    t=${t//[.,]/}
    printf -v "$1" '%s' "${t:0:${#t}-3}"
  else
    printf -v "$1" '%s' "$(( $(date +%s%N) / 1000000 ))"
  fi
}

# orch_agent_session_pids: sets the array ORCH_AGENT_PIDS to the pids of every live
# process of this session except the caller ($BASHPID), from /proc/PID/stat: the session
# id is the 4th field after "(comm) "; zombies (state Z) are left out. Builtins only (no
# fork, so the scan itself adds no process to the session).
orch_agent_session_pids() {
  local me=$BASHPID line rest sid f
  ORCH_AGENT_PIDS=()
  read -r line < "/proc/$me/stat" || return 0
  rest=${line##*) }
  read -r _ _ _ sid _ <<< "$rest"
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null < "$f" || continue
    rest=${line##*) }
    set -f
    # shellcheck disable=SC2086 # split the fields on purpose
    set -- $rest
    set +f
    if [ "$4" != "$sid" ] || [ "$1" = Z ]; then continue; fi
    f=${f#/proc/}
    f=${f%/stat}
    [ "$f" = "$me" ] || ORCH_AGENT_PIDS+=("$f")
  done
}

# orch_agent_kill_session GRACE: ends every other process of the session and returns
# once none is left. TERM first to the agent's whole process group (the agent leads its
# session and group; the kernel signals a group atomically, so a child forking at that
# moment gets it too), then every 20 ms TERM to each process of the session not yet sent
# one (a newcomer, or a `timeout` and its command, which run in a group of their own).
# After GRACE seconds: KILL to whatever is left (by pid: the caller is in the group).
# Returns when two scans in a row find no process, or 5 s after the KILL (a process in
# uninterruptible sleep dies when its I/O ends). The caller ignores TERM; the lock (the caller's fd 9) goes last.
orch_agent_kill_session() {
  local grace=$1 now deadline killed=0 p empty=0
  local -A sent=()
  trap '' TERM HUP INT PIPE
  local group=0
  read -r p < "/proc/$$/stat" && p=${p##*) } && read -r _ _ p _ <<< "$p" && [ "$p" = "$$" ] && group=1
  [ "$group" = 0 ] || kill -TERM -- "-$$" 2>/dev/null
  orch_agent_ms now
  deadline=$((now + grace * 1000))
  while :; do
    orch_agent_session_pids
    if [ "${#ORCH_AGENT_PIDS[@]}" = 0 ]; then
      # Twice in a row: a scan is not atomic (a process that forks and exits while the
      # scan runs leaves a child that only the next scan sees).
      [ "$empty" = 0 ] || return 0
      empty=1
      orch_agent_nap 0.02
      continue
    fi
    empty=0
    orch_agent_ms now
    if [ "$killed" = 0 ] && [ "$now" -ge "$deadline" ]; then
      killed=1
      deadline=$((now + 5000))
    fi
    if [ "$killed" = 1 ]; then
      [ "$now" -lt "$deadline" ] || return 0
      kill -KILL "${ORCH_AGENT_PIDS[@]}" 2>/dev/null
    else
      for p in "${ORCH_AGENT_PIDS[@]}"; do
        [ -n "${sent[$p]:-}" ] || { sent[$p]=1; kill -TERM "$p" 2>/dev/null; }
      done
    fi
    orch_agent_nap 0.02
  done
}

# orch_agent_busy: true while a child doing the run's work lives: the lock wait, the
# facts, a segment (the agent writes `1` to ORCH_AGENT_DIR/busy before starting one;
# the segment child empties it when over, the agent after the lock wait and the facts:
# redirections, no process). Before the scratch folder exists (the lock wait and the
# facts: no watchdog reads it yet) the flag is the variable ORCH_AGENT_BUSY.
orch_agent_busy() {
  if [ -n "$ORCH_AGENT_DIR" ]; then [ -s "$ORCH_AGENT_DIR/busy" ]; else [ -n "$ORCH_AGENT_BUSY" ]; fi
}

# orch_agent_set_busy 1|'': sets the flag orch_agent_busy reads.
orch_agent_set_busy() {
  ORCH_AGENT_BUSY=$1
  [ -z "$ORCH_AGENT_DIR" ] || printf '%s' "$1" > "$ORCH_AGENT_DIR/busy"
}

# orch_agent_mkdir: makes the agent's private scratch folder ~/.orch/agent.PID.RANDOM
# (mode 700) with its seg/ folder (the segments' scratch space) in one mkdir, sets
# ORCH_AGENT_DIR. A name that exists (left by a killed agent) is skipped: mkdir fails
# on it. Returns 1 when no folder could be made.
orch_agent_mkdir() {
  local i d
  for ((i = 0; i < 20; i++)); do
    d="$HOME/.orch/agent.$BASHPID.$RANDOM$RANDOM"
    if [ -e "$d" ] || [ -L "$d" ]; then continue; fi
    if mkdir -m 700 -- "$d" "$d/seg" 2>/dev/null; then
      ORCH_AGENT_DIR=$d
      return 0
    fi
  done
  return 1
}

# orch_agent_sweep: removes the scratch folders (~/.orch/agent.PID.*) of agents whose
# process is gone (killed before their goodbye: they may hold rendered scripts and
# payloads). A folder whose pid lives, whoever it is now, is left alone. No signal is
# sent: /proc/PID tells (kill -0 where there is no /proc).
orch_agent_sweep() {
  local d p
  for d in "$HOME/.orch/agent."*; do
    if [ ! -d "$d" ] || [ -L "$d" ] || [ "$d" = "$ORCH_AGENT_DIR" ]; then continue; fi
    p=${d##*/agent.}
    p=${p%%.*}
    case "$p" in '' | *[!0-9]*) continue ;; esac
    if [ -d /proc/self ]; then
      [ ! -e "/proc/$p" ] || continue
    elif kill -0 "$p" 2>/dev/null; then
      continue
    fi
    rm -rf -- "$d"
  done
}

# orch_agent_fields_ok FILE N: true when FILE holds the N bytes of a segment frame
# (NUL-terminated fields, counted with mapfile in the C locale: no process).
orch_agent_fields_ok() {
  local LC_ALL=C x t=0
  local -a f
  mapfile -d '' f < "$1" || return 1
  for x in "${f[@]}"; do t=$((t + ${#x} + 1)); done
  [ "$t" = "$2" ]
}

# orch_agent_nap SECONDS: sleeps without a child process (a read with a timeout on the
# agent's private fifo, which never gets data); `sleep` when the fifo is gone.
orch_agent_nap() {
  local rc=1
  [ -p "$ORCH_AGENT_DIR/tick" ] && { read -r -t "$1" _ <> "$ORCH_AGENT_DIR/tick"; rc=$?; }
  [ "$rc" -gt 128 ] || sleep "$1"
}

# orch_agent_gone WHY: the control machine is gone (stdin closed, or silent for too
# long): stops the running segment's processes, if any, else simply exits (processes
# a finished step left in the background are not the run's to end).
orch_agent_gone() {
  if orch_agent_busy; then orch_agent_stop "$1"; fi
  # The watchdog holds the lock too: it goes first (ORCH_AGENT_WD is unset in the watchdog).
  [ -z "${ORCH_AGENT_WD:-}" ] || kill -KILL "$ORCH_AGENT_WD" 2>/dev/null
  [ -z "$ORCH_AGENT_DIR" ] || rm -rf -- "$ORCH_AGENT_DIR"
  exit 0
}

# orch_agent_stop WHY: the dead-man's switch and the stop frame: ends every other
# process of the session, removes the scratch folder, exits 0. The lock (fd 9) goes
# with the caller, last.
orch_agent_stop() {
  # The control machine may be gone: a write to its pipes must not kill us first.
  trap '' TERM HUP INT PIPE
  printf 'orch agent: %s: stopping\n' "$1" >&2
  orch_agent_kill_session "$ORCH_AGENT_GRACE"
  [ -z "$ORCH_AGENT_DIR" ] || rm -rf -- "$ORCH_AGENT_DIR"
  [ "$1" != stop ] || echo '::orch:: stopped'
  exit 0
}

# orch_agent_orphaned AGENT_PID: true when this process's parent is no longer the agent.
# An agent that died (a SIGPIPE when sshd went first) can stay a zombie for a while when
# its reaper is slow, and `kill -0` still finds a zombie; its children are re-parented at
# once, so the parent pid read from /proc tells.
orch_agent_orphaned() {
  local line ppid
  read -r line < "/proc/$BASHPID/stat" || return 0
  line=${line##*) }
  read -r _ ppid _ <<< "$line"
  [ "$ppid" != "$1" ]
}

# orch_agent_watchdog AGENT_PID: every 0.25 s, stops the run when the agent process is
# gone or nothing was heard for ORCH_AGENT_GIVEUP seconds. Started before the lock wait,
# so a partitioned control machine never leaves an agent waiting for (then holding) the
# lock. Forks nothing while it waits (orch_agent_nap).
orch_agent_watchdog() {
  local agent=$1 now heard
  while orch_agent_nap 0.25; do
    if orch_agent_orphaned "$agent" || ! kill -0 "$agent" 2>/dev/null; then orch_agent_gone 'the agent process is gone'; fi
    # An empty read means the file is being rewritten this instant: heard from just now.
    read -r heard < "$ORCH_AGENT_DIR/alive" || continue
    case "$heard" in ''|*[!0-9]*) continue ;; esac
    orch_agent_now now
    [ $((now - heard)) -le "$ORCH_AGENT_GIVEUP" ] || { kill -KILL "$agent" 2>/dev/null; orch_agent_gone "no heartbeat from the control machine for $ORCH_AGENT_GIVEUP s"; }
  done
}

# orch_agent_pump FILE: appends the payload's D frames from stdin to FILE until `D 0`
# (every frame counts as hearing from the control machine). Returns 1 when stdin ends or
# a frame is malformed or cut short.
orch_agent_pump() {
  local file=$1 line n
  : > "$file" || return 1
  while IFS= read -r line; do
    orch_agent_alive
    case "$line" in
      H) ;;
      'D 0') return 0 ;;
      D\ *)
        n=${line#D }
        case "$n" in *[!0-9]*|'') return 1 ;; esac
        head -c "$n" >> "$file" || return 1
        ;;
      *) return 1 ;;
    esac
  done
  return 1
}

# orch_agent_segment LEN PAYLOAD: reads a segment's fields and starts it as a child
# (without the lock's fd). With PAYLOAD 1 the data frames are first spooled to a private
# file beside the fields, which becomes the child's stdin: a step slow to read its
# payload never stops the agent from hearing heartbeats. The child prints
# `::orch-seg:: done RC` when it is over; the agent goes back to reading frames at once.
orch_agent_segment() {
  local n=$1 payload=$2 d=$ORCH_AGENT_DIR/seg rc in=/dev/null
  case "$n" in *[!0-9]*|'') return 1 ;; esac
  # seg/ (made with the agent's folder) is reused: the runner overwrites its files.
  [ -d "$d" ] || mkdir -m 700 -- "$d" || return 1
  head -c "$n" > "$d.fields"
  orch_agent_fields_ok "$d.fields" "$n" || return 1
  if [ "$payload" = 1 ]; then
    in=$d.payload
    orch_agent_pump "$in" || return 1
  fi
  orch_agent_set_busy 1
  # Over: busy cleared and the payload spool (if any) emptied, by redirections (no process;
  # the agent's folder goes at the end of the run).
  { orch_seg_run "$d.fields" "$d"; rc=$?; : > "$ORCH_AGENT_DIR/busy"; [ "$payload" != 1 ] || : > "$d.payload"; printf '::orch-seg:: done %s\n' "$rc"; } < "$in" 9>&- &
  return 0
}

# orch_agent_running PID: true while the child PID runs. A child that exited but is not
# reaped yet is a zombie, which `kill -0` still finds (bash may leave its background
# children unreaped while a `read -t` waits): /proc/PID/stat's state tells, read by the
# builtin (no fork); kill -0 where there is no /proc.
orch_agent_running() {
  local st
  if [ -r "/proc/$1/stat" ]; then
    { IFS= read -r st < "/proc/$1/stat"; } 2>/dev/null || return 1
    st=${st##*) }
    [ "${st:0:1}" != Z ]
  else
    kill -0 "$1" 2>/dev/null
  fi
}

# orch_agent_awaited_frame LINE: a frame header heard while a child is awaited: H is
# enough, X stops the run, Q ends it (a goodbye while the lock or the facts are awaited
# ends the wait: never a lock taken late); any other is kept in ORCH_AGENT_PENDING.
orch_agent_awaited_frame() {
  local n line
  orch_agent_unbeat line "$1"
  case "$line" in
    '') ;;
    X) orch_agent_stop stop ;;
    Q) orch_agent_gone goodbye ;;
    # The settings, while the speculative facts run: read whole now (the facts script
    # follows the line), so the wait goes on reading frames, and X, Q, a closed stdin or
    # silence still stop the run while a probe hangs.
    C\ *)
      if [ -z "$ORCH_AGENT_SPECULATING" ]; then ORCH_AGENT_PENDING=$line; return 0; fi
      read -r _ _ _ _ _ n <<< "$line"
      ORCH_AGENT_FACTS=
      case "$n" in
        '' | 0 | *[!0-9]*) ;;
        *) LC_ALL=C IFS= read -r -N "$n" -t "$ORCH_AGENT_GIVEUP" ORCH_AGENT_FACTS || orch_agent_stop 'the settings frame was cut short' ;;
      esac
      ORCH_AGENT_SETTINGS=$line
      ;;
    *) ORCH_AGENT_PENDING=$line ;;
  esac
}

# orch_agent_unbeat VAR LINE: LINE without the heartbeats in front, into VAR. A read whose
# timeout falls just as it consumed a byte loses that byte (bash's `read -t` checks its
# alarm between taking a byte and keeping it), so a heartbeat `H` may come without its
# newline, glued to the next frame (`HS 12 0`), or a newline alone: both still read right.
# No frame but the heartbeat starts with H. Only the heartbeat's bytes can be lost this
# way: the control machine sends nothing else while the agent polls (it waits for
# `speculated` before it sends the settings).
orch_agent_unbeat() {
  local l=$2
  while [ "${l:0:1}" = H ]; do l=${l:1}; done
  printf -v "$1" '%s' "$l"
}

# orch_agent_await PID: waits for the agent's child PID (the lock wait, the facts) while
# still reading frames, so the dead-man's switch works during both: a heartbeat counts
# as hearing from the control machine; stdin closing or X stops the run (the child with
# it). Any other frame header is kept in ORCH_AGENT_PENDING for the main loop, which
# reads the rest of that frame; the wait then goes on without reading. It is also the
# dead-man's switch while it waits (the watchdog starts after the facts): nothing heard
# for GIVEUP seconds stops the run. Sets
# ORCH_AGENT_RC to the child's exit status. Polls every 5 ms for the first 0.2 s (the
# facts of a host usually take less: each poll is latency on the run's critical path),
# then every 20 ms (a read with a timeout: no fork).
orch_agent_await() {
  local pid=$1 line='' part rc polls=0 tick=0.005 now heard
  orch_agent_now heard
  while [ -z "$ORCH_AGENT_PENDING" ] && orch_agent_running "$pid"; do
    rc=0
    polls=$((polls + 1))
    [ "$polls" -le 40 ] || tick=0.02
    IFS= read -r -t "$tick" part || rc=$?
    # A timeout keeps what was read so far of a line in part.
    if [ "$rc" -gt 128 ]; then
      line+=$part
      orch_agent_now now
      [ $((now - heard)) -le "$ORCH_AGENT_GIVEUP" ] || orch_agent_stop "no heartbeat from the control machine for $ORCH_AGENT_GIVEUP s"
      continue
    fi
    [ "$rc" = 0 ] || orch_agent_stop 'stdin closed (the control machine is gone)'
    line+=$part
    orch_agent_alive
    orch_agent_now heard
    orch_agent_awaited_frame "$line"
    line=''
  done
  # A frame line the last read's timeout cut (the timeout counts from the read's start, so
  # it can fall inside a line that arrived late) when the child ended: its rest follows
  # (the control machine writes whole lines); read it, so the line is not lost.
  if [ -n "$line" ]; then
    rc=0
    IFS= read -r -t "$ORCH_AGENT_GIVEUP" part || rc=$?
    [ "$rc" = 0 ] || orch_agent_stop 'stdin closed or silent in the middle of a frame'
    line+=$part
    orch_agent_alive
    orch_agent_awaited_frame "$line"
  fi
  rc=0
  wait "$pid" || rc=$?
  ORCH_AGENT_RC=$rc
  orch_agent_set_busy ''
}

# orch_agent_ready: what only a run with segments needs, made before its first segment
# (a run that ends after its facts, a no-op, makes none of it: fewer processes on the
# host): the scratch folder (orch_agent_mkdir), the nap fifo, and the watchdog, which
# holds the lock's fd too. Until then the agent's own frame reads time out after
# GIVEUP seconds (orch_agent_await, the main loop).
orch_agent_ready() {
  local me
  [ -z "$ORCH_AGENT_DIR" ] || return 0
  orch_agent_mkdir || orch_agent_stop 'cannot make the agent folder'
  mkfifo -m 600 -- "$ORCH_AGENT_DIR/tick" || orch_agent_stop 'cannot make the agent fifo'
  orch_agent_alive
  # The watchdog's stdout is not the protocol's.
  # (A background command's words expand in the child: take this pid first.)
  me=$BASHPID
  orch_agent_watchdog "$me" < /dev/null > /dev/null &
  ORCH_AGENT_WD=$!
  # No "Killed" notice on stderr when it is ended.
  disown "$ORCH_AGENT_WD"
}

# orch_agent: the agent's main loop (see the top of this file).
orch_agent() {
  local line giveup grace lockwait holder n rc early='' spec='' speculated='' reuse='' noted=''
  echo '::orch:: started'
  # The scratch folder (payloads are spooled there: under ~/.orch, not /tmp, which may be
  # a small tmpfs) comes with the first segment (orch_agent_ready).
  ORCH_AGENT_DIR=
  ORCH_AGENT_BUSY=
  ORCH_AGENT_WD=
  ORCH_AGENT_PENDING=
  ORCH_AGENT_SETTINGS=
  ORCH_AGENT_SPECULATING=
  ORCH_AGENT_FACTS=
  ORCH_AGENT_GRACE=1
  IFS= read -r line || exit 70
  # Launched early (P GIVEUP LOCK HOLDER [SLEN], sent with the code while the control
  # machine still compiles): with LOCK 1, take a free lock at once when its file exists
  # already (a host orch never ran on gets nothing before its plan is valid); then wait for
  # the settings, heartbeats (H) keeping it alive: GIVEUP seconds without a frame end it
  # (and free the lock). With the lock held and SLEN bytes of a facts script (the previous
  # run's, read-only probes), run it now, speculatively: when the plan's facts script turns
  # out the same, the settings say `=` and these facts, read under the same lock, are the
  # run's (no second run of the facts after the compile).
  if [ "${line:0:2}" = 'P ' ]; then
    read -r _ giveup early holder n <<< "$line"
    case "$giveup/${n:-0}" in *[!0-9/]*|/*|*/) echo "orch agent: bad launch line" >&2; exit 70 ;; esac
    if [ "${n:-0}" != 0 ]; then LC_ALL=C IFS= read -r -N "$n" spec || exit 70; fi
    if [ "$early" = 1 ] && [ -f "$HOME/$ORCH_LOCK_FILE" ] && [ ! -L "$HOME/$ORCH_LOCK_FILE" ] && exec 9>>"$HOME/$ORCH_LOCK_FILE"; then
      if flock -n 9; then
        printf -v holder '%b' "$holder"
        orch_lock_note "$holder"
        noted=$holder
      else
        exec 9>&-
        early=
      fi
    else
      early=
    fi
    ORCH_AGENT_GIVEUP=$giveup
    if [ -n "$early" ] && [ -n "$spec" ]; then
      echo '::orch:: speculating'
      orch_agent_set_busy 1
      ( eval "$spec" ) < /dev/null 9>&- &
      # Heartbeats, X, Q and silence are heeded meanwhile; settings that come are read whole
      # (ORCH_AGENT_SETTINGS and the script in ORCH_AGENT_FACTS).
      ORCH_AGENT_SPECULATING=1
      orch_agent_await $!
      ORCH_AGENT_SPECULATING=
      speculated=1
    fi
    # With a script, `speculated` always comes (after `speculating` only when they ran):
    # the control machine sends the settings once it has it.
    [ -z "$spec" ] || echo '::orch:: speculated'
    line=${ORCH_AGENT_SETTINGS:-$ORCH_AGENT_PENDING}
    ORCH_AGENT_PENDING=
    while [ -z "$line" ]; do
      IFS= read -r -t "$giveup" line || exit 70
      orch_agent_unbeat line "$line"
    done
  fi
  read -r _ giveup grace lockwait holder n <<< "$line"
  case "${line:0:2}" in 'C ') ;; *) printf 'orch agent: bad settings line: %q\n' "${line:0:200}" >&2; exit 70 ;; esac
  # `=`: the speculative facts stand for the facts, only when they were read under the
  # lock this run keeps.
  if [ "$n" = '=' ]; then
    if [ -z "$speculated" ] || [ "$lockwait" = - ]; then echo "orch agent: no speculative facts to use" >&2; exit 70; fi
    n=0
    reuse=1
  fi
  case "$giveup/$grace/$n" in *[!0-9/]*|/*|*//*|*/) printf 'orch agent: bad settings line: %q\n' "${line:0:200}" >&2; exit 70 ;; esac
  # The facts script follows the line, unless it was read with it while the speculative facts ran.
  if [ -z "$ORCH_AGENT_SETTINGS" ]; then
    ORCH_AGENT_FACTS=
    if [ "$n" != 0 ]; then LC_ALL=C IFS= read -r -N "$n" ORCH_AGENT_FACTS || exit 70; fi
  fi
  ORCH_AGENT_GIVEUP=$giveup
  ORCH_AGENT_GRACE=$grace
  [ -d "$HOME/.orch" ] || mkdir -p -- "$HOME/.orch" || exit 70
  orch_agent_sweep
  # A lock taken early is kept by a run that takes one, and freed by one that does not.
  if [ -n "$early" ] && [ "$lockwait" = - ]; then exec 9>&-; early=; fi
  if [ "$lockwait" != - ] && [ -z "$early" ]; then
    rc=0
    orch_lock_open || rc=$?
    [ "$rc" = 0 ] || exit "$rc"
  fi
  # Until the facts are out, the agent is its own dead-man's switch (orch_agent_await).
  if [ "$lockwait" != - ]; then
    rc=0
    # A free lock (the usual case) is taken at once by one flock on the agent's fd 9.
    # Else the wait runs as a child on the same fd (one open file, so the flock it takes
    # is the agent's), while the agent keeps reading frames.
    if [ -z "$early" ] && ! flock -n 9; then
      orch_agent_set_busy 1
      orch_lock_wait "$lockwait" < /dev/null > /dev/null &
      orch_agent_await $!
      rc=$ORCH_AGENT_RC
    fi
    [ "$rc" = 0 ] || exit "$rc"
    # The holder (`\xHH`-escaped, src/engine/agent.ts) names this run in lock.info (once:
    # a lock taken early was noted then, and each note empties the file for an instant).
    printf -v holder '%b' "$holder"
    if [ -z "$early" ] || [ "$noted" != "$holder" ]; then orch_lock_note "$holder"; fi
  fi
  echo '::orch:: locked'
  if [ -z "$reuse" ]; then
    orch_agent_set_busy 1
    # A subshell that runs the facts script (ORCH_AGENT_FACTS, read after the settings
    # line): no new bash to start, no file to write.
    ( eval "$ORCH_AGENT_FACTS" ) < /dev/null 9>&- &
    orch_agent_await $!
  fi
  echo '::orch:: end'
  while :; do
    if [ -n "$ORCH_AGENT_PENDING" ]; then
      line=$ORCH_AGENT_PENDING
      ORCH_AGENT_PENDING=
    else
      rc=0
      # Without the watchdog (no segment yet), a read that waits GIVEUP seconds is the switch.
      if [ -n "$ORCH_AGENT_WD" ]; then IFS= read -r line || rc=$?; else IFS= read -r -t "$ORCH_AGENT_GIVEUP" line || rc=$?; fi
      [ "$rc" -le 128 ] || orch_agent_gone "no heartbeat from the control machine for $ORCH_AGENT_GIVEUP s"
      [ "$rc" = 0 ] || orch_agent_gone 'stdin closed (the control machine is gone)'
    fi
    orch_agent_alive
    orch_agent_unbeat line "$line"
    case "$line" in
      '') ;;
      S\ *)
        read -r _ n rc <<< "$line"
        orch_agent_ready
        orch_agent_segment "$n" "$rc" || orch_agent_stop 'malformed segment frame'
        ;;
      X) orch_agent_stop stop ;;
      Q) orch_agent_gone goodbye ;;
      *) orch_agent_stop "unknown frame ${line:0:20}" ;;
    esac
  done
}
