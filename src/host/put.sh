# shellcheck shell=bash
# The `put` step. Needs prelude.sh and meta.sh.

# orch_put PAYLOAD DEST SHA256 MODE OWNER GROUP: makes DEST hold the payload (sha256
# SHA256) with that mode/owner/group ('' = leave; a new file without MODE gets the old
# file's mode, else 0644). PAYLOAD: `1` = the content is on stdin, `f:FILE` = in that
# private file, else the content was not sent: exit 99 when it is needed. The content
# goes to a temp name next to DEST (mode 0600 while written), is checked, then renamed
# over DEST (atomic for readers). Prints status ok when nothing changed.
orch_put() {
  local payload=$1 dest=$2 want=$3 mode=$4 owner=$5 group=$6 have dir got
  have=$({ sha256sum < "$dest"; } 2>/dev/null | cut -d" " -f1 || true)
  if [ "$have" = "$want" ]; then
    orch_meta "$dest" "$mode" "$owner" "$group"
    if [ "$ORCH_META_CHANGED" = 1 ]; then orch_status changed; else orch_status ok; fi
    return 0
  fi
  case "$payload" in 1|f:*) ;; *) exit 99 ;; esac
  dir=$(dirname -- "$dest")
  mkdir -p -- "$dir"
  ORCH_PUT_TMP=$(mktemp "$dir/.orch-put.XXXXXX")
  trap 'rm -f -- "$ORCH_PUT_TMP"' EXIT
  if [ "$payload" = 1 ]; then cat > "$ORCH_PUT_TMP"; else cat -- "${payload#f:}" > "$ORCH_PUT_TMP"; fi
  got=$(sha256sum < "$ORCH_PUT_TMP" | cut -d" " -f1)
  [ "$got" = "$want" ] || orch_fail "checksum mismatch uploading $dest: got $got, want $want"
  if [ -n "$mode" ]; then
    chmod -- "$mode" "$ORCH_PUT_TMP"
  elif [ -e "$dest" ]; then
    chmod --reference="$dest" -- "$ORCH_PUT_TMP" 2>/dev/null || chmod 0644 -- "$ORCH_PUT_TMP"
  else
    chmod 0644 -- "$ORCH_PUT_TMP"
  fi
  orch_meta "$ORCH_PUT_TMP" "" "$owner" "$group"
  mv -f -- "$ORCH_PUT_TMP" "$dest"
  trap - EXIT
  orch_status changed
}
