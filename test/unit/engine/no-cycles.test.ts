/**
 * No import cycle anywhere in src/: every relative import of every src/*.ts
 * file (`import ... from`, `export ... from`, `import('...')`) is resolved (the `.js` of
 * an ESM import names the `.ts` source), and a depth-first search reports each cycle it
 * finds as `a.ts -> b.ts -> a.ts`. Lazy `import()`s count (they run), and so does
 * `import type`: erased at build time, it still ties two modules' designs together.
 * (TypeScript 7's compiler has no JS API to ask, and src/ keeps to one import style, so
 * a scan suffices.)
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, SRC, sourceFiles } from './import-graph.js';

/** Every cycle found by a DFS (each reported once, from where the search entered it). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}

describe('import graph of src/', () => {
  it('finds a planted cycle (the check can fail)', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(findCycles(g)).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('has no import cycle', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    const cycles = findCycles(importGraph(files)).map((c) => c.map((f) => path.relative(SRC, f)).join(' -> '));
    expect(cycles).toEqual([]);
  });
});
