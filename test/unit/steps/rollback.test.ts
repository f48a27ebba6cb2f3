/** The internal `rollback` kind (orch rollback plans): exact script and its prediction table. */
import { describe, expect, it } from 'vitest';
import { ROLLBACK_SH, SWITCH_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { predictRollback, rollbackSwitchScript, type RollbackCheck } from '../../../src/steps/rollback.js';
import type { TaskOf } from '../../../src/model/task.js';
import { facts, scriptOf } from './helpers.js';

const task = (version?: string): TaskOf<RollbackCheck> => ({ script: '', probes: [], check: { kind: 'rollback', root: '/srv/shop', ...(version !== undefined && { version }) } });

describe('rollback (internal kind)', () => {
  it.each([
    [undefined, false, `orch_rollback /srv/shop '' '' "\${2:-}"`],
    ['1.0.0', true, `orch_rollback /srv/shop 1.0.0 .orch/restart-pending "\${2:-}"`],
  ])('--to %s, restart after: %s', (to, restart, call) => {
    expect(rollbackSwitchScript('/srv/shop', to, restart)).toBe(scriptOf([VERSIONS_SH, SWITCH_SH, ROLLBACK_SH], call));
  });

  it.each([
    ['no facts', task(), {}, 'maybe'],
    ['to previous', task(), { 'link:/srv/shop/current': 'versions/2', 'link:/srv/shop/previous': 'versions/1' }, 'changed'],
    ['no previous (fails at apply)', task(), { 'link:/srv/shop/current': 'versions/2', 'link:/srv/shop/previous': null }, 'changed'],
    ['--to the current one', task('2'), { 'link:/srv/shop/current': 'versions/2', 'link:/srv/shop/previous': 'versions/1' }, 'ok'],
    ['--to the current one, restart pending', task('2'), { 'link:/srv/shop/current': 'versions/2', 'link:/srv/shop/previous': null, 'exists:/srv/shop/.orch/restart-pending': '1' }, 'changed'],
  ])('predicts %s', (_n, t, f, want) => {
    expect(predictRollback(facts(f), t)).toBe(want);
  });
});
