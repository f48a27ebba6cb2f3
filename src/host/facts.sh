# shellcheck shell=bash
# Facts: what a plan needs to know from a host, read in one round trip
# (src/engine/facts.ts builds one call per probe and parses the output). Needs b64
# (src/shell/snippets.ts) and versions.sh. Runs under `set -u` only: a probe never fails the script.
# Output protocol, one line per probe: `F INDEX VALUE`, VALUE the base64 of the fact or
# `-` when absent; then `END`.

# orch_fact INDEX VALUE: prints one fact line.
orch_fact() { printf 'F %s %s\n' "$1" "$2"; }

# orch_fact_sha256 INDEX PATH: hex sha256 of the regular file PATH.
orch_fact_sha256() {
  if [ -f "$2" ]; then orch_fact "$1" "$(sha256sum < "$2" | cut -d' ' -f1 | tr -d '\n' | b64)"; else orch_fact "$1" -; fi
}

# orch_fact_link INDEX PATH: the target of the symlink PATH.
orch_fact_link() {
  if [ -L "$2" ]; then orch_fact "$1" "$(readlink -- "$2" | tr -d '\n' | b64)"; else orch_fact "$1" -; fi
}

# orch_fact_read INDEX PATH: the first 1 MiB of the readable regular file PATH
# (READ_LIMIT in src/engine/facts.ts).
orch_fact_read() {
  if [ -f "$2" ] && [ -r "$2" ]; then orch_fact "$1" "$(head -c 1048576 -- "$2" | b64)"; else orch_fact "$1" -; fi
}

# orch_fact_content INDEX PATH (`--diff` only): `MODE USER:GROUP SIZE`, a newline, then
# the bytes of the readable regular file PATH when SIZE <= 256 KiB (CONTENT_LIMIT in
# src/engine/facts.ts).
orch_fact_content() {
  if [ -f "$2" ] && [ -r "$2" ]; then
    orch_fact "$1" "$({ stat -c '%a %U:%G %s' -- "$2"; if [ "$(stat -c %s -- "$2")" -le 262144 ]; then cat -- "$2"; fi; } | b64)"
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
  orch_fact "$1" "$(printf '%s %s' "$kind" "$meta" | b64)"
}

# orch_fact_versions INDEX ROOT: the complete versions of ROOT, newest first (orch_versions).
orch_fact_versions() {
  orch_fact "$1" "$(printf '%s' "$(orch_versions "$2")" | b64)"
}

# orch_fact_delta INDEX ROOT (delta releases): `O SHA256` per object in
# ROOT/.orch/objects, then, when the bundle folder of `current`'s version is kept in
# ROOT/.orch/trees, `J BASE64` of its info.json (at most 1 MiB: the base of a line
# patch, src/bundle/delta.ts), `B VERSION` and that version's .orch-manifest; absent
# without a store. Needs GNU find.
orch_fact_delta() {
  local c v
  if [ ! -d "$2/.orch/objects" ]; then orch_fact "$1" -; return 0; fi
  c=$(readlink -- "$2/current" 2>/dev/null || true); v=${c#versions/}
  orch_fact "$1" "$({
    find "$2/.orch/objects" -mindepth 1 -maxdepth 1 -type f -printf 'O %f\n' 2>/dev/null
    if [ -n "$c" ] && [ -d "$2/.orch/trees/$v" ] && [ -f "$2/versions/$v/.orch-manifest" ]; then
      if [ -f "$2/.orch/trees/$v/info.json" ] && [ "$(stat -c %s -- "$2/.orch/trees/$v/info.json")" -le 1048576 ]; then
        printf 'J %s\n' "$(b64 < "$2/.orch/trees/$v/info.json")"
      fi
      printf 'B %s\n' "$v"
      cat -- "$2/versions/$v/.orch-manifest"
    fi
  } | b64)"
}
