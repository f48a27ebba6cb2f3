/**
 * ORCH_TRACE=1 (src/engine/trace.ts): a real host agent on the local transport (real bash,
 * a private HOME), started in a child process of the built code (`npm run build`, which
 * `npm test` runs first), writes its agent start, lock and facts phases to stderr in that
 * order, with durations that add up, and the exit table; without ORCH_TRACE nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const build = new URL('../../../build/', import.meta.url).pathname;
const script = `
const { HostAgent } = await import(${JSON.stringify(`${build}engine/agent.js`)});
const { LocalConnection } = await import(${JSON.stringify(`${build}transport/local.js`)});
const c = new LocalConnection('ctl', process.env);
const { agent, factsOutput } = await HostAgent.start('ctl', c, { lockWaitSeconds: 0, holder: 'me', factsScript: 'sleep 0.2; echo F 0 -\\necho END\\n' });
process.stdout.write(factsOutput);
await agent.close();
await agent.finished;
await c.close();
`;

function run(env: Record<string, string>): { stdout: string; stderr: string; status: number | null } {
  const home = mkdtempSync(path.join(tmpdir(), 'orch-trace-home-'));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('ORCH_TRACE', () => {
  it('prints agent start, lock and facts of a host in order, then the table at exit', () => {
    const r = run({ ORCH_TRACE: '1' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('F 0 -\nEND\n');
    const spans = [...r.stderr.matchAll(/^orch trace: (\d+)\.\.(\d+) ms {2}([\d.]+) ms {2}(.+)$/gm)].map((m) => ({ start: Number(m[1]), end: Number(m[2]), ms: Number(m[3]), what: m[4]! }));
    expect(spans.map((s) => s.what)).toEqual(['node start', 'agent start ctl', 'lock ctl', 'facts ctl', 'exit']);
    const [, start, lock, facts] = spans;
    expect(lock!.start).toBeGreaterThanOrEqual(start!.end - 1);
    expect(facts!.start).toBeGreaterThanOrEqual(lock!.end - 1);
    // The facts script sleeps 0.2 s under the lock: the facts phase holds it, not the lock
    // phase (the spans are disjoint, checked above, so the one sleep is in one of them).
    expect(facts!.ms).toBeGreaterThanOrEqual(190);
    expect(r.stderr).toMatch(/^orch trace: phase +n +first start +last end +min +median +max \(ms\)$/m);
    expect(r.stderr).toMatch(/^orch trace: facts +1 /m);
  });

  it('is silent without ORCH_TRACE (and with ORCH_TRACE=0)', () => {
    for (const env of [{}, { ORCH_TRACE: '0' }] as Array<Record<string, string>>) {
      const r = run(env);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toContain('orch trace');
    }
  });
});
