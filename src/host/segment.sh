# shellcheck shell=bash
# The segment runner: runs consecutive steps of one host in turn and reports each one.
# Started by the agent (agent.sh) as its own child, with the payload (if any) on stdin.
#
# Input: a file of NUL-terminated fields: CHANGED (1 when an earlier step of the node
# changed the host), LIMIT (per-step timeout in seconds, 0 = none), then 8 fields per
# step: INDEX WHEN EXPECT SCRIPT PAYLOAD STATE REGISTRY BASE.
#   PAYLOAD: 1 = on stdin, d:BASE:SHA = a delta stream on stdin (install.sh), b64:DATA
#   inline, 0 = none.
#   STATE/REGISTRY: state.json / registry.json text the step may write (its $2 / $3).
#   BASE: "-" (no check), or "SHA PATH": PATH (state.json) must have sha256 SHA, or be
#   absent when SHA is 0, before the step runs (compare-and-swap against the state the
#   control machine read with the facts; a mismatch fails the step with exit 76).
# Each step's script runs as `bash -c RUNNER SCRIPT DIR`: its arguments ($1 payload, $2
# state, $3 registry) are read from private files in DIR, so no state text, secret or
# script is ever in a command line (`ps` shows command lines to every user).
#
# Output, one line each (parsed by src/engine/segment.ts):
#   ::orch-seg-start:: INDEX                              a step begins
#   ::orch-seg:: INDEX RC STATUS MS B64(stdout) B64(stderr tail) STATE_SHA   a step ended;
#   STATE_SHA: sha256 of BASE's state.json after the step (0 = absent, - = no BASE), so
#   the control machine knows whether the step really wrote it.

# orch_seg_sha FILE VAR TMP: sha256 of FILE, or 0 when it does not exist, into the
# variable VAR. One process: sha256sum writes to the private scratch file TMP, read back by
# the builtin (a command substitution would fork a subshell too).
orch_seg_sha() {
  local s=0
  if [ -e "$1" ]; then
    sha256sum < "$1" > "$3"
    read -r s _ < "$3"
  fi
  printf -v "$2" '%s' "$s"
}

# orch_seg_b64 FILE VAR TMP: base64 of FILE (one line) into VAR, through the private scratch
# file TMP: one process, none when FILE is empty.
orch_seg_b64() {
  local v=''
  if [ -s "$1" ]; then
    b64 < "$1" > "$3"
    IFS= read -r v < "$3" || true
  fi
  printf -v "$2" '%s' "$v"
}

# orch_seg_us VAR: microseconds since the epoch into VAR (bash 5's EPOCHREALTIME: no
# fork; `date` on older bash).
orch_seg_us() {
  local t=${EPOCHREALTIME:-}
  if [ -n "$t" ]; then
    printf -v "$1" '%s' "${t//[.,]/}"
  else
    t=$(date +%s%N)
    printf -v "$1" '%s' "${t:0:${#t}-3}"
  fi
}

# orch_seg_status FILE VAR: the status of the last `::orch:: status=ok|changed|skipped`
# line of FILE into VAR ('' when none): builtins only (mapfile, a loop from the end).
orch_seg_status() {
  local -a lines
  local i
  printf -v "$2" '%s' ''
  mapfile -t lines < "$1" || return 0
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    case "${lines[i]}" in
      '::orch:: status=ok' | '::orch:: status=changed' | '::orch:: status=skipped')
        printf -v "$2" '%s' "${lines[i]#::orch:: status=}"
        return 0
        ;;
    esac
  done
}

# orch_seg_umask VAR: this process's umask (`0022`) into VAR, read from /proc by the
# builtin (no process); `$(umask)` where there is no /proc.
orch_seg_umask() {
  local k v
  if [ -r "/proc/$BASHPID/status" ]; then
    while read -r k v; do
      if [ "$k" = Umask: ]; then printf -v "$1" '%s' "$v"; return 0; fi
    done < "/proc/$BASHPID/status"
  fi
  printf -v "$1" '%s' "$(umask)"
}

# orch_seg_run FIELDS DIR: runs the steps described in FIELDS, with DIR (private; the files it writes there are overwritten per step)
# as scratch space. Stops after a failed step, after exit 99 ("send the payload"), and
# after a step whose status differs from EXPECT. Returns 0 (outcomes are in the output).
# Sets the umask to 077 while it writes the step's private files (the caller runs it as its
# own child: the agent, src/host/agent.sh); each step runs with the umask it had before.
orch_seg_run() {
  local fields=$1 d=$2 changed limit idx when expect p st rg base rc status ms t0 t1 after sha o64 e64 et nl=$'\n' um
  local -a a run
  mapfile -d '' -t a < "$fields"
  set -- "${a[@]}"
  unset a
  changed=$1 limit=$2
  shift 2
  # The runner of one step: reads its three arguments from DIR and sources the script.
  # Each is the file's text minus its trailing newlines (what `$(cat FILE)` gives: the
  # files never hold a NUL), read by the builtin `read`: no process.
  orch_seg_umask um
  umask 077
  # shellcheck disable=SC2016 # expanded by the step's bash, not here
  local runner="umask $um; "'for _v in p st rg; do IFS= read -r -d "" "$_v" < "$1/$_v"; while [[ ${!_v} == *"'"$nl"'" ]]; do printf -v "$_v" %s "${!_v%"'"$nl"'"}"; done; done; unset _v; set -- "$p" "$st" "$rg"; . "$0"'
  while [ $# -ge 8 ]; do
    idx=$1 when=$2 expect=$3 p=$5 st=$6 rg=$7 base=$8
    printf '%s' "$4" > "$d/s"
    printf '%s' "$st" > "$d/st"
    printf '%s' "$rg" > "$d/rg"
    shift 8
    if [ "$when" = changed ] && [ "$changed" = 0 ]; then
      printf '::orch-seg:: %s 0 skipped 0 - - -\n' "$idx"
      continue
    fi
    case "$p" in
      b64:*) printf '%s' "${p#b64:}" | base64 -d > "$d/in"; p="f:$d/in" ;;
    esac
    printf '%s' "$p" > "$d/p"
    printf '::orch-seg-start:: %s\n' "$idx"
    orch_seg_us t0
    rc=0
    sha=-
    [ "$base" = - ] || orch_seg_sha "${base#* }" sha "$d/t"
    if [ "$base" != - ] && [ "$sha" != "${base%% *}" ]; then
      printf 'state.json %s changed since the facts were read (another writer?); not running the step\n' "${base#* }" > "$d/e"
      : > "$d/o"
      rc=$ORCH_EXIT_STATE_CONFLICT
    else
      if [ "$limit" != 0 ]; then run=(timeout -k 5 "$limit" bash -c "$runner" "$d/s" "$d"); else run=(bash -c "$runner" "$d/s" "$d"); fi
      if [ "$p" = 1 ] || [ "${p#d:}" != "$p" ]; then
        "${run[@]}" >"$d/o" 2>"$d/e" || rc=$?
      else
        "${run[@]}" >"$d/o" 2>"$d/e" </dev/null || rc=$?
      fi
    fi
    # Only the first step may read the payload: the agent's pump sees EOF from here on.
    exec 0</dev/null
    [ ! -e "$d/in" ] || rm -f -- "$d/in"
    orch_seg_us t1
    ms=$(( (t1 - t0) / 1000 ))
    orch_seg_status "$d/o" status
    status=${status:-changed}
    after=-
    [ "$base" = - ] || orch_seg_sha "${base#* }" after "$d/t"
    orch_seg_b64 "$d/o" o64 "$d/t"
    # The last 4000 bytes of stderr: a tail only when there are more (read -N counts bytes
    # in the C locale; it skips NUL bytes, so a stderr with some may be sent a little longer).
    e64=''
    if [ -s "$d/e" ]; then
      LC_ALL=C IFS= read -r -N 4001 et < "$d/e" || true
      if [ "${#et}" -gt 4000 ]; then
        tail -c 4000 -- "$d/e" > "$d/et"
        orch_seg_b64 "$d/et" e64 "$d/t"
      else
        orch_seg_b64 "$d/e" e64 "$d/t"
      fi
    fi
    printf '::orch-seg:: %s %s %s %s %s %s %s\n' "$idx" "$rc" "$status" "$ms" "$o64" "$e64" "$after"
    [ "$rc" = 0 ] || return 0
    [ "$status" = changed ] && changed=1
    if [ "$expect" != - ] && [ "$status" != "$expect" ]; then return 0; fi
  done
  return 0
}
