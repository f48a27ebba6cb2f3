/**
 * The terminal renderer after an aborted run: a host that never started gets listr2's
 * skip mark and `not started (run aborted)`, never the success tick; the summary line says
 * `not started`, not `ok`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunSummary } from '../../../src/engine/events.js';
import type { Plan, PlanStep } from '../../../src/steps/plan.js';
import { TtyRenderer } from '../../../src/ui/tty.js';

const step: PlanStep = { index: 0, name: 'install app 1.0.0', kind: 'run', when: 'always', at: 'pb.yml:1:1', tasks: { h1: { script: '', probes: [], check: { kind: 'run', hasUnless: false } as never }, h2: { script: '', probes: [], check: { kind: 'run', hasUnless: false } as never } } };
const plan = {
  planVersion: 1, bundles: {}, inputs: {} as never, targets: ['h1', 'h2'],
  hosts: Object.fromEntries(['h1', 'h2'].map((n) => [n, { name: n, address: n, transport: 'ssh', jump: [] }])),
  phases: [{ node: 'web', hosts: ['h1', 'h2'], batches: [['h1'], ['h2']], steps: [step] }],
} as unknown as Plan;

describe('TtyRenderer: a host the aborted run never started', () => {
  afterEach(() => void vi.restoreAllMocks());

  it('shows no success mark for it, and the summary says not started', async () => {
    let text = '';
    // listr2 draws on process.stdout (its simple renderer here: vitest's stdout is no TTY).
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((text += String(chunk)), true));
    const r = new TtyRenderer((s) => void (text += s), plan);
    r.start();
    r.onEvent({ type: 'step-start', host: 'h1', phase: 0, node: 'web', step: 0, name: 'install app 1.0.0' });
    r.onEvent({ type: 'step-end', host: 'h1', phase: 0, node: 'web', step: 0, name: 'install app 1.0.0', status: 'failed', ms: 5, error: 'exit 1: broken' });
    r.onEvent({ type: 'host-failed', host: 'h1', error: 'web: install app 1.0.0: exit 1: broken', unreachable: false, node: 'web' });
    r.onEvent({ type: 'aborted', reason: 'node web: 1 of 1 hosts failed in batch 1, more than max_fail 0; later batches and nodes were not started' } as never);
    const summary: RunSummary = {
      type: 'summary', changed: 0, failed: 1, unreachable: 0, ok: 0, bytesUploaded: 0, ms: 10,
      aborted: 'node web: 1 of 1 hosts failed in batch 1, more than max_fail 0; later batches and nodes were not started',
      hosts: [
        { host: 'h1', status: 'failed', counts: { ok: 0, changed: 0, skipped: 0, failed: 1 }, changedSteps: [], error: 'web: install app 1.0.0: exit 1: broken' },
        { host: 'h2', status: 'skipped', counts: { ok: 0, changed: 0, skipped: 0, failed: 0 }, changedSteps: [] },
      ],
    };
    await r.finish(summary);
    const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
    const h2Lines = plain.split('\n').filter((l) => /\bh2\b/.test(l));
    expect(h2Lines.some((l) => l.includes('not started (run aborted)')), plain).toBe(true);
    expect(h2Lines.filter((l) => /[✔√]/.test(l)), plain).toEqual([]);
    expect(plain).toMatch(/^ {2}h2 {4}not started ok=0 changed=0 skipped=0 failed=0$/m);
  });
});

describe('RunRecord.summary after an abort', () => {
  it('a host that ran no step is skipped (not started), one that ran steps keeps its status', async () => {
    const { RunRecord } = await import('../../../src/engine/record.js');
    const { Masker } = await import('../../../src/shell/mask.js');
    const rec = new RunRecord(['h1', 'h2', 'h3'], () => undefined, new Masker());
    rec.count('h1', 'web', 'install', 'changed');
    rec.count('h3', 'db', 'backup', 'ok');
    expect(rec.summary().hosts.map((h) => h.status)).toEqual(['changed', 'ok', 'ok']);
    rec.aborted = 'node web: 1 of 1 hosts failed in batch 1, more than max_fail 0; later batches and nodes were not started';
    const s = rec.summary();
    expect(s.hosts.map((h) => `${h.host} ${h.status}`)).toEqual(['h1 changed', 'h2 skipped', 'h3 ok']);
    expect([s.changed, s.ok]).toEqual([1, 1]);
  });
});
