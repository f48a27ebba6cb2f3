/**
 * Golden plans: test/fixtures/golden/<case>/{inventory,playbook}.yml compile to
 * expected-plan.json (saved form: secrets masked, contents left out). To accept an
 * intended change, review the diff and run with UPDATE_GOLDEN=1.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { planForSaving } from '../../../src/cli/run.js';
import { compileYaml } from './helpers.js';

const GOLDEN = fileURLToPath(new URL('../../fixtures/golden/', import.meta.url));

describe('golden plans', () => {
  it.each(readdirSync(GOLDEN))('%s', async (name) => {
    const dir = join(GOLDEN, name);
    const res = await compileYaml({
      inventory: readFileSync(join(dir, 'inventory.yml'), 'utf8'),
      playbook: readFileSync(join(dir, 'playbook.yml'), 'utf8'),
      extraVars: { token: 's3cret-token' },
    });
    expect(res.diagnostics).toEqual([]);
    const saved = planForSaving(res.plan!, res.masker);
    const text = `${JSON.stringify(saved, null, 1).replaceAll(res.dir, '<dir>')}\n`;
    expect(text).not.toContain('s3cret-token');
    const file = join(dir, 'expected-plan.json');
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
    // A new case without its expected file fails: the first output is reviewed, not taken on trust.
    expect(existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1, then review it`).toBe(true);
    expect(text).toBe(readFileSync(file, 'utf8'));
  });
});
