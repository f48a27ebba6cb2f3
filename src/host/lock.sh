# shellcheck shell=bash
# The host lock (SPEC section 6): a flock on ~/.orch/lock held on fd 9 by the run's
# agent (agent.sh) for the whole run. The kernel frees it when the last process holding
# fd 9 exits, so a lock is never left behind by a dead run; the agent exits only after
# its children are gone, so the lock is free only then.

# orch_lock_take WAIT HOLDER: opens ~/.orch/lock on fd 9 and takes its flock, waiting up
# to WAIT seconds (0 = fail at once). Records HOLDER ("USER@HOST pid N since T") in
# ~/.orch/lock.info. Returns 75 with "locked by HOLDER" on stderr when another run keeps
# the lock past WAIT; 70 when flock is missing or the lock file cannot be opened.
orch_lock_take() {
  local wait=$1 holder=$2 info
  command -v flock >/dev/null || { echo "flock not found on the host (util-linux)" >&2; return 70; }
  mkdir -p -- "$HOME/.orch" || return 70
  exec 9>>"$HOME/.orch/lock" || return 70
  if [ "$wait" -gt 0 ]; then
    flock -w "$wait" 9 || {
      info=$(cat -- "$HOME/.orch/lock.info" 2>/dev/null || true)
      printf 'locked by %s\n' "${info:-another orch run}" >&2
      return 75
    }
  else
    flock -n 9 || {
      info=$(cat -- "$HOME/.orch/lock.info" 2>/dev/null || true)
      printf 'locked by %s\n' "${info:-another orch run}" >&2
      return 75
    }
  fi
  printf '%s\n' "$holder" > "$HOME/.orch/lock.info.tmp.$$" && mv -f -- "$HOME/.orch/lock.info.tmp.$$" "$HOME/.orch/lock.info"
}
