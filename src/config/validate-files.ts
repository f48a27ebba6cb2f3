/**
 * `orch validate FILE...`: checks each file as an inventory or a playbook (see
 * `detectFileKind`) and returns every diagnostic at once, plus the models of the files
 * that loaded (so the CLI can go on and compile each playbook offline).
 */
import type { Diagnostic } from '../model/diagnostics.js';
import { sortDiagnostics } from '../model/diagnostics.js';
import type { Inventory } from '../model/inventory.js';
import type { Playbook } from '../model/playbook.js';
import { detectAnsibleInventory } from './ansible-inventory.js';
import { detectFileKind, isImportOnly } from './detect.js';
import { loadInventory } from './inventory.js';
import { loadYaml } from './load-yaml.js';
import { loadPlaybook } from './playbook.js';
import type { SourceIndexImpl } from './source-index.js';

/** Result of `validateFiles`. Keys are the file names as given. */
export interface ValidateFilesResult {
  /** The kind found per file (undefined when the YAML did not parse). */
  kinds: Record<string, 'inventory' | 'playbook' | 'import' | undefined>;
  /** Every diagnostic, sorted by file, line, column. */
  diagnostics: Diagnostic[];
  /** Playbooks that loaded without a diagnostic. */
  playbooks: Record<string, Playbook>;
  /** Inventories that loaded without a diagnostic. */
  inventories: Record<string, Inventory>;
  /** Absolute path -> sha256 of every file read. */
  fileHashes: Record<string, string>;
}

/**
 * Validates every file of `files` on its own (an inventory alone, a playbook with its
 * imports). Each file is parsed once (`index` caches loads), also when it is named twice.
 */
export async function validateFiles(files: string[], index: SourceIndexImpl): Promise<ValidateFilesResult> {
  const diagnostics: Diagnostic[] = [];
  const res: ValidateFilesResult = { kinds: {}, diagnostics, playbooks: {}, inventories: {}, fileHashes: {} };
  for (const f of files) {
    if (f in res.kinds) continue;
    // Hook: an Ansible INI/YAML inventory (src/config/ansible-inventory.ts) is validated as an inventory.
    if ((await detectAnsibleInventory(f)) !== undefined) {
      res.kinds[f] = 'inventory';
      const r = await loadInventory([f], index);
      diagnostics.push(...r.diagnostics);
      Object.assign(res.fileHashes, r.fileHashes);
      if (r.inventory) res.inventories[f] = r.inventory;
      continue;
    }
    const l = await loadYaml(f, index);
    if (l.diagnostics.length > 0) {
      res.kinds[f] = undefined;
      diagnostics.push(...l.diagnostics);
      continue;
    }
    const kind = detectFileKind(l.value) === 'playbook' && isImportOnly(l.value) ? 'import' : detectFileKind(l.value);
    res.kinds[f] = kind;
    if (kind === 'inventory') {
      const r = await loadInventory([f], index);
      diagnostics.push(...r.diagnostics);
      Object.assign(res.fileHashes, r.fileHashes);
      if (r.inventory) res.inventories[f] = r.inventory;
    } else {
      // An import-only file loads like a playbook (schema, its own imports, extends), but is not compiled on its own.
      const r = await loadPlaybook(f, index);
      diagnostics.push(...r.diagnostics);
      Object.assign(res.fileHashes, r.fileHashes);
      if (r.playbook && kind === 'playbook') res.playbooks[f] = r.playbook;
    }
  }
  res.diagnostics = sortDiagnostics(diagnostics);
  return res;
}
