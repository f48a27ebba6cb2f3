# shellcheck shell=bash
# Host-side download of a release from an artifact store (docs/store.md; docs/reference/playbook.md "Bundles
# from a store"): the host fetches the tarball itself, with curl or wget (whichever it
# has), into a temp name beside the destination, resumes a cut download, and renames
# it into place only after its size and sha256 match. The manifest's signature is
# checked with OpenSSH's ssh-keygen -Y verify (namespace orch-release).
#
# Needs the prelude (orch_fail). Return codes of orch_fetch, used by the install step:
#   0 fetched (or already there with the right sha256)
#   3 no download client (neither curl nor wget, nor a readable file:// path)
#   4 the download failed (unreachable, HTTP error, timeout) after every attempt
#   5 the bytes are wrong (size or sha256 mismatch): the partial file is removed
# Tunables (environment): ORCH_FETCH_ATTEMPTS (3), ORCH_FETCH_CONNECT_TIMEOUT (10 s),
# ORCH_FETCH_IDLE_TIMEOUT (30 s without a byte), ORCH_FETCH_MAX_TIME (1800 s per attempt).
# Secrets (set by the install step, never on a command line): ORCH_FETCH_AUTH
# (`user:password`) and ORCH_FETCH_QUERY (the query of a presigned S3 URL: the URL is
# then given to curl/wget on standard input, with it).

# orch_fetch_client: prints the download client this host has (curl, else wget). bash's
# command -v also reports a file that is not executable, hence the -x test.
orch_fetch_client() {
  local c p
  for c in curl wget; do
    p=$(command -v "$c" 2>/dev/null) || continue
    if [ -f "$p" ] && [ -x "$p" ]; then printf '%s\n' "$c"; return 0; fi
  done
  return 1
}

# orch_file_size FILE: size in bytes (0 when missing).
orch_file_size() {
  if [ -f "$1" ]; then wc -c < "$1" | tr -d ' '; else printf '0\n'; fi
}

# orch_fetch_config URL: curl's config for the store credentials in ORCH_FETCH_AUTH
# (`user:password`) and, with ORCH_FETCH_QUERY, the presigned URL `URL?QUERY`, printed
# by a builtin so they are never on a command line: curl reads them with --config -
# (curl(1) "-K, --config": `user = "..."`, `url = "..."`, backslash escapes).
orch_fetch_config() {
  local v=${ORCH_FETCH_AUTH:-}
  if [ -n "$v" ]; then
    v=${v//\\/\\\\}
    v=${v//\"/\\\"}
    printf 'user = "%s"\n' "$v"
  fi
  if [ -n "${ORCH_FETCH_QUERY:-}" ]; then
    v="$1?$ORCH_FETCH_QUERY"
    v=${v//\\/\\\\}
    v=${v//\"/\\\"}
    printf 'url = "%s"\n' "$v"
  fi
  return 0
}

# orch_fetch_once CLIENT URL PART [SIZE]: one download attempt into PART, resuming it.
# With SIZE, a body longer than SIZE bytes is cut at SIZE+1 (curl --max-filesize for a
# declared length, and for any length the byte count piped through head -c): a hostile
# store cannot fill the disk. Credentials (ORCH_FETCH_AUTH) go to curl on stdin and to
# wget in a 0600 config file (--config), never on its command line.
orch_fetch_once() {
  local ct=${ORCH_FETCH_CONNECT_TIMEOUT:-10} idle=${ORCH_FETCH_IDLE_TIMEOUT:-30} max=${ORCH_FETCH_MAX_TIME:-1800} size=${4:-0} have rc=0 limit
  case $2 in
    file://*)
      local src=${2#file://}
      [ -r "$src" ] || { printf 'cannot read %s\n' "$src" >&2; return 1; }
      if [ "$size" = 0 ]; then cat -- "$src" > "$3"; return; fi
      head -c "$((size + 1))" -- "$src" > "$3"
      ;;
  esac
  local -a st target=(-- "$2")
  # A presigned URL goes on stdin with its query (orch_fetch_config, wget -i -).
  [ -z "${ORCH_FETCH_QUERY:-}" ] || target=()
  if [ "$1" = file ]; then
    :
  elif [ "$size" != 0 ] && [ "$1" = wget ]; then : > "$3"; fi # wget cannot resume into a pipe: start again
  have=$(orch_file_size "$3")
  limit=$((size - have + 1))
  if [ "$1" = file ]; then
    :
  elif [ "$1" = curl ]; then
    local -a curl=(curl -fsS -L --proto '=http,https' --connect-timeout "$ct" --speed-limit 1 --speed-time "$idle" --max-time "$max" --config -)
    if [ "$size" != 0 ]; then
      [ "$have" != 0 ] && curl+=(-C "$have")
      # --max-filesize stops a body whose length is announced; head -c stops any other
      # at SIZE+1 bytes (curl then ends on a write error).
      orch_fetch_config "$2" | "${curl[@]}" --max-filesize "$size" -o - "${target[@]}" | head -c "$limit" >> "$3" && true
      st=("${PIPESTATUS[@]}")
      rc=${st[1]:-0}
    else
      [ "$have" != 0 ] && curl+=(-C -)
      orch_fetch_config "$2" | "${curl[@]}" -o "$3" "${target[@]}" || rc=$?
    fi
  else
    local cfg=''
    if [ -n "${ORCH_FETCH_AUTH:-}" ]; then
      cfg=$(mktemp) || return 1
      printf 'user = %s\npassword = %s\n' "${ORCH_FETCH_AUTH%%:*}" "${ORCH_FETCH_AUTH#*:}" > "$cfg"
    fi
    local -a wget=(wget ${cfg:+"--config=$cfg"} -q -T "$idle" --dns-timeout="$ct" --connect-timeout="$ct" -t 1)
    [ -z "${ORCH_FETCH_QUERY:-}" ] || wget+=(-i -)
    if [ "$size" != 0 ]; then
      printf '%s\n' "$2?${ORCH_FETCH_QUERY:-}" | "${wget[@]}" -O - "${target[@]}" | head -c "$limit" >> "$3" && true
      st=("${PIPESTATUS[@]}")
      rc=${st[1]:-0}
    else
      printf '%s\n' "$2?${ORCH_FETCH_QUERY:-}" | "${wget[@]}" -c -O "$3" "${target[@]}" || rc=$?
    fi
    [ -z "$cfg" ] || rm -f -- "$cfg"
    if [ "$rc" = 0 ] && [ "$(orch_file_size "$3")" = 0 ]; then rc=1; fi
  fi
  if [ "$size" != 0 ] && [ "$(orch_file_size "$3")" -gt "$size" ]; then return 63; fi
  return "$rc"
}

# orch_fetch URL DEST SHA256 [SIZE]: downloads URL to DEST (see the return codes above).
# Nothing is written at DEST unless the bytes match; DEST.part holds a partial download
# between attempts (and runs: a later run resumes it).
orch_fetch() {
  local url=$1 dest=$2 sha=$3 size=${4:-} part client got have attempt rc=1
  local attempts=${ORCH_FETCH_ATTEMPTS:-3}
  part="$dest.part"
  if [ -f "$dest" ]; then
    got=$(sha256sum < "$dest" | cut -d' ' -f1)
    [ "$got" = "$sha" ] && return 0
    rm -f -- "$dest"
  fi
  case $url in
    file://*) client='file' ;;
    *) client=$(orch_fetch_client) || { printf 'fetch %s: neither curl nor wget on this host\n' "$url" >&2; return 3; } ;;
  esac
  mkdir -p -- "$(dirname -- "$dest")"
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    have=$(orch_file_size "$part")
    # A partial file that may be complete already is checked first: a resume request
    # past its end would fail. A wrong one is removed (without a known size, a partial
    # file cannot be told from a complete one, so only a known size allows resuming).
    if [ "$have" != 0 ] && { [ -z "$size" ] || [ "$size" = 0 ] || [ "$have" -ge "$size" ]; }; then
      got=$(sha256sum < "$part" | cut -d' ' -f1)
      if [ "$got" = "$sha" ]; then rc=0; break; fi
      rm -f -- "$part"
    fi
    rc=0
    orch_fetch_once "$client" "$url" "$part" "${size:-0}" || rc=$?
    [ "$rc" = 0 ] && break
    if [ "$rc" = 63 ]; then
      # More bytes than the manifest names: wrong bytes, not a network problem.
      rm -f -- "$part"
      printf 'fetch %s: refused: the store sends more than the %s bytes the manifest names (download stopped at %s)\n' "$url" "$size" "$((size + 1))" >&2
      return 5
    fi
    [ "$attempt" -lt "$attempts" ] && sleep "$attempt"
  done
  if [ "$rc" != 0 ]; then
    printf 'fetch %s: %s failed (exit %s) after %s attempts\n' "$url" "$client" "$rc" "$attempts" >&2
    return 4
  fi
  have=$(orch_file_size "$part")
  if [ -n "$size" ] && [ "$size" != 0 ] && [ "$have" != "$size" ]; then
    rm -f -- "$part"
    printf 'fetch %s: size mismatch: got %s bytes, want %s (truncated or replaced download)\n' "$url" "$have" "$size" >&2
    return 5
  fi
  got=$(sha256sum < "$part" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    rm -f -- "$part"
    printf 'fetch %s: sha256 mismatch: got %s, want %s\n' "$url" "$got" "$sha" >&2
    return 5
  fi
  mv -f -- "$part" "$dest"
}

# orch_verify_manifest MANIFEST SIG ALLOWED_SIGNERS: succeeds when SIG is an orch-release
# signature of the file MANIFEST by a key listed in ALLOWED_SIGNERS (ssh-keygen -Y).
orch_verify_manifest() {
  local principal
  [ -s "$2" ] || { printf 'manifest %s: unsigned (no signature): refused\n' "$1" >&2; return 6; }
  principal=$(ssh-keygen -Y find-principals -s "$2" -f "$3" 2>/dev/null | head -n 1) || principal=
  [ -n "$principal" ] || { printf 'manifest %s: signature refused: not made by a key in %s\n' "$1" "$3" >&2; return 6; }
  ssh-keygen -Y verify -f "$3" -I "$principal" -n orch-release -s "$2" < "$1" >/dev/null 2>&1 ||
    { printf 'manifest %s: signature refused: the manifest does not match its signature by %s\n' "$1" "$principal" >&2; return 6; }
}

# orch_fetch_bundle MODE URL DEST SHA256 SIZE: the install step's download. MODE host:
# any failure fails the step. MODE auto: no client or no connection exits 99, so the
# control machine pushes the bundle instead; wrong bytes fail the step in both modes.
orch_fetch_bundle() {
  local rc=0
  orch_fetch "$2" "$3" "$4" "$5" || rc=$?
  [ "$rc" = 0 ] && return 0
  if [ "$1" = auto ] && { [ "$rc" = 3 ] || [ "$rc" = 4 ]; }; then
    printf 'fetch failed (exit %s): the control machine pushes the bundle instead\n' "$rc" >&2
    exit "$ORCH_EXIT_NEED_PAYLOAD"
  fi
  orch_fail "bundle not installed: the host could not fetch it from the store (fetch: $1)"
}

# orch_manifest_field TEXT KEY: prints the value of "KEY" in a one-line channel manifest
# (src/store/manifest.ts: strings without quotes or backslashes, or a whole number).
orch_manifest_field() {
  local re="\"$2\":(\"([^\"\\\\]*)\"|([0-9]+))"
  [[ $1 =~ $re ]] || return 1
  printf '%s\n' "${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
}

# orch_check_manifest ROOT CHANNEL PACKAGE MANIFEST SIG ALLOWED SHA256 SIZE ALLOW_OLDER:
# the host's own check of the signed channel manifest (texts MANIFEST, SIG and the
# allowed_signers text ALLOWED) before it downloads the release it names: the signature
# (ssh-keygen -Y verify, namespace orch-release), the channel and package it was read
# as, its expiry against this host's clock, SHA256 and SIZE the same as the ones it is
# asked to fetch, and not older than the newest this host accepted for the channel
# (ROOT/.orch/channels/CHANNEL, its published_at) unless ALLOW_OLDER is 1 (a pinned
# version or --allow-downgrade). Fails the step with the reason; moves the mark forward.
orch_check_manifest() {
  local root=$1 channel=$2 package=$3 text=$4 sig=$5 allowed=$6 sha=$7 size=$8 allow=$9
  local dir rc=0 f v got=() now mark seen=''
  command -v ssh-keygen > /dev/null 2>&1 || orch_fail "channel $channel: cannot check the signed manifest on this host: ssh-keygen (OpenSSH >= 8.1) is missing"
  dir=$(mktemp -d) || orch_fail 'cannot create a temp folder'
  printf '%s' "$text" > "$dir/m.json"
  printf '%s' "$sig" > "$dir/m.json.sig"
  printf '%s' "$allowed" > "$dir/allowed"
  orch_verify_manifest "$dir/m.json" "$dir/m.json.sig" "$dir/allowed" 2> "$dir/err" || rc=$?
  v=$(cat -- "$dir/err")
  rm -rf -- "$dir"
  [ "$rc" = 0 ] || orch_fail "channel $channel: ${v#manifest "$dir"/m.json: }"
  for f in channel package version sha256 size published_at expires; do
    v=$(orch_manifest_field "$text" "$f") || orch_fail "channel $channel: the signed manifest has no \"$f\" (format 1? republish it with this orch)"
    got+=("$v")
  done
  [ "${got[1]}" = "$package" ] || orch_fail "channel $channel: package mismatch refused: the signed manifest names package ${got[1]}, but the channel is <store>/$package/<channel>.json (a manifest copied from another package)"
  [ "${got[0]}" = "$channel" ] || orch_fail "channel $channel: channel mismatch refused: the signed manifest is for channel ${got[0]}, but it was read as channel $channel (a manifest copied from another channel)"
  now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  [[ $now < "${got[6]}" ]] || orch_fail "channel $channel: expired manifest refused: $package ${got[2]} expired at ${got[6]} (host clock $now)"
  { [ "${got[3]}" = "$sha" ] && [ "${got[4]}" = "$size" ]; } || orch_fail "channel $channel: the signed manifest names sha256 ${got[3]} (${got[4]} bytes), but this host was asked to fetch $sha ($size bytes)"
  mark="$root/.orch/channels/$channel"
  [ -f "$mark" ] && seen=$(cat -- "$mark")
  if [ -n "$seen" ] && [[ ${got[5]} < "$seen" ]]; then
    [ "$allow" = 1 ] || orch_fail "channel $channel: downgrade refused on this host: the manifest names $package ${got[2]} published ${got[5]}, older than the newest this host accepted (published $seen); pin the version in the playbook (pin: ${got[2]}) or run with --allow-downgrade"
  elif [ "$seen" != "${got[5]}" ]; then
    orch_write "$mark" "${got[5]}"
  fi
}
