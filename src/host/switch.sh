# shellcheck shell=bash
# The one switch of `current` (and `previous`): used by the symlink step, the
# healthcheck's rollback and `orch rollback`. Needs prelude.sh and versions.sh.
# Layout (src/host/layout.ts): ROOT/current and ROOT/previous are relative links to
# versions/<V>; a complete version holds versions/<V>/.orch-installed.

# orch_link_of LINK VAR: the target of the symlink LINK into the variable VAR, '' when LINK
# is not a symlink (then no process: a first deploy has no `current`).
orch_link_of() {
  local _orch_link=''
  if [ -L "$1" ]; then _orch_link=$(readlink -- "$1" 2>/dev/null) || _orch_link=''; fi
  printf -v "$2" '%s' "$_orch_link"
}

# orch_relink LINK TARGET: points LINK at TARGET atomically: a temp link beside it, then
# rename(2) over it (`mv -T`), so a reader sees the old or the new target, never none.
orch_relink() {
  local tmp link=$1 dir=. base
  # dirname and basename by parameter expansion (no process).
  while [ "$link" != / ] && [ "${link%/}" != "$link" ]; do link=${link%/}; done
  base=${link##*/}
  case "$link" in */*) dir=${link%/*}; dir=${dir:-/} ;; esac
  tmp="$dir/.$base.tmp.$$"
  ln -sfn -- "$2" "$tmp"
  mv -T -f -- "$tmp" "$1"
}

# orch_cleanup ROOT: removes what runs that died left under ROOT (orch_leftovers in
# versions.sh; the caller holds the host lock, so no other orch run is active there).
# Prints `cleanup: N leftovers of an interrupted run` on stderr when it removed any.
orch_cleanup() {
  orch_leftovers "$1"
  [ "${#ORCH_LEFTOVERS[@]}" = 0 ] && return 0
  rm -rf -- "${ORCH_LEFTOVERS[@]}"
  printf 'cleanup: %s leftovers of an interrupted run\n' "${#ORCH_LEFTOVERS[@]}" >&2
}

# orch_switch ROOT TARGET PENDING STATE: points ROOT/current at TARGET (`versions/<V>`,
# complete: the caller checked) and ROOT/previous at what current was. Already there:
# status ok, or changed when PENDING (a restart-pending marker relative to ROOT, '' =
# none) is left by an interrupted run. Otherwise writes PENDING first (when given),
# switches `previous` then `current` (each atomically: an interrupted switch is
# redone by the next run), writes STATE to ROOT/.orch/state.json when not empty,
# prints status changed. First removes what dead runs left (orch_cleanup). When current
# is already TARGET but state.json does not say so (a run killed between the switch
# and the record), writes STATE (status changed): the link is the truth.
orch_switch() {
  local root=$1 target=$2 pending=$3 state=$4 cur f
  orch_cleanup "$root"
  orch_link_of "$root/current" cur
  if [ "$cur" = "$target" ]; then
    if [ -n "$state" ] && ! grep -qF -- "\"current\": \"${target#versions/}\"" "$root/.orch/state.json" 2>/dev/null; then
      orch_write "$root/.orch/state.json" "$state"
      orch_status changed
    elif [ -n "$pending" ] && [ -e "$root/$pending" ]; then orch_status changed; else orch_status ok; fi
    return 0
  fi
  if [ -n "$pending" ]; then
    f="$root/$pending"
    f=${f%/*}
    [ -d "$f" ] || mkdir -p -- "$f"
    : > "$root/$pending"
  fi
  if [ -n "$cur" ]; then orch_relink "$root/previous" "$cur"; fi
  orch_relink "$root/current" "$target"
  [ -z "$state" ] || orch_write "$root/.orch/state.json" "$state"
  orch_status changed
}
