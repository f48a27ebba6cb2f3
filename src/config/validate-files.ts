/**
 * `orch validate FILE...`: checks each file as an inventory or a playbook (see
 * `detectFileKind`) and returns every diagnostic at once.
 */
import type { Diagnostic } from '../model/diagnostics.js';
import { sortDiagnostics } from '../model/diagnostics.js';
import { detectFileKind } from './detect.js';
import { loadInventory } from './inventory.js';
import { loadYaml } from './load-yaml.js';
import { loadPlaybook } from './playbook.js';
import type { SourceIndexImpl } from './source-index.js';

/**
 * Validates every file of `files` on its own (an inventory alone, a playbook with its
 * imports). Returns the kind found per file (undefined when the YAML did not parse)
 * and all diagnostics, sorted by file, line, column.
 */
export async function validateFiles(
  files: string[],
  index: SourceIndexImpl,
): Promise<{ kinds: Record<string, 'inventory' | 'playbook' | undefined>; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const kinds: Record<string, 'inventory' | 'playbook' | undefined> = {};
  for (const f of files) {
    const l = await loadYaml(f, index);
    if (l.diagnostics.length > 0) {
      kinds[f] = undefined;
      diagnostics.push(...l.diagnostics);
      continue;
    }
    const kind = detectFileKind(l.value);
    kinds[f] = kind;
    const r = kind === 'inventory' ? await loadInventory([f], index) : await loadPlaybook(f, index);
    diagnostics.push(...r.diagnostics);
  }
  return { kinds, diagnostics: sortDiagnostics(diagnostics) };
}
