# shellcheck shell=bash
# ORCH_META_CHANGED is read by the callers (put.sh, directory.sh):
# shellcheck disable=SC2034
# Mode, owner and group of a file or folder (put, directory). Needs prelude.sh.

# orch_octal MODE: an octal mode as `stat -c %a` prints it (0644 -> 644).
orch_octal() { printf '%o\n' "$((8#$1))"; }

# orch_meta PATH MODE OWNER GROUP: gives PATH that mode (octal), owner and group (name
# or numeric id) where they differ; an empty value leaves that one alone. Sets
# ORCH_META_CHANGED=1 when it changed anything. Follows symlinks, as chmod/chown do.
ORCH_META_CHANGED=0
orch_meta() {
  local path=$1 mode=$2 owner=$3 group=$4 have name id
  ORCH_META_CHANGED=0
  if [ -n "$mode" ]; then
    have=$(stat -L -c %a -- "$path")
    if [ "$have" != "$(orch_octal "$mode")" ]; then chmod -- "$mode" "$path"; ORCH_META_CHANGED=1; fi
  fi
  if [ -n "$owner" ]; then
    read -r name id <<<"$(stat -L -c '%U %u' -- "$path")"
    if [ "$owner" != "$name" ] && [ "$owner" != "$id" ]; then chown -- "$owner" "$path"; ORCH_META_CHANGED=1; fi
  fi
  if [ -n "$group" ]; then
    read -r name id <<<"$(stat -L -c '%G %g' -- "$path")"
    if [ "$group" != "$name" ] && [ "$group" != "$id" ]; then chgrp -- "$group" "$path"; ORCH_META_CHANGED=1; fi
  fi
  return 0
}
