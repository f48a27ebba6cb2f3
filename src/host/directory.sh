# shellcheck shell=bash
# The `directory` step (Ansible's `file: state=directory`). Needs prelude.sh and meta.sh.

# orch_directory PATH MODE OWNER GROUP: makes PATH a folder (parents as needed, mode
# 0755 by the umask) with that mode/owner/group ('' = leave). Status ok when it was
# already so; fails when something other than a folder is at PATH.
orch_directory() {
  local path=$1 created=0
  if [ -e "$path" ] && [ ! -d "$path" ]; then orch_fail "$path exists and is not a folder"; fi
  if [ ! -d "$path" ]; then
    mkdir -p -- "$path"
    created=1
  fi
  orch_meta "$path" "$2" "$3" "$4"
  if [ "$created" = 1 ] || [ "$ORCH_META_CHANGED" = 1 ]; then orch_status changed; else orch_status ok; fi
}
