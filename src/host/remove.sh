# shellcheck shell=bash
# `orch remove`'s host side (src/steps/remove.ts): takes one app off a host, as dpkg
# removes a package (dpkg(1) --remove / --purge, its prerm/postrm scripts). Needs
# prelude.sh and systemd.sh; daemon.sh and supervisor.sh when the node has such services.
#
# The node's services are given in arrays set before the call (empty when unset):
#   ORCH_REMOVE_SYSTEMD=(SCOPE SUDO NAME ...)     stopped and disabled
#   ORCH_REMOVE_UNITS=(SCOPE SUDO FILE ...)       unit files orch wrote: deleted, then daemon-reload
#   ORCH_REMOVE_DAEMONS=(NAME ...)                orch's daemons (daemon.sh): stopped
#   ORCH_REMOVE_SUPERVISOR=(CONFIG URL SUDO NAME ...)  supervisor programs: stopped

# orch_remove_hook TEXT DIR WHAT: runs the stored command TEXT with bash (-e -u -o
# pipefail, as install's before/after run) in DIR, stdin /dev/null; fails the step
# naming WHAT when it fails.
orch_remove_hook() {
  local rc=0
  (cd -- "$2" && exec bash -euo pipefail -c "$1") </dev/null || rc=$?
  [ "$rc" = 0 ] || orch_fail "$3 failed (exit $rc); nothing more was removed"
}

# orch_remove_read FILE: prints FILE's text when it is a regular file (not a link) owned
# by the user orch runs as and writable by no one else: the hook runs as that user, so a
# file another user could write (an app user owning the release folder) is not run.
orch_remove_read() {
  if [ -f "$1" ] && [ ! -L "$1" ] && [ -O "$1" ] && [ -z "$(find "$1" -maxdepth 0 -perm /022 2>/dev/null)" ]; then cat -- "$1"; fi
}

# orch_registry_has REGFILE KEY: true when the registry (the format orch writes: one app
# per line) has a line starting with KEY (`    "APP": `, JSON-escaped).
orch_registry_has() {
  [ -f "$1" ] && grep -qF -- "$2" "$1"
}

# orch_registry_drop REGFILE KEY: rewrites REGFILE (orch_write) without the app whose
# line starts with KEY, in the format src/state/state.ts formatStateJson writes.
orch_registry_drop() {
  local reg=$1 key=$2 line out found=0 i
  local -a keep=()
  [ -f "$reg" ] || return 0
  while IFS= read -r line; do
    case "$line" in
      '    "'*)
        if [ "${line#"$key"}" != "$line" ]; then found=1; else keep+=("${line%,}"); fi ;;
    esac
  done <"$reg"
  [ "$found" = 1 ] || return 0
  if [ "${#keep[@]}" = 0 ]; then
    out=$'{\n  "apps": {}\n}'
  else
    out=$'{\n  "apps": {\n'
    for ((i = 0; i < ${#keep[@]}; i++)); do
      out+=${keep[i]}
      if ((i < ${#keep[@]} - 1)); then out+=$',\n'; else out+=$'\n'; fi
    done
    out+=$'  }\n}'
  fi
  orch_write "$reg" "$out"
}

# orch_remove ROOT KEY PURGE REGFILE: removes the app installed in ROOT (KEY: its
# registry line prefix, see orch_registry_drop). In order: the current release's
# stored before_remove command (versions/<V>/.orch-before-remove, written by install.sh)
# in the release folder; the services stopped and disabled, the unit files deleted
# (daemon-reload); current, previous, versions/ and ROOT/.orch (state, bundles,
# objects, trees; channels' marks are kept) deleted; the app dropped from REGFILE; the
# stored after_remove command in ROOT; with PURGE `1` the whole ROOT deleted (shared/
# too), else shared/ is kept. `ok` when there is nothing of the app (and, with PURGE,
# no ROOT). Paths are deleted with rm, which removes a link, never what it points at.
orch_remove() {
  local root=$1 key=$2 purge=$3 reg=$4 before='' after='' rel='' i f out scope sudo state
  local -a reload=() gone=()
  if [ ! -e "$root/current" ] && [ ! -L "$root/current" ] && [ ! -e "$root/previous" ] && [ ! -L "$root/previous" ] \
    && [ ! -e "$root/versions" ] && [ ! -e "$root/.orch/state.json" ] && ! orch_registry_has "$reg" "$key"; then
    if [ "$purge" != 1 ] || { [ ! -e "$root" ] && [ ! -L "$root" ]; }; then
      orch_status ok
      return 0
    fi
  fi
  if [ -L "$root/current" ] && [ -d "$root/current" ]; then
    rel=$(cd -P -- "$root/current" && pwd)
    before=$(orch_remove_read "$rel/.orch-before-remove")
    after=$(orch_remove_read "$rel/.orch-after-remove")
  fi
  if [ -n "$before" ]; then
    printf 'before_remove (stored with %s)\n' "$rel"
    orch_remove_hook "$before" "$rel" before_remove
  fi
  local -a systemd=("${ORCH_REMOVE_SYSTEMD[@]+"${ORCH_REMOVE_SYSTEMD[@]}"}")
  for ((i = 0; i + 2 < ${#systemd[@]}; i += 3)); do
    scope=${systemd[i]} sudo=${systemd[i + 1]} f=${systemd[i + 2]}
    state=$(systemd_ctl "$scope" "$sudo" show -p LoadState --value -- "$f" 2>/dev/null) || state=''
    [ "$state" = loaded ] || continue
    out=$(systemd_ctl "$scope" "$sudo" stop -- "$f" 2>&1) || orch_fail "systemctl stop $f failed: $out"
    printf 'stopped %s\n' "$f"
    state=$(systemd_ctl "$scope" "$sudo" is-enabled -- "$f" 2>/dev/null) || true
    case "${state%%$'\n'*}" in
      enabled | enabled-runtime | alias | linked | linked-runtime)
        out=$(systemd_ctl "$scope" "$sudo" disable -- "$f" 2>&1) || orch_fail "systemctl disable $f failed: $out"
        printf 'disabled %s\n' "$f" ;;
    esac
  done
  local -a daemons=("${ORCH_REMOVE_DAEMONS[@]+"${ORCH_REMOVE_DAEMONS[@]}"}")
  for f in "${daemons[@]+"${daemons[@]}"}"; do daemon_stop "$root" "$f"; done
  local -a sup=("${ORCH_REMOVE_SUPERVISOR[@]+"${ORCH_REMOVE_SUPERVISOR[@]}"}")
  for ((i = 0; i + 3 < ${#sup[@]}; i += 4)); do
    out=$(supervisor_ctl "${sup[i]}" "${sup[i + 1]}" "${sup[i + 2]}" stop "${sup[i + 3]}:*" 2>&1) || true
    printf 'supervisorctl stop %s: %s\n' "${sup[i + 3]}" "$out"
  done
  local -a units=("${ORCH_REMOVE_UNITS[@]+"${ORCH_REMOVE_UNITS[@]}"}")
  for ((i = 0; i + 2 < ${#units[@]}; i += 3)); do
    scope=${units[i]} sudo=${units[i + 1]} f=${units[i + 2]}
    [ -e "$f" ] || [ -L "$f" ] || continue
    if [ "$sudo" = 1 ]; then sudo -n rm -f -- "$f"; else rm -f -- "$f"; fi || orch_fail "cannot delete the unit file $f"
    printf 'deleted %s\n' "$f"
    reload+=("$scope $sudo")
  done
  for f in "${reload[@]+"${reload[@]}"}"; do
    out=$(systemd_ctl "${f% *}" "${f#* }" daemon-reload 2>&1) || orch_fail "systemctl daemon-reload failed: $out"
  done
  for f in "$root/current" "$root/previous" "$root/versions"; do
    if [ -e "$f" ] || [ -L "$f" ]; then gone+=("$f"); fi
  done
  if [ -d "$root/.orch" ] && [ ! -L "$root/.orch" ]; then
    for f in "$root/.orch/"* "$root/.orch/".[!.]*; do
      case "${f##*/}" in channels) ;; *) if [ -e "$f" ] || [ -L "$f" ]; then gone+=("$f"); fi ;; esac
    done
  fi
  if [ "${#gone[@]}" -gt 0 ]; then
    rm -rf -- "${gone[@]}"
    printf 'deleted %s\n' "${gone[@]}"
  fi
  if [ -d "$root/.orch" ] && [ ! -L "$root/.orch" ]; then rmdir -- "$root/.orch" 2>/dev/null || true; fi
  orch_registry_drop "$reg" "$key"
  if [ -n "$after" ]; then
    printf 'after_remove (stored with %s)\n' "$rel"
    if [ -d "$root" ]; then orch_remove_hook "$after" "$root" after_remove; else orch_remove_hook "$after" / after_remove; fi
  fi
  if [ "$purge" = 1 ]; then
    if [ -e "$root" ] || [ -L "$root" ]; then
      rm -rf -- "$root"
      printf 'purged %s\n' "$root"
    fi
  elif [ -e "$root/shared" ]; then
    printf 'kept %s/shared\n' "$root"
  fi
  orch_status changed
}
