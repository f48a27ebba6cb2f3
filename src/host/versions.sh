# shellcheck shell=bash
# orch_versions ROOT: the complete versions of ROOT (folders of ROOT/versions holding
# .orch-installed), newest install first (fractional mtimes of the markers), one per
# line; nothing when ROOT/versions does not exist.
orch_versions() {
  [ -d "$1/versions" ] || return 0
  find "$1/versions" -mindepth 2 -maxdepth 2 -name .orch-installed -type f -printf '%T@ %h\n' | sort -rn | sed 's#^[^ ]* .*/##'
}

# orch_leftovers ROOT: what runs that died left under ROOT, into the array
# ORCH_LEFTOVERS (one path each): temp links `.current.tmp.*`/`.previous.tmp.*`, temp
# files `.orch-tmp.*` and `state.json.tmp.*` in ROOT/.orch, scratch folders
# ROOT/.orch/unpack.*, partial uploads ROOT/.orch/bundles/.upload.*,
# `.orch-installed.tmp` markers, and incomplete ROOT/versions/<V> (no .orch-installed)
# that are neither current nor previous. Globs and tests only: `current` and `previous`
# are read (readlink) only when an incomplete version is found, so the usual pass
# starts no process.
orch_leftovers() {
  local root=$1 f cur='' prev='' read=0
  ORCH_LEFTOVERS=()
  for f in "$root"/.current.tmp.* "$root"/.previous.tmp.* "$root"/.orch/.orch-tmp.* "$root"/.orch/state.json.tmp.* \
    "$root"/.orch/unpack.* "$root"/.orch/bundles/.upload.* "$root"/versions/*/.orch-installed.tmp; do
    if [ -e "$f" ] || [ -L "$f" ]; then ORCH_LEFTOVERS+=("$f"); fi
  done
  for f in "$root"/versions/*; do
    if [ ! -d "$f" ] || [ -L "$f" ] || [ -e "$f/.orch-installed" ]; then continue; fi
    if [ "$read" = 0 ]; then
      read=1
      cur=$(readlink -- "$root/current" 2>/dev/null || true)
      prev=$(readlink -- "$root/previous" 2>/dev/null || true)
    fi
    if [ "versions/${f##*/}" = "$cur" ] || [ "versions/${f##*/}" = "$prev" ]; then continue; fi
    ORCH_LEFTOVERS+=("$f")
  done
}
