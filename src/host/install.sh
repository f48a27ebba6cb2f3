# shellcheck shell=bash
# The `install` step (platter's install.sh contract, versioned folders). Needs
# prelude.sh, command.sh and tar-check.sh.

# orch_install PAYLOAD STATE REGISTRY REGFILE ROOT VERSION SHA256 TOP BEFORE AFTER [FETCH URL SIZE [AUTH [CHANNEL PACKAGE MANIFEST SIG ALLOWED ALLOW_OLDER]]]:
# installs the bundle (sha256 SHA256, top folder TOP) into ROOT/versions/VERSION.
# PAYLOAD `d:BASE:MANIFEST_SHA256` = a delta stream is on stdin (src/bundle/delta.ts):
# the bundle folder is rebuilt from the objects held and checked (orch_delta_rebuild,
# src/host/delta.sh; exit 99 = send the tarball); needs delta.sh.
# PAYLOAD `1` = the tarball is on stdin, else it must be ROOT/.orch/bundles/SHA256.tar.gz
# already (exit 99 when it is not) — or, with FETCH (host | auto), the host downloads
# URL (SIZE bytes) itself (orch_fetch_bundle, src/host/fetch.sh; AUTH = `user:password`
# for the store, given to curl on its stdin, never on a command line; with CHANNEL, the
# host first checks the signed channel manifest itself: orch_check_manifest). BEFORE/AFTER name functions run around the install
# ('' = none). STATE/REGISTRY: texts written to ROOT/.orch/state.json and REGFILE when
# not empty. `ok` when .orch-installed already holds SHA256; a different sha256 for the
# same version fails. ORCH_INSTALL_BEFORE_REMOVE / ORCH_INSTALL_AFTER_REMOVE (set by the
# step's script when the step has them): commands kept as versions/VERSION/.orch-before-remove
# and .orch-after-remove. The marker is written last: a folder without it is incomplete and
# is removed and redone.
orch_install() {
  local payload=$1 state=$2 registry=$3 regfile=$4 root=$5 v=$6 sha=$7 top=$8 before=$9 after=${10} fetch=${11:-} url=${12:-} size=${13:-0} auth=${14:-}
  local vdir="$root/versions/$6" bfile="$root/.orch/bundles/$7.tar.gz" have got f spec rc how src='' stream
  local -a left=() meta=()
  # A channel release the host fetches: its own check of the signed manifest first, also
  # when the version is installed already (a replayed manifest must not switch back to it).
  if [ -n "${15:-}" ]; then orch_check_manifest "$root" "${15}" "${16}" "${17}" "${18}" "${19}" "$sha" "$size" "${20}"; fi
  if [ -f "$vdir/.orch-installed" ]; then
    have=$(cat -- "$vdir/.orch-installed")
    if [ "$have" = "$sha" ]; then
      [ -z "$registry" ] || orch_write "$regfile" "$registry"
      orch_status ok
      return 0
    fi
    how='bump VERSION, or version: git | timestamp'
    if [[ $v =~ \+g[0-9a-f]+\.dirty$ ]]; then how='commit the changes, or use version: timestamp'; fi
    orch_fail "version $v is already installed in $vdir from another bundle (sha256 ${have:0:12}…, this bundle ${sha:0:12}…); one version is one release: give a new build a new version ($how)"
  fi
  # The folders of a first install in one mkdir (also the delta store's, src/host/delta.sh).
  if [ ! -d "$root/.orch/bundles" ] || [ ! -d "$root/versions" ] || [ ! -d "$root/.orch/objects" ] || [ ! -d "$root/.orch/trees" ]; then
    mkdir -p -- "$root/.orch/bundles" "$root/versions" "$root/.orch/objects" "$root/.orch/trees"
  fi
  # Leftovers of a run killed mid-install (SIGKILL, lost connection: no trap ran). The
  # host lock is held, so no other run is uploading or unpacking here. (One rm, and only
  # when there are some.)
  for f in "$root/.orch/unpack."* "$root/.orch/bundles/.upload."*; do
    if [ -e "$f" ] || [ -L "$f" ]; then left+=("$f"); fi
  done
  [ "${#left[@]}" = 0 ] || rm -rf -- "${left[@]}"
  if [ "${payload#d:}" != "$payload" ]; then
    spec=${payload#d:}
    ORCH_INSTALL_ROOT=$root
    if [ -f /dev/stdin ]; then
      # The agent spooled the stream to a private regular file, this step's stdin: it
      # is read in place (each tar opens /dev/stdin afresh), not copied.
      stream=/dev/stdin
      trap 'rm -rf -- "$ORCH_INSTALL_ROOT/.orch/unpack.delta" "$ORCH_INSTALL_ROOT/.orch/unpack.delta.tar"' EXIT
    else
      ORCH_INSTALL_TMP=$(mktemp "$root/.orch/bundles/.upload.XXXXXX")
      trap 'rm -f -- "$ORCH_INSTALL_TMP"; rm -rf -- "$ORCH_INSTALL_ROOT/.orch/unpack.delta" "$ORCH_INSTALL_ROOT/.orch/unpack.delta.tar"' EXIT
      cat > "$ORCH_INSTALL_TMP"
      stream=$ORCH_INSTALL_TMP
    fi
    rc=0
    orch_delta_rebuild "$root" "$top" "${spec#*:}" "$stream" "${spec%%:*}" || rc=$?
    if [ "$stream" = /dev/stdin ]; then exec 0</dev/null; else rm -f -- "$ORCH_INSTALL_TMP"; fi
    [ "$rc" = 0 ] || exit "$rc"
    src="$root/.orch/unpack.delta"
  elif [ "$payload" = 1 ]; then
    ORCH_INSTALL_TMP=$(mktemp "$root/.orch/bundles/.upload.XXXXXX")
    trap 'rm -f -- "$ORCH_INSTALL_TMP"' EXIT
    # One pass: the copy and its sha256 (no second read of the file, no cut).
    got=$(tee -- "$ORCH_INSTALL_TMP" | sha256sum)
    got=${got%% *}
    [ "$got" = "$sha" ] || orch_fail "checksum mismatch uploading bundle: got $got, want $sha"
    mv -f -- "$ORCH_INSTALL_TMP" "$bfile"
    trap - EXIT
  elif [ -n "$fetch" ]; then
    # shellcheck disable=SC2034 # read by orch_fetch (fetch.sh); a shell variable, not exported: no child sees it
    ORCH_FETCH_AUTH=$auth
    orch_fetch_bundle "$fetch" "$url" "$bfile" "$sha" "$size"
  else
    [ -f "$bfile" ] || exit "$ORCH_EXIT_NEED_PAYLOAD"
    got=$(sha256sum < "$bfile")
    got=${got%% *}
    if [ "$got" != "$sha" ]; then rm -f -- "$bfile"; exit "$ORCH_EXIT_NEED_PAYLOAD"; fi
  fi
  if [ -n "$before" ]; then
    orch_user_command "$before"
    [ "$ORCH_RC" = 0 ] || orch_fail "before command failed (exit $ORCH_RC)"
  fi
  if [ -n "$src" ]; then
    ORCH_INSTALL_SCRATCH=$src
    trap 'rm -rf -- "$ORCH_INSTALL_SCRATCH" "$ORCH_INSTALL_SCRATCH.tar"' EXIT
  else
    orch_check_tar "$bfile" "$top"
    ORCH_INSTALL_SCRATCH=$(mktemp -d "$root/.orch/unpack.XXXXXX")
    trap 'rm -rf -- "$ORCH_INSTALL_SCRATCH" "$ORCH_INSTALL_SCRATCH.tar"' EXIT
    # GNU tar unquotes backslashes in a -C argument: cd there instead, so any root works.
    (cd -- "$ORCH_INSTALL_SCRATCH" && tar -xzf - --no-same-owner) < "$bfile" || orch_fail "cannot unpack $bfile into $ORCH_INSTALL_SCRATCH"
  fi
  if [ -e "$vdir" ] || [ -L "$vdir" ]; then rm -rf -- "$vdir"; fi
  # Until the marker is written, a failure (disk full...) removes the partial version too.
  ORCH_INSTALL_VDIR=$vdir
  trap 'rm -rf -- "$ORCH_INSTALL_SCRATCH" "$ORCH_INSTALL_SCRATCH.tar" "$ORCH_INSTALL_VDIR"' EXIT
  "$ORCH_INSTALL_SCRATCH/$top/install.sh" "$vdir" || orch_fail "install.sh $vdir failed (exit $?)"
  # info.json is optional in an artifact (the layout check does not require it). One cp.
  for f in PACKAGE VERSION PLATFORM info.json; do
    if [ "$f" = info.json ] && [ ! -e "$ORCH_INSTALL_SCRATCH/$top/$f" ]; then continue; fi
    meta+=("$ORCH_INSTALL_SCRATCH/$top/$f")
  done
  cp -- "${meta[@]}" "$vdir/"
  # `shared:` paths (src/host/shared.sh) are linked in before `after` and the switch.
  if declare -F orch_install_shared > /dev/null; then orch_install_shared "$root" "$vdir"; fi
  if [ -n "$after" ]; then
    orch_user_command "$after"
    [ "$ORCH_RC" = 0 ] || orch_fail "after command failed (exit $ORCH_RC)"
  fi
  # The release's manifest, its files in the content store and its bundle folder: the
  # base of the next delta (src/host/delta.sh).
  if [ -n "$src" ]; then
    orch_delta_record "$root" "$vdir" "$src/$top" "$src/.orch-manifest"
  else
    orch_delta_record "$root" "$vdir" "$ORCH_INSTALL_SCRATCH/$top"
  fi
  orch_delta_keep_tree "$root" "$v" "$ORCH_INSTALL_SCRATCH/$top"
  # before_remove / after_remove: kept with the release (as dpkg keeps prerm/postrm), so
  # `orch remove` runs what was installed (src/host/remove.sh), not a later playbook's.
  # One perl process writes them all, in this order: the remove scripts, the marker, then
  # state.json and the registry. From here a failure removes the version only while it
  # has no marker (the writes stop at the first that fails).
  trap 'rm -rf -- "$ORCH_INSTALL_SCRATCH" "$ORCH_INSTALL_SCRATCH.tar"; [ -f "$ORCH_INSTALL_VDIR/.orch-installed" ] || rm -rf -- "$ORCH_INSTALL_VDIR"' EXIT
  local -a writes=()
  if [ -n "${ORCH_INSTALL_BEFORE_REMOVE:-}" ]; then writes+=("$vdir/.orch-before-remove" "$ORCH_INSTALL_BEFORE_REMOVE"); fi
  if [ -n "${ORCH_INSTALL_AFTER_REMOVE:-}" ]; then writes+=("$vdir/.orch-after-remove" "$ORCH_INSTALL_AFTER_REMOVE"); fi
  writes+=("$vdir/.orch-installed" "$sha")
  [ -z "$state" ] || writes+=("$root/.orch/state.json" "$state")
  [ -z "$registry" ] || writes+=("$regfile" "$registry")
  orch_write_files "${writes[@]}"
  trap 'rm -rf -- "$ORCH_INSTALL_SCRATCH" "$ORCH_INSTALL_SCRATCH.tar"' EXIT
  orch_status changed
}
