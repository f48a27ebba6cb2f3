/**
 * `symlink: {version}` — points `<root>/current` at `versions/<V>` atomically: a
 * relative temp link then `mv -T` (rename(2) over the old link; Capistrano/Deployer's
 * atomic switch), the old target kept as `previous` (src/host/switch.sh, the one switch
 * orch has). Refuses a version folder without `.orch-installed`. `ok` when already there.
 */
import { SWITCH_SH, SYMLINK_SH, VERSIONS_SH } from '../host/embedded.generated.js';
import { CURRENT_LINK, INSTALLED_MARKER, PREVIOUS_LINK, STATE_FILE, versionDir } from '../host/layout.js';
import type { Facts } from '../model/task.js';
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
  formatDiff: (d) => (d.kind === 'symlink' ? [`current ${d.current.from ?? '(none)'} -> ${d.current.to}`] : []),
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
      script: hostScript(ctx, [VERSIONS_SH, SWITCH_SH, SYMLINK_SH], shCall('orch_symlink', hostPath(root), version, ctx.restartFollows ? RESTART_PENDING : '', STATE_ARG)),
      probes: [
        { kind: 'link', path: joinPath(root, CURRENT_LINK) },
        { kind: 'read', path: joinPath(root, `${versionDir(version)}/${INSTALLED_MARKER}`) },
        { kind: 'read', path: joinPath(root, STATE_FILE) },
        { kind: 'leftovers', path: root },
        ...(ctx.restartFollows ? [{ kind: 'exists' as const, path: joinPath(root, RESTART_PENDING) }] : []),
      ],
      check: { kind: 'symlink', root, version, sha256 },
      state: { action: 'switch', app, root, version, sha256 },
    };
  },
  note(f, task) {
    const n = leftovers(f, task.check.root);
    return n > 0 ? `cleanup: ${n} leftover${n === 1 ? '' : 's'} of an interrupted run` : undefined;
  },
  predict(f, task) {
    const c = task.check;
    const k = factKey({ kind: 'link', path: joinPath(c.root, CURRENT_LINK) });
    if (!f.has(k)) return 'maybe';
    const target = versionDir(c.version);
    const cur = f.get(k);
    if (cur === target) {
      if (f.get(factKey({ kind: 'exists', path: joinPath(c.root, RESTART_PENDING) }))) return 'changed';
      if (leftovers(f, c.root) > 0) return 'changed';
      // The link is the truth: state.json naming another current (a run killed between
      // the switch and the record) is rewritten by this step (src/host/switch.sh).
      const state = f.get(factKey({ kind: 'read', path: joinPath(c.root, STATE_FILE) }));
      return state === undefined || stateCurrent(state) === c.version ? 'ok' : 'changed';
    }
    if (c.sha256 && badSha(f, c.root, c.version) === c.sha256) return 'skipped';
    f.set(k, target);
    if (cur) f.set(factKey({ kind: 'link', path: joinPath(c.root, PREVIOUS_LINK) }), cur);
    return 'changed';
  },
};

/** `current` of a state.json text; null when there is no file or it names none. */
function stateCurrent(text: string | null): string | null {
  if (text === null) return null;
  try {
    const v = (JSON.parse(text) as { current?: unknown }).current;
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** The `leftovers` fact of `root`: how many things dead runs left there (0 when unknown). */
function leftovers(f: Facts, root: string): number {
  return Number(f.get(factKey({ kind: 'leftovers', path: root })) ?? 0) || 0;
}
