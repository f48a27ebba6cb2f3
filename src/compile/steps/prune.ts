/**
 * `prune: {keep}` — deletes complete versions beyond the newest `keep` (default 5, by
 * install time), never `current` nor `previous`, never a folder without
 * `.orch-installed` (an install in progress or an interrupted one, which the next
 * install redoes). The marker goes first, so a half-deleted folder is never complete;
 * the uploaded bundle file of a pruned version goes too. Prints `::orch:: pruned=V SHA`
 * per version; the engine records them in state.json.
 */
import type { Task } from '../../model/plan.js';
import type { StepContext } from './common.js';
import { appName, joinPath, qpath, requireRoot, script } from './common.js';

export const DEFAULT_KEEP = 5;

export function buildPrune(ctx: StepContext): Task | undefined {
  const root = requireRoot(ctx);
  if (root === undefined) return undefined;
  const keepRaw = ctx.step.args.keep ?? DEFAULT_KEEP;
  const keep = Number(keepRaw);
  if (!Number.isInteger(keep) || keep < 1) return void ctx.fail('keep', `keep must be a whole number >= 1 (got ${JSON.stringify(keepRaw)})`);
  const app = appName(ctx, ctx.bundle);
  if (!app) return void ctx.fail(undefined, 'prune needs var "app" when the node installs no bundle');
  const body = script(
    `root=${qpath(root)}`,
    `keep=${keep}`,
    '[ -d "$root/versions" ] || { orch_status ok; exit 0; }',
    'cur=$(readlink -- "$root/current" 2>/dev/null || true); cur=${cur#versions/}',
    'prev=$(readlink -- "$root/previous" 2>/dev/null || true); prev=${prev#versions/}',
    'n=0; pruned=0',
    // Complete versions, newest install first (fractional mtimes of the markers).
    'while IFS= read -r v; do',
    '  [ -n "$v" ] || continue',
    '  n=$((n+1))',
    '  if [ "$n" -le "$keep" ] || [ "$v" = "$cur" ] || [ "$v" = "$prev" ]; then continue; fi',
    '  sha=$(cat -- "$root/versions/$v/.orch-installed" 2>/dev/null || true)',
    '  rm -f -- "$root/versions/$v/.orch-installed"',
    '  rm -rf -- "$root/versions/$v"',
    '  case "$sha" in *[!0-9a-f]*|"") ;; *) rm -f -- "$root/.orch/bundles/$sha.tar.gz" ;; esac',
    '  printf \'::orch:: pruned=%s %s\\n\' "$v" "${sha:--}"',
    '  pruned=$((pruned+1))',
    'done < <(find "$root/versions" -mindepth 2 -maxdepth 2 -name .orch-installed -type f -printf \'%T@ %h\\n\' | sort -rn | sed \'s#^[^ ]* .*/##\')',
    'if [ "$pruned" -gt 0 ]; then orch_status changed; else orch_status ok; fi',
  );
  return {
    script: body,
    probes: [{ kind: 'read', path: joinPath(root, '.orch/state.json') }],
    check: { kind: 'prune', root, keep },
    state: { action: 'prune', app, root, version: '', sha256: '' },
  };
}
