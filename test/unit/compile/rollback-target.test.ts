/** `orch rollback` without --to: the last good release from state.json (pickRollbackTarget). */
import { describe, expect, it } from 'vitest';
import { pickRollbackTarget } from '../../../src/compile/rollback-plan.js';

const entry = (action: string, version: string, at: string) => ({ action, version, sha256: 'x', at, by: 't' });

describe('pickRollbackTarget', () => {
  const history = [
    entry('install', '1.0.0', '2026-01-01T00:00:01Z'), entry('switch', '1.0.0', '2026-01-01T00:00:02Z'),
    entry('install', '1.1.0', '2026-01-01T00:00:03Z'), entry('switch', '1.1.0', '2026-01-01T00:00:04Z'),
    entry('install', '1.2.0', '2026-01-01T00:00:05Z'), entry('switch', '1.2.0', '2026-01-01T00:00:06Z'),
  ];
  it('is the newest release installed before current', () => {
    expect(pickRollbackTarget(JSON.stringify({ current: '1.2.0', history }))).toBe('1.1.0');
  });
  it('skips releases recorded bad and newer than current (after an automatic rollback)', () => {
    const h = [...history, entry('install', '1.3.0', '2026-01-01T00:00:07Z'), entry('rollback', '1.2.0', '2026-01-01T00:00:08Z'), entry('bad', '1.3.0', '2026-01-01T00:00:08Z')];
    expect(pickRollbackTarget(JSON.stringify({ current: '1.2.0', previous: '1.3.0', bad: { '1.3.0': 'x' }, history: h }))).toBe('1.1.0');
    expect(pickRollbackTarget(JSON.stringify({ current: '1.2.0', bad: { '1.1.0': 'x' }, history }))).toBe('1.0.0');
  });
  it('skips pruned releases; none left, no state or bad JSON: undefined', () => {
    expect(pickRollbackTarget(JSON.stringify({ current: '1.2.0', history: [...history, entry('prune', '1.1.0', '2026-01-01T00:00:09Z')] }))).toBe('1.0.0');
    expect(pickRollbackTarget(JSON.stringify({ current: '1.0.0', history }))).toBeUndefined();
    expect(pickRollbackTarget(null)).toBeUndefined();
    expect(pickRollbackTarget('{not json')).toBeUndefined();
  });
});
