# shellcheck shell=bash
# Delta releases on the host (docs/how-it-works.md "Delta releases"): the content store
# <root>/.orch/objects/<sha256> (hard links to files of bundles this host received),
# each release's manifest versions/<V>/.orch-manifest, the bundle folder of each kept
# release <root>/.orch/trees/<V> (hard links to objects: the base a delta starts from),
# the rebuild of a bundle folder from a delta stream (format: src/bundle/delta.ts), and
# the pruning of objects and trees no kept release uses.
#
# The manifest text format is documented beside its control-machine twin,
# src/bundle/manifest.ts: "PATH<TAB>TYPE<TAB>MODE<TAB>SIZE<TAB>SHA256|TARGET", sorted
# by the bytes of PATH. Needs tar-check.sh (orch_norm_path) before it, bash 4, GNU tar, GNU find and coreutils (sha256sum -z).
# Every function is safe under set -euo pipefail. Only fixed names under <root>/.orch
# are written: the caller holds the host lock.

# orch_delta_manifest DIR: prints the manifest of everything below DIR (DIR itself is
# not listed). Five processes however many files: ONE find lists every member (a record
# `L<type>\t<mode>\t<size>\t<path>\t<target>`) and runs sha256sum -z on the regular
# files (`<sha256>  ./<path>`; GNU find flushes its output before it starts a command
# and waits for it, so records never interleave), tr makes the NUL-terminated records
# lines, one awk joins them, sort orders them. A member of another type (fifo...) is
# listed with find's %y letter, so it can never match a bundle's manifest; a name with
# a newline or TAB (which no manifest carries) prints garbled lines, so it cannot match
# either.
orch_delta_manifest() {
  local dir="$1"
  (cd -- "$dir" && find . -mindepth 1 -printf 'L%y\t%m\t%s\t%P\t%l\0' -type f -exec sha256sum -z -- {} +) | tr '\0' '\n' | LC_ALL=C awk -F '\t' '
    /^L/ { n++; kind[n] = substr($1, 2); mode[n] = $2; size[n] = $3; path[n] = $4; target[n] = $5; next }
    { sum[substr($0, 69)] = substr($0, 1, 64) }
    END {
      for (i = 1; i <= n; i++) {
        if (kind[i] == "f") printf "%s\tf\t%s\t%s\t%s\n", path[i], mode[i], size[i], ((path[i] in sum) ? sum[path[i]] : "missing")
        else if (kind[i] == "d") printf "%s\td\t%s\t-\t-\n", path[i], mode[i]
        else if (kind[i] == "l") printf "%s\tl\t-\t-\t%s\n", path[i], target[i]
        else printf "%s\t%s\t%s\t-\t-\n", path[i], kind[i], mode[i]
      }
    }' | LC_ALL=C sort
}

# orch_delta_objects ROOT: prints the sha256 of every object the host holds, one a
# line (nothing when there is no store): the facts' answer to "what do you have".
orch_delta_objects() {
  local d="$1/.orch/objects"
  [ -d "$d" ] || return 0
  find "$d" -mindepth 1 -maxdepth 1 -type f -name '????????????????????????????????????????????????????????????????' -printf '%f\n'
}

# orch_delta_check_manifest FILE: the host-side checks of docs/reference/playbook.md "Bundles" applied to a
# release's manifest (paths relative to the bundle's top folder): no absolute path, no
# ".." segment, only files, folders and symlinks, no setuid/setgid bit, no path through
# a symlink, no symlink whose target leaves the bundle folder; then the platter layout
# (PACKAGE, VERSION, PLATFORM, executable install.sh, data/). Returns 0 when safe, else
# prints "unsafe bundle member: PATH: REASON" or "bundle layout incomplete: ..." on
# stderr and returns 1.
orch_delta_check_manifest() {
  # One awk process (a bash loop took ~80 ms CPU per 2,000 members); the same checks and
  # messages, first problem in file order, then paths through symlinks, then the layout.
  LC_ALL=C awk -F '\t' '
    function norm(p,   n, parts, i, k, out, r) {
      n = split(p, parts, "/"); k = 0
      for (i = 1; i <= n; i++) {
        if (parts[i] == "" || parts[i] == ".") continue
        if (parts[i] == "..") { if (k == 0) return ".."; k--; continue }
        out[++k] = parts[i]
      }
      r = ""
      for (i = 1; i <= k; i++) r = (i > 1 ? r "/" : "") out[i]
      return r
    }
    function oct(m,   v, i, c) {
      if (m == "") return -1
      v = 0
      for (i = 1; i <= length(m); i++) { c = substr(m, i, 1); if (c !~ /^[0-7]$/) return -1; v = v * 8 + c }
      return v
    }
    function fail(msg) { printf "%s\n", msg > "/dev/stderr"; failed = 1; exit 1 }
    {
      path = $1; type = $2; mode = $3; last = $5
      if (path == "" || substr(path, 1, 1) == "/") fail("unsafe bundle member: " path ": absolute path")
      s = "/" path "/"
      if (index(s, "/../") || index(s, "/./") || index(s, "//")) fail("unsafe bundle member: " path ": parent directory segment (..)")
      if (type == "f" || type == "d") {
        v = oct(mode)
        if (v < 0 || int(v / 1024) % 4 != 0) fail("unsafe bundle member: " path ": setuid/setgid bit")
      } else if (type == "l") {
        if (index(path, "/")) { dir = path; sub(/\/[^\/]*$/, "", dir); r = norm("top/" dir "/" last) } else r = norm("top/" last)
        if (last == "" || substr(last, 1, 1) == "/") r = ".."
        if (r != "top" && substr(r, 1, 4) != "top/") fail("unsafe bundle member: " path ": symlink target \"" last "\" leaves the bundle folder")
        links[path] = 1; nlinks++
      } else fail("unsafe bundle member: " path ": unsupported member type")
      kinds[path] = type; modes[path] = mode; order[++n] = path
    }
    END {
      if (failed) exit 1
      for (i = 1; nlinks && i <= n; i++) {
        p = order[i]; res = ""
        while (index(p, "/")) { sub(/\/[^\/]*$/, "", p); if (p in links) res = p }
        if (res != "") fail("unsafe bundle member: " order[i] ": path goes through symlink " res)
      }
      split("PACKAGE:f VERSION:f PLATFORM:f install.sh:f data:d", want, " ")
      for (i = 1; i <= 5; i++) {
        w = want[i]; name = substr(w, 1, index(w, ":") - 1); kind = substr(w, index(w, ":") + 1)
        if (!(name in kinds) || kinds[name] != kind) fail("bundle layout incomplete: missing " name)
      }
      if (int(oct(modes["install.sh"]) / 64) % 2 == 0) fail("bundle layout incomplete: install.sh is not executable")
    }
  ' "$1"
}

# _orch_delta_check_stream STREAM TOP: checks a delta stream's listing before it is
# unpacked in <root>/.orch: only objects/<sha256> files, and folders, symlinks and hard
# links to objects/<sha256> under unpack.delta/TOP; no "..", no path through a symlink
# member. Returns 1 with "unsafe delta member: NAME: REASON" on stderr. Sets
# ORCH_DELTA_REMOVE_SIZE (bytes of unpack.delta.remove, '' when absent) and
# ORCH_DELTA_PATCH (1 when unpack.delta.info.json.patch is present), so the rebuild
# extracts only the members there are. The stream may be gzip'd or not (tar detects it).
_orch_delta_check_stream() {
  local stream="$1" top="$2" line mode rest name target kind n prefix i
  local -A links=()
  local -a segs order=()
  local hex='[0-9a-f]'
  local sha="$hex$hex$hex$hex$hex$hex$hex$hex"
  sha="$sha$sha$sha$sha$sha$sha$sha$sha"
  local listing size
  ORCH_DELTA_REMOVE_SIZE='' ORCH_DELTA_PATCH=''
  listing="$(LC_ALL=C tar --numeric-owner -P -tvf "$stream")" || { printf 'cannot list the delta stream\n' >&2; return 1; }
  while IFS= read -r line; do
    read -r mode _ size _ _ rest <<<"$line"
    kind="${mode:0:1}" name="$rest" target=""
    case "$kind" in
      l) name="${rest%% -> *}"; target="${rest#* -> }" ;;
      h) name="${rest%% link to *}"; target="${rest#* link to }" ;;
    esac
    n="${name%/}"
    case "/$n/" in */../*) printf 'unsafe delta member: %s: parent directory segment (..)\n' "$name" >&2; return 1 ;; esac
    # shellcheck disable=SC2254
    case "$kind:$n" in
      -:objects/$sha) continue ;;
      -:unpack.delta.remove) ORCH_DELTA_REMOVE_SIZE=$size; continue ;;
      -:unpack.delta.info.json.patch) ORCH_DELTA_PATCH=1; continue ;;
      d:unpack.delta/"$top"|d:unpack.delta/"$top"/*|l:unpack.delta/"$top"/*) ;;
      h:unpack.delta/"$top"/*)
        case "$target" in objects/$sha) ;; *) printf 'unsafe delta member: %s: hard link outside the object store\n' "$name" >&2; return 1 ;; esac ;;
      *) printf 'unsafe delta member: %s: not part of a delta stream\n' "$name" >&2; return 1 ;;
    esac
    case "${mode:3:1}${mode:6:1}" in *[sS]*) printf 'unsafe delta member: %s: setuid/setgid bit\n' "$name" >&2; return 1 ;; esac
    [ "$kind" != l ] || links[$n]=1
    order+=("$n")
  done <<<"$listing"
  for n in "${order[@]}"; do
    IFS=/ read -r -a segs <<<"$n"
    prefix="${segs[0]}"
    for ((i = 1; i < ${#segs[@]}; i++)); do
      if [ -n "${links[$prefix]+x}" ]; then printf 'unsafe delta member: %s: path goes through symlink %s\n' "$n" "$prefix" >&2; return 1; fi
      prefix="$prefix/${segs[i]}"
    done
  done
  return 0
}

# _orch_delta_patch BASE PATCH OUT: applies a line patch (src/bundle/delta.ts: `= N`
# copy N lines of BASE, `- N` skip N, `+ N` then N new lines) to BASE, writing OUT.
# One awk process. Returns non-zero on a malformed patch or a BASE too short.
_orch_delta_patch() {
  LC_ALL=C awk -v base="$1" '
    function take(n, keep,   l) { while (n-- > 0) { if ((getline l < base) <= 0) exit 1; if (keep) print l } }
    lit > 0 { print; lit--; next }
    NF == 2 && $1 == "=" && $2 ~ /^[0-9]+$/ { take($2 + 0, 1); next }
    NF == 2 && $1 == "-" && $2 ~ /^[0-9]+$/ { take($2 + 0, 0); next }
    NF == 2 && $1 == "+" && $2 ~ /^[0-9]+$/ { lit = $2 + 0; next }
    { exit 1 }
    END { if (lit > 0) exit 1 }
  ' "$2" > "$3"
}

# orch_delta_rebuild ROOT TOP MANIFEST_SHA256 STREAM [BASE]: rebuilds the bundle folder
# <root>/.orch/unpack.delta/TOP from the delta stream file STREAM and what the host
# holds: with BASE (a version), a hard-linked copy of <root>/.orch/trees/BASE minus the
# paths of the stream's unpack.delta.remove, its info.json patched by the stream's
# unpack.delta.info.json.patch (into a new file: the base's inode is never written),
# then the stream's members over it. Writes
# the folder's manifest to <root>/.orch/unpack.delta/.orch-manifest and checks it: its
# sha256 must be MANIFEST_SHA256 (the control machine's, computed from the tarball),
# and it must pass orch_delta_check_manifest.
# Returns 0 when the folder is exactly the bundle; 99 when it is not (an object or the
# base tree missing or corrupted: objects whose content does not match their name are
# removed, and the caller asks for the full tarball); 1 when the stream or the manifest
# is unsafe. On any non-zero return the rebuilt folder is gone. A gzip'd STREAM is read
# through its unzipped copy <root>/.orch/unpack.delta.tar, which a successful rebuild
# leaves for the caller to remove with the folder (install.sh does; the next install
# removes unpack.* leftovers).
orch_delta_rebuild() {
  local root="$1" top="$2" want="$3" stream="$4" base="${5:-}" store got rec bad=0 scratch
  local -a meta=()
  store="$root/.orch"
  scratch="$store/unpack.delta"
  # Every tar below runs in $store: an absolute stream path.
  case "$stream" in /*) ;; *) stream="$PWD/$stream" ;; esac
  if [ -e "$scratch" ] || [ -L "$scratch" ] || [ -e "$scratch.remove" ] || [ -L "$scratch.remove" ] || [ -e "$scratch.tar" ]; then
    rm -rf -- "$scratch" "$scratch.remove" "$scratch.tar"
  fi
  [ -d "$store/objects" ] || mkdir -p -- "$store/objects"
  # The stream's meta members go beside TOP in the scratch folder.
  case "$top" in unpack.delta.remove|unpack.delta.info.json.patch) printf 'delta: bad top folder %s\n' "$top" >&2; return 1 ;; esac
  # A gzip'd stream (magic 1f 8b, read by a builtin) is unzipped once, to
  # <root>/.orch/unpack.delta.tar, so the tar runs below start no gzip each; a plain one
  # is read as it is.
  if _orch_delta_gzipped "$stream"; then
    if ! gzip -dc <"$stream" >"$scratch.tar" 2>/dev/null; then
      rm -f -- "$scratch.tar"
      printf 'cannot list the delta stream\n' >&2
      return 1
    fi
    stream=$scratch.tar
  fi
  _orch_delta_check_stream "$stream" "$top" || { rm -rf -- "$scratch" "$scratch.tar"; return 1; }
  if [ -n "$base" ]; then
    case "$base" in */*|.|..) printf 'delta: bad base version %s\n' "$base" >&2; rm -rf -- "$scratch" "$scratch.tar"; return 1 ;; esac
    if [ ! -d "$store/trees/$base" ]; then printf 'delta: no base tree %s\n' "$base" >&2; rm -rf -- "$scratch" "$scratch.tar"; return "$ORCH_EXIT_NEED_PAYLOAD"; fi
    # The meta members the listing showed, in one tar that also makes the scratch folder
    # (they land in it, renamed); an empty remove list needs none.
    [ -z "$ORCH_DELTA_REMOVE_SIZE" ] || [ "$ORCH_DELTA_REMOVE_SIZE" = 0 ] || meta+=(unpack.delta.remove)
    [ -z "$ORCH_DELTA_PATCH" ] || meta+=(unpack.delta.info.json.patch)
    if [ "${#meta[@]}" -gt 0 ]; then
      (cd -- "$store" && tar -xf "$stream" --no-same-owner --transform='s,^unpack\.delta\.,unpack.delta/unpack.delta.,' -- "${meta[@]}" 2>/dev/null) || true
    fi
    [ -d "$scratch" ] || mkdir -p -- "$scratch"
    cp -al -- "$store/trees/$base" "$scratch/$top"
    # With a patch, the copy's link to the base's info.json goes in the same rm (when the
    # list leaves it there): the patched file is then written in its place.
    ORCH_DELTA_UNLINKED=''
    if [ -f "$scratch/unpack.delta.remove" ] || [ -n "$ORCH_DELTA_PATCH" ]; then
      local list=/dev/null
      [ ! -f "$scratch/unpack.delta.remove" ] || list=$scratch/unpack.delta.remove
      _orch_delta_remove "$scratch/$top" "${ORCH_DELTA_PATCH:+info.json}" <"$list" || { rm -rf -- "$scratch" "$scratch.tar"; return 1; }
    fi
    if [ -n "$ORCH_DELTA_UNLINKED" ]; then
      # The base tree's info.json is the inode the copy linked (a regular file): read from
      # there into a new file (the base's inode is never written).
      if ! _orch_delta_patch "$store/trees/$base/info.json" "$scratch/unpack.delta.info.json.patch" "$scratch/$top/info.json"; then
        rm -rf -- "$scratch" "$scratch.tar"
        printf 'delta: cannot patch info.json of base %s\n' "$base" >&2
        return "$ORCH_EXIT_NEED_PAYLOAD"
      fi
      chmod --reference="$store/trees/$base/info.json" -- "$scratch/$top/info.json"
    elif [ -n "$ORCH_DELTA_PATCH" ]; then
      if [ -L "$scratch/$top/info.json" ] || ! _orch_delta_patch "$scratch/$top/info.json" "$scratch/unpack.delta.info.json.patch" "$scratch/.info.json.new"; then
        rm -rf -- "$scratch" "$scratch.tar"
        printf 'delta: cannot patch info.json of base %s\n' "$base" >&2
        return "$ORCH_EXIT_NEED_PAYLOAD"
      fi
      chmod --reference="$scratch/$top/info.json" -- "$scratch/.info.json.new"
      mv -f -- "$scratch/.info.json.new" "$scratch/$top/info.json"
    fi
  fi
  if ! (cd -- "$store" && tar -xf "$stream" --no-same-owner --exclude=unpack.delta.remove --exclude=unpack.delta.info.json.patch 2>/dev/null); then
    rm -rf -- "$scratch" "$scratch.tar"
    printf 'delta: cannot rebuild from the objects held (missing object)\n' >&2
    return "$ORCH_EXIT_NEED_PAYLOAD"
  fi
  orch_delta_manifest "$scratch/$top" >"$scratch/.orch-manifest"
  got=$(sha256sum <"$scratch/.orch-manifest")
  got=${got%% *}
  if [ "$got" != "$want" ]; then
    # Which objects are wrong: every object whose content is not its name goes, and a
    # base tree that gave a wrong folder goes too.
    while IFS= read -r -d '' rec; do
      if [ "${rec:0:64}" != "${rec:74}" ]; then rm -f -- "$store/objects/${rec:74}"; bad=$((bad + 1)); fi
    done < <(cd -- "$store" && find objects -mindepth 1 -maxdepth 1 -type f -printf '%p\0' | LC_ALL=C xargs -0r sha256sum -z --)
    [ -z "$base" ] || rm -rf -- "$store/trees/$base"
    rm -rf -- "$scratch" "$scratch.tar"
    printf 'delta: rebuilt release does not match its manifest (sha256 %s, want %s; %s corrupted objects removed)\n' "$got" "$want" "$bad" >&2
    return "$ORCH_EXIT_NEED_PAYLOAD"
  fi
  if ! orch_delta_check_manifest "$scratch/.orch-manifest"; then
    rm -rf -- "$scratch" "$scratch.tar"
    return 1
  fi
  return 0
}

# _orch_delta_gzipped FILE: true when FILE starts with gzip's magic bytes 1f 8b.
_orch_delta_gzipped() {
  local LC_ALL=C m=''
  IFS= read -r -n 2 -d '' m <"$1" || :
  [ "$m" = $'\x1f\x8b' ]
}

# _orch_delta_remove TREE [LAST]: deletes the NUL-separated paths on stdin (relative to
# TREE) from TREE, refusing (return 1, message on stderr) a path with an empty, "." or
# ".." segment or through a symlink. One rm for all of them: a path is checked as if
# those before it were already gone (when one of its parents was queued, it is gone with
# it; a path with an empty segment is removed on its own, after the queue), so the
# outcome is that of one rm per path in order. LAST (a name in TREE) goes in the same rm
# when it is a regular file the list leaves; ORCH_DELTA_UNLINKED is 1 then.
_orch_delta_remove() {
  local tree="$1" last="${2:-}" p prefix seg skip
  local -a segs gone=()
  local -A queued=()
  while IFS= read -r -d '' p; do
    case "/$p/" in //*|*/../*|*/./*) printf 'unsafe delta member: unpack.delta.remove: path %s\n' "$p" >&2; return 1 ;; esac
    IFS=/ read -r -a segs <<<"$p"
    prefix="$tree" skip=0
    for seg in "${segs[@]}"; do
      if [ -n "${queued[$prefix]+x}" ]; then skip=1; break; fi
      if [ -L "$prefix" ]; then printf 'unsafe delta member: unpack.delta.remove: path %s goes through a symlink\n' "$p" >&2; return 1; fi
      prefix="$prefix/$seg"
    done
    [ "$skip" = 0 ] || continue
    case "/$p/" in
      *//*)
        [ "${#gone[@]}" = 0 ] || rm -rf -- "${gone[@]}"
        gone=() queued=()
        rm -rf -- "${prefix:?}"
        ;;
      *) queued[$prefix]=1; gone+=("${prefix:?}") ;;
    esac
  done
  if [ -n "$last" ] && [ -z "${queued[$tree/$last]+x}" ] && [ -f "$tree/$last" ] && [ ! -L "$tree/$last" ]; then
    gone+=("$tree/$last")
    ORCH_DELTA_UNLINKED=1
  fi
  [ "${#gone[@]}" = 0 ] || rm -rf -- "${gone[@]}"
  return 0
}

# orch_delta_keep_tree ROOT V SRC: keeps the bundle folder SRC (unpacked or rebuilt,
# files hard-linked to objects) as <root>/.orch/trees/V, the base of the next delta.
# A rename on the same file system; SRC is gone afterwards.
orch_delta_keep_tree() {
  [ -d "$1/.orch/trees" ] || mkdir -p -- "$1/.orch/trees"
  if [ -e "$1/.orch/trees/$2" ] || [ -L "$1/.orch/trees/$2" ]; then rm -rf -- "$1/.orch/trees/$2"; fi
  mv -T -- "$3" "$1/.orch/trees/$2"
}

# orch_delta_trees ROOT: prints the versions whose bundle folder the host keeps (bases
# a delta may start from), one a line.
orch_delta_trees() {
  [ -d "$1/.orch/trees" ] || return 0
  find "$1/.orch/trees" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
}

# orch_delta_record ROOT VDIR SRCDIR [MANIFEST]: keeps a release's manifest and its
# files: writes VDIR/.orch-manifest (a copy of MANIFEST, else computed from SRCDIR, the
# unpacked bundle folder) by a temp name and rename, then hard-links every file of
# SRCDIR the store lacks into <root>/.orch/objects/<sha256>. One perl process copies
# the manifest (when given), links the missing ones and renames the copy when the host
# has perl (perl-base is essential on Debian), else cp, a bash loop with one ln per
# missing file, and mv.
orch_delta_record() {
  local root="$1" vdir="$2" src="$3" manifest="${4:-}" path type sha obj
  local -A queued=()
  [ -d "$root/.orch/objects" ] || mkdir -p -- "$root/.orch/objects"
  [ -n "$manifest" ] || orch_delta_manifest "$src" >"$vdir/.orch-manifest.tmp"
  if command -v perl >/dev/null 2>&1; then
    # One process: the copy of MANIFEST (raw bytes) by the temp name, the links, the rename.
    perl -e 'my ($src, $objs, $tmp, $dst, $copy) = @ARGV; binmode STDIN; my $out; if ($copy) { open($out, ">", $tmp) or die "cannot write $tmp: $!\n"; binmode $out; } my %seen; while (my $l = <STDIN>) { if ($out) { print $out $l or die "cannot write $tmp: $!\n"; } chomp $l; my @f = split /\t/, $l, -1; next unless @f == 5 && $f[1] eq "f" && !$seen{$f[4]}++; my $d = "$objs/$f[4]"; next if -e $d; link("$src/$f[0]", $d) or die "cannot link $src/$f[0] to $d: $!\n"; } if ($out) { close($out) or die "cannot write $tmp: $!\n"; } rename($tmp, $dst) or die "cannot rename $tmp to $dst: $!\n";' \
      "$src" "$root/.orch/objects" "$vdir/.orch-manifest.tmp" "$vdir/.orch-manifest" "${manifest:+1}" <"${manifest:-$vdir/.orch-manifest.tmp}"
    return
  fi
  [ -z "$manifest" ] || cp -- "$manifest" "$vdir/.orch-manifest.tmp"
  while IFS=$'\t' read -r path type _ _ sha; do
    [ "$type" = f ] || continue
    obj="$root/.orch/objects/$sha"
    if [ ! -e "$obj" ] && [ -z "${queued[$sha]+x}" ]; then
      queued[$sha]=1
      ln -- "$src/$path" "$obj"
    fi
  done <"$vdir/.orch-manifest.tmp"
  mv -f -- "$vdir/.orch-manifest.tmp" "$vdir/.orch-manifest"
}

# orch_delta_prune ROOT: removes the kept tree of every version no longer under
# <root>/versions, then every object no release there uses (per its .orch-manifest),
# and prints "pruned N objects". Run after versions are pruned.
orch_delta_prune() {
  local root="$1" m unused n=0
  while IFS= read -r m; do
    [ -d "$root/versions/$m" ] || rm -rf -- "$root/.orch/trees/$m"
  done < <(orch_delta_trees "$root")
  [ -d "$root/.orch/objects" ] || { printf 'pruned 0 objects\n'; return 0; }
  # Held objects minus those a kept manifest names: a few processes however many files
  # (an object removed wrongly would only cost a fuller delta: every rebuild is verified).
  # shellcheck disable=SC2016 # awk's fields, not the shell's
  unused=$(LC_ALL=C comm -23 <(orch_delta_objects "$root" | LC_ALL=C sort) \
    <(find "$root/versions" -mindepth 2 -maxdepth 2 -name .orch-manifest -type f -print0 2>/dev/null |
      LC_ALL=C xargs -0r awk -F '\t' '$2 == "f" { print $5 }' | LC_ALL=C sort -u))
  # One rm for them all (names are 64 hex digits): a fork per object cost seconds per
  # thousand files on a busy host.
  if [ -n "$unused" ]; then
    n=$(printf '%s\n' "$unused" | wc -l)
    (cd -- "$root/.orch/objects" && printf '%s\n' "$unused" | xargs -r rm -f --)
  fi
  printf 'pruned %s objects\n' "$n"
}
