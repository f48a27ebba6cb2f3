# shellcheck shell=bash
# The `put` step. Needs prelude.sh and meta.sh.

# orch_put PAYLOAD DEST SHA256 MODE OWNER GROUP [FOLLOW]: makes DEST hold the payload (sha256
# SHA256) with that mode/owner/group ('' = leave; a new file without MODE gets the old
# file's mode, else 0644). PAYLOAD: `1` = the content is on stdin, `f:FILE` = in that
# private file, else the content was not sent: exit 99 when it is needed. The content
# goes to a temp name next to DEST (orch_safe_write), is checked, then renamed over DEST
# (atomic for readers). Fails when DEST is a symlink (its target is never written),
# unless FOLLOW is `1`: then the file the link resolves to is written, the same way.
# Prints status ok when nothing changed.
orch_put() {
  local payload=$1 dest=$2 want=$3 mode=$4 owner=$5 group=$6 follow=${7:-0} have dir got
  if [ -L "$dest" ] && [ "$follow" = 1 ]; then
    dest=$(readlink -f -- "$dest") || orch_fail "cannot resolve the symlink $2"
  fi
  if [ -L "$dest" ]; then
    orch_fail "$dest is a symlink (to $(readlink -- "$dest")); refusing to write through it: remove the link, put the file at its target, or say follow: true"
  fi
  have=$({ sha256sum < "$dest"; } 2>/dev/null | cut -d" " -f1 || true)
  if [ "$have" = "$want" ]; then
    orch_meta "$dest" "$mode" "$owner" "$group"
    if [ "$ORCH_META_CHANGED" = 1 ]; then orch_status changed; else orch_status ok; fi
    return 0
  fi
  case "$payload" in 1|f:*) ;; *) exit 99 ;; esac
  dir=$(dirname -- "$dest")
  mkdir -p -- "$dir"
  if [ -z "$mode" ]; then
    if [ -f "$dest" ]; then mode=$(stat -c %a -- "$dest" 2>/dev/null || echo 644); else mode=644; fi
  fi
  if [ "$payload" = 1 ]; then
    ORCH_PUT_TMP=$(orch_safe_write "$dest" "$mode" "$owner" "$group")
  else
    ORCH_PUT_TMP=$(orch_safe_write "$dest" "$mode" "$owner" "$group" < "${payload#f:}")
  fi
  [ -n "$ORCH_PUT_TMP" ] || orch_fail "could not write a temp file next to $dest"
  trap 'rm -f -- "$ORCH_PUT_TMP"' EXIT
  got=$(sha256sum < "$ORCH_PUT_TMP" | cut -d" " -f1)
  [ "$got" = "$want" ] || orch_fail "checksum mismatch uploading $dest: got $got, want $want"
  mv -fT -- "$ORCH_PUT_TMP" "$dest"
  trap - EXIT
  orch_status changed
}
