/**
 * The host-side twin of `inspectArtifact`: a bash function that checks a bundle's
 * members with only GNU tar and coreutils, before the install step unpacks it
 * (`tar -xzf B --no-same-owner`, keeping modes).
 *
 * Reasons are word for word those of `MemberChecker` (artifact.ts), so the control
 * machine and the host refuse the same bundle with the same message.
 * Source: the tar-slip advisories; GNU tar's `-tv` listing format (mode column type
 * letter, `name -> target` for symlinks, `name link to target` for hard links).
 */
import { TAR_CHECK_SH } from '../host/embedded.generated.js';

/**
 * Bash source (src/host/tar-check.sh; its limits are MAX_MEMBERS and MAX_TOTAL_SIZE of
 * artifact.ts) defining `orch_check_tar TARBALL TOPDIR` (and its helper
 * `orch_norm_path`). It lists TARBALL with `tar --numeric-owner -P -tvzf` (names
 * as stored), then for each line, first match wins: more than 100000 members; name
 * starting with `/`; a `..` segment; type letter `h`, `c`, `b`, `p` or another
 * non-`-dl` letter; `s`/`S` in the user or group execute column; outside TOPDIR/;
 * TOPDIR itself not a folder; duplicate name; path through an earlier symlink
 * member; symlink whose target (resolved lexically against the link's folder)
 * leaves TOPDIR, or whose listing holds ` -> ` twice; total file size > 1 GiB.
 * Then, every symlink known, a second pass (archive order must not matter): a path
 * through a symlink member; a symlink target applying `..` right after a symlink
 * component (`symlink target "T" passes through symlink P`). Then the platter layout
 * (PACKAGE, VERSION, PLATFORM, executable install.sh, data/).
 *
 * Returns 0 when safe; else prints one line on stderr —
 * `unsafe bundle member: PATH: REASON`, `bundle layout incomplete: ...` or
 * `cannot list TARBALL: ...` — and returns 1. Needs bash 4 (associative arrays).
 * Safe under `set -euo pipefail`.
 */
export function remoteTarCheckScript(): string {
  return TAR_CHECK_SH;
}
