# shellcheck shell=bash
# Facts: what a plan needs to know from a host, read in one round trip
# (src/engine/facts.ts builds one call per probe and parses the output). Needs b64
# (src/shell/snippets.ts) and versions.sh. Runs under `set -u` only: a probe never fails the script.
# Output protocol, one line per probe: `F INDEX VALUE`, VALUE the base64 of the fact or
# `-` when absent, or `T INDEX TEXT`, TEXT the fact itself with `\` written `\\` and
# each newline `\n` (no process: most facts are text, and a `$(… | base64)` per value
# costs two or three processes); then `END`. Parsed by parseFacts in src/engine/facts.ts.

# orch_fact INDEX VALUE: prints one fact line.
orch_fact() { printf 'F %s %s\n' "$1" "$2"; }

# orch_fact_escape VAR TEXT: TEXT (no NUL byte) on one line into VAR: `\` written `\\`,
# each newline `\n`, byte by byte (C locale).
orch_fact_escape() {
  local LC_ALL=C _orch_e=$2
  _orch_e=${_orch_e//\\/\\\\}
  printf -v "$1" '%s' "${_orch_e//$'\n'/\\n}"
}

# orch_fact_text INDEX TEXT: prints one fact line of TEXT (no NUL byte), escaped as
# above (orch_fact_escape).
orch_fact_text() {
  local v
  orch_fact_escape v "$2"
  printf 'T %s %s\n' "$1" "$v"
}

# orch_fact_sha256 INDEX PATH: hex sha256 of the regular file PATH.
orch_fact_sha256() {
  local s
  if [ -f "$2" ]; then s=$(sha256sum < "$2"); orch_fact_text "$1" "${s%% *}"; else orch_fact "$1" -; fi
}

# orch_fact_readlink PATH VAR: `$(readlink -- PATH)` into VAR, read once per PATH and
# script (the link and delta probes of one root both want ROOT/current). Returns
# readlink's status.
declare -A ORCH_FACT_LINKS=()
orch_fact_readlink() {
  local _orch_to
  if [ -n "${ORCH_FACT_LINKS[$1]+x}" ]; then printf -v "$2" '%s' "${ORCH_FACT_LINKS[$1]}"; return 0; fi
  _orch_to=$(readlink -- "$1") || return
  ORCH_FACT_LINKS[$1]=$_orch_to
  printf -v "$2" '%s' "$_orch_to"
}

# orch_fact_link INDEX PATH: the target of the symlink PATH (newlines dropped).
orch_fact_link() {
  local t=''
  if [ -L "$2" ]; then orch_fact_readlink "$2" t; orch_fact_text "$1" "${t//$'\n'/}"; else orch_fact "$1" -; fi
}

# orch_fact_small FILE: true when the regular file FILE is at most 32 KiB and holds no
# NUL byte, proven by one bounded builtin read (no process): it ends at the end of the
# file (status 1) before 32 KiB + 1 bytes and before any NUL. Then the whole file is its
# first 1 MiB, and it is in ORCH_FACT_BUF.
orch_fact_small() {
  local LC_ALL=C
  ORCH_FACT_BUF=
  ! IFS= read -r -n 32769 -d '' ORCH_FACT_BUF < "$1" && [ "${#ORCH_FACT_BUF}" -le 32768 ]
}

# orch_fact_read INDEX PATH: the first 1 MiB of the readable regular file PATH
# (READ_LIMIT in src/engine/facts.ts); no process when the file is small (orch_fact_small).
orch_fact_read() {
  if [ -f "$2" ] && [ -r "$2" ]; then
    if orch_fact_small "$2"; then orch_fact_text "$1" "$ORCH_FACT_BUF"; else orch_fact "$1" "$(head -c "$ORCH_READ_BYTES" -- "$2" | b64)"; fi
  else
    orch_fact "$1" -
  fi
}

# orch_fact_content INDEX PATH (`--diff` only): `MODE USER:GROUP SIZE`, a newline, then
# the bytes of the readable regular file PATH when SIZE <= 256 KiB (CONTENT_LIMIT in
# src/engine/facts.ts).
orch_fact_content() {
  if [ -f "$2" ] && [ -r "$2" ]; then
    orch_fact "$1" "$({ stat -c '%a %U:%G %s' -- "$2"; if [ "$(stat -c %s -- "$2")" -le "$ORCH_CONTENT_BYTES" ]; then cat -- "$2"; fi; } | b64)"
  else
    orch_fact "$1" -
  fi
}

# orch_fact_exists INDEX PATH: `1` when anything is at PATH.
orch_fact_exists() {
  if [ -e "$2" ]; then orch_fact "$1" MQ==; else orch_fact "$1" -; fi
}

# orch_fact_stat INDEX PATH: `KIND MODE USER GROUP UID GID` of PATH, following
# symlinks; KIND d (folder), f (regular file) or o (other); MODE as `stat -c %a`.
orch_fact_stat() {
  local kind=o meta
  if [ ! -e "$2" ]; then orch_fact "$1" -; return 0; fi
  if [ -d "$2" ]; then kind=d; elif [ -f "$2" ]; then kind=f; fi
  meta=$(stat -L -c '%a %U %G %u %g' -- "$2" 2>/dev/null) || { orch_fact "$1" -; return 0; }
  orch_fact_text "$1" "$kind $meta"
}

# orch_fact_leftovers INDEX ROOT: how many things runs that died left under ROOT
# (orch_leftovers, no process in the usual case); removed by the next switch of current
# (switch.sh orch_cleanup).
orch_fact_leftovers() {
  orch_leftovers "$2"
  orch_fact_text "$1" "${#ORCH_LEFTOVERS[@]}"
}

# orch_fact_versions INDEX ROOT: the complete versions of ROOT, newest first (orch_versions).
orch_fact_versions() {
  orch_fact_text "$1" "$(orch_versions "$2")"
}

# orch_fact_delta INDEX ROOT (delta releases): `O SHA256` per object in
# ROOT/.orch/objects, then, when the bundle folder of `current`'s version is kept in
# ROOT/.orch/trees, its info.json (the base of a line patch, src/bundle/delta.ts) as
# `K TEXT` (at most 32 KiB, `\` and newlines escaped) or `J BASE64` (at most 1 MiB),
# `B VERSION` and that version's .orch-manifest; absent without a store.
orch_fact_delta() {
  local LC_ALL=C c='' v m='' out f
  if [ ! -d "$2/.orch/objects" ]; then orch_fact "$1" -; return 0; fi
  orch_fact_readlink "$2/current" c 2>/dev/null || c=''
  v=${c#versions/}
  # Objects by a glob (no find): names only, regular files (not links).
  out=''
  for f in "$2/.orch/objects"/*; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then out+="O ${f##*/}"$'\n'; fi
  done
  if [ -n "$c" ] && [ -d "$2/.orch/trees/$v" ] && [ -f "$2/versions/$v/.orch-manifest" ]; then
    f=$2/.orch/trees/$v/info.json
    if [ -f "$f" ]; then
      # A small one (the usual case) as `K TEXT`, escaped as orch_fact_text does, read by
      # the builtin (no process); a larger one up to 1 MiB as `J BASE64`.
      if orch_fact_small "$f"; then
        orch_fact_escape m "$ORCH_FACT_BUF"
        out+="K $m"$'\n'
        m=''
      elif [ "$(stat -c %s -- "$f")" -le "$ORCH_READ_BYTES" ]; then
        out+="J $(b64 < "$f")"$'\n'
      fi
    fi
    out+="B $v"$'\n'
    # The builtin read has all of a file without a NUL (status 1 at its end): no cat.
    # A manifest with a NUL (never written by orch) goes as base64, whole.
    if IFS= read -r -d '' m < "$2/versions/$v/.orch-manifest"; then
      orch_fact "$1" "$({ printf '%s' "$out"; cat -- "$2/versions/$v/.orch-manifest"; } | b64)"
      return 0
    fi
    out+=$m
  fi
  orch_fact_text "$1" "$out"
}

# orch_fact_unless INDEX COMMAND: the exit status of a `run` step's `unless` COMMAND, run
# as the step runs it (src/host/run.sh: a function in a background subshell under
# `set -euo pipefail`, output discarded; here stdin is /dev/null). `unless` is a
# read-only check by contract, so the plan may run it.
orch_fact_unless() {
  local rc=0
  eval "orch_fact_unless_fn() { :
$2
}"
  (set -euo pipefail; orch_fact_unless_fn) </dev/null >/dev/null 2>&1 &
  wait "$!" || rc=$?
  unset -f orch_fact_unless_fn
  orch_fact_text "$1" "$rc"
}

# orch_fact_package INDEX NAME: the installed version of the Debian package NAME
# (dpkg-query; absent when it is not installed or only its config files are left).
orch_fact_package() {
  local out
  out=$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' -- "$2" 2>/dev/null) || out=''
  case "$out" in
    ii*|hi*) orch_fact_text "$1" "${out#*|}" ;;
    *) orch_fact "$1" - ;;
  esac
}

# orch_fact_candidate INDEX NAME: the version apt would install for package NAME from
# the lists as they are (`apt-cache policy`'s Candidate); absent when there is none.
orch_fact_candidate() {
  local c
  c=$(apt-cache policy -- "$2" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  if [ -n "$c" ] && [ "$c" != '(none)' ]; then orch_fact_text "$1" "$c"; else orch_fact "$1" -; fi
}

# orch_fact_passwd INDEX NAME: the user NAME as `getent passwd` prints it, a newline,
# then its groups (`id -Gn`: the primary group first), space-separated.
orch_fact_passwd() {
  local pw gs
  pw=$(getent passwd -- "$2") || { orch_fact "$1" -; return 0; }
  gs=$(id -Gn -- "$2" 2>/dev/null) || gs=''
  orch_fact_text "$1" "$pw"$'\n'"$gs"
}

# orch_fact_group INDEX NAME: the group NAME as `getent group` prints it.
orch_fact_group() {
  local g
  if g=$(getent group -- "$2"); then orch_fact_text "$1" "$g"; else orch_fact "$1" -; fi
}

# orch_fact_enabled INDEX UNIT: the first line of `systemctl is-enabled UNIT` (enabled,
# disabled, static, masked, ...); absent without systemctl or for an unknown unit.
orch_fact_enabled() {
  local e
  command -v systemctl > /dev/null 2>&1 || { orch_fact "$1" -; return 0; }
  e=$(systemctl is-enabled -- "$2" 2>/dev/null) || true
  e=${e%%$'\n'*}
  if [ -n "$e" ] && [ "$e" != not-found ]; then orch_fact_text "$1" "$e"; else orch_fact "$1" -; fi
}
