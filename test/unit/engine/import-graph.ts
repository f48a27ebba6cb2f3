/**
 * The relative-import graph of src/ for the no-cycles and layer-order tests: every
 * `import ... from`, `export ... from`, bare `import '...'` and `import('...')` of every
 * src/*.ts file, resolved to the `.ts` source (the `.js` of an ESM import names it).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const SRC = path.resolve(import.meta.dirname, '../../../src');

export function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** file -> the src files it imports (relative imports only). */
export function importGraph(files: string[]): Map<string, string[]> {
  const set = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const names = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gm), ...text.matchAll(/^\s*import\s+'([^']+)'/gm), ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!);
    const deps = names
      .filter((n) => n.startsWith('.'))
      .map((n) => path.resolve(path.dirname(f), n.replace(/\.js$/, '.ts')))
      .filter((p) => set.has(p));
    graph.set(f, [...new Set(deps)]);
  }
  return graph;
}

