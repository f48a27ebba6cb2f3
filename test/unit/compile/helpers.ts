/** Compiles a playbook + inventory given as YAML text, with real loaders, in a temp dir. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { candidateTargets, compilePlan, type CompileResult } from '../../../src/compile/compile-plan.js';
import { loadInventory } from '../../../src/config/inventory.js';
import { loadPlaybook } from '../../../src/config/playbook.js';
import { SourceIndexImpl } from '../../../src/config/source-index.js';
import type { PlanBundle } from '../../../src/model/plan.js';
import { Masker } from '../../../src/shell/mask.js';

export const BUNDLE: PlanBundle = {
  name: 'shop', package: 'shop', version: '1.2.0', platform: 'any',
  sha256: 'a'.repeat(64), size: 100, path: '/dev/null', dir: 'shop-1.2.0-any',
};

export interface CompileFixture {
  inventory: string;
  playbook: string;
  files?: Record<string, string>;
  limit?: string;
  node?: string;
  extraVars?: Record<string, string>;
  env?: Record<string, string>;
  bundles?: Record<string, PlanBundle>;
}

/** Compiles the fixture; `candidates` is what candidateTargets says of it before compiling (the hosts the CLI connects to early). */
export async function compileYaml(f: CompileFixture): Promise<CompileResult & { dir: string; masker: Masker; candidates?: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'orch-compile-'));
  writeFileSync(join(dir, 'inventory.yml'), f.inventory);
  writeFileSync(join(dir, 'playbook.yml'), f.playbook);
  for (const [name, text] of Object.entries(f.files ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const index = new SourceIndexImpl();
  const pb = await loadPlaybook(join(dir, 'playbook.yml'), index);
  const inv = await loadInventory([join(dir, 'inventory.yml')], index);
  const masker = new Masker();
  if (!pb.playbook || !inv.inventory) return { diagnostics: [...pb.diagnostics, ...inv.diagnostics], dir, masker };
  const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  const res = compilePlan({
    playbook: pb.playbook, inventory: inv.inventory, index,
    bundles: f.bundles ?? { shop: BUNDLE },
    ...(f.limit !== undefined && { limit: f.limit }),
    ...(f.node !== undefined && { node: f.node }),
    extraVars: f.extraVars ?? {}, env: f.env ?? {}, masker,
    readFile: (p) => readFileSync(p), sha256, resolvePath: (b, p) => resolve(b, p),
    inputs: { files: {}, bundles: {}, playbook: 'playbook.yml', inventories: [], extraVars: {} },
  });
  const candidates = candidateTargets(pb.playbook, inv.inventory, index, f.limit, f.node);
  return { ...res, dir, masker, ...(candidates && { candidates }) };
}

/** Host names that have a task in the step at `phaseNode`/`stepIndex`. */
export function hostsOf(res: CompileResult, phaseNode: string, stepIndex: number): string[] {
  const phase = res.plan!.phases.find((p) => p.node === phaseNode);
  if (!phase) throw new Error(`no phase ${phaseNode}; phases: ${res.plan!.phases.map((p) => p.node).join(', ')}`);
  const step = phase.steps.find((s) => s.index === stepIndex)!;
  return Object.keys(step.tasks).sort();
}
