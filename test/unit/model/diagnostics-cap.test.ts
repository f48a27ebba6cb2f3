import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor, MAX_PRINTED_DIAGNOSTICS } from '../../../src/cli/exit-codes.js';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import { ConfigError } from '../../../src/model/errors.js';

function diags(n: number): Diagnostic[] {
  return Array.from({ length: n }, (_, i) => ({ file: 'pb.yml', line: i + 3, col: 3, path: `nodes.n${i + 1}`, message: 'must be a map or empty' }));
}

function printed(n: number): { code: number; lines: string[]; writes: number } {
  let out = '';
  let writes = 0;
  const code = exitCodeFor(new ConfigError(diags(n)), (s) => { out += s; writes++; });
  return { code, lines: out.split('\n').filter((l) => l !== ''), writes };
}

describe('exitCodeFor: ConfigError diagnostics are capped with a count of the rest', () => {
  it('prints every diagnostic when there are at most the cap', () => {
    const r = printed(MAX_PRINTED_DIAGNOSTICS);
    expect(r.code).toBe(EXIT.INVALID);
    expect(r.lines).toHaveLength(MAX_PRINTED_DIAGNOSTICS);
    expect(r.lines[0]).toBe('pb.yml:3:3: nodes.n1: must be a map or empty');
    expect(r.lines.at(-1)).toBe(`pb.yml:${MAX_PRINTED_DIAGNOSTICS + 2}:3: nodes.n${MAX_PRINTED_DIAGNOSTICS}: must be a map or empty`);
    expect(r.writes).toBe(1);
  });

  it('prints the first MAX_PRINTED_DIAGNOSTICS, then one line counting the rest', () => {
    const n = 100_000;
    const r = printed(n);
    expect(r.code).toBe(EXIT.INVALID);
    expect(r.lines).toHaveLength(MAX_PRINTED_DIAGNOSTICS + 1);
    expect(r.lines[MAX_PRINTED_DIAGNOSTICS - 1]).toContain(`nodes.n${MAX_PRINTED_DIAGNOSTICS}:`);
    expect(r.lines.at(-1)).toMatch(new RegExp(`^orch: ${n - MAX_PRINTED_DIAGNOSTICS} more problems not shown \\(${n} in all;`));
  });

  it('says "problem" for exactly one more', () => {
    const r = printed(MAX_PRINTED_DIAGNOSTICS + 1);
    expect(r.lines.at(-1)).toMatch(/^orch: 1 more problem not shown/);
  });
});
