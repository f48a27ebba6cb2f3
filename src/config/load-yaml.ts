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
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';
import { Composer, LineCounter, Parser, YAMLError, isScalar, visit } from 'yaml';
import type { CST, Document } from 'yaml';
import type { Diagnostic } from '../model/diagnostics.js';
import { formatPath } from '../model/diagnostics.js';
import type { SourceIndexImpl } from './source-index.js';

/** Largest YAML file orch reads, in bytes (10 MiB). */
export const MAX_YAML_BYTES = 10 * 1024 * 1024;
/** Deepest collection nesting accepted (maps/lists inside each other). */
export const MAX_YAML_DEPTH = 200;
/** Most alias expansions accepted when converting a document to data (`yaml`'s `maxAliasCount`). */
export const MAX_YAML_ALIASES = 100;

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
    diagnostics: [{ file: name, line: 1, col: 1, path: '(root)', message }],
  });

  let bytes: Buffer;
  try {
    const st = await stat(absPath);
    if (!st.isFile()) return fail(`cannot read file: not a regular file`, 'not a regular file');
    if (st.size > MAX_YAML_BYTES) {
      const why = `file is too big (${st.size} bytes; the limit is ${MAX_YAML_BYTES} bytes, 10 MiB)`;
      return fail(why, why);
    }
    bytes = await readFile(absPath);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
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
    return { ...fail('file is not valid UTF-8 text'), sha256 };
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
  const composer = new Composer({ uniqueKeys: false, prettyErrors: false, strict: true });
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
  for (const err of doc.errors) {
    const offset = err.pos[0];
    const { line, col } = at(offset);
    const path = index.pathAtOffset(name, offset);
    diagnostics.push({ file: name, line, col, path: formatPath(path), message: describeYamlError(err, path) });
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

/** Human text for a `yaml` parse error: its message without the source excerpt. */
function describeYamlError(err: YAMLError, path: (string | number)[]): string {
  if (err.code === 'DUPLICATE_KEY') {
    const key = path[path.length - 1];
    return typeof key === 'string' ? `duplicate key ${JSON.stringify(key)}` : 'duplicate key';
  }
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
