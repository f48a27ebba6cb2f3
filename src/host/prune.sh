# shellcheck shell=bash
# The `prune` step. Needs prelude.sh, versions.sh and delta.sh.

# orch_prune ROOT KEEP: deletes complete versions beyond the newest KEEP, never the
# targets of `current` and `previous`, never a folder without .orch-installed (an
# install in progress or an interrupted one). The marker goes first, so a half-deleted
# folder is never complete; the uploaded bundle of a pruned version goes too. Prints
# `::orch:: pruned=V SHA256` per version (`-` when unknown), then the status. Objects
# and kept bundle folders no remaining release uses go too (orch_delta_prune).
orch_prune() {
  local root=$1 keep=$2 cur prev n=0 pruned=0 v sha
  cur=$(readlink -- "$root/current" 2>/dev/null || true); cur=${cur#versions/}
  prev=$(readlink -- "$root/previous" 2>/dev/null || true); prev=${prev#versions/}
  while IFS= read -r v; do
    [ -n "$v" ] || continue
    n=$((n + 1))
    if [ "$n" -le "$keep" ] || [ "$v" = "$cur" ] || [ "$v" = "$prev" ]; then continue; fi
    sha=$(cat -- "$root/versions/$v/.orch-installed" 2>/dev/null || true)
    rm -f -- "$root/versions/$v/.orch-installed"
    rm -rf -- "$root/versions/$v"
    case "$sha" in *[!0-9a-f]*|"") ;; *) rm -f -- "$root/.orch/bundles/$sha.tar.gz" ;; esac
    printf '::orch:: pruned=%s %s\n' "$v" "${sha:--}"
    pruned=$((pruned + 1))
  done < <(orch_versions "$root")
  if [ "$pruned" -gt 0 ]; then orch_delta_prune "$root" >/dev/null; orch_status changed; else orch_status ok; fi
}
