/**
 * Shell-style globs over names (host, role, group): `*` any run of characters, `?` one
 * character, `[abc]` / `[a-z]` / `[!a-z]` (or `[^a-z]`) one character of a class;
 * anything else matches itself. Used by inventory role/group members (docs/reference/inventory.md).
 *
 * Matching does not use regular expressions: the classic two-pointer wildcard
 * algorithm (backtrack to the last `*` only) is O(name x glob) in the worst case, so a
 * hostile pattern like `*a*a*a*a*b` cannot cause catastrophic backtracking.
 */

type GlobToken = { kind: 'star' } | { kind: 'one'; test: (c: string) => boolean };

/** True when `s` contains glob syntax (`*`, `?` or `[`). */
export function isGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** Parses a `[...]` class starting at `glob[start] === '['`; undefined when unclosed. */
function parseClass(glob: string, start: number): { test: (c: string) => boolean; end: number } | undefined {
  let i = start + 1;
  const negate = glob[i] === '!' || glob[i] === '^';
  if (negate) i++;
  const ranges: [string, string][] = [];
  let first = true;
  while (i < glob.length && (glob[i] !== ']' || first)) {
    const lo = glob[i] as string;
    if (glob[i + 1] === '-' && i + 2 < glob.length && glob[i + 2] !== ']') {
      ranges.push([lo, glob[i + 2] as string]);
      i += 3;
    } else {
      ranges.push([lo, lo]);
      i += 1;
    }
    first = false;
  }
  if (i >= glob.length) return undefined;
  const test = (c: string) => ranges.some(([a, b]) => c >= a && c <= b) !== negate;
  return { test, end: i };
}

/** Tokenises a glob. */
function parseGlob(glob: string): GlobToken[] {
  const out: GlobToken[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (out[out.length - 1]?.kind !== 'star') out.push({ kind: 'star' });
    } else if (c === '?') {
      out.push({ kind: 'one', test: () => true });
    } else if (c === '[') {
      const cls = parseClass(glob, i);
      if (cls) {
        out.push({ kind: 'one', test: cls.test });
        i = cls.end;
      } else {
        out.push({ kind: 'one', test: (x) => x === '[' });
      }
    } else {
      out.push({ kind: 'one', test: (x) => x === c });
    }
  }
  return out;
}

/**
 * Compiles `glob` into a predicate matching whole names (anchored at both ends).
 * E.g. `compileGlob("web*")("web1") === true`, `compileGlob("db[12]")("db3") === false`.
 */
export function compileGlob(glob: string): (name: string) => boolean {
  const tokens = parseGlob(glob);
  return (name: string) => {
    const chars = [...name];
    let t = 0;
    let n = 0;
    let starT = -1;
    let starN = 0;
    while (n < chars.length) {
      const tok = tokens[t];
      if (tok?.kind === 'one' && tok.test(chars[n] as string)) {
        t++;
        n++;
      } else if (tok?.kind === 'star') {
        starT = t++;
        starN = n;
      } else if (starT >= 0) {
        t = starT + 1;
        n = ++starN;
      } else {
        return false;
      }
    }
    while (tokens[t]?.kind === 'star') t++;
    return t === tokens.length;
  };
}
