/**
 * The release lifecycle lives in src/compile/lifecycle.ts: step kinds declare their role
 * (`StepKind.lifecycle`), and the engine, compile and CLI ask the lifecycle module instead
 * of comparing kind names. This test fails when a comparison with the name of a kind that
 * has a lifecycle role comes back anywhere in those layers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasRole, roleOf, stageCheck, startFollows, switchCheck } from '../../../src/compile/lifecycle.js';
import { STEP_KIND_NAMES, STEP_KINDS } from '../../../src/steps/index.js';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('release lifecycle', () => {
  const withRole = STEP_KIND_NAMES.filter((k) => STEP_KINDS[k].lifecycle !== undefined);

  it('every role of the lifecycle is played by exactly one kind, and roleOf reads the declaration', () => {
    expect(withRole.map((k) => STEP_KINDS[k].lifecycle).sort()).toEqual(['stage', 'start', 'switch', 'verify']);
    for (const k of STEP_KIND_NAMES) expect(roleOf(k)).toBe(STEP_KINDS[k].lifecycle);
    expect(roleOf('rollback')).toBeUndefined();
    expect(roleOf('toString')).toBeUndefined();
  });

  it('the helpers follow the declared roles, not names', () => {
    const [stage, sw, start] = (['stage', 'switch', 'start'] as const).map((r) => withRole.find((k) => STEP_KINDS[k].lifecycle === r)!);
    const other = STEP_KIND_NAMES.find((k) => STEP_KINDS[k].lifecycle === undefined)!;
    expect(hasRole({ kind: sw! }, 'switch')).toBe(true);
    expect(hasRole({ kind: other }, 'switch')).toBe(false);
    expect(stageCheck({ kind: stage!, root: '/srv/a', version: '1', sha256: 'x' } as never)).toBeDefined();
    expect(stageCheck({ kind: other } as never)).toBeUndefined();
    expect(switchCheck({ kind: sw!, root: '/srv/a', version: '1' } as never)).toBeDefined();
    expect(startFollows([{ kind: sw! }, { kind: start! }], 0)).toBe(true);
    expect(startFollows([{ kind: start! }, { kind: sw! }], 0)).toBe(false);
  });

  it('engine, compile and cli compare no kind name of the lifecycle (they ask src/compile/lifecycle.ts)', () => {
    const names = withRole.join('|');
    const compare = new RegExp(`kind\\s*[!=]==\\s*'(${names})'|'(${names})'\\s*[!=]==\\s*[\\w.?]*kind\\b`);
    const offenders: string[] = [];
    for (const layer of ['engine', 'compile', 'cli', 'library']) {
      for (const file of tsFiles(join(SRC, layer))) {
        if (file.endsWith(join('compile', 'lifecycle.ts'))) continue;
        readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
          if (compare.test(line)) offenders.push(`${file.slice(SRC.length + 1)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });
});
