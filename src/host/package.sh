# shellcheck shell=bash
# The `package` step: Debian/Ubuntu packages through apt-get (apt-get(8), dpkg-query(1)).
# Needs prelude.sh.

# pkg_installed NAME: prints the installed version of package NAME; status 1 when it is
# not installed (unknown, removed, or only its config files left).
pkg_installed() {
  local out
  out=$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' -- "$1" 2>/dev/null) || return 1
  case "$out" in
    ii*|hi*) printf '%s\n' "${out#*|}" ;;
    *) return 1 ;;
  esac
}

# pkg_apt SUDO LOCK_TIMEOUT ARGS...: `apt-get -y -q ARGS`, non-interactive, keeping the
# config files an administrator changed (dpkg --force-confdef --force-confold), waiting
# up to LOCK_TIMEOUT seconds for the dpkg lock (DPkg::Lock::Timeout) and for the lists
# lock (retried while apt says "Could not get lock"). Output in PKG_OUT; returns apt-get's status.
PKG_OUT=''
pkg_apt() {
  local sudo=$1 timeout=$2 rc deadline
  shift 2
  local -a cmd=(env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a apt-get -y -q
    -o "DPkg::Lock::Timeout=$timeout" -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@")
  if [ "$sudo" = 1 ]; then cmd=(sudo -n "${cmd[@]}"); fi
  deadline=$((SECONDS + timeout))
  while :; do
    rc=0
    PKG_OUT=$("${cmd[@]}" 2>&1 < /dev/null) || rc=$?
    if [ "$rc" != 0 ] && [ "$SECONDS" -lt "$deadline" ] && printf '%s' "$PKG_OUT" | grep -q 'Could not get lock'; then
      sleep 1
      continue
    fi
    return "$rc"
  done
}

# pkg_update SUDO LOCK_TIMEOUT MAX_AGE: `apt-get update` when MAX_AGE is `always`; when the
# package lists are missing (MAX_AGE `missing` or seconds); or when they are older than
# MAX_AGE seconds (the age of /var/lib/apt/periodic/update-success-stamp, which Debian's
# apt touches after every successful update: /etc/apt/apt.conf.d/15update-stamp; orch
# touches it too). MAX_AGE `never`: no update. Fails the step with apt's own lines.
pkg_update() {
  local sudo=$1 timeout=$2 age=$3 stamp=/var/lib/apt/periodic/update-success-stamp mtime
  [ "$age" = never ] && return 0
  if [ "$age" != always ] && compgen -G '/var/lib/apt/lists/*_Packages*' > /dev/null; then
    [ "$age" = missing ] && return 0
    if [ -f "$stamp" ]; then
      mtime=$(stat -c %Y -- "$stamp")
      [ $(( $(date +%s) - mtime )) -ge "$age" ] || return 0
    fi
  fi
  pkg_apt "$sudo" "$timeout" update || orch_fail "apt-get update failed:"$'\n'"$PKG_OUT"
  if [ "$sudo" = 1 ]; then sudo -n mkdir -p /var/lib/apt/periodic && sudo -n touch "$stamp"; else mkdir -p /var/lib/apt/periodic && touch "$stamp"; fi
  printf 'apt-get update\n'
}

# orch_package STATE SUDO LOCK_TIMEOUT MAX_AGE NAME...: makes every NAME (`pkg` or
# `pkg=VERSION`) present (installed; a pinned one at that version), latest (installed at
# the candidate version) or absent (removed, config files kept: `apt-get remove`).
# MAX_AGE as pkg_update's, run only when something is to be installed. Status ok when
# every package already was in that state, else changed; on failure apt's own lines.
orch_package() {
  local state=$1 sudo=$2 timeout=$3 age=$4 spec name want have
  shift 4
  local -a todo=() before=()
  for spec in "$@"; do
    name=${spec%%=*}
    have=$(pkg_installed "$name") || have=''
    before+=("$name=$have")
    case "$state" in
      absent) [ -z "$have" ] || todo+=("$name") ;;
      latest) todo+=("$name") ;;
      *)
        want=''
        [ "$spec" = "$name" ] || want=${spec#*=}
        if [ -z "$have" ] || { [ -n "$want" ] && [ "$want" != "$have" ]; }; then todo+=("$spec"); fi
        ;;
    esac
  done
  if [ "${#todo[@]}" = 0 ]; then orch_status ok; return 0; fi
  if [ "$state" = absent ]; then
    pkg_apt "$sudo" "$timeout" remove "${todo[@]}" || orch_fail "apt-get remove ${todo[*]} failed:"$'\n'"$PKG_OUT"
    printf 'removed: %s\n' "${todo[*]}"
    orch_status changed
    return 0
  fi
  pkg_update "$sudo" "$timeout" "$age"
  pkg_apt "$sudo" "$timeout" install "${todo[@]}" || orch_fail "apt-get install ${todo[*]} failed:"$'\n'"$PKG_OUT"
  local changed=()
  for spec in "${before[@]}"; do
    name=${spec%%=*}
    have=$(pkg_installed "$name") || have=''
    [ "$spec" = "$name=$have" ] || changed+=("$name $have")
  done
  if [ "${#changed[@]}" = 0 ]; then orch_status ok; return 0; fi
  printf 'installed: %s\n' "${changed[@]}"
  orch_status changed
}
