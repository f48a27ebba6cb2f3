# shellcheck shell=bash
# Host-side download of a release from an artifact store (SPEC section 7, "Bundles
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

# orch_fetch_once CLIENT URL PART: one download attempt into PART, resuming it.
orch_fetch_once() {
  local ct=${ORCH_FETCH_CONNECT_TIMEOUT:-10} idle=${ORCH_FETCH_IDLE_TIMEOUT:-30} max=${ORCH_FETCH_MAX_TIME:-1800}
  case $2 in
    file://*)
      local src=${2#file://}
      [ -r "$src" ] || { printf 'cannot read %s\n' "$src" >&2; return 1; }
      cat -- "$src" > "$3"
      return
      ;;
  esac
  if [ "$1" = curl ]; then
    local resume=()
    [ -s "$3" ] && resume=(-C -)
    curl -fsS -L --proto '=http,https' --connect-timeout "$ct" --speed-limit 1 --speed-time "$idle" \
      --max-time "$max" "${resume[@]}" -o "$3" -- "$2"
  else
    wget -q -c -T "$idle" --dns-timeout="$ct" --connect-timeout="$ct" -t 1 -O "$3" -- "$2" &&
      [ "$(orch_file_size "$3")" != 0 ]
  fi
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
    orch_fetch_once "$client" "$url" "$part" || rc=$?
    [ "$rc" = 0 ] && break
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
