/**
 * Variable scopes for rendering. Pure.
 *
 * Precedence, lowest first (docs/reference/playbook.md "Variables"): inventory defaults.vars <
 * group vars < host vars (already merged in `Host.vars`) < playbook `vars` < node
 * `vars` from root to leaf (each node inheriting its parent's) < overrides (outermost
 * wins) < `-e key=value`.
 *
 * String values are Handlebars templates themselves, rendered lazily in text mode
 * against the same scope (so `root: /srv/{{app}}` works); a reference cycle is an error.
 */
import type { Vars } from '../model/inventory.js';
import { renderTemplate, RenderError } from '../shell/render.js';
import type { Masker } from '../shell/mask.js';

/** Extra, non-var names in a scope (`host`, `node`, `parent`, `bundle`, `release`). */
export type ScopeExtras = Record<string, unknown>;

/** Options of scope building. */
export interface ScopeOptions {
  env: Record<string, string | undefined>;
  masker: Masker;
}

/**
 * Builds a render scope: every var as a lazily rendered own property, plus `extras`
 * (which win over vars of the same name). Accessing a var whose template fails throws
 * RenderError naming the var.
 */
export function buildScope(raw: Vars, extras: ScopeExtras, opts: ScopeOptions): Record<string, unknown> {
  const scope: Record<string, unknown> = Object.create(null);
  const cache = new Map<string, unknown>();
  const resolving = new Set<string>();
  const renderDeep = (value: unknown, name: string): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('{{')) return value;
      return renderTemplate(value, scope, { mode: 'text', env: opts.env, masker: opts.masker });
    }
    if (Array.isArray(value)) return value.map((v) => renderDeep(v, name));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = renderDeep(v, name);
      return out;
    }
    return value;
  };
  for (const name in raw) {
    if (!Object.hasOwn(raw, name) || Object.hasOwn(extras, name)) continue;
    const value = raw[name];
    // A plain value needs no getter (the scope is per node and host, so thousands of
    // them: a getter with its closure per var was most of compile's time at scale).
    if (value === null || typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && !value.includes('{{'))) {
      Object.defineProperty(scope, name, { enumerable: true, configurable: false, writable: false, value });
      continue;
    }
    Object.defineProperty(scope, name, {
      enumerable: true,
      configurable: false,
      get() {
        if (cache.has(name)) return cache.get(name);
        if (resolving.has(name)) throw new RenderError(`variable "${name}" refers to itself (through ${[...resolving].join(' -> ')} -> ${name})`, name);
        resolving.add(name);
        try {
          const v = renderDeep(value, name);
          cache.set(name, v);
          return v;
        } catch (err) {
          if (err instanceof RenderError && !err.message.startsWith(`in var "`)) {
            throw new RenderError(`in var "${name}": ${err.message}`, err.variable);
          }
          throw err;
        } finally {
          resolving.delete(name);
        }
      },
    });
  }
  for (const [name, value] of Object.entries(extras)) {
    Object.defineProperty(scope, name, { enumerable: true, value });
  }
  return scope;
}

/** Reads a var from a scope; undefined when absent or null. Throws RenderError if its template fails. */
export function getVar(scope: Record<string, unknown>, name: string): unknown {
  if (!Object.prototype.hasOwnProperty.call(scope, name)) return undefined;
  const v = scope[name];
  return v === null ? undefined : v;
}
