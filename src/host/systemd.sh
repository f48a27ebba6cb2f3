# shellcheck shell=bash
# The `service` step with manager: systemd: system or user units, and a unit file orch
# writes (`unit:`). Needs prelude.sh.

# systemd_ctl SCOPE SUDO ARGS...: `systemctl ARGS` (SCOPE system), or `systemctl --user
# ARGS` (SCOPE user, the SSH user's own manager; XDG_RUNTIME_DIR is set to
# /run/user/UID when unset and that folder exists, as a login session has it, so
# systemctl finds the user's bus over SSH). SUDO `1` wraps it in `sudo -n` (system only).
systemd_ctl() {
  local scope=$1 sudo=$2
  shift 2
  if [ "$scope" = user ]; then
    if [ -z "${XDG_RUNTIME_DIR:-}" ] && [ -d "/run/user/$(id -u)" ]; then
      XDG_RUNTIME_DIR="/run/user/$(id -u)"
      export XDG_RUNTIME_DIR
    fi
    systemctl --user "$@"
  elif [ "$sudo" = 1 ]; then
    sudo -n systemctl "$@"
  else
    systemctl "$@"
  fi
}

# systemd_write_unit SUDO FILE TEXT: makes FILE hold exactly TEXT (mode 0644) through
# orch_safe_write's program (prelude.sh: exclusive temp file in FILE's folder, created
# when missing, mode set on the descriptor, fsync, rename), so systemd never reads half
# a unit and a name planted in the folder is never written through. Prints `changed`
# when FILE was written, `ok` when it already held TEXT. SUDO `1` runs it through
# `sudo -n` (a root-owned unit folder).
systemd_write_unit() {
  local sudo=$1 file=$2 text=$3 dir
  dir=$(dirname -- "$file")
  if [ -f "$file" ] && [ "$(cat -- "$file"; printf x)" = "${text}x" ]; then
    printf 'ok\n'
    return 0
  fi
  if [ "$sudo" = 1 ]; then
    sudo -n mkdir -p -- "$dir" && printf '%s' "$text" | sudo -n perl -e "$ORCH_SAFE_WRITE_PL" -- "$file" 644 '' '' 1
  else
    mkdir -p -- "$dir" && printf '%s' "$text" | orch_safe_write "$file" 644 '' '' 1
  fi || orch_fail "cannot write unit file $file"
  printf 'changed\n'
}

# systemd_service SCOPE SUDO NAME ACTION PENDING [FILE TEXT]: with FILE, first makes the
# unit file FILE hold TEXT and runs `daemon-reload` when that changed it; then `systemctl
# ACTION NAME` (restart | reload | start | stop), its output on stderr when it fails.
# Removes the restart-pending marker PENDING ('' = none) and prints status changed.
systemd_service() {
  local scope=$1 sudo=$2 name=$3 action=$4 pending=$5 file=${6:-} text=${7:-} wrote out ctl=systemctl
  if [ "$scope" = user ]; then ctl='systemctl --user'; fi
  if [ -n "$file" ]; then
    wrote=$(systemd_write_unit "$sudo" "$file" "$text") || exit 1
    if [ "$wrote" = changed ]; then
      printf 'unit %s written\n' "$file"
      out=$(systemd_ctl "$scope" "$sudo" daemon-reload 2>&1) || orch_fail "$ctl daemon-reload failed: $out"
    fi
  fi
  out=$(systemd_ctl "$scope" "$sudo" "$action" -- "$name" 2>&1) || orch_fail "$ctl $action $name failed: $out"
  [ -z "$out" ] || printf '%s\n' "$out"
  if [ -n "$pending" ]; then rm -f -- "$pending"; fi
  orch_status changed
}

# systemd_enable SCOPE SUDO NAME WANT: WANT 1 = NAME starts at boot (`systemctl enable`
# unless `is-enabled` already says enabled, static, alias or generated), 0 = it does not
# (`systemctl disable` unless disabled, static, masked or unknown). Prints what it did.
systemd_enable() {
  local scope=$1 sudo=$2 name=$3 want=$4 now out
  now=$(systemd_ctl "$scope" "$sudo" is-enabled -- "$name" 2>/dev/null) || true
  now=${now%%$'\n'*}
  if [ "$want" = 1 ]; then
    case "$now" in enabled|static|alias|generated) return 0 ;; esac
    out=$(systemd_ctl "$scope" "$sudo" enable -- "$name" 2>&1) || orch_fail "systemctl enable $name failed: $out"
    printf 'enabled %s\n' "$name"
  else
    case "$now" in disabled|static|masked|not-found|'') return 0 ;; esac
    out=$(systemd_ctl "$scope" "$sudo" disable -- "$name" 2>&1) || orch_fail "systemctl disable $name failed: $out"
    printf 'disabled %s\n' "$name"
  fi
  orch_status changed
}
