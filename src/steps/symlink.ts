/**
 * `symlink: {version}` — points `<root>/current` at `versions/<V>` atomically: a
 * relative temp link then `mv -T` (rename(2) over the old link; Capistrano/Deployer's
 * atomic switch), the old target kept as `previous` (src/host/switch.sh, the one switch
 * orch has). Refuses a version folder without `.orch-installed`. `ok` when already there.
 */
import { SWITCH_SH, SYMLINK_SH } from '../host/embedded.generated.js';
import { CURRENT_LINK, INSTALLED_MARKER, PREVIOUS_LINK, STATE_FILE, versionDir } from '../host/layout.js';
import type { StepKind } from './kind.js';
import { appName, badSha, currentVersion, factKey, hostPath, hostScript, joinPath, RESTART_PENDING, requireRoot, shCall, STATE_ARG, VERSION_RE } from './common.js';

export interface SymlinkArgs {
  version?: string;
}
export interface SymlinkCheck {
  kind: 'symlink';
  root: string;
  version: string;
  /** bundle sha256 of that version when known ('' otherwise) */
  sha256?: string;
}

export const symlink: StepKind<SymlinkArgs | null, SymlinkCheck> = {
  name: 'symlink',
  schema: {
    description: 'Points <root>/current at versions/<V> atomically and records `previous`.',
    examples: [{}, { version: '1.4.2' }],
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      version: { description: "Version to point at (default: the node's bundle version).", examples: ['1.4.2'], type: 'string', minLength: 1 },
    },
  },
  // `current 1.0.0 -> 1.1.0` (the link is read with the facts anyway).
  diff(task, facts) {
    const from = currentVersion(facts, task.check.root);
    return from === task.check.version ? undefined : { kind: 'symlink', current: { from, to: task.check.version } };
  },
  lifecycle: 'switch',
  defaultWhen: 'always',
  describe: (ctx) => `symlink current -> ${ctx.args?.version !== undefined ? ctx.label('version') : ctx.bundle?.version ?? '?'}`,
  build(ctx) {
    const root = requireRoot(ctx, 'symlink');
    if (root === undefined) return undefined;
    const given = ctx.args?.version;
    const version = given !== undefined ? ctx.render('version', 'text') : ctx.bundle?.version;
    if (version === undefined) {
      if (given === undefined) ctx.fail(undefined, 'symlink needs "version" when the node installs no bundle');
      return undefined;
    }
    if (!VERSION_RE.test(version)) return void ctx.fail('version', `version ${JSON.stringify(version)} is not a valid folder name (letters, digits, . _ + -)`);
    const app = appName(ctx, ctx.bundle);
    if (!app) return void ctx.fail(undefined, 'symlink needs var "app" when the node installs no bundle');
    const sha256 = ctx.bundle?.version === version ? ctx.bundle.sha256 : '';
    return {
      script: hostScript(ctx, [SWITCH_SH, SYMLINK_SH], shCall('orch_symlink', hostPath(root), version, ctx.restartFollows ? RESTART_PENDING : '', STATE_ARG)),
      probes: [
        { kind: 'link', path: joinPath(root, CURRENT_LINK) },
        { kind: 'read', path: joinPath(root, `${versionDir(version)}/${INSTALLED_MARKER}`) },
        { kind: 'read', path: joinPath(root, STATE_FILE) },
        ...(ctx.restartFollows ? [{ kind: 'exists' as const, path: joinPath(root, RESTART_PENDING) }] : []),
      ],
      check: { kind: 'symlink', root, version, sha256 },
      state: { action: 'switch', app, root, version, sha256 },
    };
  },
  predict(f, task) {
    const c = task.check;
    const k = factKey({ kind: 'link', path: joinPath(c.root, CURRENT_LINK) });
    if (!f.has(k)) return 'maybe';
    const target = versionDir(c.version);
    const cur = f.get(k);
    if (cur === target) return f.get(factKey({ kind: 'exists', path: joinPath(c.root, RESTART_PENDING) })) ? 'changed' : 'ok';
    if (c.sha256 && badSha(f, c.root, c.version) === c.sha256) return 'skipped';
    f.set(k, target);
    if (cur) f.set(factKey({ kind: 'link', path: joinPath(c.root, PREVIOUS_LINK) }), cur);
    return 'changed';
  },
};
