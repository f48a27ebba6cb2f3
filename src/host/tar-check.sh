# shellcheck shell=bash
# Host-side twin of inspectArtifact (src/bundle/artifact.ts): checks a bundle's members
# with only GNU tar and coreutils before the install step unpacks it. The limits are
# MAX_MEMBERS (100000) and MAX_TOTAL_SIZE (1 GiB) of artifact.ts (a test keeps them equal).
# Reasons are word for word those of MemberChecker, so the control machine and the host
# refuse the same bundle with the same message. Needs bash 4; safe under set -euo pipefail.

# orch_norm_path PATH: lexically normalised relative PATH (see below).
# orch_check_tar TARBALL TOPDIR: 0 when safe; else one line on stderr and 1 (see
# remoteTarCheckScript in src/bundle/remote-check.ts for the rules, first match wins).
orch_norm_path() {
  # Lexically normalises a relative path: drops "" and "." segments, applies "..".
  # Prints the result; a path that climbs above its start prints "..".
  local IFS=/ seg
  local -a parts out=()
  read -r -a parts <<<"$1"
  for seg in "${parts[@]}"; do
    case "$seg" in
      ''|.) ;;
      ..) if [ "${#out[@]}" -eq 0 ]; then printf '..\n'; return 0; fi
          unset 'out[${#out[@]}-1]' ;;
      *) out+=("$seg") ;;
    esac
  done
  printf '%s\n' "${out[*]}"
}

orch_check_tar() {
  local tarball="$1" top="${2%/}" errs='' rc='' line mode size rest name target kind resolved prefix n seg
  local count=0 total=0 i
  local -A seen=() links=() names=()
  local -a segs order=() stack tsegs
  _orch_unsafe() { printf 'unsafe bundle member: %s: %s\n' "$1" "$2" >&2; }
  # tar's listing and then its exit status (`::rc N`) come through one pipe: no temp file.
  # A listing line starts with the member's mode, so it is never `::rc`. tar's messages
  # stay out of it: a message written between two blocks of the buffered listing would
  # land inside a line. When tar fails they are read by listing again (below).
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      '::rc '*) rc=${line#::rc }; continue ;;
      '') continue ;;
    esac
    read -r mode _ size _ _ rest <<<"$line"
    kind="${mode:0:1}"
    name="$rest" target=""
    case "$kind" in
      l) name="${rest%% -> *}"; target="${rest#* -> }" ;;
      h) name="${rest%% link to *}"; target="${rest#* link to }" ;;
    esac
    count=$((count + 1))
    if [ "$count" -gt 100000 ]; then _orch_unsafe "$name" "more than 100000 members"; return 1; fi
    case "$name" in /*) _orch_unsafe "$name" "absolute path"; return 1 ;; esac
    case "/$name/" in */../*) _orch_unsafe "$name" "parent directory segment (..)"; return 1 ;; esac
    case "$kind" in
      -|d|l) ;;
      h) _orch_unsafe "$name" "hard link"; return 1 ;;
      c) _orch_unsafe "$name" "character device"; return 1 ;;
      b) _orch_unsafe "$name" "block device"; return 1 ;;
      p) _orch_unsafe "$name" "fifo"; return 1 ;;
      *) _orch_unsafe "$name" "unsupported member type"; return 1 ;;
    esac
    case "${mode:3:1}${mode:6:1}" in *[sS]*) _orch_unsafe "$name" "setuid/setgid bit"; return 1 ;; esac
    n="$name"
    while [ "${n#./}" != "$n" ]; do n="${n#./}"; done
    while [ "${n%/}" != "$n" ]; do n="${n%/}"; done
    if [ -z "$n" ] || [ "$n" = . ]; then continue; fi
    if [ "${n%%/*}" != "$top" ]; then _orch_unsafe "$name" "outside the top folder $top/"; return 1; fi
    if [ "$n" = "$top" ] && [ "$kind" != d ]; then _orch_unsafe "$name" "the top folder is not a folder"; return 1; fi
    if [ -n "${seen[$n]+x}" ]; then _orch_unsafe "$name" "duplicate member"; return 1; fi
    IFS=/ read -r -a segs <<<"$n"
    prefix="${segs[0]}"
    for ((i = 1; i < ${#segs[@]}; i++)); do
      if [ -n "${links[$prefix]+x}" ]; then _orch_unsafe "$name" "path goes through symlink $prefix"; return 1; fi
      prefix="$prefix/${segs[i]}"
    done
    if [ "$kind" = l ]; then
      case "$target" in *' -> '*) _orch_unsafe "$name" "ambiguous symlink listing"; return 1 ;; esac
      resolved="$(orch_norm_path "${n%/*}/$target")"
      case "$target" in
        ''|/*) resolved=.. ;;
      esac
      if [ "$resolved" != "$top" ] && [ "${resolved#"$top"/}" = "$resolved" ]; then
        _orch_unsafe "$name" "symlink target \"$target\" leaves the bundle folder"; return 1
      fi
      links[$n]="$target"
    fi
    if [ "$kind" = - ]; then
      total=$((total + size))
      if [ "$total" -gt 1073741824 ]; then _orch_unsafe "$name" "total size exceeds 1 GiB"; return 1; fi
    fi
    seen[$n]="$kind$mode"
    names[$n]="$name"
    order+=("$n")
  done < <(LC_ALL=C tar --numeric-owner -P -tvzf "$tarball" 2>/dev/null; printf '::rc %s\n' "$?")
  if [ "$rc" != 0 ]; then
    # The failure path only: tar's (and gzip's) messages, on one line.
    errs=$(LC_ALL=C tar --numeric-owner -P -tvzf "$tarball" 2>&1 >/dev/null | grep -v '^$' | tr '\n' ';' | sed 's/;$//; s/;/; /g') || true
    printf 'cannot list %s: %s\n' "$tarball" "${errs:-tar exited ${rc:-early}}" >&2
    return 1
  fi
  # Second pass, every symlink known: archive order must not matter.
  for n in "${order[@]}"; do
    IFS=/ read -r -a segs <<<"$n"
    prefix="${segs[0]}"
    for ((i = 1; i < ${#segs[@]}; i++)); do
      if [ -n "${links[$prefix]+x}" ]; then _orch_unsafe "${names[$n]}" "path goes through symlink $prefix"; return 1; fi
      prefix="$prefix/${segs[i]}"
    done
    [ "${seen[$n]:0:1}" = l ] || continue
    target="${links[$n]}"
    IFS=/ read -r -a stack <<<"${n%/*}"
    IFS=/ read -r -a tsegs <<<"$target"
    for seg in "${tsegs[@]}"; do
      case "$seg" in
        ''|.) ;;
        ..) prefix="$(IFS=/; printf '%s' "${stack[*]}")"
            if [ -n "${links[$prefix]+x}" ]; then
              _orch_unsafe "${names[$n]}" "symlink target \"$target\" passes through symlink $prefix"; return 1
            fi
            unset 'stack[${#stack[@]}-1]' ;;
        *) stack+=("$seg") ;;
      esac
    done
  done
  local want
  for want in PACKAGE:- VERSION:- PLATFORM:- install.sh:- data:d; do
    kind="${seen[$top/${want%%:*}]-}"
    if [ "${kind:0:1}" != "${want##*:}" ]; then
      if [ "${want##*:}" = d ]; then kind="folder"; else kind="file"; fi
      printf 'bundle layout incomplete: missing %s/%s (a %s)\n' "$top" "${want%%:*}" "$kind" >&2
      return 1
    fi
  done
  kind="${seen[$top/install.sh]-}"
  case "${kind:4:1}" in
    x|s) ;;
    *) printf 'bundle layout incomplete: %s/install.sh is not executable\n' "$top" >&2; return 1 ;;
  esac
  return 0
}
