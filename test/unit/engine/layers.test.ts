/**
 * Layers only point down: each folder of src/ sits on a layer, and no file imports a
 * file of a higher layer (folders of one layer may import each other; the no-cycles
 * test keeps that acyclic). The order, bottom first, is documented in
 * docs/how-it-works.md ("Architecture"); terraform's `internal/plans` knowing no
 * resource type is the model: the Plan model is generic over the step data.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, SRC, sourceFiles } from './import-graph.js';

/** Bottom first. A new folder of src/ must be placed here (the test says so). */
export const LAYERS: readonly (readonly string[])[] = [
  ['model'],
  ['shell', 'transport'],
  ['host', 'steps', 'secrets', 'cron'],
  ['config', 'compile', 'bundle', 'store', 'state'],
  ['engine'],
  ['library'],
  ['cli', 'ui'],
];

/** Layer index of a src/ file by its top folder (undefined for an unplaced folder). */
function layerOf(rel: string): number | undefined {
  const dir = rel.split(path.sep)[0]!;
  const i = LAYERS.findIndex((l) => l.includes(dir));
  return i < 0 ? undefined : i;
}

/** Every import that points up the order, as `from.ts -> to.ts (layer a -> b)`. */
export function upwardImports(graph: Map<string, string[]>, root: string): string[] {
  const found: string[] = [];
  for (const [file, deps] of graph) {
    const from = path.relative(root, file);
    const a = layerOf(from);
    for (const d of deps) {
      const to = path.relative(root, d);
      const b = layerOf(to);
      if (a !== undefined && b !== undefined && b > a) found.push(`${from} -> ${to} (layer ${a} -> ${b})`);
    }
  }
  return found.sort();
}

describe('layer order of src/', () => {
  const files = sourceFiles(SRC);
  const graph = importGraph(files);

  it('finds a planted upward import (the check can fail)', () => {
    const root = '/r';
    const g = new Map([
      ['/r/model/plan.ts', ['/r/steps/index.ts', '/r/model/task.ts']],
      ['/r/steps/index.ts', ['/r/model/task.ts']],
      ['/r/engine/lanes.ts', ['/r/compile/lifecycle.ts', '/r/ui/diff.ts']],
      ['/r/cli/run.ts', ['/r/ui/diff.ts', '/r/library/index.ts']],
    ]);
    expect(upwardImports(g, root)).toEqual(['engine/lanes.ts -> ui/diff.ts (layer 4 -> 6)', 'model/plan.ts -> steps/index.ts (layer 0 -> 2)']);
  });

  it('places every folder of src/ on a layer', () => {
    const dirs = new Set(files.map((f) => path.relative(SRC, f).split(path.sep)).filter((p) => p.length > 1).map((p) => p[0]!));
    expect([...dirs].filter((d) => !LAYERS.flat().includes(d)).sort()).toEqual([]);
    expect(files.filter((f) => !path.relative(SRC, f).includes(path.sep)).map((f) => path.relative(SRC, f))).toEqual([]);
  });

  it('has no import pointing up the layer order', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(upwardImports(graph, SRC)).toEqual([]);
  });

  it('keeps src/model to itself: no model file imports anything outside src/model', () => {
    const out = [...graph].flatMap(([f, deps]) => (path.relative(SRC, f).startsWith(`model${path.sep}`) ? deps.filter((d) => !path.relative(SRC, d).startsWith(`model${path.sep}`)).map((d) => `${path.relative(SRC, f)} -> ${path.relative(SRC, d)}`) : []));
    expect(out).toEqual([]);
  });
});
