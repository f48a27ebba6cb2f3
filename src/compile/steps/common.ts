/**
 * What every step builder gets and shares: the context type, the script prelude and
 * path quoting. Builders are pure: resolved data in, a `Task` out (kamal's
 * `lib/kamal/commands/*` builders: tested by their exact script text).
 */
import type { Host } from '../../model/inventory.js';
import type { PlanBundle } from '../../model/plan.js';
import type { StepSpec } from '../../model/playbook.js';
import { PRELUDE_SH } from '../../host/embedded.generated.js';
import { joinPath, qpath, RESTART_PENDING } from '../../host/layout.js';

export { joinPath, qpath, RESTART_PENDING };

/** Data a step builder works from. Errors go through `fail` (collected as diagnostics). */
export interface StepContext {
  host: Host;
  /** Dotted node path (`` = root). */
  nodePath: string;
  step: StepSpec;
  /** Renders a string arg of the step: `shell` quotes every `{{x}}`; undefined on error (already reported). */
  render(field: string, mode: 'shell' | 'text'): string | undefined;
  /** Renders a template text (file templates) in text mode; undefined on error. */
  renderText(text: string, field: string): string | undefined;
  /** A var of the effective scope (rendered); undefined when unset. */
  getVar(name: string): unknown;
  /** The bundle the node's install step names, or the playbook's only bundle. */
  bundle?: PlanBundle;
  /** Bundles by name. */
  bundles: Record<string, PlanBundle>;
  /** Reads a local file relative to the playbook's folder; undefined on error (reported). */
  readLocalFile(path: string, field: string): { bytes: Buffer; absPath: string } | undefined;
  /** Reports a problem at the step (or at one of its fields). */
  fail(field: string | undefined, message: string): void;
  /**
   * Per-compile memo of built scripts by their inputs: hosts whose step has the same
   * inputs share one script string (10,000 hosts x a 6 KiB install script would
   * otherwise be 60 MB of copies).
   */
  memo: Map<string, string>;
  /** True when a `service` step follows this step in the node (restart-pending bookkeeping). */
  restartFollows: boolean;
  /** sha256 hex of bytes (injected: compile has no crypto of its own state). */
  sha256(bytes: Buffer): string;
}

/** Script prelude of every task: src/host/prelude.sh (strict mode, orch_status, orch_fail, orch_write, b64). */
export const PRELUDE = PRELUDE_SH.trimEnd();

/** Joins prelude and body lines into a task script. */
export function script(...lines: (string | false | undefined)[]): string {
  return [PRELUDE, ...lines.filter((l): l is string => typeof l === 'string')].join('\n') + '\n';
}

/** Host paths must be absolute or start with `~/`; returns an error message or undefined. */
export function checkHostPath(path: string, what: string): string | undefined {
  if (path.includes('\0')) return `${what} contains a NUL byte`;
  if (path.startsWith('/') || path === '~' || path.startsWith('~/')) return undefined;
  return `${what} must be an absolute path or start with ~/ (got ${JSON.stringify(path)})`;
}

/** Resolves `root` (required for install/symlink/prune): reports and returns undefined when unset or invalid. */
export function requireRoot(ctx: StepContext): string | undefined {
  const root = ctx.getVar('root');
  if (root === undefined || root === '') {
    ctx.fail(undefined, `${ctx.step.kind} needs var "root" (the app's folder on the host), e.g. vars: { root: /srv/app }`);
    return undefined;
  }
  if (typeof root !== 'string') {
    ctx.fail(undefined, `var "root" must be a string (got ${typeof root})`);
    return undefined;
  }
  const bad = checkHostPath(root, 'var "root"');
  if (bad) {
    ctx.fail(undefined, bad);
    return undefined;
  }
  return root.replace(/\/+$/, '') || '/';
}

/** The app name: var `app`, else the bundle's package name. */
export function appName(ctx: StepContext, bundle?: { package: string }): string | undefined {
  const app = ctx.getVar('app');
  if (typeof app === 'string' && app) return app;
  return bundle?.package;
}

/** Versions become folder names: same rule as the bundle layer. */
export const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** Returns the memoised script for `key`, building it once. */
export function memoScript(ctx: StepContext, key: string, build: () => string): string {
  const hit = ctx.memo.get(key);
  if (hit !== undefined) return hit;
  const made = build();
  ctx.memo.set(key, made);
  return made;
}
