# shellcheck shell=bash
# The host lock (docs/how-it-works.md "What orch leaves on a host"): a flock on ~/.orch/lock held on fd 9 by the run's
# agent (agent.sh) for the whole run. The kernel frees it when the last process holding
# fd 9 exits, so a lock is never left behind by a dead run; the agent exits only after
# its children are gone, so the lock is free only then.

# orch_lock_open: opens ~/.orch/lock on fd 9 (no lock taken yet). Returns 70 when flock
# is missing or the lock file cannot be opened.
orch_lock_open() {
  command -v flock >/dev/null || { echo "flock not found on the host (util-linux)" >&2; return "$ORCH_EXIT_BAD_INPUT"; }
  [ -d "$HOME/.orch" ] || mkdir -p -- "$HOME/.orch" || return "$ORCH_EXIT_BAD_INPUT"
  exec 9>>"$HOME/$ORCH_LOCK_FILE" || return "$ORCH_EXIT_BAD_INPUT"
}

# orch_lock_wait WAIT: takes the flock of the open fd 9 (orch_lock_open), waiting up to
# WAIT seconds (0 = fail at once). A child may run it: the lock belongs to the open
# file, which the child shares with its parent, so it stays held after the child exits.
# Returns 75 with "locked by HOLDER" (from ~/.orch/lock.info) on stderr when another
# run keeps the lock past WAIT. The holder writes lock.info just after its flock, in place
# (orch_lock_note), so a run that fails at that instant may find it empty: it reads again,
# every 10 ms for up to 0.5 s (only on this failing path), before it says "another orch run".
orch_lock_wait() {
  local wait=$1 info rc=0 tries=0
  if [ "$wait" -gt 0 ]; then flock -w "$wait" 9 || rc=$?; else flock -n 9 || rc=$?; fi
  if [ "$rc" != 0 ]; then
    while info=$(cat -- "$HOME/$ORCH_LOCK_INFO" 2>/dev/null) || true; [ -z "$info" ] && [ "$tries" -lt 50 ]; do
      sleep 0.01
      tries=$((tries + 1))
    done
    printf 'locked by %s\n' "${info:-another orch run}" >&2
    return "$ORCH_EXIT_LOCKED"
  fi
}

# orch_lock_note HOLDER: records HOLDER ("USER@HOST pid N since T") in ~/.orch/lock.info,
# for the "locked by" message of a run that finds the lock held. Written in place by the
# lock's holder (one writer at a time; no `mv` process on every run's critical path): a
# run that reads it at that very instant may see it empty, and reads again
# (orch_lock_wait). ~/.orch is the user's own folder, so nobody else can put a link there.
orch_lock_note() {
  printf '%s\n' "$1" > "$HOME/$ORCH_LOCK_INFO"
}

# orch_lock_take WAIT HOLDER: orch_lock_open, orch_lock_wait and orch_lock_note in this shell.
orch_lock_take() {
  orch_lock_open || return $?
  orch_lock_wait "$1" || return $?
  orch_lock_note "$2"
}
