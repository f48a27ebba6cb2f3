/**
 * `directory: {path, mode, owner, group}` — makes `path` a folder with that mode,
 * owner and group (Ansible's `file: state=directory`; src/host/directory.sh). Parents
 * are made as needed. Planned exactly from a `stat` fact: `ok` when the folder exists
 * with that mode, owner and group.
 */
import { DIRECTORY_SH, META_SH } from '../host/embedded.generated.js';
import type { StepKind } from './kind.js';
import { checkHostPath, factKey, hostPath, hostScript, metaArgs, MODE_SCHEMA, shCall, statAfter, statMatches, type MetaSpec } from './common.js';

export interface DirectoryArgs extends MetaSpec {
  path: string;
}
export interface DirectoryCheck extends MetaSpec {
  kind: 'directory';
  path: string;
}

export const directory: StepKind<DirectoryArgs, DirectoryCheck> = {
  name: 'directory',
  schema: {
    description: 'Makes `path` a folder (parents as needed) with that mode, owner and group; ok when it already is.',
    examples: [{ path: '/srv/shop/shared/log', mode: '0750', owner: 'shop', group: 'shop' }],
    type: 'object',
    additionalProperties: false,
    properties: {
      path: { description: 'Absolute path of the folder on the host.', examples: ['/srv/shop/shared/log'], type: 'string', minLength: 1 },
      mode: MODE_SCHEMA,
      owner: { description: 'Owner user of the folder.', examples: ['shop'], type: 'string', minLength: 1 },
      group: { description: 'Owner group of the folder.', examples: ['shop'], type: 'string', minLength: 1 },
    },
    required: ['path'],
  },
  defaultWhen: 'always',
  describe: (ctx) => `directory ${ctx.label('path')}`,
  build(ctx) {
    const path = ctx.render('path', 'text');
    if (path === undefined) return undefined;
    const bad = checkHostPath(path, 'path');
    if (bad) return void ctx.fail('path', bad);
    const meta = metaArgs(ctx);
    if (!meta) return undefined;
    return {
      script: hostScript(ctx, [META_SH, DIRECTORY_SH], shCall('orch_directory', hostPath(path), meta.mode ?? '', meta.owner ?? '', meta.group ?? '')),
      probes: [{ kind: 'stat', path }],
      check: { kind: 'directory', path, ...meta },
    };
  },
  predict(f, task) {
    const k = factKey({ kind: 'stat', path: task.check.path });
    const st = f.get(k);
    if (st === undefined) return 'maybe';
    if (st !== null && statMatches(st, task.check, 'd')) return 'ok';
    // Something else in the way fails at apply; a missing or different folder changes.
    f.set(k, statAfter(st, task.check, 'd'));
    return 'changed';
  },
};
