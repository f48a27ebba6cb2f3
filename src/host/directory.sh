# shellcheck shell=bash
# The `directory` step (Ansible's `file: state=directory`). Needs prelude.sh and meta.sh.

# orch_directory PATH MODE OWNER GROUP: makes PATH a folder (parents as needed, mode
# 0755 by the umask) with that mode/owner/group ('' = leave). Status ok when it was
# already so; fails when something other than a folder is at PATH, and when PATH is a
# symlink (Ansible's `follow: no`): chown/chmod never go through a link another user
# may have planted.
orch_directory() {
  local path=$1 created=0
  if [ -L "$path" ]; then
    orch_fail "$path is a symlink (to $(readlink -- "$path")); refusing to change its target: remove the link or point the step at the real folder"
  fi
  if [ -e "$path" ] && [ ! -d "$path" ]; then orch_fail "$path exists and is not a folder"; fi
  if [ ! -d "$path" ]; then
    mkdir -p -- "$path"
    created=1
  fi
  orch_meta "$path" "$2" "$3" "$4"
  if [ "$created" = 1 ] || [ "$ORCH_META_CHANGED" = 1 ]; then orch_status changed; else orch_status ok; fi
}
