/**
 * Secret masking for everything orch prints or saves (plans, logs, JSON events).
 *
 * Source: pyinfra's `MaskString` (a value that prints as `***`) and Ansible's `no_log`.
 * orch keeps the secrets in one {@link Masker} per run, passed explicitly (no global
 * registry), and every printer runs its text through it.
 */
import { OrchError } from '../model/errors.js';
import { quote } from './quote.js';

/** What a masked secret is replaced with. */
export const MASK = '***';

/**
 * Shortest secret value accepted, in characters (UTF-16 code units). A shorter value
 * cannot be masked without garbling every message (`-e db_password=x` turned `exactly`
 * into `e***actly`) and would be guessable from what the mask leaves around it.
 */
export const MIN_SECRET_LENGTH = 4;

/**
 * A secret value shorter than {@link MIN_SECRET_LENGTH}. Loaders check first and report
 * a diagnostic naming the variable; `Masker.add` throws this as the last line of defence.
 */
export class SecretTooShortError extends OrchError {
  override name = 'SecretTooShortError';
  constructor(readonly length: number, what = 'a secret value') {
    super(shortSecretMessage(what, length));
  }
}

/**
 * The one message for a too-short secret, e.g.
 * `secret var "db_password" is 1 character long; a secret needs at least 4 characters (a shorter value cannot be masked without garbling every message)`.
 * `what` names the secret: `secret var "db_password"`, `environment variable "TOKEN"`.
 */
export function shortSecretMessage(what: string, length: number): string {
  return `${what} is ${length} character${length === 1 ? '' : 's'} long; a secret needs at least ${MIN_SECRET_LENGTH} characters (a shorter value cannot be masked without garbling every message)`;
}

/** True for a value that `Masker.add` refuses: not empty and shorter than {@link MIN_SECRET_LENGTH}. */
export function isTooShortSecret(value: string): boolean {
  return value.length > 0 && value.length < MIN_SECRET_LENGTH;
}

/**
 * Collects secret values and replaces them with `***` in text and data.
 *
 * Each secret is masked in three forms: as it is, as {@link quote} writes it into
 * scripts, and JSON-escaped (as it appears inside a JSON string of a saved plan or an
 * event line).
 *
 * "Whole occurrences": every place where a secret's complete text appears is replaced,
 * wherever it is — also inside a longer word (`passwords` shows `password`, so it becomes
 * `***s`), since a word boundary rule would print a secret glued to other text. A part of
 * a secret is never masked on its own. Occurrences that overlap or touch (`aaaaa` for the
 * secret `aaaa`, two secrets sharing characters) become one `***`, so no character of a
 * secret is left beside a mask. Secrets are at least {@link MIN_SECRET_LENGTH} characters
 * long (shorter ones are refused), so ordinary words are not garbled. The empty string is
 * ignored.
 */
export class Masker {
  readonly #secrets = new Set<string>();
  #pattern: RegExp | null = null;

  /** Number of distinct secrets added (empty strings are not counted). */
  get size(): number {
    return this.#secrets.size;
  }

  /**
   * Adds a secret value. Ignores the empty string and values already added.
   * @throws SecretTooShortError for 1 to 3 characters (loaders report those first, by name).
   */
  add(secret: string): void {
    if (secret === '' || this.#secrets.has(secret)) return;
    if (isTooShortSecret(secret)) throw new SecretTooShortError(secret.length);
    this.#secrets.add(secret);
    this.#pattern = null;
  }

  /** Returns `text` with every occurrence of every secret (any of its forms) replaced by `***`. */
  mask(text: string): string {
    if (this.#secrets.size === 0 || text === '') return text;
    const pattern = this.#compile();
    // Every occurrence, overlapping ones too (the search restarts one character after
    // each match start), merged into ranges; each range becomes one mask.
    let out = '';
    let copied = 0;
    let start = -1;
    let end = -1;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      const s = m.index;
      const e = s + m[0].length;
      if (start >= 0 && s <= end) end = Math.max(end, e);
      else {
        if (start >= 0) {
          out += text.slice(copied, start) + MASK;
          copied = end;
        }
        start = s;
        end = e;
      }
      pattern.lastIndex = s + 1;
    }
    if (start < 0) return text;
    return out + text.slice(copied, start) + MASK + text.slice(end);
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
