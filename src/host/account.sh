# shellcheck shell=bash
# The `group` and `user` steps: groupadd/groupmod/groupdel and useradd/usermod/userdel
# (shadow-utils), facts from getent. Needs prelude.sh.

# acct_run CMD ARGS...: runs a shadow-utils command; fails the step with its own words.
acct_run() {
  local out
  out=$("$@" 2>&1) || orch_fail "$* failed: $out"
  [ -z "$out" ] || printf '%s\n' "$out"
}

# orch_group NAME STATE SYSTEM GID: STATE present makes group NAME exist (groupadd,
# `--system` when SYSTEM is 1, `--gid GID` when GID is not ''; an existing group with
# another GID gets it: groupmod); absent deletes it (groupdel). Status ok when it
# already was so.
orch_group() {
  local name=$1 state=$2 system=$3 gid=$4 line have
  if ! line=$(getent group -- "$name"); then line=''; fi
  if [ "$state" = absent ]; then
    if [ -z "$line" ]; then orch_status ok; return 0; fi
    acct_run groupdel "$name"
    printf 'group %s deleted\n' "$name"
    orch_status changed
    return 0
  fi
  if [ -z "$line" ]; then
    local -a args=()
    [ "$system" != 1 ] || args+=(--system)
    [ -z "$gid" ] || args+=(--gid "$gid")
    acct_run groupadd "${args[@]}" "$name"
    printf 'group %s added\n' "$name"
    orch_status changed
    return 0
  fi
  have=$(printf '%s' "$line" | cut -d: -f3)
  if [ -n "$gid" ] && [ "$gid" != "$have" ]; then
    acct_run groupmod --gid "$gid" "$name"
    printf 'group %s: gid %s\n' "$name" "$gid"
    orch_status changed
    return 0
  fi
  orch_status ok
}

# acct_keys NAME HOME KEYS: makes HOME/.ssh/authorized_keys hold exactly KEYS (mode
# 0600 in a 0700 .ssh, owned by NAME and its primary group), written to a temp name and
# renamed; prints `changed` when it wrote. A .ssh or key file that is a symlink is refused.
acct_keys() {
  local name=$1 home=$2 keys=$3 dir file tmp grp
  dir=$home/.ssh
  file=$dir/authorized_keys
  if [ -f "$file" ] && [ ! -L "$file" ] && [ "$(cat -- "$file"; printf x)" = "${keys}x" ]; then return 0; fi
  if [ -L "$dir" ] || [ -L "$file" ]; then orch_fail "$file: refusing to write through a symlink"; fi
  grp=$(id -gn -- "$name")
  [ -d "$dir" ] || install -d -m 0700 -o "$name" -g "$grp" -- "$dir"
  tmp=$(mktemp "$dir/.authorized_keys.XXXXXX")
  printf '%s' "$keys" > "$tmp"
  chmod 0600 -- "$tmp"
  chown "$name:$grp" -- "$tmp"
  mv -f -- "$tmp" "$file"
  printf 'changed\n'
}

# orch_user NAME STATE SYSTEM UID GROUP GROUPS HOME SHELL CREATE_HOME KEYS: STATE
# present makes user NAME exist with these values (useradd, then usermod for an
# existing user whose values differ); absent deletes it (userdel; its home is kept).
# SYSTEM 1 = a system account; UID, GROUP (primary), HOME, SHELL '' = not managed;
# GROUPS `-` = not managed, else the comma-separated supplementary groups, exactly;
# CREATE_HOME 1/0 (useradd only); KEYS `-` = not managed, else the whole text of
# ~/.ssh/authorized_keys. Status ok when nothing differed.
orch_user() {
  local name=$1 state=$2 system=$3 uid=$4 group=$5 groups=$6 home=$7 shell=$8 create=$9 keys=${10} line changed=0
  if ! line=$(getent passwd -- "$name"); then line=''; fi
  if [ "$state" = absent ]; then
    if [ -z "$line" ]; then orch_status ok; return 0; fi
    acct_run userdel "$name"
    printf 'user %s deleted\n' "$name"
    orch_status changed
    return 0
  fi
  local -a args=()
  if [ -z "$line" ]; then
    [ "$system" != 1 ] || args+=(--system)
    [ -z "$uid" ] || args+=(--uid "$uid")
    [ -z "$group" ] || args+=(--gid "$group")
    [ "$groups" = - ] || [ -z "$groups" ] || args+=(--groups "$groups")
    [ -z "$home" ] || args+=(--home-dir "$home")
    [ -z "$shell" ] || args+=(--shell "$shell")
    if [ "$create" = 1 ]; then args+=(--create-home); else args+=(--no-create-home); fi
    acct_run useradd "${args[@]}" "$name"
    printf 'user %s added\n' "$name"
    changed=1
  else
    local f_uid f_gid f_home f_shell prim want have
    IFS=: read -r _ _ f_uid f_gid _ f_home f_shell <<< "$line"
    [ -z "$uid" ] || [ "$uid" = "$f_uid" ] || args+=(--uid "$uid")
    if [ -n "$group" ]; then
      prim=$(id -gn -- "$name")
      [ "$group" = "$prim" ] || [ "$group" = "$f_gid" ] || args+=(--gid "$group")
    fi
    if [ "$groups" != - ]; then
      want=$(printf '%s' "$groups" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -)
      have=$(id -Gn -- "$name" | tr ' ' '\n' | sed 1d | sort -u | paste -sd, -)
      [ "$want" = "$have" ] || args+=(--groups "$groups")
    fi
    [ -z "$home" ] || [ "$home" = "$f_home" ] || args+=(--home "$home")
    [ -z "$shell" ] || [ "$shell" = "$f_shell" ] || args+=(--shell "$shell")
    if [ "${#args[@]}" -gt 0 ]; then
      acct_run usermod "${args[@]}" "$name"
      printf 'user %s: %s\n' "$name" "${args[*]}"
      changed=1
    fi
  fi
  if [ "$keys" != - ]; then
    local wrote
    home=$(getent passwd -- "$name" | cut -d: -f6)
    wrote=$(acct_keys "$name" "$home" "$keys") || exit 1
    if [ -n "$wrote" ]; then
      printf 'user %s: authorized_keys written\n' "$name"
      changed=1
    fi
  fi
  if [ "$changed" = 1 ]; then orch_status changed; else orch_status ok; fi
}
