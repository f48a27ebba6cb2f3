/**
 * The config layer's public API: load YAML with source positions, validate against
 * `schema/*.schema.json`, build the Inventory and Playbook models, report Diagnostics.
 */
export { SourceIndexImpl } from './source-index.js';
export type { LoadedYaml } from './load-yaml.js';
export { loadYaml, parseYamlText, displayPath, expandHome, MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_ALIASES } from './load-yaml.js';
export type { SchemaKind } from './validate.js';
export { validateAgainstSchema } from './validate.js';
export type { LoadInventoryResult } from './inventory.js';
export { loadInventory } from './inventory.js';
export type { LoadPlaybookOptions, LoadPlaybookResult } from './playbook.js';
export { loadPlaybook, STEP_KINDS } from './playbook.js';
export { detectFileKind } from './detect.js';
export { validateFiles } from './validate-files.js';
export { compileGlob, isGlob } from './glob.js';
