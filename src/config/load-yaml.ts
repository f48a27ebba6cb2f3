/**
 * Reads and parses one YAML file into plain data plus diagnostics, registering its
 * document in a `SourceIndexImpl` so later stages can report file:line:column.
 *
 * Hardening (the YAML "billion laughs" and deep-nesting attacks, cf. the `yaml`
 * library's `maxAliasCount` and libyaml's nesting limit): files over `MAX_YAML_BYTES`
 * are refused from `stat` alone (never read); nesting is measured on the CST with an
 * explicit stack before the recursive composer runs; alias expansion is capped.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { CORE_SCHEMA, load as loadFast } from 'js-yaml';
import { Composer, LineCounter, Parser, YAMLError, isScalar, visit } from 'yaml';
import type { CST, Document } from 'yaml';
import type { Diagnostic } from '../model/diagnostics.js';
import { formatPath } from '../model/diagnostics.js';
import { readVaultText } from './secret-values.js';
import type { LoadedYaml, SourceIndexImpl } from './source-index.js';

/** Largest YAML file orch reads, in bytes (10 MiB). */
export const MAX_YAML_BYTES = 10 * 1024 * 1024;
/** Deepest collection nesting accepted (maps/lists inside each other). */
export const MAX_YAML_DEPTH = 200;
/** Most alias expansions accepted when converting a document to data (`yaml`'s `maxAliasCount`). */
export const MAX_YAML_ALIASES = 100;

export type { LoadedYaml };

/**
 * The name a file is shown under in diagnostics: relative to `cwd` when inside it,
 * else absolute. E.g. `/w/playbooks/a.yml` with cwd `/w` -> `playbooks/a.yml`.
 */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const abs = resolve(cwd, file);
  const rel = relative(cwd, abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

/**
 * Expands a leading `~` or `~/` to `home` (`~user` forms are left alone).
 * E.g. `expandHome("~/.ssh/id", "/home/a")` -> `/home/a/.ssh/id`.
 */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return home.replace(/\/+$/, '') + path.slice(1);
  return path;
}

/**
 * Reads `file` (a path, relative to the cwd or absolute), parses it as one YAML 1.2
 * document and converts it to plain data.
 *
 * Diagnostics (never thrown): unreadable/too-big file, invalid UTF-8, YAML syntax
 * errors (with line:col), duplicate keys, several documents in one file, nesting deeper
 * than `MAX_YAML_DEPTH`, more than `MAX_YAML_ALIASES` alias expansions.
 * The document is registered in `index` under `displayPath(file)` whenever it parsed.
 * A file already loaded through `index` is not read again (the same result is returned).
 */
export function loadYaml(file: string, index: SourceIndexImpl): Promise<LoadedYaml> {
  const absPath = resolve(file);
  const hit = index.loaded.get(absPath);
  if (hit) return hit;
  const p = readAndParse(absPath, index);
  index.loaded.set(absPath, p);
  return p;
}

async function readAndParse(absPath: string, index: SourceIndexImpl): Promise<LoadedYaml> {
  const name = displayPath(absPath);
  const fail = (message: string, readError?: string): LoadedYaml => ({
    file: name,
    absPath,
    ...(readError !== undefined ? { readError } : {}),
    // path '' = about the file as a whole: printed `FILE: message` (see formatDiagnostic).
    diagnostics: [{ file: name, line: 1, col: 1, path: '', message }],
  });

  let bytes: Buffer;
  try {
    const st = await stat(absPath);
    if (!st.isFile()) return fail(st.isDirectory() ? 'is a folder, not a YAML file' : 'is not a regular file', st.isDirectory() ? 'a folder, not a YAML file' : 'not a regular file');
    if (st.size > MAX_YAML_BYTES) {
      const why = `file is too big (${st.size} bytes; the limit is ${MAX_YAML_BYTES} bytes, 10 MiB)`;
      return fail(why, why);
    }
    bytes = await readFile(absPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const close = await suggestCloseFile(absPath);
      const why = `no such file${close !== undefined ? ` (did you mean ${displayPath(close)}?)` : ''}`;
      return fail(why, why);
    }
    const why = (e as Error).message;
    return fail(`cannot read file: ${why}`, why);
  }
  // Re-check: the file may have grown between stat and read.
  if (bytes.length > MAX_YAML_BYTES) {
    const why = `file is too big (${bytes.length} bytes; the limit is ${MAX_YAML_BYTES} bytes, 10 MiB)`;
    return fail(why, why);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  let source: string;
  try {
    source = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const pos = utf8Position(bytes, at);
    const message = `file is not valid UTF-8 text: byte 0x${bytes[at]!.toString(16).padStart(2, '0')} at byte offset ${at} is not part of a valid UTF-8 sequence (save the file as UTF-8)`;
    return { file: name, absPath, sha256, diagnostics: [{ file: name, line: pos.line, col: pos.col, path: '(root)', message }] };
  }

  const parsed = parseYamlText(source, name, index);
  return { file: name, absPath, sha256, diagnostics: parsed.diagnostics, ...('value' in parsed ? { value: parsed.value } : {}) };
}

/**
 * Parses YAML `source` (already read) registered under `name`; the workhorse of
 * `loadYaml`, exposed for tests and for text that does not come from a file.
 */
export function parseYamlText(
  source: string,
  name: string,
  index: SourceIndexImpl,
): { value?: unknown; diagnostics: Diagnostic[] } {
  const fast = parseFast(source);
  if (fast) {
    index.registerLazy(name, source, fast.value);
    return { value: fast.value, diagnostics: [] };
  }
  const lineCounter = new LineCounter();
  const at = (offset: number) => lineCounter.linePos(offset);
  const tokens = [...new Parser(lineCounter.addNewLine).parse(source)];

  const deep = findTooDeep(tokens);
  if (deep !== undefined) {
    const { line, col } = at(deep);
    return {
      diagnostics: [
        { file: name, line, col, path: '(root)', message: `nesting is deeper than ${MAX_YAML_DEPTH} levels` },
      ],
    };
  }

  // yaml's own uniqueKeys check is quadratic in a map's size (10,000 hosts: ~0.6 s);
  // duplicates are found below in one pass instead.
  // resolveKnownTags: false — only the core schema's tags resolve (!!binary, !!timestamp,
  // !!set... become unresolved and are reported below with every other unknown tag).
  const composer = new Composer({ uniqueKeys: false, prettyErrors: false, strict: true, resolveKnownTags: false });
  let doc: Document.Parsed | undefined;
  const extraErrors: { offset: number; message: string }[] = [];
  for (const d of composer.compose(tokens, true, source.length)) {
    if (!doc) doc = d;
    else {
      extraErrors.push({ offset: d.range[0], message: 'a file holds one YAML document; found a second one' });
      break;
    }
  }
  if (!doc) return { diagnostics: [{ file: name, line: 1, col: 1, path: '(root)', message: 'empty YAML stream' }] };
  index.register(name, doc, lineCounter);

  const diagnostics: Diagnostic[] = [];
  // One syntax error per document: the rest are usually cascades of the first (an
  // over-indented key also breaks the key after it). A tab used as indentation is the
  // cause of whatever else broke, so it is preferred.
  const syntax = doc.errors.find((e) => e.code === 'TAB_AS_INDENT') ?? doc.errors.reduce<YAMLError | undefined>((a, e) => (!a || e.pos[0] < a.pos[0] ? e : a), undefined);
  if (syntax) {
    const over =
      syntax.code === 'BLOCK_AS_IMPLICIT_KEY' || syntax.code === 'MULTILINE_IMPLICIT_KEY' ? findOverIndentedKey(source, syntax.pos[0], false)
        : syntax.code === 'BAD_INDENT' ? findOverIndentedKey(source, syntax.pos[0], true)
          : undefined;
    if (over) {
      const { line, col } = at(over.offset);
      const parent = index.pathAtOffset(name, over.prevKeyOffset).slice(0, -1);
      diagnostics.push({
        file: name, line, col, path: formatPath([...parent, over.key]),
        message: `YAML syntax error: "${over.key}" is indented more than "${over.prevKey}" on line ${at(over.prevKeyOffset).line}, which already has a value; indent "${over.key}" like "${over.prevKey}" (keys of one map start at the same column)`,
      });
    } else {
      const offset = syntax.pos[0];
      const { line, col } = at(offset);
      const path = index.pathAtOffset(name, offset);
      diagnostics.push({ file: name, line, col, path: formatPath(path), message: describeYamlError(syntax, path) + quotedTemplateHint(source, offset) });
    }
  } else {
    for (const w of doc.warnings) {
      if (w.code !== 'TAG_RESOLVE_FAILED') continue;
      // Ansible Vault inline values are read below.
      if (/Unresolved tag: !vault\b/.test(w.message)) continue;
      const { line, col } = at(w.pos[0]);
      diagnostics.push({ file: name, line, col, path: formatPath(index.pathAtOffset(name, w.pos[0])), message: describeTagWarning(w) });
    }
  }
  for (const e of extraErrors) {
    const { line, col } = at(e.offset);
    diagnostics.push({ file: name, line, col, path: '(root)', message: e.message });
  }
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        if (!seen.has(k)) {
          seen.add(k);
          continue;
        }
        const offset = isScalar(pair.key) && pair.key.range ? pair.key.range[0] : (map.range?.[0] ?? 0);
        const { line, col } = at(offset);
        const path = index.pathAtOffset(name, offset);
        diagnostics.push({ file: name, line, col, path: formatPath(path), message: typeof k === 'string' ? `duplicate key ${JSON.stringify(k)}` : 'duplicate key' });
      }
    },
  });
  if (diagnostics.length > 0) return { diagnostics };
  // `!vault |` values (Ansible Vault, https://docs.ansible.com/ansible/latest/vault_guide/vault_encrypting_content.html):
  // decrypted in place; the plaintext is a secret of the run.
  if (source.includes('!vault')) visit(doc, {
    Scalar(_key, node) {
      if (node.tag !== '!vault') return;
      const offset = node.range?.[0] ?? 0;
      const r = typeof node.value === 'string' ? readVaultText(node.value, index) : { error: 'a !vault value must be the text ansible-vault encrypt_string prints' };
      if ('error' in r) {
        const { line, col } = at(offset);
        diagnostics.push({ file: name, line, col, path: formatPath(index.pathAtOffset(name, offset)), message: `cannot decrypt this !vault value: ${r.error}` });
        return;
      }
      node.value = r.text;
      node.tag = undefined;
      if (r.text !== '' && !index.secretValues.has(r.text)) index.secretValues.set(r.text, `a !vault value in ${name}`);
    },
  });
  if (diagnostics.length > 0) return { diagnostics };

  try {
    const value: unknown = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    return { value, diagnostics };
  } catch (e) {
    const message =
      e instanceof ReferenceError && /alias/i.test(e.message)
        ? `too many alias expansions (more than ${MAX_YAML_ALIASES}); refusing a possible "billion laughs" document`
        : `cannot convert YAML to data: ${(e as Error).message}`;
    return { diagnostics: [{ file: name, line: 1, col: 1, path: '(root)', message }] };
  }
}

/**
 * The existing path closest to `absPath`, for "did you mean" hints: in its folder, the
 * entry with the smallest edit distance to its name (at most 2, or a quarter of the
 * name's length), `.yml` and `.yaml` counting as the same; a missing folder is matched
 * the same way one level up (so `playbook/demo.yml` finds `playbooks/demo.yml`).
 * Undefined when nothing is close.
 */
export async function suggestCloseFile(absPath: string, depth = 0): Promise<string | undefined> {
  const dir = dirname(absPath);
  const name = basename(absPath);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    if (depth >= 2 || dir === dirname(dir)) return undefined;
    const closeDir = await suggestCloseFile(dir, depth + 1);
    return closeDir === undefined ? undefined : suggestCloseFile(join(closeDir, name), depth + 1);
  }
  if (entries.includes(name)) return absPath;
  const norm = (n: string): string => n.replace(/\.yaml$/, '.yml');
  const limit = Math.max(2, Math.floor(name.length / 4));
  let best: { entry: string; d: number } | undefined;
  for (const entry of entries.sort()) {
    const d = norm(entry) === norm(name) ? 0 : editDistance(entry, name, limit);
    if (d <= limit && (!best || d < best.d)) best = { entry, d };
  }
  return best && join(dir, best.entry);
}

/** Levenshtein distance of `a` and `b`, or `limit + 1` once it must exceed `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin > limit) return limit + 1;
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The fast path of `parseYamlText`: js-yaml (its YAML 1.2 core schema, whose scalars
 * resolve exactly as the `yaml` library's core schema does; about 6x faster than
 * composing a `yaml` Document, which was most of `validate`'s time for big inventories).
 * Taken only for a clean, ordinary document: no aliases (`maxAliases: 0`; the slow path
 * bounds alias expansion), nesting within js-yaml's `maxDepth` of 100 (below
 * `MAX_YAML_DEPTH`, so the depth rule cannot differ), and no error of any kind — js-yaml
 * refuses duplicate keys, unknown tags, complex keys and several documents, and then
 * the slow path parses again and reports the problem in orch's words with a position.
 * Undefined = take the slow path.
 */
function parseFast(source: string): { value: unknown } | undefined {
  let value: unknown;
  try {
    value = loadFast(source, { schema: CORE_SCHEMA, maxAliases: 0, maxDepth: FAST_PATH_MAX_DEPTH });
  } catch {
    return undefined;
  }
  if (value === undefined || value === null || typeof value !== 'object') return undefined;
  return { value };
}

/** js-yaml's nesting limit on the fast path; deeper documents take the slow path (which allows `MAX_YAML_DEPTH`). */
const FAST_PATH_MAX_DEPTH = 100;

/** The tags of the YAML 1.2 core schema, the only ones orch accepts. */
export const CORE_TAGS = ['!!map', '!!seq', '!!str', '!!null', '!!bool', '!!int', '!!float'] as const;

/**
 * Message for an unresolved tag: `unknown YAML tag "!!python/object:os.system" (only the
 * YAML 1.2 core schema's tags are allowed: !!map, ...)`, or for a core tag whose value
 * does not fit it (`!!int abc`): `"abc" is not a valid !!int`.
 */
function describeTagWarning(w: YAMLError): string {
  const first = w.message.split('\n')[0] ?? w.message;
  const full = (/Unresolved tag: (.*?)(?: at line \d+, column \d+:?)?$/.exec(first)?.[1] ?? first).trim();
  const tag = full.replace(/^tag:yaml\.org,2002:/, '!!');
  if ((CORE_TAGS as readonly string[]).includes(tag)) return `the value does not match its tag ${tag}`;
  return `unknown YAML tag ${JSON.stringify(tag)} (only the YAML 1.2 core schema's tags are allowed: ${CORE_TAGS.join(', ')})`;
}

/**
 * Recognises the commonest YAML mistake behind "Nested mappings are not allowed in
 * compact mappings" (the error is on the `prev: value` line) and "All mapping items must
 * start at the same column" (on the line after it): a key on the line after
 * `prev: value`, indented deeper than `prev` (yaml reads `value\n  key` as one
 * multi-line key, or cannot place it). Returns the offending key and where it starts,
 * or undefined when the text does not look like that.
 */
function findOverIndentedKey(source: string, offset: number, errorOnKeyLine: boolean): { key: string; offset: number; prevKey: string; prevKeyOffset: number } | undefined {
  const lineAt = (o: number): { start: number; end: number; text: string } => {
    const start = source.lastIndexOf('\n', o - 1) + 1;
    const e = source.indexOf('\n', start);
    const end = e < 0 ? source.length : e;
    return { start, end, text: source.slice(start, end) };
  };
  const isContent = (t: string): boolean => t.trim() !== '' && !t.trim().startsWith('#');
  let prev: { start: number; end: number; text: string };
  let next: { start: number; end: number; text: string } | undefined;
  if (errorOnKeyLine) {
    next = lineAt(offset);
    let o = next.start - 1;
    do {
      if (o < 0) return undefined;
      prev = lineAt(o);
      o = prev.start - 1;
    } while (!isContent(prev.text));
  } else {
    prev = lineAt(offset);
    for (let o = prev.end + 1; o < source.length; ) {
      const l = lineAt(o);
      if (isContent(l.text)) {
        next = l;
        break;
      }
      o = l.end + 1;
    }
    if (!next) return undefined;
  }
  const m = /^(\s*(?:-\s+)?)([^\s#:'"{[][^:#]*?):[ \t]+[^\s#]/.exec(prev.text);
  if (!m) return undefined;
  const keyCol = m[1]!.length;
  const k = /^( *)([^\s#:'"{[-][^:#]*?):(?:\s|$)/.exec(next.text);
  if (!k || k[1]!.length <= keyCol) return undefined;
  return { key: k[2]!.trim(), offset: next.start + k[1]!.length, prevKey: m[2]!.trim(), prevKeyOffset: prev.start + keyCol };
}

/**
 * `; the "..." inside {{env "X"}} ends the double-quoted YAML string: ...` when the line of
 * a syntax error holds a double-quoted value with a Handlebars expression that itself
 * uses double quotes (`cmd: "run {{env "TOKEN"}}"`); else ''.
 */
export function quotedTemplateHint(source: string, offset: number): string {
  const start = source.lastIndexOf('\n', Math.max(0, offset - 1)) + 1;
  const end = source.indexOf('\n', offset);
  const line = source.slice(start, end < 0 ? source.length : end);
  const m = /:\s*"[^"]*(\{\{[^}]*"[^"}]*"[^}]*\}\})/.exec(line);
  if (!m) return '';
  const expr = m[1]!;
  return `; the quotes in ${expr} end the double-quoted YAML string: write ${expr.replace(/"([^"]*)"/g, "'$1'")} inside it, or quote the whole value with single quotes`;
}

/** Human text for a `yaml` parse error: its message without the source excerpt. */
function describeYamlError(err: YAMLError, path: (string | number)[]): string {
  if (err.code === 'DUPLICATE_KEY') {
    const key = path[path.length - 1];
    return typeof key === 'string' ? `duplicate key ${JSON.stringify(key)}` : 'duplicate key';
  }
  if (err.code === 'TAB_AS_INDENT') return 'YAML syntax error: a tab character indents this line; YAML indents with spaces only (replace the tab with spaces)';
  const first = err.message.split('\n')[0] ?? err.message;
  return `YAML syntax error: ${first.replace(/ at line \d+, column \d+:?$/, '')}`;
}

/**
 * Walks the CST with an explicit stack (no recursion, so 100,000 levels cannot
 * overflow) and returns the offset of the first collection nested deeper than
 * `MAX_YAML_DEPTH`, or undefined.
 */
function findTooDeep(tokens: CST.Token[]): number | undefined {
  const stack: [CST.Token, number][] = [];
  for (const t of tokens) if (t.type === 'document' && t.value) stack.push([t.value, 0]);
  while (stack.length > 0) {
    const [tok, depth] = stack.pop()!;
    if (tok.type !== 'block-map' && tok.type !== 'block-seq' && tok.type !== 'flow-collection') continue;
    const d = depth + 1;
    if (d > MAX_YAML_DEPTH) return tok.offset;
    for (const item of tok.items) {
      if (item.key) stack.push([item.key, d]);
      if (item.value) stack.push([item.value, d]);
    }
  }
  return undefined;
}

/**
 * Offset of the first byte that does not start or continue a well-formed UTF-8
 * sequence (the Unicode Standard, table 3-7 "Well-Formed UTF-8 Byte Sequences":
 * no overlong forms, no surrogates, nothing above U+10FFFF); `bytes.length` when all
 * are valid. For a truncated or broken sequence, the offset of its lead byte.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) { i++; continue; }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) { n = 2; if (b === 0xe0) lo = 0xa0; else if (b === 0xed) hi = 0x9f; }
    else if (b >= 0xf0 && b <= 0xf4) { n = 3; if (b === 0xf0) lo = 0x90; else if (b === 0xf4) hi = 0x8f; }
    else return i;
    if (i + n >= bytes.length) return i;
    const c1 = bytes[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= n; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += n + 1;
  }
  return i;
}

/** 1-based line and column (in UTF-16 code units of the valid text before it) of byte `offset`. */
function utf8Position(bytes: Uint8Array, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) { line++; lineStart = i + 1; }
  }
  const col = new TextDecoder('utf-8').decode(bytes.subarray(lineStart, offset)).length + 1;
  return { line, col };
}
