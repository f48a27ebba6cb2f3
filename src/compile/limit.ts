/**
 * `--limit` patterns (docs/reference/cli.md), pure: Ansible's host patterns, exactly.
 *
 * Source: ansible-core 2.14 `ansible/inventory/manager.py` (`split_host_pattern`,
 * `order_patterns`, `_evaluate_patterns`, `_match_one_pattern`, `_split_subscript`,
 * `_apply_subscript`, `_enumerate_matches`, `_match_list`), `ansible/parsing/utils/addresses.py`
 * (`parse_address`, which decides whether a pattern without commas is one term) and
 * Python's `fnmatch.translate` (globs). orch's roles are matched like Ansible's groups.
 * `test/unit/limit/ansible-diff.test.ts` compares this module with ansible-core itself
 * over a seeded random corpus.
 *
 * Deliberate differences (docs/reference/cli.md, `--limit`): an empty pattern, and a pattern that
 * selects no host, are errors (Ansible runs nothing and exits 0 for `ansible`, errors for
 * `--limit`); `@file` patterns are not read (compile reads no files); there is no implicit
 * `localhost`.
 *
 * Every `~regex` and glob runs on V8's linear-time regex engine (the `l` flag, an
 * automaton like RE2's), so no pattern can backtrack catastrophically (ReDoS). A `~regex`
 * is Python `re` syntax (Ansible compiles it with `re.compile`), translated to JavaScript
 * by `translatePythonRegex`; what needs backtracking (backreferences, lookaround, atomic
 * groups, possessive quantifiers, conditionals) or has no JavaScript equivalent is refused
 * with a message naming the construct.
 */
import { setFlagsFromString } from 'node:v8';
import type { Inventory } from '../model/inventory.js';

// Enables the `l` (linear) RegExp flag; harmless for every other regex of the process.
setFlagsFromString('--enable-experimental-regexp-engine');

/** What a limit pattern is evaluated against. */
export interface LimitUniverse {
  /** Every host name, in inventory order (Ansible's order of `inventory.hosts`). */
  hosts: string[];
  /** Role name -> host names. */
  roles: Map<string, string[]>;
  /** Group name -> its hosts (incl. children's). */
  groups: Map<string, { hosts: string[] }>;
  /**
   * Ansible's groups in Ansible's order (`all` and `ungrouped` first), each with its hosts
   * in `Group.get_hosts()` order — what subscripts (`web[0]`) index. Given for inventories
   * read from Ansible files; without it orch's order is used: `all` = hosts in inventory
   * order, `ungrouped` = hosts in no role and no group, then roles and groups in the
   * order of `roles`/`groups`, each with its hosts as listed there.
   */
  order?: Map<string, string[]>;
}

/** The universe of an inventory: hosts in inventory order, its roles and groups, Ansible's order when it has one. */
export function limitUniverse(inventory: Inventory): LimitUniverse {
  return {
    hosts: [...inventory.hosts.keys()],
    roles: inventory.roles,
    groups: inventory.groups,
    ...(inventory.patternOrder && { order: inventory.patternOrder }),
  };
}

/** Longest `~regex` term accepted (characters after the `~`), a guard against slow regexes. */
export const MAX_REGEX_LENGTH = 200;
/** Names listed per kind in the "matches no host" error before it says "and N more". */
const LIST_LIMIT = 10;

/** What `selectHosts` returns for a pattern that selects at least one host. */
export interface Selection {
  /** Selected host names, sorted, unique. */
  hosts: string[];
  /**
   * One line per term that matched nothing, in Ansible's words
   * (`Could not match supplied host pattern, ignoring: hh2`), and per `[x-y]` subscript.
   */
  warnings: string[];
}

// ---------------------------------------------------------------------------------------
// Splitting (split_host_pattern + parse_address)

const NUMERIC_RANGE = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const HEX_RANGE = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const ALNUM_RANGE = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const IPV6_C = `(?:[0-9a-f]{1,4}|${HEX_RANGE})`;
const IPV4_C = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${NUMERIC_RANGE})`;
const WORD = String.raw`[\p{L}\p{N}\p{Mn}\p{Pc}]`; // Python's Unicode \w
const LABEL = `(?:${WORD}|${ALNUM_RANGE})(?:${WORD}|[_-]|${ALNUM_RANGE})*(?<![_-])`;
const ADDRESS = {
  bracketedHostport: /^\[(.+)\]:([0-9]+)$/,
  hostport: /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/,
  ipv4: new RegExp(`^(?:${IPV4_C}\\.){3}${IPV4_C}$`, 'i'),
  ipv6: new RegExp(
    '^(?:' +
      [
        `(?:${IPV6_C}:){7}${IPV6_C}`,
        `(?:${IPV6_C}:){1,6}:`,
        `(?:${IPV6_C}:)(?::${IPV6_C}){1,6}`,
        `(?:${IPV6_C}:){2}(?::${IPV6_C}){1,5}`,
        `(?:${IPV6_C}:){3}(?::${IPV6_C}){1,4}`,
        `(?:${IPV6_C}:){4}(?::${IPV6_C}){1,3}`,
        `(?:${IPV6_C}:){5}(?::${IPV6_C}){1,2}`,
        `(?:${IPV6_C}:){6}(?::${IPV6_C})`,
        `:(?::${IPV6_C}){1,6}`,
        `${IPV6_C}?::`,
        `(?:0:){6}(?:${IPV6_C}\\.){3}${IPV6_C}`,
        `::(?:ffff:)?(?:${IPV6_C}\\.){3}${IPV6_C}`,
        `(?:0:){5}ffff:(?:${IPV6_C}\\.){3}${IPV6_C}`,
      ].join('|') +
      ')',
    'i',
  ),
  hostname: new RegExp(`^${LABEL}(?:\\.${LABEL})*$`, 'iu'),
};

/**
 * Ansible's `parse_address(s, allow_ranges=True)` succeeds: `s` is a host name, IPv4 or
 * IPv6 address (ranges allowed) with an optional `:port`. Note Python's `re.match(...$)`
 * also matches before a final newline; patterns here never contain one after trimming.
 */
export function isAnsibleAddress(s: string): boolean {
  let address = s;
  // Ansible's loop `continue`s: hostport is tried on what bracketed_hostport left.
  for (const re of [ADDRESS.bracketedHostport, ADDRESS.hostport]) {
    const m = re.exec(address);
    if (m) address = m[1]!;
  }
  return [ADDRESS.ipv4, ADDRESS.ipv6, ADDRESS.hostname].some((re) => re.test(address));
}

/**
 * Ansible's `split_host_pattern`: with a comma, the terms are the comma-separated parts;
 * without one, the whole pattern is one term when it parses as an address (`web:22`,
 * `web[1:3]`, an IPv6 address), else the terms are the runs of characters other than
 * whitespace, `:`, `[`, `]`, where a bracketed `[...]` is kept whole. Terms are trimmed;
 * empty ones dropped.
 */
export function splitPattern(pattern: string): string[] {
  let parts: string[];
  if (pattern.includes(',')) parts = pattern.split(',');
  else if (isAnsibleAddress(pattern)) parts = [pattern];
  else parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  // Python's str.strip() strips Unicode whitespace, as JS trim() does.
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

// ---------------------------------------------------------------------------------------
// Globs (fnmatch.translate)

function escapeClassChar(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}

/**
 * Python 3.11's `fnmatch.translate` as an anchored JavaScript RegExp (`*`, `?`, `[abc]`,
 * `[!abc]`, `[a-z]`, an unclosed `[` is literal, empty ranges such as `[z-a]` dropped,
 * `[]` never matching). The atomic groups Python uses for `*x*` are not needed for a
 * full match: taking each fixed piece at its first occurrence is what a glob does.
 */
export function globToRegExp(pat: string): RegExp {
  let src = '';
  let i = 0;
  const n = pat.length;
  while (i < n) {
    const c = pat[i]!;
    i++;
    if (c === '*') {
      if (!src.endsWith('.*')) src += '.*';
    } else if (c === '?') src += '.';
    else if (c === '[') {
      let j = i;
      if (j < n && pat[j] === '!') j++;
      if (j < n && pat[j] === ']') j++;
      while (j < n && pat[j] !== ']') j++;
      if (j >= n) {
        src += '\\[';
        continue;
      }
      const negate = pat[i] === '!';
      const start = negate ? i + 1 : i;
      // Chunks between range hyphens (Python's algorithm, including its k+3 step).
      const body = pat.slice(start, j);
      let chunks: string[];
      if (!body.includes('-')) chunks = [body];
      else {
        chunks = [];
        let from = start;
        let k = start + 1;
        for (;;) {
          k = pat.indexOf('-', k);
          if (k < 0 || k >= j) break;
          chunks.push(pat.slice(from, k));
          from = k + 1;
          k = k + 3;
        }
        const last = pat.slice(from, j);
        if (last) chunks.push(last);
        else chunks[chunks.length - 1] += '-';
        for (let m = chunks.length - 1; m > 0; m--) {
          const prev = chunks[m - 1]!;
          const cur = chunks[m]!;
          if (prev[prev.length - 1]! > cur[0]!) {
            chunks[m - 1] = prev.slice(0, -1) + cur.slice(1);
            chunks.splice(m, 1);
          }
        }
      }
      i = j + 1;
      const cls = chunks.map((ch) => [...ch].map(escapeClassChar).join('')).join('-');
      if (cls === '') src += negate ? '.' : '(?!)';
      else src += `[${negate ? '^' : ''}${cls}]`;
    } else src += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  if (src.includes('(?!)')) return /(?!)/; // an empty class never matches (and `l` refuses lookahead)
  return new RegExp(`^(?:${src})$`, 'sl');
}

// ---------------------------------------------------------------------------------------
// Python regex -> JavaScript

/**
 * Translates a Python `re` pattern (as Ansible's `~regex` is compiled) into a JavaScript
 * RegExp with the same `re.match` results over host and group names, run on the
 * linear-time engine (sticky, so it matches at the start like `re.match`).
 *
 * Translated: global flags `(?i)`, `(?s)`, `(?m)`, `(?a)`, `(?u)` at the start; `\A` -> `^`,
 * `\Z` -> `$` (names hold no newline, so Python's `$` and `\Z` agree); `(?P<n>...)` ->
 * `(?<n>...)`; `(?#...)` dropped; a `]` first in a class made literal; `{` that is not a
 * quantifier made literal. Refused, naming the construct: backreferences (`\1`,
 * `(?P=n)`), lookahead/lookbehind, atomic groups `(?>...)`, possessive quantifiers,
 * conditionals `(?(1)...)`, scoped flags `(?i:...)`, verbose `(?x)`, locale `(?L)`.
 *
 * @returns the RegExp, or an error message (`Invalid regular expression ...` for a
 *   pattern neither engine accepts).
 */
export function translatePythonRegex(source: string): RegExp | string {
  let i = 0;
  let flags = '';
  // Leading global flags, possibly several groups: (?i)(?s)...
  for (;;) {
    const m = /^\(\?([aiLmsux]+)\)/.exec(source.slice(i));
    if (!m) break;
    for (const f of m[1]!) {
      if (f === 'x') return 'verbose mode (?x) is not supported';
      if (f === 'L') return 'locale flag (?L) is not supported';
      if (f === 'i' || f === 's' || f === 'm') {
        if (!flags.includes(f)) flags += f;
      }
    }
    i += m[0].length;
  }
  let out = '';
  let inClass = false;
  let classBody = 0;
  // The linear engine has no `i` flag: (?i) is spelled out as [xX] and extra class ranges.
  const fold = flags.includes('i');
  flags = flags.replace('i', '');
  while (i < source.length) {
    const c = source[i]!;
    if (inClass) {
      if (c === '\\') {
        const e = source[i + 1];
        if (e === undefined) return 'bad escape (end of pattern)';
        out += translateEscape(e, true) ?? `\\${e}`;
        i += 2;
        continue;
      }
      if (c === ']') {
        inClass = false;
        if (fold) out += foldClassExtra(out.slice(classBody));
        out += ']';
        i++;
        continue;
      }
      if (c === ']' || c === '[') {
        out += `\\${c}`;
        i++;
        continue;
      }
      out += c;
      i++;
      continue;
    }
    if (c === '\\') {
      const e = source[i + 1];
      if (e === undefined) return 'bad escape (end of pattern)';
      if (/[1-9]/.test(e)) return 'backreferences and lookaround are not supported (patterns run in linear time)';
      const hex = /^(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})/.exec(source.slice(i + 1));
      if (hex) {
        out += `\\${hex[0]}`;
        i += 1 + hex[0].length;
        continue;
      }
      if (e === 'A') out += '^';
      else if (e === 'Z') out += '$';
      else {
        const t = translateEscape(e, false);
        if (t === undefined) return `bad escape \\${e}`;
        out += t;
      }
      i += 2;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += '[';
      i++;
      if (source[i] === '^') {
        out += '^';
        i++;
      }
      classBody = out.length;
      if (source[i] === ']') { // a `]` first in a class is literal in Python
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2);
      if (rest.startsWith(':')) {
        out += '(?:';
        i += 3;
      } else if (rest.startsWith('P<')) {
        out += '(?<';
        i += 4;
      } else if (rest.startsWith('P=')) return 'backreferences and lookaround are not supported (patterns run in linear time)';
      else if (rest.startsWith('#')) {
        const close = source.indexOf(')', i);
        if (close < 0) return 'missing ), unterminated comment';
        i = close + 1;
      } else if (/^(?:=|!|<=|<!)/.test(rest)) return 'backreferences and lookaround are not supported (patterns run in linear time)';
      else if (rest.startsWith('>')) return 'atomic groups (?>...) are not supported';
      else if (rest.startsWith('(')) return 'conditional groups (?(...)...) are not supported';
      else if (/^[aiLmsux-]+:/.test(rest)) return 'scoped flags (?flags:...) are not supported; put global flags such as (?i) at the start';
      else if (/^[aiLmsux]+\)/.test(rest)) return 'global flags such as (?i) must be at the start of the pattern';
      else return `unknown extension (?${rest.slice(0, 1)}`;
      continue;
    }
    if ((c === '*' || c === '+' || c === '?' || c === '}') && source[i + 1] === '+') {
      return 'possessive quantifiers (*+, ++, ?+, {m,n}+) are not supported';
    }
    if (c === '{') {
      const m = /^\{(\d*)(,(\d*))?\}/.exec(source.slice(i));
      // Python: `{` is a quantifier only as {m}, {m,}, {,n}, {m,n}; else literal.
      if (m && (m[1] !== '' || m[2] !== undefined)) {
        if (source[i + m[0].length] === '+') return 'possessive quantifiers (*+, ++, ?+, {m,n}+) are not supported';
        out += m[1] === '' ? `{0${m[2]}}` : m[0];
        i += m[0].length;
        continue;
      }
      out += '\\{';
      i++;
      continue;
    }
    if (c === '}') {
      out += '\\}';
      i++;
      continue;
    }
    if (c === '/') {
      out += '\\/';
      i++;
      continue;
    }
    out += fold && /[A-Za-z]/.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c;
    i++;
  }
  if (inClass) return 'unterminated character set';
  try {
    new RegExp(out, flags);
  } catch (e) {
    return (e as Error).message;
  }
  try {
    return new RegExp(out, `${flags}ly`);
  } catch (e) {
    return `not supported in linear time: ${(e as Error).message}`;
  }
}

/**
 * The other-case counterparts of the letters and letter ranges of a JavaScript class body
 * (`a-c` -> `A-C`, `x` -> `X`), for case-insensitive matching without the `i` flag.
 */
function foldClassExtra(body: string): string {
  const tokens: string[] = [];
  for (let i = 0; i < body.length; ) {
    if (body[i] === '\\') {
      const m = /^\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/s.exec(body.slice(i))!;
      tokens.push(m[0]);
      i += m[0].length;
    } else tokens.push(body[i++]!);
  }
  const lit = (t: string): number | undefined => {
    if (t.length === 1) return t.charCodeAt(0);
    if (/^\\[xu]/.test(t)) return parseInt(t.slice(2), 16);
    if (/^\\[^a-zA-Z0-9]$/.test(t)) return t.charCodeAt(1);
    return undefined;
  };
  const ranges: [number, number][] = [];
  for (let k = 0; k < tokens.length; k++) {
    const a = lit(tokens[k]!);
    if (a !== undefined && tokens[k + 1] === '-' && k + 2 < tokens.length && lit(tokens[k + 2]!) !== undefined) {
      ranges.push([a, lit(tokens[k + 2]!)!]);
      k += 2;
    } else if (a !== undefined) ranges.push([a, a]);
  }
  let extra = '';
  const hex = (n: number): string => `\\x${n.toString(16).padStart(2, '0')}`;
  for (const [lo, hi] of ranges) {
    for (const [from, to, shift] of [[97, 122, -32], [65, 90, 32]] as const) {
      const a = Math.max(lo, from);
      const b = Math.min(hi, to);
      if (a <= b) extra += `${hex(a + shift)}-${hex(b + shift)}`;
    }
  }
  return extra;
}

/** Python escape `\e` as JavaScript source; undefined = Python rejects it. */
function translateEscape(e: string, inClass: boolean): string | undefined {
  if (/[dDwWsS]/.test(e)) return `\\${e}`;
  if (!inClass && /[bB]/.test(e)) return `\\${e}`;
  if (inClass && e === 'b') return '\\x08';
  if (/[nrtfv]/.test(e)) return `\\${e}`;
  if (e === 'a') return '\\x07';
  if (e === '0') return '\\x00';
  if (/[xuUN]/.test(e)) return undefined; // \x, \u, \N: handled by the caller
  if (/[A-Za-z0-9]/.test(e)) return undefined;
  return `\\${e}`;
}

// ---------------------------------------------------------------------------------------
// Evaluation

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/s;

/** Ansible's groups in order with hosts in order (see `LimitUniverse.order`). */
export function orderedGroups(u: LimitUniverse): Map<string, string[]> {
  if (u.order) return u.order;
  const out = new Map<string, string[]>();
  const inSome = new Set<string>();
  for (const hs of u.roles.values()) for (const h of hs) inSome.add(h);
  for (const g of u.groups.values()) for (const h of g.hosts) inSome.add(h);
  out.set('all', [...u.hosts]);
  out.set('ungrouped', u.hosts.filter((h) => !inSome.has(h)));
  const seen = new Map<string, Set<string>>();
  const add = (name: string, hosts: string[]): void => {
    const cur = out.get(name);
    if (!cur) out.set(name, [...hosts]);
    else {
      let s = seen.get(name);
      if (!s) seen.set(name, (s = new Set(cur)));
      for (const h of hosts) if (!s.has(h)) (s.add(h), cur.push(h));
    }
  };
  for (const [r, hs] of u.roles) add(r, hs);
  for (const [g, spec] of u.groups) add(g, spec.hosts);
  return out;
}

interface Matcher {
  test(name: string): boolean;
}

function compileTerm(expr: string, prefix: string): Matcher | string {
  if (expr.startsWith('~')) {
    const source = expr.slice(1);
    if (source.length > MAX_REGEX_LENGTH) {
      return `--limit regex "${prefix}${expr.slice(0, 40)}..." is too long (${source.length} characters; at most ${MAX_REGEX_LENGTH})`;
    }
    const re = translatePythonRegex(source);
    if (typeof re === 'string') return `--limit term "${prefix}${expr}": ${re}`;
    return {
      test: (name) => {
        re.lastIndex = 0;
        return re.test(name);
      },
    };
  }
  const re = globToRegExp(expr);
  return { test: (name) => re.test(name) };
}

function listNames(names: Iterable<string>): string {
  const all = [...names].sort();
  if (all.length === 0) return '(none)';
  const shown = all.slice(0, LIST_LIMIT).join(', ');
  return all.length > LIST_LIMIT ? `${shown} and ${all.length - LIST_LIMIT} more` : shown;
}

/**
 * Evaluates an Ansible host pattern, as `ansible-playbook --limit` does.
 *
 * - Terms: see `splitPattern` (`,` separates; `:` and whitespace too when there is no
 *   comma and the pattern is not an address such as `web:22`).
 * - Order: the plain terms (union, in order), then every `&term` (intersection), then
 *   every `!term` (exclusion), whatever the order written; only `&`/`!` terms start
 *   from `all`.
 * - A term that is exactly a host name selects that host only, even when a group or role
 *   has the same name (Ansible's host-vs-group rule). Otherwise the term (minus an
 *   optional subscript) is matched against group and role names — a glob, or with `~` a
 *   Python regex matched at the start (`re.match`) — giving every host of each matching
 *   group in order (`all` and `ungrouped` are groups too); host names are also matched
 *   when no group matched or when the term has `~`, `.`, `?`, `*` or `[` in it.
 * - Subscripts pick from that ordered list: `web[0]`, `web[-1]`, `web[1:3]` (inclusive),
 *   `web[2:]`; `[x-y]` works with a warning, as in Ansible. `~regex[0]` is no subscript.
 *
 * @returns `{ hosts, warnings }` (hosts sorted, unique, only from `universe.hosts`), or
 *   `{ error }`: `empty --limit pattern`; `--limit "P" matches no host (hosts: ...;
 *   roles: ...; groups: ...)` (each list cut after 10 names); `--limit term "~(": ...`
 *   (a regex Python or orch cannot use); `--limit regex "~..." is too long (N characters;
 *   at most 200)`.
 */
export function selectHosts(pattern: string, universe: LimitUniverse): Selection | { error: string } {
  const terms = splitPattern(pattern);
  if (terms.length === 0) return { error: 'empty --limit pattern' };

  const regular = terms.filter((t) => t[0] !== '!' && t[0] !== '&');
  const ordered = [...(regular.length ? regular : ['all']), ...terms.filter((t) => t[0] === '&'), ...terms.filter((t) => t[0] === '!')];
  const hostSet = new Set(universe.hosts);
  const groups = orderedGroups(universe);
  const warnings: string[] = [];
  const memo = new Map<string, string[]>();

  const matchOne = (term: string): string[] | string => {
    const p = term[0] === '&' || term[0] === '!' ? term.slice(1) : term;
    const prefix = term.slice(0, term.length - p.length);
    const cached = memo.get(p);
    if (cached) return cached;
    if (p === '') return `--limit term "${prefix}" names nothing`;
    let expr = p;
    let sub: [number, number | undefined] | undefined;
    if (p[0] !== '~') {
      const m = SUBSCRIPT.exec(p);
      if (m) {
        expr = m[1]!;
        if (m[2] !== undefined) sub = [Number(m[2]), undefined];
        else {
          sub = [Number(m[3]), m[5] ? Number(m[5]) : -1];
          if (m[4] === '-') warnings.push('Use [x:y] inclusive subscripts instead of [x-y] which has been removed');
        }
      }
    }
    const matcher = compileTerm(expr, prefix);
    if (typeof matcher === 'string') return matcher;
    let results: string[] = [];
    let groupMatched = false;
    for (const [g, hs] of groups) {
      if (!matcher.test(g)) continue;
      groupMatched = true;
      results.push(...hs);
    }
    if (!groupMatched || expr[0] === '~' || /[.?*[]/.test(expr)) {
      for (const h of universe.hosts) if (matcher.test(h)) results.push(h);
    }
    if (results.length === 0 && !groupMatched && expr !== 'all') warnings.push(`Could not match supplied host pattern, ignoring: ${expr}`);
    if (sub && results.length) {
      const [start, end] = sub;
      if (end) {
        const e = end === -1 ? results.length - 1 : end;
        results = pySlice(results, start, e + 1);
      } else {
        const idx = start < 0 ? results.length + start : start;
        // Ansible raises here (IndexError -> AnsibleError) and --limit stops.
        if (idx < 0 || idx >= results.length) return `--limit: No hosts matched the subscripted pattern '${p}'`;
        results = [results[idx]!];
      }
    }
    memo.set(p, results);
    return results;
  };

  let selected: string[] = [];
  for (const t of ordered) {
    if (hostSet.has(t)) {
      selected.push(t);
      continue;
    }
    const that = matchOne(t);
    if (typeof that === 'string') return { error: that };
    if (t[0] === '!') {
      const s = new Set(that);
      selected = selected.filter((h) => !s.has(h));
    } else if (t[0] === '&') {
      const s = new Set(that);
      selected = selected.filter((h) => s.has(h));
    } else {
      const have = new Set(selected);
      for (const h of that) if (!have.has(h)) selected.push(h);
    }
  }

  const hosts = [...new Set(selected)].filter((h) => hostSet.has(h)).sort();
  if (hosts.length === 0) {
    return {
      error:
        `--limit ${JSON.stringify(pattern)} matches no host ` +
        `(hosts: ${listNames(universe.hosts)}; roles: ${listNames(universe.roles.keys())}; groups: ${listNames(universe.groups.keys())})`,
    };
  }
  return { hosts, warnings };
}

/** Python's `list[start:end]` for non-negative `end` and any `start`. */
function pySlice<T>(a: T[], start: number, end: number): T[] {
  const s = start < 0 ? Math.max(0, a.length + start) : start;
  return a.slice(s, end);
}
