/**
 * Tells inventories from playbooks, for `orch validate FILE...` (SPEC section 5).
 */

/**
 * `'inventory'` when `value` is a map with a `hosts:` key (SPEC section 2: inventories
 * list hosts; playbooks never have that key), else `'playbook'`.
 */
export function detectFileKind(value: unknown): 'inventory' | 'playbook' {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && 'hosts' in value ? 'inventory' : 'playbook';
}
