/**
 * Tells inventories from playbooks, for `orch validate FILE...` (docs/reference/cli.md).
 */

/**
 * `'inventory'` when `value` is a map with a `hosts:` key (docs/reference/inventory.md: inventories
 * list hosts; playbooks never have that key), else `'playbook'`.
 */
export function detectFileKind(value: unknown): 'inventory' | 'playbook' {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && 'hosts' in value ? 'inventory' : 'playbook';
}

/**
 * True for a file that holds only `templates:` and/or `import:` (a library of reusable
 * nodes for other playbooks' `import:`): validated as an import, never compiled on its own.
 */
export function isImportOnly(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k === 'templates' || k === 'import');
}
