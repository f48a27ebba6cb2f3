# shellcheck shell=bash
# The prelude of every host-side task script: strict mode, a private-enough umask, and
# the helpers of orch's step output protocol (see src/host/protocol.ts).
#
# Arguments of a task script: $1 = 1 when the payload is on stdin (f:FILE when it is in
# that private file, else 0); $2 = new state.json text (or empty); $3 = new
# registry.json text (or empty). Exit 0 = success, 99 = "run me again with the
# payload", anything else = failed.
set -euo pipefail
umask 022

# orch_status STATUS: reports the step's outcome (ok | changed | skipped) on stdout.
orch_status() { printf '::orch:: status=%s\n' "$1"; }

# orch_fail MESSAGE...: prints MESSAGE on stderr and fails the step (exit 1).
orch_fail() { printf '%s\n' "$*" >&2; exit 1; }

# ORCH_SAFE_WRITE_PL: the perl program behind orch_safe_write, in a variable so that
# `sudo -n perl -e "$ORCH_SAFE_WRITE_PL"` runs the same code (systemd.sh). Arguments:
# DEST MODE OWNER GROUP [RENAME]; the data on stdin. Or '' DEST... (orch_write_files):
# stdin holds, for each DEST in turn, `LENGTH\n` and LENGTH bytes, each written with mode
# 0644 and renamed over its DEST before the next one.
# shellcheck disable=SC2016
ORCH_SAFE_WRITE_PL='use strict; use warnings; use Fcntl qw(O_WRONLY O_CREAT O_EXCL O_NOFOLLOW); use IO::Handle;
my @left; END { unlink @left if $? != 0 }
sub put { my ($dest, $mode, $owner, $group, $mv, $data) = @_; my ($fh, $tmp);
my $dir = $dest; $dir =~ s{/[^/]*$}{}; $dir = "." if $dir eq $dest; $dir = "/" if $dir eq "";
my $uid = -1; my $gid = -1;
if ($owner ne "") { $uid = $owner =~ /^\d+$/ ? $owner : getpwnam($owner); defined $uid or die "orch: no such user: $owner\n"; }
if ($group ne "") { $gid = $group =~ /^\d+$/ ? $group : getgrnam($group); defined $gid or die "orch: no such group: $group\n"; }
for my $try (1 .. 100) {
  my $t = sprintf("%s/.orch-tmp.%d.%06d", $dir, $$, int(rand(1000000)));
  if (sysopen($fh, $t, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600)) { $tmp = $t; push @left, $t; last; }
  die "orch: cannot create a temp file in $dir: $!\n" unless $!{EEXIST} || $!{ELOOP};
}
defined $tmp or die "orch: cannot create a temp file in $dir\n";
binmode $fh; my $buf;
if (defined $data) {
  my $off = 0;
  while ($off < length $data) { my $w = syswrite($fh, $data, length($data) - $off, $off); defined $w or die "orch: writing $tmp: $!\n"; $off += $w; }
} else {
  binmode STDIN;
  while (1) {
    my $n = sysread(STDIN, $buf, 65536); defined $n or die "orch: reading the content: $!\n"; last if $n == 0;
    my $off = 0;
    while ($off < $n) { my $w = syswrite($fh, $buf, $n - $off, $off); defined $w or die "orch: writing $tmp: $!\n"; $off += $w; }
  }
}
chown($uid, $gid, $fh) or die "orch: chown $tmp: $!\n" if $uid != -1 || $gid != -1;
chmod(oct($mode), $fh) or die "orch: chmod $tmp: $!\n";
$fh->sync or die "orch: fsync $tmp: $!\n";
close($fh) or die "orch: close $tmp: $!\n";
if ($mv) { rename($tmp, $dest) or die "orch: rename $tmp to $dest: $!\n"; @left = grep { $_ ne $tmp } @left; } else { print "$tmp\n"; } }
if (@ARGV && $ARGV[0] eq "") {
  shift @ARGV; binmode STDIN; local $/; my $in = <STDIN>; $in = "" unless defined $in;
  for my $dest (@ARGV) {
    $in =~ s/\A(\d+)\n// or die "orch: bad input for $dest\n"; my $n = $1;
    length($in) >= $n or die "orch: input cut short for $dest\n";
    put($dest, "644", "", "", 1, substr($in, 0, $n, ""));
  }
} else { put(@ARGV[0 .. 3], $ARGV[4] || 0, undef); }'

# orch_safe_write DEST MODE OWNER GROUP [RENAME] < DATA: the one way orch writes a file
# on a host. A new temp file next to DEST (`.orch-tmp.PID.RAND`) is created with
# O_CREAT|O_EXCL|O_NOFOLLOW (a name another user planted in the folder is never
# opened), its mode (octal), owner and group (name or numeric id, '' = leave) are set
# on the open descriptor (fchmod/fchown, never by path), and the data is fsynced. With
# RENAME `1` it is renamed over DEST (rename(2) replaces a link at DEST, never writes
# through it); else its name is printed for the caller to check and rename. A failure
# removes the temp file. perl: perl-base is essential on Debian
# (https://packages.debian.org/stable/perl-base); perlfunc sysopen/chmod/chown take handles.
orch_safe_write() { perl -e "$ORCH_SAFE_WRITE_PL" -- "$@"; }

# orch_write_files FILE TEXT [FILE TEXT ...]: orch_write of each pair in turn (each file
# renamed into place before the next is written), by one perl process. A failure stops
# at that file: the ones before it are written, the ones after it are not.
orch_write_files() {
  local LC_ALL=C data='' dir
  local -a dests=()
  while [ "$#" -ge 2 ]; do
    dir=.
    case "$1" in */*) dir=${1%/*}; dir=${dir:-/} ;; esac
    [ -d "$dir" ] || mkdir -p -- "$dir"
    dests+=("$1")
    # Byte counts (the C locale): TEXT and its newline.
    data+="$((${#2} + 1))"$'\n'"$2"$'\n'
    shift 2
  done
  [ "${#dests[@]}" = 0 ] || orch_safe_write '' "${dests[@]}" <<< "$data"
}

# orch_write FILE TEXT: writes TEXT (plus a newline) to FILE (mode 0644) atomically
# through orch_safe_write, so a reader sees the old or the new file, never half.
orch_write() {
  local dir=.
  # dirname by parameter expansion (no process); mkdir only when the folder is missing.
  case "$1" in */*) dir=${1%/*}; dir=${dir:-/} ;; esac
  [ -d "$dir" ] || mkdir -p -- "$dir"
  # A here-string (TEXT plus a newline) instead of `printf | perl`: no subshell.
  orch_safe_write "$1" 644 '' '' 1 <<< "$2"
}

