/**
 * Bad releases refused loudly (issue 11 item 5): which host and node apply refuses, with
 * the reason and time from state.json's newest `bad` entry; the plan text shows the
 * reason in place of the refused steps.
 */
import { describe, expect, it } from 'vitest';
import { badReleaseMessage, forcedRollbackWarning, refusedHosts } from '../../../src/engine/bad-release.js';
import type { Plan, PlanStep, Task } from '../../../src/steps/plan.js';
import { formatPlan } from '../../../src/ui/plan-text.js';

const SHA = 'b'.repeat(64);
const install = (version: string, sha256 = SHA): Task => ({ script: '', probes: [], check: { kind: 'install', root: '/srv/shop', version, sha256, bundleFile: '' } as never });
const run: Task = { script: '', probes: [], check: { kind: 'run', hasUnless: false } as never };
const state = (bad: Record<string, string>, history: unknown[]): string => JSON.stringify({ app: 'shop', root: '/srv/shop', current: '1.0.0', previous: null, bad, history });
const facts = (text: string): Map<string, string> => new Map([['read:/srv/shop/.orch/state.json', text]]);
const BAD = state({ '1.1.0': SHA }, [
  { version: '1.1.0', sha256: SHA, action: 'bad', at: '2026-01-01T00:00:00Z', by: 'a@b', reason: 'healthcheck' },
  { version: '1.1.0', sha256: SHA, action: 'bad', at: '2026-01-02T00:00:00Z', by: 'a@b', reason: 'service' },
]);

describe('badReleaseMessage', () => {
  it('names the version, the newest reason and time, and the host', () => {
    expect(badReleaseMessage('h1', [run, install('1.1.0')], facts(BAD))).toBe('1.1.0 failed its service on h1 at 2026-01-02T00:00:00Z; not deployed again; one version is one release: give a new build a new version');
  });
  it('a new sha256 for the version, another version, or no state: not refused', () => {
    expect(badReleaseMessage('h1', [install('1.1.0', 'c'.repeat(64))], facts(BAD))).toBeUndefined();
    expect(badReleaseMessage('h1', [install('1.2.0')], facts(BAD))).toBeUndefined();
    expect(badReleaseMessage('h1', [install('1.1.0')], new Map())).toBeUndefined();
  });
});

describe('rollback --to a version recorded bad', () => {
  const rollbackTo = (version: string, force = false): Task => ({ script: '', probes: [], check: { kind: 'rollback', root: '/srv/shop', version, ...(force && { force: true }) } });
  it('refused without --force, with the reason; warned with --force', () => {
    expect(badReleaseMessage('h1', [rollbackTo('1.1.0')], facts(BAD))).toBe('1.1.0 failed its service on h1 at 2026-01-02T00:00:00Z; rollback --to 1.1.0 refused (--force switches to it anyway)');
    expect(forcedRollbackWarning('h1', [rollbackTo('1.1.0')], facts(BAD))).toBeUndefined();
    expect(badReleaseMessage('h1', [rollbackTo('1.1.0', true)], facts(BAD))).toBeUndefined();
    expect(forcedRollbackWarning('h1', [rollbackTo('1.1.0', true)], facts(BAD))).toBe('1.1.0 failed its service on h1 at 2026-01-02T00:00:00Z; rolling back to it anyway (--force)');
  });
  it('a version not recorded bad, or no state: neither', () => {
    for (const t of [rollbackTo('1.0.0'), rollbackTo('1.0.0', true)]) {
      expect(badReleaseMessage('h1', [t], facts(BAD))).toBeUndefined();
      expect(forcedRollbackWarning('h1', [t], facts(BAD))).toBeUndefined();
      expect(badReleaseMessage('h1', [t], new Map())).toBeUndefined();
    }
  });
});

describe('refusedHosts and the plan text', () => {
  const step = (index: number, name: string, tasks: Record<string, Task>): PlanStep => ({ index, name, kind: 'run', when: 'always', tasks, at: 'pb.yml:1:1' });
  const plan = {
    planVersion: 1, bundles: {}, inputs: {} as never, targets: ['h1', 'h2'],
    hosts: Object.fromEntries(['h1', 'h2'].map((n) => [n, { name: n, address: n, addressExplicit: false, transport: 'ssh', hostKeyPolicy: 'strict', jump: [] }])),
    phases: [
      { node: 'db', hosts: ['h1', 'h2'], batches: [['h1', 'h2']], steps: [step(0, 'backup', { h1: run, h2: run })] },
      { node: 'web', hosts: ['h1', 'h2'], batches: [['h1', 'h2']], steps: [step(0, 'install shop 1.1.0', { h1: install('1.1.0'), h2: install('1.1.0') })] },
    ],
  } as unknown as Plan;
  it('the first node installing a bad release on a host; its earlier nodes still show', () => {
    const byHost = new Map([['h1', facts(BAD)], ['h2', facts(state({}, []))]]);
    const refused = refusedHosts(plan, byHost);
    expect([...refused.keys()]).toEqual(['h1']);
    expect(refused.get('h1')!.phase).toBe(1);
    const p = (phase: number, name: string) => ({ phase, step: 0, node: phase ? 'web' : 'db', name, status: 'changed' as const });
    const predictions = new Map(['h1', 'h2'].map((h) => [h, [p(0, 'backup'), p(1, 'install shop 1.1.0')]]));
    expect(formatPlan(plan, predictions, new Map(), false, undefined, undefined, undefined, refused)).toBe([
      'h1 (h1)',
      '  ~ db: backup  will change',
      '  ! web: 1.1.0 failed its service on h1 at 2026-01-02T00:00:00Z; not deployed again; one version is one release: give a new build a new version; apply fails this host',
      'h2 (h2)',
      '  ~ db: backup  will change',
      '  ~ web: install shop 1.1.0  will change',
      '',
      'Plan: 2 hosts, 3 steps to change.',
      '',
    ].join('\n'));
  });
  it('a forced rollback to a bad version: a warning line, the steps still listed and counted', () => {
    const rb: Task = { script: '', probes: [], check: { kind: 'rollback', root: '/srv/shop', version: '1.1.0', force: true } };
    const p2 = { ...plan, targets: ['h1'], phases: [{ node: 'web', hosts: ['h1'], batches: [['h1']], steps: [step(0, 'rollback current -> 1.1.0', { h1: rb })] }] } as unknown as Plan;
    const refused = refusedHosts(p2, new Map([['h1', facts(BAD)]]));
    expect(refused.get('h1')).toEqual({ phase: 0, message: '1.1.0 failed its service on h1 at 2026-01-02T00:00:00Z; rolling back to it anyway (--force)', warn: true });
    const predictions = new Map([['h1', [{ phase: 0, step: 0, node: 'web', name: 'rollback current -> 1.1.0', status: 'changed' as const }]]]);
    expect(formatPlan(p2, predictions, new Map(), false, undefined, undefined, undefined, refused)).toBe([
      'h1 (h1)',
      '  ! web: 1.1.0 failed its service on h1 at 2026-01-02T00:00:00Z; rolling back to it anyway (--force)',
      '  ~ web: rollback current -> 1.1.0  will change',
      '',
      'Plan: 1 host, 1 step to change.',
      '',
    ].join('\n'));
  });
});
