# shellcheck shell=bash
# The `put` step. Needs prelude.sh and meta.sh.

# orch_safe_write DEST MODE OWNER GROUP < DATA: prints the name of a new temp file next
# to DEST holding DATA. The file is created with O_CREAT|O_EXCL|O_NOFOLLOW (a name another
# user planted in the folder is never opened), its mode (octal), owner and group (name or
# numeric id, '' = leave) are set on the open descriptor (fchmod/fchown), and the data is
# fsynced; the caller renames it over DEST. perl: perl-base is essential on Debian
# (https://packages.debian.org/stable/perl-base); perlfunc sysopen/chmod/chown take handles.
orch_safe_write() {
  perl -e '
    use strict; use warnings;
    use Fcntl qw(O_WRONLY O_CREAT O_EXCL O_NOFOLLOW);
    use IO::Handle;
    my ($dest, $mode, $owner, $group) = @ARGV;
    my $dir = $dest; $dir =~ s{/[^/]*$}{}; $dir = "." if $dir eq $dest; $dir = "/" if $dir eq "";
    my $uid = -1; my $gid = -1;
    if ($owner ne "") { $uid = $owner =~ /^\d+$/ ? $owner : getpwnam($owner); defined $uid or die "orch: no such user: $owner\n"; }
    if ($group ne "") { $gid = $group =~ /^\d+$/ ? $group : getgrnam($group); defined $gid or die "orch: no such group: $group\n"; }
    my ($fh, $tmp);
    for my $try (1 .. 100) {
      $tmp = sprintf("%s/.orch-put.%d.%06d", $dir, $$, int(rand(1000000)));
      last if sysopen($fh, $tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
      die "orch: cannot create a temp file in $dir: $!\n" unless $!{EEXIST} || $!{ELOOP};
      undef $fh;
    }
    defined $fh or die "orch: cannot create a temp file in $dir\n";
    binmode STDIN; binmode $fh;
    my $buf;
    while (1) {
      my $n = sysread(STDIN, $buf, 65536);
      defined $n or die "orch: reading the content: $!\n";
      last if $n == 0;
      my $off = 0;
      while ($off < $n) { my $w = syswrite($fh, $buf, $n - $off, $off); defined $w or die "orch: writing $tmp: $!\n"; $off += $w; }
    }
    chown($uid, $gid, $fh) or die "orch: chown $tmp: $!\n" if $uid != -1 || $gid != -1;
    chmod(oct($mode), $fh) or die "orch: chmod $tmp: $!\n";
    $fh->sync or die "orch: fsync $tmp: $!\n";
    close($fh) or die "orch: close $tmp: $!\n";
    print "$tmp\n";
  ' "$@"
}

# orch_put PAYLOAD DEST SHA256 MODE OWNER GROUP: makes DEST hold the payload (sha256
# SHA256) with that mode/owner/group ('' = leave; a new file without MODE gets the old
# file's mode, else 0644). PAYLOAD: `1` = the content is on stdin, `f:FILE` = in that
# private file, else the content was not sent: exit 99 when it is needed. The content
# goes to a temp name next to DEST (orch_safe_write), is checked, then renamed over DEST
# (atomic for readers). Fails when DEST is a symlink (its target is never written).
# Prints status ok when nothing changed.
orch_put() {
  local payload=$1 dest=$2 want=$3 mode=$4 owner=$5 group=$6 have dir got
  if [ -L "$dest" ]; then
    orch_fail "$dest is a symlink (to $(readlink -- "$dest")); refusing to write through it: remove the link or put the file at its target"
  fi
  have=$({ sha256sum < "$dest"; } 2>/dev/null | cut -d" " -f1 || true)
  if [ "$have" = "$want" ]; then
    orch_meta "$dest" "$mode" "$owner" "$group"
    if [ "$ORCH_META_CHANGED" = 1 ]; then orch_status changed; else orch_status ok; fi
    return 0
  fi
  case "$payload" in 1|f:*) ;; *) exit "$ORCH_EXIT_NEED_PAYLOAD" ;; esac
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
