# shellcheck shell=bash
# The prelude of every host-side task script: strict mode, a private-enough umask, and
# the helpers of orch's step output protocol (see src/host/protocol.ts).
#
# Arguments of a task script: $1 = 1 when the payload is on stdin (f:FILE when it is in
# that private file, else 0); $2 = new state.json text (or empty); $3 = new
# registry.json text (or empty). Exit 0 = success, 99 = "run me again with the
# payload", anything else = failed.
set -euo pipefail
umask 022

# orch_status STATUS: reports the step's outcome (ok | changed | skipped) on stdout.
orch_status() { printf '::orch:: status=%s\n' "$1"; }

# orch_fail MESSAGE...: prints MESSAGE on stderr and fails the step (exit 1).
orch_fail() { printf '%s\n' "$*" >&2; exit 1; }

# orch_write FILE TEXT: writes TEXT (plus a newline) to FILE atomically: a temp name in
# the same folder, then rename(2), so a reader sees the old or the new file, never half.
orch_write() {
  local tmp dir=.
  tmp="$1.tmp.$$"
  # dirname by parameter expansion (no process); mkdir only when the folder is missing.
  case "$1" in */*) dir=${1%/*}; dir=${dir:-/} ;; esac
  [ -d "$dir" ] || mkdir -p -- "$dir"
  printf '%s\n' "$2" > "$tmp"
  mv -f -- "$tmp" "$1"
}

