# shellcheck shell=bash
# The build-host side of `bundles.NAME.build_on` (src/bundle/remote-build.ts).
#
# Run as `bash -c "$REMOTE_BUILD_SH; orch_rb_main \"\$@\"" orch-remote-build ARGS...` with
# a payload tar.gz on stdin. The host needs bash, coreutils, GNU tar, gzip, sha256sum and
# python3 (venv, pip) or node/npm: not orch.
#
# The host only builds: it returns the raw bundle folder and orch writes PACKAGE,
# VERSION, PLATFORM, info.json and install.sh on the control machine with the very code
# local builds use (so both make the same bytes).
#
# Payload (tar.gz, one folder `payload/`): `src/` (SOURCE), `hooks/prebuild.sh`,
# `hooks/postbuild.sh` (optional), `requirements.txt` (optional), `build.argv` (the
# pip wheel / npm ci argv, NUL-separated, `@@T@@` standing for the host's temp folder).
#
# Output protocol (parsed by parseRemoteBuildResult in src/bundle/remote-build.ts):
# stdout carries only a tar.gz with `out/<HERE>/` (data/ plus whatever the build scripts
# wrote there) and `out/install-script.sh` (the lines the build scripts appended to
# INSTALL_SCRIPT); its last stderr line is `ORCH-REMOTE-BUILD-RESULT <sha256> <bytes>`
# of that tar.gz. Every other stderr line is progress (tool output). Exit 0 = built.

# orch_rb_log MESSAGE...: one progress line on stderr.
orch_rb_log() { printf '%s\n' "$*" >&2; }

# orch_rb_norm NAME: the PEP 503 normalised project name (lowercase, `_` and `.` -> `-`).
orch_rb_norm() {
  local n="${1,,}"
  n="${n//[_.]/-}"
  while [[ "$n" == *--* ]]; do n="${n//--/-}"; done
  printf '%s' "$n"
}

# orch_rb_read_argv FILE TEMP: reads FILE's NUL-separated words into the array
# ORCH_RB_ARGV, every `@@T@@` replaced by TEMP.
orch_rb_read_argv() {
  local a
  ORCH_RB_ARGV=()
  while IFS= read -r -d '' a; do ORCH_RB_ARGV+=("${a//@@T@@/$2}"); done < "$1"
}

# orch_rb_hook NAME: runs `bash $P/hooks/NAME.sh` from $HERE when the payload has it
# (HERE, DATA_DIR, SOURCE_DIR, SCRATCHPAD, INSTALL_SCRIPT exported; VIRTUAL_ENV for
# python). A failing hook ends the build: "NAME script failed with exit code N", exit 1.
orch_rb_hook() {
  [ -f "$P/hooks/$1.sh" ] || return 0
  local rc=0
  (cd "$HERE" && bash "$P/hooks/$1.sh") || rc=$?
  if [ "$rc" -ne 0 ]; then
    orch_rb_log "$1 script failed with exit code $rc"
    exit 1
  fi
}

# orch_rb_store_wheels DATA_DIR CACHE PROJECT: copies the wheels of DATA_DIR that are not
# in CACHE into it (temp name + rename), except PROJECT's own wheel (it changes with
# SOURCE under the same name); CACHE empty = no cache. Logs `python: N wheels (M cached)`
# where M counts the wheels CACHE already held.
orch_rb_store_wheels() {
  local own w b dn n=0 cached=0
  own="$(orch_rb_norm "$3")"
  shopt -s nullglob
  for w in "$1"/*.whl; do
    b="${w##*/}"
    n=$((n + 1))
    if [ -n "$2" ] && [ -f "$2/$b" ]; then cached=$((cached + 1)); continue; fi
    IFS=- read -r dn _ <<< "$b"
    if [ -n "$2" ] && [ "$(orch_rb_norm "$dn")" != "$own" ]; then
      cp "$w" "$2/.$b.$$" && mv -f "$2/.$b.$$" "$2/$b"
    fi
  done
  shopt -u nullglob
  orch_rb_log "python: $n wheels ($cached cached)"
}

# orch_rb_python PYTHON USE_CACHE WHEEL_TAG PLATFORM PROJECT: the python builder: a
# scratch venv made with PYTHON, the prebuild hook, `pip wheel` (the argv from the
# payload) into DATA_DIR, new dependency wheels into the host's wheel cache
# `${XDG_CACHE_HOME:-$HOME/.cache}/orch/wheels/<WHEEL_TAG>-<PLATFORM>` (USE_CACHE=1),
# the postbuild hook.
orch_rb_python() {
  local wc=""
  VIRTUAL_ENV="$T/work/build-venv"
  export VIRTUAL_ENV
  orch_rb_log "python: creating build virtualenv with $1"
  "$1" -m venv "$VIRTUAL_ENV"
  PATH="$VIRTUAL_ENV/bin:$PATH" orch_rb_hook prebuild
  cp -a "$SOURCE_DIR" "$T/work/project"
  if [ "$2" = 1 ]; then
    wc="${XDG_CACHE_HOME:-$HOME/.cache}/orch/wheels/$3-$4"
    mkdir -p "$wc"
    ln -s "$wc" "$T/wheel-cache"
  else
    mkdir "$T/wheel-cache"
  fi
  orch_rb_log "python: building wheels..."
  (cd "$SOURCE_DIR" && PIP_DISABLE_PIP_VERSION_CHECK=1 "${ORCH_RB_ARGV[@]}")
  orch_rb_store_wheels "$DATA_DIR" "$wc" "$5"
  PATH="$VIRTUAL_ENV/bin:$PATH" orch_rb_hook postbuild
}

# orch_rb_node: the node builder: prebuild hook, SOURCE copied into DATA_DIR, `npm ci`
# (the argv from the payload; npm reads the build user's own configuration), postbuild.
orch_rb_node() {
  orch_rb_hook prebuild
  cp -a "$SOURCE_DIR/." "$DATA_DIR/"
  orch_rb_log "node: ${ORCH_RB_ARGV[*]}..."
  (cd "$DATA_DIR" && npm_config_update_notifier=false "${ORCH_RB_ARGV[@]}")
  orch_rb_hook postbuild
}

# orch_rb_dir: the dir builder: prebuild hook, SOURCE copied into DATA_DIR, postbuild.
orch_rb_dir() {
  orch_rb_hook prebuild
  cp -a "$SOURCE_DIR/." "$DATA_DIR/"
  orch_rb_hook postbuild
}

# orch_rb_main BUILDER HERE PYTHON USE_CACHE WHEEL_TAG PLATFORM PROJECT: unpacks the
# payload from stdin into a `mktemp -d` folder (removed on exit), builds `$T/out/HERE/`
# with BUILDER (python | node | dir) and streams the result as described at the top.
orch_rb_main() {
  set -euo pipefail
  umask 022
  local builder="$1" sum
  exec 3>&1 1>&2
  T="$(mktemp -d "${TMPDIR:-/tmp}/orch-remote-build.XXXXXX")"
  trap 'rm -rf -- "$T"' EXIT
  mkdir "$T/in" "$T/out" "$T/work" "$T/work/scratchpad"
  tar -xzf - -C "$T/in" --no-same-owner
  P="$T/in/payload"
  orch_rb_read_argv "$P/build.argv" "$T"
  SOURCE_DIR="$P/src"
  SCRATCHPAD="$T/work/scratchpad"
  INSTALL_SCRIPT="$T/out/install-script.sh"
  HERE="$T/out/$2"
  DATA_DIR="$HERE/data"
  : > "$INSTALL_SCRIPT"
  mkdir -p "$DATA_DIR"
  export HERE DATA_DIR SOURCE_DIR SCRATCHPAD INSTALL_SCRIPT
  case "$builder" in
    python) orch_rb_python "$3" "$4" "$5" "$6" "$7" ;;
    node) orch_rb_node ;;
    dir) orch_rb_dir ;;
    *) orch_rb_log "unknown builder $builder"; exit 2 ;;
  esac
  tar --hard-dereference --numeric-owner -C "$T" -czf "$T/out.tar.gz" out
  sum="$(sha256sum < "$T/out.tar.gz")"
  cat "$T/out.tar.gz" >&3
  orch_rb_log "ORCH-REMOTE-BUILD-RESULT ${sum%% *} $(wc -c < "$T/out.tar.gz" | tr -d ' ')"
}
