# shellcheck shell=bash
# ORCH_META_CHANGED is read by the callers (put.sh, directory.sh):
# shellcheck disable=SC2034
# Mode, owner and group of a file or folder (put, directory). Needs prelude.sh.

# orch_octal MODE: an octal mode as `stat -c %a` prints it (0644 -> 644).
orch_octal() { printf '%o\n' "$((8#$1))"; }

# orch_meta PATH MODE OWNER GROUP: gives PATH that mode (octal), owner and group (name
# or numeric id) where they differ; an empty value leaves that one alone. Sets
# ORCH_META_CHANGED=1 when it changed anything. PATH is opened with O_NOFOLLOW and
# changed through that descriptor (fstat/fchown/fchmod), so a symlink planted at PATH,
# even between a check and the change, is refused and its target never touched.
ORCH_META_CHANGED=0
orch_meta() {
  ORCH_META_CHANGED=0
  [ -n "$2$3$4" ] || return 0
  ORCH_META_CHANGED=$(perl -e 'use strict; use warnings; use Fcntl qw(O_RDONLY O_NOFOLLOW O_NONBLOCK);
my ($path, $mode, $owner, $group) = @ARGV; my $ch = 0;
sysopen(my $fh, $path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK) or die($!{ELOOP} ? "orch: $path is a symlink; refusing to change its target\n" : "orch: cannot open $path: $!\n");
my @st = stat($fh) or die "orch: stat $path: $!\n";
my ($uid, $gid) = (-1, -1);
if ($owner ne "") { my $u = $owner =~ /^\d+$/ ? $owner : getpwnam($owner); defined $u or die "orch: no such user: $owner\n"; $uid = $u if $u != $st[4]; }
if ($group ne "") { my $g = $group =~ /^\d+$/ ? $group : getgrnam($group); defined $g or die "orch: no such group: $group\n"; $gid = $g if $g != $st[5]; }
if ($uid != -1 || $gid != -1) { chown($uid, $gid, $fh) or die "orch: chown $path: $!\n"; $ch = 1; @st = stat($fh); }
if ($mode ne "" && ($st[2] & 07777) != oct($mode)) { chmod(oct($mode), $fh) or die "orch: chmod $path: $!\n"; $ch = 1; }
print "$ch\n";' -- "$@")
}
