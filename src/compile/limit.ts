/**
 * `--limit` patterns (SPEC section 5), pure.
 *
 * Source: Ansible's host patterns (`ansible/inventory/manager.py`: `split_host_pattern`,
 * `order_patterns`, `_match_one_pattern`, `_enumerate_matches`, `_match_list`), with
 * orch's roles matched like Ansible's groups. Not supported: Ansible's `@file` patterns
 * (compile reads no files) and `host[0:2]` subscripts (`[...]` is a glob class here).
 *
 * Every `~regex` and glob runs on V8's linear-time regex engine (the `l` flag, an
 * automaton like RE2's), so no pattern can backtrack catastrophically (ReDoS, e.g.
 * `~(a+)+$` or `*a*a*a*a*a*a*b` over long names); JavaScript regexes with
 * backreferences or lookaround, which need backtracking, are refused.
 */
import { setFlagsFromString } from 'node:v8';

// Enables the `l` (linear) RegExp flag; harmless for every other regex of the process.
setFlagsFromString('--enable-experimental-regexp-engine');

/** What a limit pattern is evaluated against. */
export interface LimitUniverse {
  /** Every host name, sorted. */
  hosts: string[];
  /** Role name -> host names. */
  roles: Map<string, string[]>;
  /** Group name -> its hosts (incl. children's). */
  groups: Map<string, { hosts: string[] }>;
}

/** Longest `~regex` term accepted (characters after the `~`), a guard against slow regexes. */
export const MAX_REGEX_LENGTH = 200;
/** Names listed per kind in the "matches no host" error before it says "and N more". */
const LIST_LIMIT = 10;

interface Term {
  op: 'union' | 'intersect' | 'exclude';
  text: string;
}

/**
 * Splits a pattern into terms. Terms are separated by `,` or `:`; whitespace around a
 * term is dropped and empty terms are ignored (Ansible does the same). A term whose body
 * starts with `~` (after an optional `!`/`&`) is a regex and runs to the next `,` only,
 * so it may contain `:` (`~web:\d`); a `:` inside `[...]` does not split either.
 */
function splitTerms(pattern: string): Term[] {
  const raw: string[] = [];
  let i = 0;
  while (i <= pattern.length) {
    let j = i;
    while (j < pattern.length && /[\s!&]/.test(pattern[j]!)) j++;
    const isRegex = pattern[j] === '~';
    let inBracket = false;
    let k = j;
    for (; k < pattern.length; k++) {
      const c = pattern[k];
      if (c === ',') break;
      if (isRegex) continue;
      if (c === '[') inBracket = true;
      else if (c === ']') inBracket = false;
      else if (c === ':' && !inBracket) break;
    }
    raw.push(pattern.slice(i, k));
    i = k + 1;
  }
  const terms: Term[] = [];
  for (const r of raw) {
    const t = r.trim();
    if (t === '') continue;
    if (t.startsWith('!')) terms.push({ op: 'exclude', text: t.slice(1).trim() });
    else if (t.startsWith('&')) terms.push({ op: 'intersect', text: t.slice(1).trim() });
    else terms.push({ op: 'union', text: t });
  }
  return terms;
}

/** fnmatch-style glob (`*`, `?`, `[abc]`, `[!abc]`, `[a-z]`) to an anchored RegExp. */
function globToRegExp(glob: string): RegExp {
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') src += '.*';
    else if (c === '?') src += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) {
        src += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      src += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else src += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^(?:${src})$`, 'sl');
}

function isGlob(text: string): boolean {
  return /[*?[]/.test(text);
}

/** Hosts one term names, or an error message. */
function matchTerm(term: Term, universe: LimitUniverse): Set<string> | string {
  const { text } = term;
  const prefix = term.op === 'exclude' ? '!' : term.op === 'intersect' ? '&' : '';
  if (text === '') return `--limit term "${prefix}" names nothing`;
  if (text === 'all' || text === '*') return new Set(universe.hosts);

  let test: (name: string) => boolean;
  if (text.startsWith('~')) {
    const source = text.slice(1);
    if (source.length > MAX_REGEX_LENGTH) {
      return `--limit regex "${prefix}${text.slice(0, 40)}..." is too long (${source.length} characters; at most ${MAX_REGEX_LENGTH})`;
    }
    let re: RegExp;
    try {
      new RegExp(source); // error messages without the sticky flag
    } catch (e) {
      return `--limit term "${prefix}${text}": ${(e as Error).message}`;
    }
    try {
      re = new RegExp(source, 'ly');
    } catch {
      return `--limit term "${prefix}${text}": backreferences and lookaround are not supported (patterns run in linear time)`;
    }
    // Ansible uses Python's re.match: the regex must match at the start of the name.
    test = (name) => {
      re.lastIndex = 0;
      return re.test(name);
    };
  } else if (isGlob(text)) {
    const re = globToRegExp(text);
    test = (name) => re.test(name);
  } else {
    test = (name) => name === text;
  }

  const out = new Set<string>();
  for (const h of universe.hosts) if (test(h)) out.add(h);
  for (const [role, hosts] of universe.roles) if (test(role)) for (const h of hosts) out.add(h);
  for (const [group, g] of universe.groups) if (test(group)) for (const h of g.hosts) out.add(h);
  return out;
}

function listNames(names: Iterable<string>): string {
  const all = [...names].sort();
  if (all.length === 0) return '(none)';
  const shown = all.slice(0, LIST_LIMIT).join(', ');
  return all.length > LIST_LIMIT ? `${shown} and ${all.length - LIST_LIMIT} more` : shown;
}

/**
 * Evaluates an Ansible-style limit pattern.
 *
 * - Terms are separated by `,` or `:` (a `~regex` term runs to the next `,` only).
 * - A term is `all` or `*` (every host); a host, role or group name (a name that is
 *   several of these selects the union); a glob (`web*`, `db?`, `web[12]`, `[!w]*`) or a
 *   `~regex` (JavaScript syntax without backreferences or lookaround — matched in linear
 *   time, see the module doc —, at most 200 characters, matched at the START of the
 *   name like Ansible's `re.match`; write `$` to anchor the end). Globs and regexes are
 *   matched against host, role and group names alike, as Ansible matches them against
 *   host and group names.
 * - Evaluation order is Ansible's, whatever the order written: the union of the plain
 *   terms, then each `&term` intersects, then each `!term` excludes. A pattern with
 *   only `&`/`!` terms starts from every host (`!db` = every host but db's).
 * - A term that matches nothing is not an error by itself.
 *
 * Returns the selected host names, sorted and unique (only names in `universe.hosts`),
 * or `{ error }` with one of: `empty --limit pattern`,
 * `--limit "PATTERN" matches no host (hosts: a, b; roles: r; groups: g)` (each list
 * cut after 10 names: `... and N more`), `--limit term "~(": Invalid regular expression: ...`,
 * `--limit regex "~..." is too long (N characters; at most 200)`,
 * `--limit term "!" names nothing`,
 * `--limit term "~(a)\\1": backreferences and lookaround are not supported (patterns run in linear time)`.
 */
export function selectHosts(pattern: string, universe: LimitUniverse): { hosts: string[] } | { error: string } {
  const terms = splitTerms(pattern);
  if (terms.length === 0) return { error: 'empty --limit pattern' };

  const known = new Set(universe.hosts);
  const sets: { op: Term['op']; hosts: Set<string> }[] = [];
  for (const term of terms) {
    const m = matchTerm(term, universe);
    if (typeof m === 'string') return { error: m };
    sets.push({ op: term.op, hosts: m });
  }

  let selected = new Set<string>();
  const unions = sets.filter((s) => s.op === 'union');
  if (unions.length === 0) selected = new Set(universe.hosts);
  for (const s of unions) for (const h of s.hosts) selected.add(h);
  for (const s of sets) if (s.op === 'intersect') selected = new Set([...selected].filter((h) => s.hosts.has(h)));
  for (const s of sets) if (s.op === 'exclude') for (const h of s.hosts) selected.delete(h);

  const hosts = [...selected].filter((h) => known.has(h)).sort();
  if (hosts.length === 0) {
    return {
      error:
        `--limit ${JSON.stringify(pattern)} matches no host ` +
        `(hosts: ${listNames(universe.hosts)}; roles: ${listNames(universe.roles.keys())}; groups: ${listNames(universe.groups.keys())})`,
    };
  }
  return { hosts };
}
