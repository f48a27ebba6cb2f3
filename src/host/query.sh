# shellcheck shell=bash
# orch query's host side (src/state/query.ts parses its output): every app of the SSH
# user's registry, with its state, links and installed versions. Needs b64 (prelude.sh).
#
# Output, one line each, values base64 (`-` when absent):
#   G <registry.json>                     first
#   R <root>                              per root named in the registry, then for it:
#   S <state.json>   C <current link>   P <previous link>
#   V <version> <.orch-installed sha256 | ->   per version folder
#   END                                   last (a cut-short output has no END)
# Roots are read from the registry's lines in the format orch writes (one app per line).

# orch_query_root ROOT: the R/S/C/P/V lines of one app root (`~/x` is under $HOME).
orch_query_root() {
  local root=$1 r d v m
  case "$root" in \~/*) r="$HOME/${root#\~/}" ;; *) r=$root ;; esac
  printf 'R %s\n' "$(printf %s "$root" | b64)"
  if [ -f "$r/.orch/state.json" ]; then printf 'S %s\n' "$(b64 < "$r/.orch/state.json")"; else echo "S -"; fi
  printf 'C %s\n' "$(readlink -- "$r/current" 2>/dev/null | tr -d '\n' | b64)"
  printf 'P %s\n' "$(readlink -- "$r/previous" 2>/dev/null | tr -d '\n' | b64)"
  for d in "$r"/versions/*/; do
    [ -d "$d" ] || continue
    v=$(basename -- "$d")
    m=
    if [ -r "$d/.orch-installed" ]; then m=$(tr -d '\n' < "$d/.orch-installed"); fi
    printf 'V %s %s\n' "$(printf %s "$v" | b64)" "${m:--}"
  done
}

# orch_query: the whole report for this user (see the top of this file).
orch_query() {
  local reg="$HOME/.orch/registry.json" root
  if [ -f "$reg" ]; then printf 'G %s\n' "$(b64 < "$reg")"; else echo "G -"; fi
  if [ -f "$reg" ]; then
    sed -n 's/^    "[^"]*": "\(.*\)",\{0,1\}$/\1/p' "$reg" | while IFS= read -r root; do
      orch_query_root "$root"
    done
  fi
  echo END
}
