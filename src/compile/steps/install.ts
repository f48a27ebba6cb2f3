/**
 * `install: {bundle, before, after}` — platter's install.sh contract, versioned folders
 * from platter's automation recipe (SPEC section 3, `install` row):
 * upload the bundle to `<root>/.orch/bundles/<sha256>.tar.gz` unless present, check its
 * members, unpack to a scratch folder, run `install.sh <root>/versions/<V>`, copy
 * `PACKAGE VERSION PLATFORM info.json` in, and LAST write `versions/<V>/.orch-installed`.
 * A version folder without the marker is incomplete: it is removed and redone.
 */
import type { Task } from '../../model/plan.js';
import { remoteTarCheckScript } from '../../bundle/remote-check.js';
import { quote } from '../../shell/quote.js';
import { FETCH_SH } from '../../host/embedded.generated.js';
import type { StepContext } from './common.js';
import { appName, joinPath, memoScript, qpath, requireRoot, script, VERSION_RE } from './common.js';

export function buildInstall(ctx: StepContext): Task | undefined {
  const name = ctx.step.args.bundle;
  const bundle = typeof name === 'string' ? ctx.bundles[name] : ctx.bundle;
  if (!bundle) {
    const known = Object.keys(ctx.bundles).sort().join(', ') || '(none)';
    ctx.fail('bundle', typeof name === 'string'
      ? `unknown bundle "${name}" (bundles: ${known})`
      : `install needs "bundle" when the playbook has ${Object.keys(ctx.bundles).length} bundles (bundles: ${known})`);
    return undefined;
  }
  const root = requireRoot(ctx);
  if (root === undefined) return undefined;
  if (!VERSION_RE.test(bundle.version)) return void ctx.fail('bundle', `bundle version ${JSON.stringify(bundle.version)} is not a valid folder name`);
  const app = appName(ctx, bundle)!;
  const before = ctx.step.args.before === undefined ? undefined : ctx.render('before', 'shell');
  const after = ctx.step.args.after === undefined ? undefined : ctx.render('after', 'shell');
  if ((ctx.step.args.before !== undefined && before === undefined) || (ctx.step.args.after !== undefined && after === undefined)) return undefined;
  const bundleFile = joinPath(root, `.orch/bundles/${bundle.sha256}.tar.gz`);
  // A store bundle the host fetches itself (src/host/fetch.sh); `auto` falls back to the push.
  const fetch = bundle.store && bundle.store.fetch !== 'control' ? bundle.store : undefined;
  const body = memoScript(ctx, JSON.stringify(['install', root, bundle.version, bundle.sha256, bundle.dir, before ?? null, after ?? null, fetch?.fetch ?? null, fetch?.url ?? null]), () => script(
    fetch && FETCH_SH.trimEnd(),
    remoteTarCheckScript(),
    `root=${qpath(root)}`,
    `v=${quote(bundle.version)}`,
    `sha=${bundle.sha256}`,
    `top=${quote(bundle.dir)}`,
    'vdir="$root/versions/$v"',
    'bfile="$root/.orch/bundles/$sha.tar.gz"',
    'if [ -f "$vdir/.orch-installed" ]; then',
    '  have=$(cat -- "$vdir/.orch-installed")',
    '  if [ "$have" = "$sha" ]; then',
    '    [ -z "${3:-}" ] || orch_write "$HOME/.orch/registry.json" "$3"',
    '    orch_status ok; exit 0',
    '  fi',
    '  orch_fail "version $v is already installed in $vdir from another bundle (sha256 $have, this bundle $sha): give the new release a new version"',
    'fi',
    'mkdir -p -- "$root/.orch/bundles" "$root/versions"',
    // Leftovers of a run killed mid-install (SIGKILL, lost connection: no trap ran). The
    // host lock is held, so no other run is uploading or unpacking here.
    'rm -rf -- "$root/.orch/unpack."* "$root/.orch/bundles/.upload."*',
    'if [ "$1" = 1 ]; then',
    '  tmp=$(mktemp "$root/.orch/bundles/.upload.XXXXXX")',
    '  trap \'rm -f -- "$tmp"\' EXIT',
    '  cat > "$tmp"',
    '  got=$(sha256sum < "$tmp" | cut -d" " -f1)',
    '  [ "$got" = "$sha" ] || orch_fail "checksum mismatch uploading bundle: got $got, want $sha"',
    '  mv -f -- "$tmp" "$bfile"',
    '  trap - EXIT',
    'else',
    ...(fetch
      ? [`  orch_fetch_bundle ${fetch.fetch} ${quote(fetch.url)} "$bfile" "$sha" ${bundle.size}`]
      : ['  [ -f "$bfile" ] || exit 99', '  got=$(sha256sum < "$bfile" | cut -d" " -f1)', '  if [ "$got" != "$sha" ]; then rm -f -- "$bfile"; exit 99; fi']),
    'fi',
    before && `( ${before} ) || orch_fail "before command failed (exit $?)"`,
    'orch_check_tar "$bfile" "$top"',
    'scratch=$(mktemp -d "$root/.orch/unpack.XXXXXX")',
    'trap \'rm -rf -- "$scratch"\' EXIT',
    // GNU tar unquotes backslashes in a -C argument: cd there instead, so any root works.
    '(cd -- "$scratch" && tar -xzf - --no-same-owner) < "$bfile" || orch_fail "cannot unpack $bfile into $scratch"',
    'rm -rf -- "$vdir"',
    // Until the marker is written, a failure (disk full...) removes the partial version too.
    'trap \'rm -rf -- "$scratch" "$vdir"\' EXIT',
    '"$scratch/$top/install.sh" "$vdir" || orch_fail "install.sh $vdir failed (exit $?)"',
    // info.json is optional in an artifact (the layout check does not require it).
    'for f in PACKAGE VERSION PLATFORM info.json; do [ "$f" = info.json ] && [ ! -e "$scratch/$top/$f" ] || cp -- "$scratch/$top/$f" "$vdir/$f"; done',
    after && `( ${after} ) || orch_fail "after command failed (exit $?)"`,
    'printf \'%s\\n\' "$sha" > "$vdir/.orch-installed.tmp"',
    'mv -f -- "$vdir/.orch-installed.tmp" "$vdir/.orch-installed"',
    'trap \'rm -rf -- "$scratch"\' EXIT',
    '[ -z "${2:-}" ] || orch_write "$root/.orch/state.json" "$2"',
    '[ -z "${3:-}" ] || orch_write "$HOME/.orch/registry.json" "$3"',
    'orch_status changed',
  ));
  return {
    script: body,
    ...(fetch?.fetch !== 'host' && { payload: { kind: 'bundle' as const, bundle: bundle.name, sha256: bundle.sha256, size: bundle.size, ...(fetch && { lazy: true }) } }),
    payloadDest: bundleFile,
    probes: [
      { kind: 'read', path: joinPath(root, `versions/${bundle.version}/.orch-installed`) },
      { kind: 'exists', path: bundleFile },
      { kind: 'read', path: joinPath(root, '.orch/state.json') },
      { kind: 'read', path: '~/.orch/registry.json' },
    ],
    check: { kind: 'install', root, version: bundle.version, sha256: bundle.sha256, bundleFile },
    state: { action: 'install', app, root, version: bundle.version, sha256: bundle.sha256 },
  };
}
