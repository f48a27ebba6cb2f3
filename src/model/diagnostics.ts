/**
 * Source positions and diagnostics for user input.
 *
 * Source: terraform `tfdiags` / changesets `ParseResult`: user-input problems are
 * collected as data (never thrown one by one), each with file:line:column and a dotted
 * path, printed all at once, then the CLI exits 1.
 */

/** A position in a source file. `line` and `col` are 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

/**
 * One problem in user input. `path` is dotted, e.g. `nodes.shop.steps[2].put`; `''` when
 * the problem is the file as a whole (then `line`/`col` are 1).
 */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

/** A path into a YAML/JSON document: keys and array indexes. */
export type DocPath = readonly (string | number)[];

/**
 * Formats a document path the way error messages show it: `nodes.shop.steps[2].put`.
 * Keys that are not plain identifiers are JSON-quoted: `vars["a b"]`.
 */
export function formatPath(path: DocPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(seg) && !seg.includes('.')) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out || '(root)';
}

/**
 * `file:line:col: path: message` — the one format every user-input error is printed in.
 * A diagnostic about a file as a whole (it is missing, a folder...) has the path `''`
 * and prints as `file: message`, like `cat: FILE: No such file or directory`.
 */
export function formatDiagnostic(d: Diagnostic): string {
  if (d.path === '') return `${d.file}: ${d.message}`;
  return `${d.file}:${d.line}:${d.col}: ${d.path}: ${d.message}`;
}

/**
 * Maps a document path to the position of the YAML node at (or nearest above) it.
 * Built by the config loader from the `yaml` document; pure once built.
 */
export interface SourceIndex {
  locate(file: string, path: DocPath): SourcePos;
}

/** Builds a diagnostic at `path` of `file`, located through `index`. */
export function diagAt(index: SourceIndex, file: string, path: DocPath, message: string): Diagnostic {
  const pos = index.locate(file, path);
  return { file: pos.file, line: pos.line, col: pos.col, path: formatPath(path), message };
}

/** Sorts diagnostics by file, line, column (stable), for deterministic output. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
}

/**
 * Drops repeated diagnostics (same file, position, path and message), keeping the first
 * of each; linear (one Set). Used where one file is checked through several routes, e.g.
 * `orch validate inv.yml pb.yml` when pb.yml's inventory is inv.yml.
 */
export function dedupeDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const key = `${d.file}\0${d.line}\0${d.col}\0${d.path}\0${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A problem with a command-line flag or argument: printed `<command line>:1:1: PATH: MESSAGE`. */
export function cmdlineDiagnostic(path: string, message: string): Diagnostic {
  return { file: '<command line>', line: 1, col: 1, path, message };
}
