/**
 * `symlink: {version}` — point `<root>/current` at `versions/<V>` atomically: a relative
 * temp link then `mv -T` (rename(2) over the old link; Capistrano/Deployer's atomic
 * switch). The old target is kept as the `previous` link. Refuses a version folder without `.orch-installed`. `ok` when already there.
 */
import type { Task } from '../../model/plan.js';
import { quote } from '../../shell/quote.js';
import type { StepContext } from './common.js';
import { appName, joinPath, qpath, requireRoot, RESTART_PENDING, script, VERSION_RE } from './common.js';

export function buildSymlink(ctx: StepContext): Task | undefined {
  const root = requireRoot(ctx);
  if (root === undefined) return undefined;
  const version = ctx.step.args.version !== undefined ? ctx.render('version', 'text') : ctx.bundle?.version;
  if (version === undefined) {
    if (ctx.step.args.version === undefined) ctx.fail(undefined, 'symlink needs "version" when the node installs no bundle');
    return undefined;
  }
  if (!VERSION_RE.test(version)) return void ctx.fail('version', `version ${JSON.stringify(version)} is not a valid folder name (letters, digits, . _ + -)`);
  const app = appName(ctx, ctx.bundle);
  if (!app) return void ctx.fail(undefined, 'symlink needs var "app" when the node installs no bundle');
  const body = script(
    `root=${qpath(root)}`,
    `v=${quote(version)}`,
    'target="versions/$v"',
    '[ -f "$root/$target/.orch-installed" ] || orch_fail "cannot switch $root/current to $v: $root/$target is not a complete install (no .orch-installed)"',
    'cur=$(readlink -- "$root/current" 2>/dev/null || true)',
    ctx.restartFollows
      ? `if [ "$cur" = "$target" ]; then if [ -e "$root/${RESTART_PENDING}" ]; then orch_status changed; else orch_status ok; fi; exit 0; fi`
      : 'if [ "$cur" = "$target" ]; then orch_status ok; exit 0; fi',
    ctx.restartFollows && `mkdir -p -- "$root/.orch" && : > "$root/${RESTART_PENDING}"`,
    'if [ -n "$cur" ]; then ln -sfn -- "$cur" "$root/.previous.tmp.$$"; mv -T -f -- "$root/.previous.tmp.$$" "$root/previous"; fi',
    'tmp="$root/.current.tmp.$$"',
    'ln -sfn -- "$target" "$tmp"',
    'mv -T -f -- "$tmp" "$root/current"',
    '[ -z "${2:-}" ] || orch_write "$root/.orch/state.json" "$2"',
    'orch_status changed',
  );
  return {
    script: body,
    probes: [
      { kind: 'link', path: joinPath(root, 'current') },
      { kind: 'read', path: joinPath(root, `versions/${version}/.orch-installed`) },
      { kind: 'read', path: joinPath(root, '.orch/state.json') },
      ...(ctx.restartFollows ? [{ kind: 'exists' as const, path: joinPath(root, RESTART_PENDING) }] : []),
    ],
    check: { kind: 'symlink', root, version, sha256: ctx.bundle?.version === version ? ctx.bundle.sha256 : '' },
    state: { action: 'switch', app, root, version, sha256: ctx.bundle?.version === version ? ctx.bundle.sha256 : '' },
  };
}
