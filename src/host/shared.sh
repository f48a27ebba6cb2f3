# shellcheck shell=bash
# Shared paths (Capistrano's linked_dirs/linked_files, Deployer's shared_dirs):
# state an app keeps across releases (a database, uploads, logs) lives once in
# <root>/shared/<path> and every release links to it. Linked into a release before its
# `after` command and before the switch; never pruned, never rolled back (prune and
# rollback only touch versions/, current and previous).
# Needs the prelude (orch_fail).

# shared_link ROOT RELEASE PATH...: for each PATH (relative; a trailing / means a
# folder, else a file), creates <root>/shared/PATH once (the release's own copy seeds it
# when it has one, else an empty folder or file) and replaces RELEASE/PATH with a
# symlink to it. Prints "changed" when it created or replaced a link, nothing when every
# link was already in place.
shared_link() {
  local root=$1 rel=$2 p dir src dst changed=0
  shift 2
  for p in "$@"; do
    case "/$p/" in
      //* | */../* | */./* | *//*/) orch_fail "shared path must be relative, without . or .. parts (got $p)" ;;
    esac
    dir=0
    case "$p" in */) dir=1 ;; esac
    p=${p%/}
    src="$root/shared/$p"
    dst="$rel/$p"
    if [ ! -e "$src" ] && [ ! -L "$src" ]; then
      mkdir -p -- "$(dirname -- "$src")"
      if [ -e "$dst" ] && [ ! -L "$dst" ]; then
        cp -a -- "$dst" "$src"
      elif [ "$dir" = 1 ]; then
        mkdir -p -- "$src"
      else
        : > "$src"
      fi
    fi
    if [ "$dir" = 1 ] && [ ! -d "$src" ]; then orch_fail "shared path $p/ is not a folder in $root/shared"; fi
    if [ "$dir" = 0 ] && [ -d "$src" ]; then orch_fail "shared path $p is a folder in $root/shared (write $p/)"; fi
    if [ -L "$dst" ] && [ "$(readlink -- "$dst")" = "$src" ]; then continue; fi
    mkdir -p -- "$(dirname -- "$dst")"
    rm -rf -- "$dst"
    ln -s -- "$src" "$dst"
    changed=1
  done
  if [ "$changed" = 1 ]; then echo changed; fi
}

# orch_install_shared ROOT RELEASE: shared_link of the paths in the array
# ORCH_INSTALL_SHARED (the install step's script sets it: the node's and the step's
# `shared:` paths); install.sh calls it before `after` and the switch.
orch_install_shared() { shared_link "$1" "$2" "${ORCH_INSTALL_SHARED[@]}" > /dev/null; }
