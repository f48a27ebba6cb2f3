/**
 * ssh_config as OpenSSH's `ssh` reads it (OpenSSH 9.2 `readconf.c` and `ssh.c`), for the
 * keywords orch honours: HostName, User, Port, IdentityFile, ProxyJump, CanonicalizeHostname,
 * CanonicalDomains, CanonicalizeMaxDots, CanonicalizeFallbackLocal, plus Host, Match and
 * Include. The inventory's own values win, as `ssh`'s command-line options beat ssh_config.
 * `test/unit/transport/ssh-config-diff.test.ts` compares this module with `ssh -G` over a
 * seeded random corpus of config files.
 *
 * Parsing (tokens, quotes, `Key=value`, Host/Match sections) comes from the `ssh-config`
 * package; its `compute()` is NOT used: it has no `Include` (it keeps the line as a
 * directive and never reads the files), evaluates `Match` only partly and has no
 * canonicalization or final pass. Evaluation is done here, as OpenSSH does it:
 *
 * - Files: with `ConnectOptions.sshConfigFile` only that file (`ssh -F FILE`), else
 *   `~/.ssh/config` then `/etc/ssh/ssh_config`. Lines are read in order; the first value
 *   obtained for an option wins; IdentityFile accumulates (duplicates dropped).
 * - `Host p1 p2 !p3`: patterns separated by whitespace (a comma is part of a pattern, as
 *   in ssh_config(5)), `*` and `?` wildcards, `!` negation vetoing the block.
 * - `Match` criteria `all`, `host`, `originalhost`, `user`, `localuser` (comma lists of
 *   patterns, case-insensitive for host names), `canonical`, `final`, each negatable.
 *   `exec` (orch never runs commands found in a config file) and `localnetwork` cannot be
 *   evaluated: such a block is skipped and the resolution carries a warning naming the
 *   file and line (shown by `orch hosts` and `orch ssh-config`).
 * - `Include`: every argument glob-expanded (`*`, `?`, `[...]`, `~`), relative paths
 *   against `~/.ssh` (user files) or `/etc/ssh` (the system file), at most 16 levels deep,
 *   a pattern matching no file ignored; inside an inactive Host/Match block nothing of the
 *   included file applies; after the include the including block's state resumes.
 * - Canonicalization and the final pass: after the first pass, HostName (with `%h`)
 *   replaces the host; with CanonicalizeHostname (`yes`, or `always` also through
 *   ProxyJump) a name with at most CanonicalizeMaxDots dots (default 1) that is not an
 *   address is tried with each CanonicalDomains suffix (DNS through the injected
 *   `lookup`); then, when canonicalization is enabled or a `Match final` was seen, the
 *   files are read again with the new name (`Match canonical`/`final` true), adding to
 *   what the first pass set. CanonicalizePermittedCNAMEs is not evaluated.
 * - ProxyJump as `ssh -J` runs it: for `a,b,c` ssh runs `ssh -J a,b c -W target`, so the
 *   last hop is resolved with the earlier ones as its command-line ProxyJump (its own
 *   ProxyJump line does not apply), recursively; only the first hop of a list uses its own
 *   ProxyJump. `[user@]host[:port]` give the hop's `-l`/`-p`. `ProxyCommand` (which orch
 *   cannot run) set before ProxyJump is an error.
 * - Tokens: HostName `%h %%`; IdentityFile `~`, `%d %u %h %r %n %p %l %L %i %%` and `${VAR}`.
 *
 * Differences from ssh: `~` is the HOME of the environment given (ssh uses the passwd
 * entry); file permissions of included files are not checked.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isIP } from 'node:net';
import SSHConfig from 'ssh-config';
import type { PlanHost } from '../model/plan.js';

/** Deepest Include nesting (OpenSSH READCONF_MAX_DEPTH). */
export const MAX_INCLUDE_DEPTH = 16;

/** One directive of a config file, with where it was written. */
interface ConfLine {
  file: string;
  line: number;
  /** Keyword, lower case. */
  key: string;
  /** Arguments (quotes removed). */
  args: string[];
  /** For Include: the files it pulls in, each parsed (per argument, glob order). */
  included?: ConfFile[];
}

interface ConfFile {
  file: string;
  lines: ConfLine[];
}

/** Parsed ssh_config files (with every Include read), ready for `resolveEndpoint`. */
export interface ParsedSshConfig {
  files: ConfFile[];
  /** Problems found while reading (an unreadable include): reported with every resolution. */
  problems: string[];
  /** Set when the configuration cannot be used at all (Include nested too deep): every resolution fails with it. */
  error?: string;
}

/** Context for resolution: the current user's home and name, local host name, and DNS. */
export interface ResolveContext {
  home: string;
  localUser: string;
  /** Local host name (`%l`, `%L`); default os.hostname(). */
  localHost?: string;
  /** Local uid (`%i`). */
  uid?: number;
  env?: NodeJS.ProcessEnv;
  /** Resolves a name (CanonicalDomains); resolves to true when the name exists. Default: node's dns.lookup. */
  lookup?: (name: string) => Promise<boolean>;
}

/** Home and user name from an environment, falling back to the OS account. */
export function resolveContextFromEnv(env: NodeJS.ProcessEnv): ResolveContext {
  let info: os.UserInfo<string> | undefined;
  const fallback = (): os.UserInfo<string> => (info ??= os.userInfo());
  return {
    home: env.HOME || fallback().homedir,
    localUser: env.USER || env.LOGNAME || fallback().username,
    env,
  };
}

/** `${VAR}` in `p` replaced by VAR of `env` (ssh_config(5) "ENVIRONMENT VARIABLES"); unset ones stay as written. */
export function expandEnvRefs(p: string, env: NodeJS.ProcessEnv | undefined): string {
  return p.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, v: string) => env?.[v] ?? m);
}

/** Expands `~/`, and ssh_config tokens `%d` (home), `%u` (local user), `%h` (host name), `%r` (remote user), `%%`. */
export function expandPath(p: string, ctx: ResolveContext, host = '', remoteUser = '', extra: Record<string, string> = {}): string {
  const tokens: Record<string, string> = { '%': '%', d: ctx.home, u: ctx.localUser, h: host, r: remoteUser, ...extra };
  let out = expandEnvRefs(p.replace(/%(.)/g, (m, t: string) => tokens[t] ?? m), ctx.env);
  if (out === '~') out = ctx.home;
  else if (out.startsWith('~/')) out = path.join(ctx.home, out.slice(2));
  return out;
}

// ---------------------------------------------------------------------------------------
// Reading

/** Line numbers of the library's parse tree: counts the newlines around each node. */
function flatten(cfg: SSHConfig, file: string): ConfLine[] {
  const out: ConfLine[] = [];
  let line = 1;
  const walk = (nodes: SSHConfig): void => {
    for (const n of nodes as unknown as Record<string, unknown>[]) {
      const before = String(n.before ?? '');
      const after = String(n.after ?? '');
      line += (before.match(/\n/g) ?? []).length;
      if (n.type === 1) {
        const v = n.value as string | { val: string }[];
        const args = Array.isArray(v) ? v.map((x) => x.val) : [String(v)];
        out.push({ file, line, key: String(n.param).toLowerCase(), args });
      }
      line += (after.match(/\n/g) ?? []).length;
      if (Array.isArray(n.config)) walk(n.config as SSHConfig);
    }
  };
  walk(cfg);
  return out;
}

function globToRegex(seg: string): RegExp {
  let src = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') src += '[^/]*';
    else if (c === '?') src += '[^/]';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close < 0) {
        src += '\\[';
        continue;
      }
      let body = seg.slice(i + 1, close);
      const neg = body.startsWith('!') || body.startsWith('^');
      if (neg) body = body.slice(1);
      src += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else src += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${src}$`);
}

/** glob(3) over the file system: `*`, `?`, `[...]` per path segment, sorted, dot files only when the pattern starts with `.`. */
export async function globFiles(pattern: string): Promise<string[]> {
  const segs = pattern.split('/');
  let bases = [pattern.startsWith('/') ? '/' : '.'];
  const start = pattern.startsWith('/') ? 1 : 0;
  for (let i = start; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg === '') continue;
    const next: string[] = [];
    if (!/[*?[]/.test(seg)) {
      for (const b of bases) next.push(path.join(b, seg));
    } else {
      const re = globToRegex(seg);
      for (const b of bases) {
        let names: string[];
        try {
          names = await readdir(b);
        } catch {
          continue;
        }
        for (const n of names.sort()) if (re.test(n) && (!n.startsWith('.') || seg.startsWith('.'))) next.push(path.join(b, n));
      }
    }
    bases = next;
  }
  const out: string[] = [];
  for (const b of bases) {
    try {
      await readdir(b);
      continue; // a folder is not a config file
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') out.push(b);
    }
  }
  return out;
}

class IncludeTooDeep extends Error {}

async function readConfFile(file: string, userConf: boolean, ctx: ResolveContext, depth: number, problems: string[]): Promise<ConfFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    problems.push(`cannot read ${file}: ${(e as Error).message}`);
    return undefined;
  }
  const lines = flatten(SSHConfig.parse(text), file);
  for (const l of lines) {
    if (l.key !== 'include') continue;
    l.included = [];
    // ssh stops with "Too many recursive configuration includes": so does orch (an
    // Include of its own folder's *.conf would otherwise grow exponentially).
    if (depth + 1 > MAX_INCLUDE_DEPTH) throw new IncludeTooDeep(`${file}:${l.line}: Include nested more than ${MAX_INCLUDE_DEPTH} levels (too many recursive configuration includes)`);
    for (const arg of l.args) {
      let p = arg;
      if (p.startsWith('~')) p = expandPath(p, ctx);
      else if (!p.startsWith('/')) p = path.join(userConf ? path.join(ctx.home, '.ssh') : '/etc/ssh', p);
      for (const f of await globFiles(p)) {
        const inc = await readConfFile(f, userConf, ctx, depth + 1, problems);
        if (inc) l.included.push(inc);
      }
    }
  }
  return { file, lines };
}

/**
 * Reads ssh_config files and every file they Include. `files`: `[FILE]` for `ssh -F FILE`,
 * default `~/.ssh/config` and `/etc/ssh/ssh_config` (missing files are no config).
 */
export async function loadSshConfig(ctx: ResolveContext, only?: string): Promise<ParsedSshConfig> {
  const problems: string[] = [];
  const specs: [string, boolean][] = only !== undefined ? [[only, true]] : [[path.join(ctx.home, '.ssh', 'config'), true], ['/etc/ssh/ssh_config', false]];
  const files: ConfFile[] = [];
  try {
    for (const [f, user] of specs) {
      const c = await readConfFile(f, user, ctx, 0, problems);
      if (c) files.push(c);
    }
  } catch (e) {
    if (e instanceof IncludeTooDeep) return { files: [], problems, error: e.message };
    throw e;
  }
  return { files, problems };
}

/** Reads one ssh_config file (as `ssh -F FILE`); a missing file gives an empty config. */
export async function readSshConfig(file: string, ctx: ResolveContext = resolveContextFromEnv(process.env)): Promise<ParsedSshConfig> {
  return loadSshConfig(ctx, file);
}

// ---------------------------------------------------------------------------------------
// Evaluation

const patternCache = new Map<string, RegExp>();

/** OpenSSH `match_pattern`: `*` and `?` wildcards, the whole string (compiled once per pattern). */
function matchPattern(s: string, pattern: string): boolean {
  let re = patternCache.get(pattern);
  if (!re) {
    let src = '';
    for (const c of pattern) src += c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    re = new RegExp(`^${src}$`, 's');
    if (patternCache.size < 10000) patternCache.set(pattern, re);
  }
  return re.test(s);
}

/**
 * OpenSSH `match_pattern_list`: comma list, `!` negation wins; 1 match, 0 none, -1 negated
 * match. With `lower` (Match host/originalhost: `match_hostname`) both sides are compared
 * case-insensitively (`Host` lines, by contrast, are case-sensitive).
 */
function matchPatternList(s: string, list: string, lower: boolean): number {
  let got = 0;
  const str = lower ? s.toLowerCase() : s;
  for (const raw of list.split(',')) {
    const neg = raw.startsWith('!');
    const p = (neg ? raw.slice(1) : raw);
    if (matchPattern(str, lower ? p.toLowerCase() : p)) {
      if (neg) return -1;
      got = 1;
    }
  }
  return got;
}

/** Options gathered by the passes, first value winning; each with the file:line that set it. */
interface Options {
  hostname?: Set_;
  user?: Set_;
  port?: Set_;
  proxyjump?: Set_;
  proxycommand?: Set_;
  identityfile: Set_[];
  canonicalizehostname?: Set_;
  canonicaldomains?: { value: string[]; source: string };
  canonicalizemaxdots?: Set_;
  canonicalizefallbacklocal?: Set_;
}
interface Set_ {
  value: string;
  source: string;
}

interface PassState {
  /** Host patterns are matched against this: the alias as given on the first pass, the (lower-cased, canonical) host name on the final one. */
  host: string;
  originalHost: string;
  final: boolean;
  wantFinal: boolean;
  warnings: string[];
}

function evalMatch(l: ConfLine, o: Options, st: PassState, ctx: ResolveContext): boolean {
  let result = true;
  const args = [...l.args];
  if (args.length === 0) {
    st.warnings.push(`${l.file}:${l.line}: Match without criteria (block skipped)`);
    return false;
  }
  const hostNow = o.hostname ? o.hostname.value.replace(/%h/g, st.originalHost).replace(/%%/g, '%') : st.originalHost;
  const unevaluable: string[] = [];
  while (args.length) {
    let attrib = args.shift()!;
    const negate = attrib.startsWith('!');
    if (negate) attrib = attrib.slice(1);
    const a = attrib.toLowerCase();
    if (a === 'all') continue;
    if (a === 'canonical' || a === 'final') {
      if (a === 'final') st.wantFinal = true;
      if (st.final === negate) result = false;
      continue;
    }
    const arg = args.shift();
    if (arg === undefined) {
      st.warnings.push(`${l.file}:${l.line}: Match ${attrib} needs an argument (block skipped)`);
      return false;
    }
    let r: boolean;
    if (a === 'host') r = matchPatternList(hostNow, arg, true) === 1;
    else if (a === 'originalhost') r = matchPatternList(st.originalHost, arg, true) === 1;
    else if (a === 'user') r = matchPatternList(o.user?.value ?? ctx.localUser, arg, false) === 1;
    else if (a === 'localuser') r = matchPatternList(ctx.localUser, arg, false) === 1;
    else if (a === 'exec' || a === 'localnetwork' || a === 'tagged') {
      unevaluable.push(`${attrib} ${arg}`);
      continue;
    } else {
      st.warnings.push(`${l.file}:${l.line}: unsupported Match attribute ${attrib} (block skipped)`);
      return false;
    }
    if (r === negate) result = false;
  }
  if (result && unevaluable.length) {
    st.warnings.push(`${l.file}:${l.line}: Match ${unevaluable.join(', ')} cannot be evaluated by orch (it never runs commands from ssh_config): block skipped`);
    return false;
  }
  return result;
}

function applyLine(l: ConfLine, o: Options, ctx: ResolveContext): void {
  const source = `${l.file}:${l.line}`;
  const first = l.args[0];
  if (first === undefined) return;
  const once = (k: 'hostname' | 'user' | 'port' | 'proxyjump' | 'proxycommand' | 'canonicalizehostname' | 'canonicalizemaxdots' | 'canonicalizefallbacklocal'): void => {
    if (o[k] === undefined) o[k] = { value: first, source };
  };
  switch (l.key) {
    case 'hostname':
    case 'user':
    case 'port':
    case 'canonicalizehostname':
    case 'canonicalizemaxdots':
    case 'canonicalizefallbacklocal':
      once(l.key);
      break;
    case 'proxyjump':
      // ProxyJump and ProxyCommand: whichever comes first wins (ssh_config(5)).
      if (o.proxycommand === undefined) once('proxyjump');
      break;
    case 'proxycommand':
      if (o.proxyjump === undefined) once('proxycommand');
      break;
    case 'identityfile':
      if (!o.identityfile.some((s) => s.value === first)) o.identityfile.push({ value: first, source });
      break;
    case 'canonicaldomains':
      o.canonicaldomains ??= { value: l.args, source };
      break;
    default:
      void ctx;
  }
}

function runFile(f: ConfFile, o: Options, st: PassState, ctx: ResolveContext, active: boolean, neverMatch: boolean): boolean {
  let activep = active;
  for (const l of f.lines) {
    if (l.key === 'host') {
      activep = false;
      if (neverMatch) continue;
      for (const raw of l.args) {
        const neg = raw.startsWith('!');
        const p = neg ? raw.slice(1) : raw;
        if (matchPattern(st.host, p)) {
          if (neg) {
            activep = false;
            break;
          }
          activep = true;
        }
      }
      continue;
    }
    if (l.key === 'match') {
      // ssh evaluates the criteria even where the block can never apply (an Include in an
      // inactive block): a `Match final` there still asks for the final pass.
      if (neverMatch) {
        const probe: PassState = { ...st, warnings: [] };
        evalMatch(l, o, probe, ctx);
        if (probe.wantFinal) st.wantFinal = true;
        activep = false;
      } else activep = evalMatch(l, o, st, ctx);
      continue;
    }
    if (l.key === 'include') {
      for (const inc of l.included ?? []) runFile(inc, o, st, ctx, activep, neverMatch || !activep);
      continue;
    }
    if (activep) applyLine(l, o, ctx);
  }
  return activep;
}

/** One hop of a ProxyJump list: `[user@]host[:port]` as written in ssh_config. */
export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

/**
 * Parses a ProxyJump value: a comma list of `[user@]host[:port]` (also `[v6addr]:port`
 * and `ssh://[user@]host[:port]`), outermost hop first; `none` = no jump.
 * @throws Error on an unparsable hop or port.
 */
export function parseProxyJump(value: string): JumpSpec[] {
  if (value.trim().toLowerCase() === 'none') return [];
  return value.split(',').map((raw) => {
    let s = raw.trim().replace(/^ssh:\/\//, '');
    let user: string | undefined;
    const at = s.lastIndexOf('@');
    if (at >= 0) {
      user = s.slice(0, at);
      s = s.slice(at + 1);
    }
    let host = s;
    let port: number | undefined;
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
    if (v6) {
      host = v6[1] ?? '';
      if (v6[2]) port = Number(v6[2]);
    } else {
      const m = /^([^:]+):(\d+)$/.exec(s);
      if (m) {
        host = m[1] ?? '';
        port = Number(m[2]);
      } else if (s.includes(':')) throw new Error(`ProxyJump: cannot parse hop "${raw.trim()}"`);
    }
    if (!host) throw new Error(`ProxyJump: empty host in "${raw.trim()}"`);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new Error(`ProxyJump: bad port in "${raw.trim()}"`);
    const spec: JumpSpec = { host };
    if (user) spec.user = user;
    if (port !== undefined) spec.port = port;
    return spec;
  });
}

/** Where each resolved value came from: `inventory`, `FILE:LINE` of ssh_config, `ProxyJump FILE:LINE`, or `default`. */
export interface EndpointSources {
  hostname: string;
  port: string;
  user: string;
  identityFiles: string[];
  proxyJump?: string;
}

/** Connection settings of one SSH endpoint after ssh_config and inventory are combined. */
export interface ResolvedEndpoint {
  /** The address as asked for (inventory address, or a ProxyJump hop's host). */
  alias: string;
  /** What to connect to (ssh_config HostName, `%h` expanded, canonicalized), else `alias`. */
  hostname: string;
  port: number;
  user: string;
  /** Identity files in order, tokens expanded; empty = the default auth chain. Missing files are skipped at connect time, as ssh does. */
  identityFiles: string[];
  /** IdentityFile values as written (what `ssh -G` prints). */
  identityFilesRaw: string[];
  /** ProxyJump hops (each resolved the same way), outermost first. */
  proxyJump: ResolvedEndpoint[];
  /** The ProxyJump value in effect, as written (`ssh -G`'s `proxyjump`). */
  proxyJumpRaw?: string;
  sources: EndpointSources;
  /** What orch could not evaluate (Match exec, unreadable includes); empty when everything applied. */
  warnings: string[];
}

/** Explicit values (the inventory's, or a ProxyJump hop's `user@host:port`, or `-J`). */
export interface EndpointOverrides {
  user?: string;
  port?: number;
  identity?: string;
  /** A ProxyJump given on the "command line" (`ssh -J`): the config's ProxyJump does not apply. */
  jump?: string;
  /** Name for the sources of these overrides (default `inventory`). */
  source?: string;
}

const defaultLookup = async (name: string): Promise<boolean> => {
  try {
    await dnsLookup(name);
    return true;
  } catch {
    return false;
  }
};

/**
 * The options `ssh [-l user] [-p port] [-i identity] [-J jump] alias` would use, for the
 * keywords orch honours (see the module doc), without ProxyJump hops resolved.
 * @throws Error on a bad Port, a ProxyCommand in effect, or CanonicalizeFallbackLocal no
 *   with no CanonicalDomains match.
 */
export async function evaluateConfig(config: ParsedSshConfig | undefined, alias: string, overrides: EndpointOverrides, ctx: ResolveContext): Promise<{ options: Options; hostname: string; warnings: string[] }> {
  if (config?.error) throw new Error(`ssh_config: ${config.error}`);
  const o: Options = { identityfile: [] };
  if (overrides.jump !== undefined) o.proxyjump = { value: overrides.jump, source: overrides.source ?? 'inventory' };
  const st: PassState = { host: alias, originalHost: alias, final: false, wantFinal: false, warnings: [...(config?.problems ?? [])] };
  for (const f of config?.files ?? []) runFile(f, o, st, ctx, true, false);

  // ssh.c after the first pass: HostName replaces the host, then canonicalization.
  let host = o.hostname ? o.hostname.value.replace(/%h/g, alias).replace(/%%/g, '%') : alias;
  if (!isIP(host)) host = host.toLowerCase();
  const canon = (o.canonicalizehostname?.value ?? 'no').toLowerCase();
  const canonOn = canon === 'yes' || canon === 'always' || canon === 'true';
  const direct = (o.proxyjump === undefined || o.proxyjump.value.toLowerCase() === 'none') && o.proxycommand === undefined;
  if (canonOn && (direct || canon === 'always') && !isIP(host)) {
    if (host.endsWith('.')) host = host.slice(0, -1);
    else {
      const maxDots = Number(o.canonicalizemaxdots?.value ?? 1);
      const dots = (host.match(/\./g) ?? []).length;
      if (dots <= maxDots && o.canonicaldomains) {
        const lookup = ctx.lookup ?? defaultLookup;
        let found: string | undefined;
        for (const d of o.canonicaldomains.value) {
          const full = `${host}.${d}`;
          if (await lookup(full)) {
            found = full;
            break;
          }
        }
        if (found) {
          host = found;
          o.hostname = { value: found, source: `${o.canonicaldomains.source} (CanonicalDomains)` };
        } else if ((o.canonicalizefallbacklocal?.value ?? 'yes').toLowerCase() === 'no') {
          throw new Error(`ssh_config: could not canonicalize ${host} with CanonicalDomains ${o.canonicaldomains.value.join(' ')} (CanonicalizeFallbackLocal no)`);
        }
      }
    }
  }
  if (canonOn || st.wantFinal) {
    const hn = o.hostname;
    o.hostname = { value: host, source: hn?.source ?? 'default' };
    const st2: PassState = { ...st, host, final: true };
    for (const f of config?.files ?? []) runFile(f, o, st2, ctx, true, false);
    st.warnings = [...new Set(st2.warnings)];
  }
  if (o.proxycommand !== undefined && o.proxycommand.value.toLowerCase() !== 'none') {
    throw new Error(`ssh_config ${o.proxycommand.source}: ProxyCommand is not supported by orch (use ProxyJump or the inventory's jump:)`);
  }
  return { options: o, hostname: host, warnings: [...new Set(st.warnings)] };
}

/**
 * Resolves `alias` the way `ssh [-l user] [-p port] [-i identity] alias` would: explicit
 * values (`overrides`, i.e. the inventory) win, then ssh_config, then defaults (current
 * user, port 22). ProxyJump hops are resolved as `ssh -J` runs them (module doc); a hop
 * chain deeper than 8 or revisiting a host is an error.
 *
 * @throws Error on a bad Port or ProxyJump value, a ProxyJump loop, a ProxyCommand.
 */
export async function resolveEndpoint(
  config: ParsedSshConfig | undefined,
  alias: string,
  overrides: EndpointOverrides,
  ctx: ResolveContext,
  seen: string[] = [],
): Promise<ResolvedEndpoint> {
  const src = overrides.source ?? 'inventory';
  const { options: o, hostname, warnings } = await evaluateConfig(config, alias, overrides, ctx);
  const user = overrides.user ?? o.user?.value ?? ctx.localUser;
  let port = overrides.port;
  if (port === undefined && o.port !== undefined) {
    port = Number(o.port.value);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`ssh_config ${o.port.source}: bad Port "${o.port.value}" for ${alias}`);
  }
  const finalPort = port ?? 22;
  const ids = overrides.identity !== undefined ? [{ value: overrides.identity, source: src }] : o.identityfile;
  const tokens = { n: alias, p: String(finalPort), l: ctx.localHost ?? os.hostname(), L: (ctx.localHost ?? os.hostname()).split('.')[0]!, i: String(ctx.uid ?? process.getuid?.() ?? 0) };
  const identityFiles = ids.map((f) => expandPath(f.value, ctx, hostname, user, tokens));
  const sources: EndpointSources = {
    hostname: o.hostname?.source ?? 'default',
    port: overrides.port !== undefined ? src : (o.port?.source ?? 'default'),
    user: overrides.user !== undefined ? src : (o.user?.source ?? 'default'),
    identityFiles: ids.map((f) => f.source),
  };
  const proxyJump: ResolvedEndpoint[] = [];
  const pj = o.proxyjump;
  const allWarnings = [...warnings];
  if (pj !== undefined && pj.value.toLowerCase() !== 'none') {
    sources.proxyJump = pj.source;
    if (seen.includes(alias) || seen.length >= 8) throw new Error(`ssh_config: ProxyJump loop or chain too deep at ${[...seen, alias].join(' -> ')}`);
    const hops = parseProxyJump(pj.value);
    // ssh -J a,b,c target = ssh -J a,b c -W target: the last hop gets the rest as its -J.
    const last = hops[hops.length - 1]!;
    const rest = pj.value.split(',').slice(0, -1).join(',');
    // ssh.c: a jump host that is the destination itself (same name, port, user) is fatal.
    if (last.host === hostname && (last.port ?? 22) === finalPort && (last.user ?? user) === user) {
      throw new Error(`ssh_config ${pj.source}: jumphost loop via ${last.host}`);
    }
    const o2: EndpointOverrides = { source: `ProxyJump ${pj.source}` };
    if (last.user !== undefined) o2.user = last.user;
    if (last.port !== undefined) o2.port = last.port;
    if (rest) o2.jump = rest;
    const r = await resolveEndpoint(config, last.host, o2, ctx, [...seen, alias]);
    proxyJump.push(...r.proxyJump, { ...r, proxyJump: [] });
    allWarnings.push(...r.warnings);
  }
  const out: ResolvedEndpoint = {
    alias, hostname, port: finalPort, user, identityFiles, identityFilesRaw: ids.map((f) => f.value), proxyJump, sources,
    warnings: [...new Set(allWarnings)],
  };
  if (pj !== undefined && pj.value.toLowerCase() !== 'none') out.proxyJumpRaw = pj.value;
  return out;
}

/** Resolves a plan host: its `address` with its inventory user/port/identity as overrides. */
export function resolvePlanHost(config: ParsedSshConfig | undefined, host: PlanHost, ctx: ResolveContext): Promise<ResolvedEndpoint> {
  const o: EndpointOverrides = {};
  if (host.user !== undefined) o.user = host.user;
  if (host.port !== undefined) o.port = host.port;
  if (host.identity !== undefined) o.identity = host.identity;
  return resolveEndpoint(config, host.address, o, ctx);
}
