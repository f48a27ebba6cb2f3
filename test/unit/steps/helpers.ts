/**
 * Builds one step of one kind for one host, straight through its definition (a pure
 * builder: args and vars in, task out), and assembles expected script texts.
 */
import { createHash } from 'node:crypto';
import { PRELUDE_SH, PROTOCOL_SH } from '../../../src/host/embedded.generated.js';
import type { Host } from '../../../src/model/inventory.js';
import type { Facts, PlanBundle, Task } from '../../../src/steps/plan.js';
import { Masker } from '../../../src/shell/mask.js';
import { renderTemplate } from '../../../src/shell/render.js';
import type { DescribeContext, StepContext, StepKind } from '../../../src/steps/kind.js';

export const BUNDLE: PlanBundle = {
  name: 'shop', package: 'shop', version: '1.2.0', platform: 'any',
  sha256: 'a'.repeat(64), size: 100, path: '/dev/null', dir: 'shop-1.2.0-any',
};

export const HOST: Host = {
  name: 'web1', address: '10.0.0.5', addressExplicit: true, transport: 'ssh', hostKeyPolicy: 'strict',
  groups: [], roles: ['web'], vars: {},
} as Host;

export interface BuildOptions {
  vars?: Record<string, unknown>;
  bundle?: PlanBundle | null;
  restartFollows?: boolean;
  /** The node's `rollback` key (default true). */
  nodeRollback?: boolean;
  /** The node's `shared` paths (default none). */
  nodeShared?: string[];
  files?: Record<string, string>;
}

/** The task (or undefined), the problems reported (`field: message`) and the label. */
export function buildStep<A>(kind: StepKind<A, { kind: string }>, args: A, o: BuildOptions = {}): { task?: Task; problems: string[]; label: string } {
  const problems: string[] = [];
  const bundle = o.bundle === null ? undefined : (o.bundle ?? BUNDLE);
  const scope = { app: 'shop', root: '/srv/shop', ...o.vars, host: { name: HOST.name, address: HOST.address } };
  const masker = new Masker();
  const argOf = (field: string): unknown => (args as Record<string, unknown> | null)?.[field];
  const ctx: StepContext<A> = {
    host: HOST, nodePath: 'app', args,
    render(field, mode) {
      const v = argOf(field);
      if (v === undefined) return undefined;
      try {
        return typeof v === 'string' ? renderTemplate(v, scope, { mode, env: {}, masker }) : String(v);
      } catch (e) {
        problems.push(`${field}: ${(e as Error).message}`);
        return undefined;
      }
    },
    renderText: (text) => renderTemplate(text, scope, { mode: 'text', env: {}, masker }),
    getVar: (name) => (scope as Record<string, unknown>)[name],
    ...(bundle && { bundle }),
    bundles: bundle ? { [bundle.name]: bundle } : {},
    readLocalFile(p, field) {
      const text = o.files?.[p];
      if (text === undefined) {
        problems.push(`${field}: cannot read ${p}`);
        return undefined;
      }
      return { bytes: Buffer.from(text), absPath: `/play/${p}` };
    },
    fail: (field, message) => void problems.push(`${field ?? '(step)'}: ${message}`),
    memo: new Map(),
    restartFollows: o.restartFollows ?? false,
    nodeRollback: o.nodeRollback ?? true,
    nodeShared: o.nodeShared ?? [],
    sha256: (b) => createHash('sha256').update(b).digest('hex'),
  };
  const dctx: DescribeContext<A> = {
    args, host: HOST, bundles: ctx.bundles, ...(bundle && { bundle }),
    label: (field) => {
      const v = argOf(field);
      return v === undefined ? undefined : typeof v === 'string' ? renderTemplate(v, scope, { mode: 'text', env: {}, masker }) : String(v);
    },
  };
  const task = kind.build(ctx) as Task | undefined;
  return { ...(task && { task }), problems, label: kind.describe(dctx) };
}

/** The script a task must be: the prelude, these host libraries, then these lines. */
export function scriptOf(libs: string[], ...lines: string[]): string {
  return [PROTOCOL_SH + PRELUDE_SH.trimEnd(), ...libs.map((l) => l.trimEnd()), ...lines].join('\n') + '\n';
}

/** Facts from a plain object (`{ 'sha256:/x': 'abc', 'stat:/x': null }`). */
export const facts = (o: Record<string, string | null>): Facts => new Map(Object.entries(o));
