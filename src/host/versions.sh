# shellcheck shell=bash
# orch_versions ROOT: the complete versions of ROOT (folders of ROOT/versions holding
# .orch-installed), newest install first (fractional mtimes of the markers), one per
# line; nothing when ROOT/versions does not exist.
orch_versions() {
  [ -d "$1/versions" ] || return 0
  find "$1/versions" -mindepth 2 -maxdepth 2 -name .orch-installed -type f -printf '%T@ %h\n' | sort -rn | sed 's#^[^ ]* .*/##'
}

# orch_leftovers ROOT: what runs that died left under ROOT, one path per line: temp
# links `.current.tmp.*`/`.previous.tmp.*`, temp files `.orch-tmp.*` and
# `state.json.tmp.*` in ROOT/.orch, scratch folders ROOT/.orch/unpack.*, partial uploads
# ROOT/.orch/bundles/.upload.*, `.orch-installed.tmp` markers, and incomplete
# ROOT/versions/<V> (no .orch-installed) that are neither current nor previous.
orch_leftovers() {
  local root=$1 f cur prev
  cur=$(readlink -- "$root/current" 2>/dev/null || true)
  prev=$(readlink -- "$root/previous" 2>/dev/null || true)
  for f in "$root"/.current.tmp.* "$root"/.previous.tmp.* "$root"/.orch/.orch-tmp.* "$root"/.orch/state.json.tmp.* \
    "$root"/.orch/unpack.* "$root"/.orch/bundles/.upload.* "$root"/versions/*/.orch-installed.tmp; do
    if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\n' "$f"; fi
  done
  for f in "$root"/versions/*; do
    if [ ! -d "$f" ] || [ -L "$f" ] || [ -e "$f/.orch-installed" ]; then continue; fi
    if [ "versions/${f##*/}" = "$cur" ] || [ "versions/${f##*/}" = "$prev" ]; then continue; fi
    printf '%s\n' "$f"
  done
}
