/**
 * `install: {bundle, before, after, shared, before_remove, after_remove}` — platter's install.sh contract, versioned folders
 * from platter's automation recipe (docs/reference/playbook.md, `install` row); src/host/install.sh:
 * upload the bundle to `<root>/.orch/bundles/<sha256>.tar.gz` unless present, check its
 * members (src/host/tar-check.sh), unpack to a scratch folder, run
 * `install.sh <root>/versions/<V>`, copy `PACKAGE VERSION PLATFORM info.json` in, and
 * LAST write `versions/<V>/.orch-installed`. A version folder without the marker is
 * incomplete: it is removed and redone.
 *
 * Delta releases (docs/how-it-works.md, src/host/delta.sh): each install also keeps
 * `versions/<V>/.orch-manifest`, the bundle folder as `<root>/.orch/trees/<V>` and its
 * files in `<root>/.orch/objects/<sha256>`. When the host holds releases (the `delta`
 * fact), the engine passes `d:BASE:MANIFEST_SHA256` and a delta stream instead of the
 * tarball; a rebuilt folder that does not match exits 99 and the tarball is sent.
 */
import { COMMAND_SH, DELTA_SH, FETCH_SH, INSTALL_SH, SHARED_SH, TAR_CHECK_SH } from '../host/embedded.generated.js';
import { BUNDLES_DIR, INSTALLED_MARKER, REGISTRY_FILE, STATE_FILE, versionDir } from '../host/layout.js';
import type { Facts } from '../model/task.js';
import { quote } from '../shell/quote.js';
import type { StepKind } from './kind.js';
import {
  appName, badSha, currentVersion, factKey, hostPath, infoFiles, hostScript, joinPath, PAYLOAD_ARG, REGISTRY_ARG, requireRoot, shCall, STATE_ARG, userFunction, VERSION_RE,
} from './common.js';

export interface InstallArgs {
  bundle?: string;
  before?: string;
  after?: string;
  shared?: string[];
  before_remove?: string;
  after_remove?: string;
}
export interface InstallCheck {
  kind: 'install';
  root: string;
  version: string;
  sha256: string;
  bundleFile: string;
  /**
   * A channel release the host fetches: the host's mark of the newest manifest it
   * accepted (`<root>/.orch/channels/<name>`, a `read` fact, written by
   * src/host/fetch.sh orch_check_manifest) must not be newer than `published_at`
   * unless `allowOlder` (a pin or --allow-downgrade).
   */
  channel?: { name: string; mark: string; package: string; version: string; published_at: string; allowOlder: boolean };
}

/** Where the install marker of `version` is (a `read` fact). */
const markerOf = (root: string, version: string): string => joinPath(root, `${versionDir(version)}/${INSTALLED_MARKER}`);

/**
 * The one rule behind both refusals of a release (this one, and a version recorded bad:
 * src/engine/bad-release.ts), in the same words; src/host/install.sh prints it too.
 */
export const RELEASE_RULE = 'one version is one release: give a new build a new version';

/**
 * The refusal of a version already installed from another bundle: the same words plan
 * prints (from the marker fact) and src/host/install.sh fails with. Release ids are
 * immutable (Capistrano's release folders, Kamal's image tags): a changed bundle needs
 * a new version, which `version: git | timestamp` makes without editing VERSION. The
 * sha256s are cut to 12 hex digits (as `git log --oneline` does), plenty to tell them apart.
 */
export function sameVersionMessage(root: string, version: string, have: string, sha256: string): string {
  // A `version: git` id of uncommitted work (`+g<sha>.dirty`) changes with a commit.
  const how = /\+g[0-9a-f]+\.dirty$/.test(version) ? 'commit the changes, or use version: timestamp' : 'bump VERSION, or version: git | timestamp';
  return `version ${version} is already installed in ${joinPath(root, versionDir(version))} from another bundle (sha256 ${have.slice(0, 12)}…, this bundle ${sha256.slice(0, 12)}…); ${RELEASE_RULE} (${how})`;
}

/** The sha256 the host's marker of `c.version` holds when it is another bundle's, else undefined. */
function otherSha(f: Facts, c: InstallCheck): string | undefined {
  const have = f.get(factKey({ kind: 'read', path: markerOf(c.root, c.version) }))?.trim();
  return have && have !== c.sha256 ? have : undefined;
}

/** Why `p` cannot be a shared path (absolute, `~`, `.`/`..` parts, empty parts), or undefined. */
export function sharedPathProblem(p: string): string | undefined {
  if (!p || p.startsWith('/') || p.startsWith('~') || p.includes('\0') || p.split('/').some((x, i, all) => x === '..' || x === '.' || (x === '' && i < all.length - 1))) {
    return `shared paths are relative to the release, without . or .. parts (a trailing / means a folder): got ${JSON.stringify(p)}`;
  }
  return undefined;
}

export const install: StepKind<InstallArgs | null, InstallCheck> = {
  name: 'install',
  schema: {
    description: 'Uploads the bundle unless present, runs its install.sh into versions/<V>, marks it complete with .orch-installed.',
    examples: [{ bundle: 'shop' }, { bundle: 'shop', before: 'systemctl stop shop-worker', after: '{{release.dir}}/bin/shop migrate' }],
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      bundle: { description: "Name of the bundle to install (default: the playbook's only bundle).", examples: ['shop'], type: 'string', minLength: 1 },
      before: { $ref: '#/$defs/command', description: 'Command run before installing.', examples: ['systemctl stop shop-worker'] },
      after: { $ref: '#/$defs/command', description: 'Command run after installing.', examples: ['{{release.dir}}/bin/shop migrate'] },
      before_remove: {
        $ref: '#/$defs/command',
        description: "Command `orch remove` runs first, in the release folder (dpkg's prerm): rendered with this release's vars and kept on the host with the release, so a removal runs what was installed even if the playbook changed since.",
        examples: ['{{release.dir}}/bin/shop drain'],
      },
      after_remove: {
        $ref: '#/$defs/command',
        description: "Command `orch remove` runs last, in the app's root, after the releases are deleted (dpkg's postrm); kept with the release like before_remove.",
        examples: ['rm -f /etc/cron.d/shop'],
      },
      shared: {
        description: "Paths kept across releases (Capistrano's linked_dirs/linked_files): each is created once as <root>/shared/PATH (seeded from the first release that has it) and linked into every release before its `after` command and the switch; never pruned, never rolled back. A trailing / means a folder.",
        examples: [['instance/', 'log/', 'config.py']], type: 'array', items: { type: 'string', minLength: 1 },
      },
    },
  },
  diffProbes: (t) => [{ kind: 'read', path: `${t.check.root.replace(/\/+$/, '')}/current/info.json` }, { kind: 'link', path: `${t.check.root.replace(/\/+$/, '')}/current` }],
  // The files of the new release against the one `current` runs, from both releases' info.json `files` maps.
  diff(task, facts, ctx) {
    const c = task.check;
    const root = c.root.replace(/\/+$/, '');
    const now = infoFiles(facts?.get(`read:${root}/current/info.json`)) ?? {};
    const next = task.payload?.kind === 'bundle' ? ctx.bundleFiles(task.payload.bundle) : undefined;
    if (!next) return undefined;
    const names = (xs: string[]): string[] => xs.sort().map((x) => ctx.mask(x));
    return {
      kind: 'install', from: currentVersion(facts, root), to: c.version,
      added: names(Object.keys(next).filter((f) => !(f in now))),
      removed: names(Object.keys(now).filter((f) => !(f in next))),
      changed: names(Object.keys(next).filter((f) => f in now && now[f] !== next[f])),
      bytes: task.payload?.size ?? 0,
    };
  },
  // `release 1.0.0 -> 1.1.0: 2 added, 0 removed, 1 changed files; bundle 1.2 MiB`, then up to 20 names.
  formatDiff(d, p) {
    if (d.kind !== 'install') return [];
    const n = (k: number, w: string): string => `${k} ${w}`;
    const out = [`release ${d.from ?? '(none)'} -> ${d.to}: ${n(d.added.length, 'added')}, ${n(d.removed.length, 'removed')}, ${n(d.changed.length, 'changed')} file${d.added.length + d.removed.length + d.changed.length === 1 ? '' : 's'}; bundle ${p.bytes(d.bytes)}`];
    const rows = [...d.added.map((f) => p.add(`+ ${f}`)), ...d.removed.map((f) => p.remove(`- ${f}`)), ...d.changed.map((f) => p.change(`~ ${f}`))];
    out.push(...rows.slice(0, 20).map((r) => `  ${r}`));
    if (rows.length > 20) out.push(`  ... ${rows.length - 20} more`);
    return out;
  },
  lifecycle: 'stage',
  defaultWhen: 'always',
  describe(ctx) {
    const name = ctx.args?.bundle;
    const b = typeof name === 'string' ? ctx.bundles[name] : ctx.bundle;
    return `install ${b ? `${b.package} ${b.version}` : String(name)}`;
  },
  build(ctx) {
    const a = ctx.args ?? {};
    const name = a.bundle;
    const bundle = typeof name === 'string' ? ctx.bundles[name] : ctx.bundle;
    if (!bundle) {
      const known = Object.keys(ctx.bundles).sort().join(', ') || '(none)';
      ctx.fail('bundle', typeof name === 'string'
        ? `unknown bundle "${name}" (bundles: ${known})`
        : `install needs "bundle" when the playbook has ${Object.keys(ctx.bundles).length} bundles (bundles: ${known})`);
      return undefined;
    }
    const root = requireRoot(ctx, 'install');
    if (root === undefined) return undefined;
    if (!VERSION_RE.test(bundle.version)) return void ctx.fail('bundle', `bundle version ${JSON.stringify(bundle.version)} is not a valid folder name`);
    const app = appName(ctx, bundle)!;
    const before = a.before === undefined ? undefined : ctx.render('before', 'shell');
    const after = a.after === undefined ? undefined : ctx.render('after', 'shell');
    if ((a.before !== undefined && before === undefined) || (a.after !== undefined && after === undefined)) return undefined;
    const beforeRemove = a.before_remove === undefined ? undefined : ctx.render('before_remove', 'shell');
    const afterRemove = a.after_remove === undefined ? undefined : ctx.render('after_remove', 'shell');
    if ((a.before_remove !== undefined && beforeRemove === undefined) || (a.after_remove !== undefined && afterRemove === undefined)) return undefined;
    // `shared: [instance/, config.py]` (Capistrano's linked_dirs/linked_files): src/host/shared.sh.
    // The node's `shared` paths first, then the step's own (once each).
    const own = a.shared === undefined ? [] : Array.isArray(a.shared) ? a.shared.map(String) : [String(a.shared)];
    for (const p of own) {
      const problem = sharedPathProblem(p);
      if (problem) return void ctx.fail('shared', problem);
    }
    const shared = [...new Set([...ctx.nodeShared, ...own])];
    const bundleFile = joinPath(root, `${BUNDLES_DIR}/${bundle.sha256}.tar.gz`);
    // A store bundle the host fetches itself (src/host/fetch.sh); `auto` falls back to the push.
    const fetch = bundle.store && bundle.store.fetch !== 'control' ? bundle.store : undefined;
    const script = hostScript(ctx, [...(fetch ? [FETCH_SH] : []), ...(shared.length ? [SHARED_SH] : []), COMMAND_SH, TAR_CHECK_SH, DELTA_SH, INSTALL_SH],
      ...(shared.length ? [`ORCH_INSTALL_SHARED=(${shared.map(quote).join(' ')})`] : []),
      ...(beforeRemove !== undefined ? [`ORCH_INSTALL_BEFORE_REMOVE=${quote(beforeRemove)}`] : []),
      ...(afterRemove !== undefined ? [`ORCH_INSTALL_AFTER_REMOVE=${quote(afterRemove)}`] : []),
      // A presigned S3 URL's query: fetch.sh hands URL?QUERY to curl/wget on stdin, never on a command line.
      ...(fetch?.query ? [`ORCH_FETCH_QUERY=${quote(fetch.query)}`] : []),
      ...(before !== undefined ? [userFunction('orch_before', before)] : []),
      ...(after !== undefined ? [userFunction('orch_after', after)] : []),
      shCall('orch_install', PAYLOAD_ARG, STATE_ARG, REGISTRY_ARG, hostPath(REGISTRY_FILE), hostPath(root), bundle.version, bundle.sha256, bundle.dir,
        before !== undefined ? 'orch_before' : '', after !== undefined ? 'orch_after' : '',
        ...(fetch ? [fetch.fetch, fetch.url, bundle.size, ...(fetch.auth !== undefined || fetch.verify ? [fetch.auth ?? ''] : [])] : []),
        ...(fetch?.verify ? [fetch.verify.channel, fetch.verify.package, fetch.verify.manifest, fetch.verify.signature, fetch.verify.allowed_signers, fetch.verify.allow_older ? 1 : 0] : [])));
    const v = fetch?.verify;
    const channel = v && {
      name: v.channel, mark: joinPath(root, `.orch/channels/${v.channel}`), package: v.package, version: bundle.version,
      published_at: String((JSON.parse(v.manifest) as { published_at?: unknown }).published_at), allowOlder: v.allow_older,
    };
    return {
      script,
      ...(fetch?.fetch !== 'host' && { payload: { kind: 'bundle' as const, bundle: bundle.name, sha256: bundle.sha256, size: bundle.size, ...(fetch && { lazy: true }) } }),
      payloadDest: bundleFile,
      probes: [
        { kind: 'read', path: markerOf(root, bundle.version) },
        { kind: 'exists', path: bundleFile },
        { kind: 'read', path: joinPath(root, STATE_FILE) },
        { kind: 'read', path: REGISTRY_FILE },
        { kind: 'delta', path: root },
        ...(channel ? [{ kind: 'read' as const, path: channel.mark }] : []),
      ],
      check: { kind: 'install', root, version: bundle.version, sha256: bundle.sha256, bundleFile, ...(channel && { channel }) },
      state: { action: 'install', app, root, version: bundle.version, sha256: bundle.sha256 },
    };
  },
  predict(f, task) {
    const c = task.check;
    const k = factKey({ kind: 'read', path: markerOf(c.root, c.version) });
    if (!f.has(k)) return 'maybe';
    if (badSha(f, c.root, c.version) === c.sha256) return 'skipped';
    const have = f.get(k)?.trim();
    if (have === c.sha256) return 'ok';
    if (have) return 'failed'; // same version, other sha256: see `refuse`
    f.set(k, c.sha256);
    f.set(factKey({ kind: 'exists', path: c.bundleFile }), '1');
    // The new version is the newest complete one (for a later prune).
    const vk = factKey({ kind: 'versions', path: c.root });
    const list = f.get(vk);
    if (list !== undefined) f.set(vk, [c.version, ...(list ?? '').split('\n').filter((v) => v && v !== c.version)].join('\n'));
    return 'changed';
  },
  refuse(f, task) {
    const c = task.check;
    const ch = c.channel;
    const seen = ch && f.get(factKey({ kind: 'read', path: ch.mark }))?.trim();
    if (ch && seen && ch.published_at < seen && !ch.allowOlder) {
      // The same words as src/host/fetch.sh orch_check_manifest: a replay that this host has
      // seen through, even if this control machine's cache has not (another CI runner).
      return `channel ${ch.name}: downgrade refused on this host: the manifest names ${ch.package} ${ch.version} published ${ch.published_at}, older than the newest this host accepted (published ${seen}); pin the version in the playbook (pin: ${ch.version}) or run with --allow-downgrade`;
    }
    if (badSha(f, c.root, c.version) === c.sha256) return undefined;
    const have = otherSha(f, c);
    return have === undefined ? undefined : sameVersionMessage(c.root, c.version, have, c.sha256);
  },
  hasPayload(f, task) {
    // Refused (see `refuse`): the host fails before reading any byte, so none is sent.
    if (otherSha(f, task.check) !== undefined) return true;
    // A store bundle the host fetches itself: sent only when its script asks (exit 99).
    if (task.payload?.kind === 'bundle' && task.payload.lazy) return true;
    const c = task.check;
    return f.get(factKey({ kind: 'exists', path: c.bundleFile })) === '1' || f.get(factKey({ kind: 'read', path: markerOf(c.root, c.version) }))?.trim() === c.sha256;
  },
};
