/**
 * Maps document paths (`nodes.shop.steps[2].put`) to file:line:column through the
 * parsed `yaml` Documents and their `LineCounter`s.
 *
 * Source: ajv's `instancePath` mapped to positions through the yaml document's node
 * ranges and LineCounter (the technique of terraform's hcl source ranges).
 */
import { Composer, LineCounter as YamlLineCounter, Parser, isAlias, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node as YamlNode, YAMLMap, YAMLSeq } from 'yaml';
import type { Diagnostic, DocPath, SourceIndex, SourcePos } from '../model/diagnostics.js';
import type { VaultSecret } from '../secrets/vault.js';

/**
 * How encrypted values are read while files load: inline `!vault` values, Ansible Vault
 * files (group_vars, host_vars, vars_files) and age files (vars_files).
 */
export interface SecretReading {
  /** Vault passwords, tried in order (src/secrets/vault.ts). */
  vault: VaultSecret[];
  /** Identity file for age files (`--age-identity`, `$ORCH_AGE_IDENTITY`, default path). */
  ageIdentity?: string;
  /**
   * `orch validate` without the keys: an encrypted value that cannot be decrypted reads
   * as {@link SECRET_PLACEHOLDER} instead of being an error.
   */
  placeholder?: boolean;
}

/**
 * The value a secret gets where it is not read (validate, hosts, exec, ssh): masked like
 * any secret where a Masker holds it.
 */
export const SECRET_PLACEHOLDER = 'ENCRYPTED-VALUE-NOT-READ';

/** Result of `loadYaml`. `value` is undefined when the file could not be read or parsed. */
export interface LoadedYaml {
  /** The name used in diagnostics and as the SourceIndex key (see `displayPath`). */
  file: string;
  /** Absolute path of the file. */
  absPath: string;
  value?: unknown;
  /** sha256 (hex) of the file's bytes, when it could be read. */
  sha256?: string;
  /** Set when the file could not be read at all (missing, a folder, too big): the reason. */
  readError?: string;
  diagnostics: Diagnostic[];
}

/** One registered file: its parsed document and the line counter filled while parsing it. */
interface IndexedFile {
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

/**
 * A `SourceIndex` over parsed YAML documents, keyed by the file name used in
 * diagnostics (see `displayPath`). Files are registered by `loadYaml`.
 *
 * `locate` never throws: an unknown file gives `file:1:1`, a missing path the position
 * of its nearest existing ancestor.
 */
export class SourceIndexImpl implements SourceIndex {
  private readonly files = new Map<string, IndexedFile>();
  /**
   * Files already loaded through this index (absolute path -> result), so one command
   * reads and parses each file once even when it is named twice (`orch validate
   * inv.yml pb.yml` where pb.yml's `inventory:` is inv.yml). Filled by `loadYaml`.
   */
  readonly loaded = new Map<string, Promise<LoadedYaml>>();

  /** How encrypted values are read (none: a `!vault` value is an error saying how to give a password). */
  secretReading?: SecretReading;
  /**
   * Every value decrypted while loading through this index (value -> where it came from,
   * for messages): the caller adds them to its Masker (src/config/secret-vars.ts `maskSecretValues`).
   */
  readonly secretValues = new Map<string, string>();

  /** Files parsed by the fast path: positions are computed on first need (see `registerLazy`). */
  private readonly lazy = new Map<string, { source: string; value: unknown }>();

  /** Registers (or replaces) the parsed document of `file`. */
  register(file: string, doc: Document.Parsed, lineCounter: LineCounter): void {
    this.lazy.delete(file);
    this.files.set(file, { doc, lineCounter });
  }

  /**
   * Registers `file` by its text and its data (already parsed and checked by the fast
   * path of `parseYamlText`). Its `yaml` document — the source ranges — is built only
   * when a position is first asked for, i.e. when there is something to report: a valid
   * 50,000-host inventory never pays for it. `keysAt` answers from `value` while no key
   * of the map looks like an array index (the only keys JS objects reorder).
   */
  registerLazy(file: string, source: string, value: unknown): void {
    this.files.delete(file);
    this.lazy.set(file, { source, value });
  }

  /** True when `file` has been registered. */
  has(file: string): boolean {
    return this.files.has(file) || this.lazy.has(file);
  }

  /** The parsed document of `file`, composing a lazily registered one now. */
  private entry(file: string): IndexedFile | undefined {
    const hit = this.files.get(file);
    if (hit) return hit;
    const lazy = this.lazy.get(file);
    if (!lazy) return undefined;
    const lineCounter = new YamlLineCounter();
    const composer = new Composer({ uniqueKeys: false, prettyErrors: false, strict: true, resolveKnownTags: false });
    let doc: Document.Parsed | undefined;
    for (const d of composer.compose(new Parser(lineCounter.addNewLine).parse(lazy.source), true, lazy.source.length)) {
      doc ??= d;
    }
    this.lazy.delete(file);
    if (!doc) return undefined;
    const entry = { doc, lineCounter };
    this.files.set(file, entry);
    return entry;
  }

  /**
   * Position (1-based line/col) of the YAML node at `path` in `file`:
   * - the key of the last segment when it is a map key (`put:` for `...steps[2].put`);
   * - the item itself for a list index;
   * - for a path that does not exist, the nearest existing ancestor (for a missing
   *   key, the key/position of the map lacking it).
   * Aliases are followed to their anchored node.
   */
  locate(file: string, path: DocPath): SourcePos {
    const entry = this.entry(file);
    if (!entry) return { file, line: 1, col: 1 };
    const { doc, lineCounter } = entry;
    const offset = locateOffset(doc, path);
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  }

  /**
   * Keys of the map at `path` in source order (JS objects put integer-like keys first,
   * so callers that must keep file order, like `nodes:` and `hosts:`, ask here).
   * Undefined when there is no map at `path`.
   */
  keysAt(file: string, path: DocPath): string[] | undefined {
    const lazy = this.lazy.get(file);
    if (lazy) {
      let v: unknown = lazy.value;
      for (const seg of path) v = v !== null && typeof v === 'object' && Object.hasOwn(v, seg) ? (v as Record<string, unknown>)[seg] : undefined;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
      const keys = Object.keys(v);
      if (!keys.some((k) => ARRAY_INDEX.test(k))) return keys;
    }
    const entry = this.entry(file);
    if (!entry) return undefined;
    const node = nodeAt(entry.doc, path);
    if (!isMap(node)) return undefined;
    const keys: string[] = [];
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      keys.push(String(k));
    }
    return keys;
  }

  /**
   * The document path of the deepest node whose source range contains `offset`
   * (used to give YAML syntax errors a path). `[]` when none does.
   */
  pathAtOffset(file: string, offset: number): (string | number)[] {
    const entry = this.entry(file);
    if (!entry) return [];
    const out: (string | number)[] = [];
    let node: unknown = entry.doc.contents;
    // Iterative descent: at each level pick the child whose range contains offset
    // (binary search over the children's ranges, so N errors in one map stay N log N).
    for (;;) {
      if (!isMap(node) && !isSeq(node)) return out;
      const spans = spansOf(node);
      let lo = 0;
      let hi = spans.length - 1;
      let hit = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (spans[mid]!.start <= offset) {
          hit = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      // Ranges may overlap in a broken document: take the first span containing the
      // offset (binary search on the prefix maximum of the ends, which is monotone).
      if (hit < 0 || spans[hit]!.maxEnd < offset) return out;
      lo = 0;
      hi = hit;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (spans[mid]!.maxEnd >= offset) hi = mid;
        else lo = mid + 1;
      }
      const span = spans[lo]!;
      // A key that is itself a collection or spans lines only exists in a broken
      // document: its JSON would make a meaningless path, so stop above it.
      if (span.bogus) return out;
      out.push(span.seg);
      node = span.next === undefined || offset >= span.nextStart ? span.next : undefined;
      if (node === undefined) return out;
    }
  }
}

/** Keys that JS objects enumerate first, whatever their place in the file. */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

/** A child's source span inside a map or sequence, in source order. */
interface Span {
  start: number;
  end: number;
  /** The largest `end` of this span and every span before it. */
  maxEnd: number;
  seg: string | number;
  /** The node to descend into (a pair's value, a list item). */
  next: unknown;
  /** Offset at which `next` starts (descend only when the offset is inside it). */
  nextStart: number;
  /** The key is not a one-line scalar (only in a broken document). */
  bogus?: boolean;
}

const spansByNode = new WeakMap<object, Span[]>();

/** The children of a map or sequence with their source ranges, sorted by start (cached). */
function spansOf(node: YAMLMap | YAMLSeq): Span[] {
  const cached = spansByNode.get(node);
  if (cached) return cached;
  const spans: Span[] = [];
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = pair.key as YamlNode | null;
      const v = pair.value as YamlNode | null;
      const start = k?.range?.[0] ?? v?.range?.[0];
      const end = v?.range?.[2] ?? k?.range?.[2];
      if (start === undefined || end === undefined) continue;
      const seg = String(isScalar(k) ? k.value : k);
      const bogus = (k !== null && !isScalar(k)) || seg.includes('\n');
      spans.push({ start, end, maxEnd: end, seg, next: v && v.range ? v : undefined, nextStart: v?.range?.[0] ?? Infinity, ...(bogus && { bogus }) });
    }
  } else {
    node.items.forEach((item, i) => {
      const r = (item as YamlNode | null)?.range;
      if (r) spans.push({ start: r[0], end: r[2], maxEnd: r[2], seg: i, next: item, nextStart: r[0] });
    });
  }
  spans.sort((x, y) => x.start - y.start);
  for (let i = 1; i < spans.length; i++) spans[i]!.maxEnd = Math.max(spans[i]!.end, spans[i - 1]!.maxEnd);
  spansByNode.set(node, spans);
  return spans;
}

/** The node at `path`, or undefined when the path leaves the document. */
function nodeAt(doc: Document.Parsed, path: DocPath): unknown {
  let node: unknown = doc.contents;
  for (const seg of path) {
    node = resolveAlias(doc, node);
    const child = childOf(node, seg);
    if (!child) return undefined;
    node = child.value;
  }
  return resolveAlias(doc, node);
}

/** Follows an alias to its anchored node (one hop per alias; cycles cannot occur in YAML). */
function resolveAlias(doc: Document.Parsed, node: unknown): unknown {
  let n = node;
  for (let i = 0; i < 100 && isAlias(n); i++) n = n.resolve(doc);
  return n;
}

/**
 * Key -> pair of each map, built on first lookup: a linear scan per lookup made
 * locating N diagnostics in one map quadratic (20,000 unknown keys: ~4 s). YAML maps
 * parsed by orch have unique keys (duplicates are errors), so the first pair wins.
 */
const pairsByKey = new WeakMap<object, Map<string, { value: unknown; at: number | undefined }>>();

function keyIndexOf(node: YAMLMap): Map<string, { value: unknown; at: number | undefined }> {
  let m = pairsByKey.get(node);
  if (m) return m;
  m = new Map();
  for (const pair of node.items) {
    if (!isPair(pair)) continue;
    const key = pair.key as YamlNode | null;
    const k = String(isScalar(key) ? key.value : key);
    if (m.has(k)) continue;
    const value = pair.value as YamlNode | null;
    m.set(k, { value, at: key?.range?.[0] ?? value?.range?.[0] });
  }
  pairsByKey.set(node, m);
  return m;
}

/** The child of a map (by key) or sequence (by index), with the position to report for it. */
function childOf(node: unknown, seg: string | number): { value: unknown; at: number | undefined } | undefined {
  if (isMap(node)) return keyIndexOf(node).get(String(seg));
  if (isSeq(node) && typeof seg === 'number') {
    const item = node.items[seg] as YamlNode | null | undefined;
    if (item === undefined) return undefined;
    return { value: item, at: item?.range?.[0] };
  }
  return undefined;
}

/** Offset of the node at `path` (key position for map keys), else of the nearest ancestor. */
function locateOffset(doc: Document.Parsed, path: DocPath): number {
  let node: unknown = doc.contents;
  let offset = (node as YamlNode | null)?.range?.[0] ?? 0;
  for (const seg of path) {
    node = resolveAlias(doc, node);
    const child = childOf(node, seg);
    if (!child) break;
    if (child.at !== undefined) offset = child.at;
    node = child.value;
  }
  return offset;
}
