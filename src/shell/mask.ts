/**
 * Secret masking for everything orch prints or saves (plans, logs, JSON events).
 *
 * Source: pyinfra's `MaskString` (a value that prints as `***`) and Ansible's `no_log`.
 * orch keeps the secrets in one {@link Masker} per run, passed explicitly (no global
 * registry), and every printer runs its text through it.
 */
import { quote } from './quote.js';

/** What a masked secret is replaced with. */
export const MASK = '***';

/**
 * Collects secret values and replaces them with `***` in text and data.
 *
 * Each secret is masked in three forms: as it is, as {@link quote} writes it into
 * scripts, and JSON-escaped (as it appears inside a JSON string of a saved plan or an
 * event line). Longer forms win over shorter ones at the same position, so a secret that
 * contains another secret is masked whole.
 *
 * Every non-empty secret is masked, even a one-character one: a short secret will also
 * mask unrelated text that happens to contain it. That trade-off is deliberate —
 * leaking a secret is worse than an over-masked log line. The empty string is ignored.
 */
export class Masker {
  readonly #secrets = new Set<string>();
  #pattern: RegExp | null = null;

  /** Number of distinct secrets added (empty strings are not counted). */
  get size(): number {
    return this.#secrets.size;
  }

  /** Adds a secret value. Ignores the empty string and values already added. */
  add(secret: string): void {
    if (secret === '' || this.#secrets.has(secret)) return;
    this.#secrets.add(secret);
    this.#pattern = null;
  }

  /** Returns `text` with every occurrence of every secret (any of its forms) replaced by `***`. */
  mask(text: string): string {
    if (this.#secrets.size === 0 || text === '') return text;
    const pattern = this.#compile();
    pattern.lastIndex = 0;
    return text.replace(pattern, MASK);
  }

  /**
   * Returns a copy of `value` in which every string inside plain objects and arrays is
   * masked (for saving plans and printing JSON events). Object keys are kept as they
   * are; values that are neither strings, arrays nor plain objects (numbers, Dates,
   * Buffers, Maps...) are returned unchanged, not copied. Shared sub-objects are copied
   * once and cycles are preserved. With no secret added, `value` itself is returned.
   */
  maskDeep<T>(value: T): T {
    if (this.#secrets.size === 0) return value;
    return this.#walk(value, new Map()) as T;
  }

  #walk(value: unknown, seen: Map<object, unknown>): unknown {
    if (typeof value === 'string') return this.mask(value);
    if (value === null || typeof value !== 'object') return value;
    const done = seen.get(value);
    if (done !== undefined) return done;
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      seen.set(value, out);
      for (const item of value) out.push(this.#walk(item, seen));
      return out;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
    seen.set(value, out);
    for (const [k, v] of Object.entries(value)) out[k] = this.#walk(v, seen);
    return out;
  }

  #compile(): RegExp {
    if (this.#pattern) return this.#pattern;
    const forms = new Set<string>();
    for (const secret of this.#secrets) {
      forms.add(secret);
      forms.add(JSON.stringify(secret).slice(1, -1));
      if (!secret.includes('\0')) forms.add(quote(secret));
    }
    const alternatives = [...forms]
      .sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
      .map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.#pattern = new RegExp(alternatives.join('|'), 'g');
    return this.#pattern;
  }
}
