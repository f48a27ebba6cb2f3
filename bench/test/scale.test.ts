/**
 * The scale section's generated inputs are what orch accepts (and, for the unknown-keys
 * file, exactly what it refuses): loaded through orch's own config layer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/config/inventory.js';
import { SourceIndexImpl } from '../../src/config/source-index.js';
import { scaleInventoryYaml, unknownKeysInventoryYaml } from '../scale.js';

const work = mkdtempSync(path.join(tmpdir(), 'orch-bench-scale-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('scale inputs', () => {
  it('an inventory of N hosts in file order, a role over all and a group of every tenth', async () => {
    const f = path.join(work, 'inv.yml');
    writeFileSync(f, scaleInventoryYaml(25));
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    expect([...r.inventory!.hosts.keys()]).toEqual(Array.from({ length: 25 }, (_, i) => `n${i + 1}`));
    expect(r.inventory!.hosts.get('n258')).toBeUndefined();
    expect(r.inventory!.hosts.get('n3')!.address).toBe('198.18.0.3');
    expect(r.inventory!.roles.get('app')!.length).toBe(25);
    expect(r.inventory!.groups.get('tenth')!.hosts).toEqual(['n10', 'n20']);
  });

  it('an inventory with K unknown keys gives K diagnostics', async () => {
    const f = path.join(work, 'keys.yml');
    writeFileSync(f, unknownKeysInventoryYaml(30));
    const r = await loadInventory([f], new SourceIndexImpl());
    expect(r.diagnostics.length).toBe(30);
    expect(r.diagnostics[29]!.message).toMatch(/^unknown key "bogus30"/);
    expect(r.diagnostics[29]!.line).toBe(33);
  });
});
