/**
 * `prune: {keep}` — deletes complete versions beyond the newest `keep` (default 5, by
 * install time), never `current` nor `previous` (src/host/prune.sh). Prints
 * `::orch:: pruned=V SHA` per version; the engine records them in state.json. Planned
 * exactly from a `versions` fact and the two links.
 */
import { DELTA_SH, PRUNE_SH, VERSIONS_SH } from '../host/embedded.generated.js';
import { CURRENT_LINK, PREVIOUS_LINK, STATE_FILE } from '../host/layout.js';
import type { Facts } from '../model/task.js';
import type { StepKind } from './kind.js';
import { appName, factKey, hostPath, hostScript, joinPath, labelText, requireRoot, shCall } from './common.js';

export const DEFAULT_KEEP = 5;

export interface PruneArgs {
  keep?: number;
}
export interface PruneCheck {
  kind: 'prune';
  root: string;
  keep: number;
}

/** Versions prune would delete, given the facts (undefined = unknown). */
export function prunable(f: Facts, root: string, keep: number): string[] | undefined {
  const list = f.get(factKey({ kind: 'versions', path: root }));
  const cur = f.get(factKey({ kind: 'link', path: joinPath(root, CURRENT_LINK) }));
  const prev = f.get(factKey({ kind: 'link', path: joinPath(root, PREVIOUS_LINK) }));
  if (list === undefined || cur === undefined || prev === undefined) return undefined;
  const keepers = new Set([cur, prev].filter((l): l is string => !!l).map((l) => l.replace(/^versions\//, '')));
  return (list ?? '').split('\n').filter(Boolean).filter((v, i) => i >= keep && !keepers.has(v));
}

export const prune: StepKind<PruneArgs | null, PruneCheck> = {
  name: 'prune',
  schema: {
    description: 'Deletes old versions beyond `keep`, never current nor previous.',
    examples: [{ keep: 3 }, {}],
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      keep: { description: 'Versions to keep (default 5).', examples: [5], type: 'integer', minimum: 1 },
    },
  },
  defaultWhen: 'always',
  describe: (ctx) => `prune (keep ${labelText(ctx.args?.keep ?? DEFAULT_KEEP)})`,
  build(ctx) {
    const root = requireRoot(ctx, 'prune');
    if (root === undefined) return undefined;
    const keepRaw = ctx.args?.keep ?? DEFAULT_KEEP;
    const keep = Number(keepRaw);
    if (!Number.isInteger(keep) || keep < 1) return void ctx.fail('keep', `keep must be a whole number >= 1 (got ${JSON.stringify(keepRaw)})`);
    const app = appName(ctx, ctx.bundle);
    if (!app) return void ctx.fail(undefined, 'prune needs var "app" when the node installs no bundle');
    return {
      script: hostScript(ctx, [VERSIONS_SH, DELTA_SH, PRUNE_SH], shCall('orch_prune', hostPath(root), keep)),
      probes: [
        { kind: 'read', path: joinPath(root, STATE_FILE) },
        { kind: 'versions', path: root },
        { kind: 'link', path: joinPath(root, CURRENT_LINK) },
        { kind: 'link', path: joinPath(root, PREVIOUS_LINK) },
      ],
      check: { kind: 'prune', root, keep },
      state: { action: 'prune', app, root, version: '', sha256: '' },
    };
  },
  predict(f, task) {
    const c = task.check;
    const gone = prunable(f, c.root, c.keep);
    if (gone === undefined) return 'maybe';
    if (!gone.length) return 'ok';
    const k = factKey({ kind: 'versions', path: c.root });
    f.set(k, (f.get(k) ?? '').split('\n').filter((v) => v && !gone.includes(v)).join('\n'));
    return 'changed';
  },
};

