/**
 * Ansible inventories as orch input (`-i hosts.ini`, `-i inventory.yml`, or forced with
 * `-i ansible:FILE`): Ansible's INI and YAML formats, read as ansible-core 2.14 reads them
 * (`ansible/plugins/inventory/ini.py`, `yaml.py`, `expand_hostname_range`, the
 * `host_group_vars` vars plugin, `InventoryData.reconcile_inventory`) and mapped to orch's
 * inventory model:
 *
 * - every Ansible group (but `all`, `ungrouped` and groups without hosts) becomes an orch
 *   group (own hosts, `children`, vars) and a role of the same name (all its hosts);
 * - each host's vars are resolved with Ansible's precedence (the inventory file's group
 *   vars, all < parents < children, then `group_vars/` files beside the inventory, then
 *   host vars, then `host_vars/` files) and become the orch host's own vars — orch's
 *   group layers could not express "group_vars files beat every inventory group var";
 * - host ranges `web[01:20]`, `db-[a:c]`, `x[0:10:2]` are expanded; `host:2222` sets the port;
 * - connection vars, resolved per host through that precedence, become the host's
 *   settings: `ansible_host` -> address, `ansible_port` -> port, `ansible_user` -> user,
 *   `ansible_ssh_private_key_file` -> identity (also the older `ansible_ssh_host`,
 *   `ansible_ssh_port`, `ansible_ssh_user`, `ansible_private_key_file`),
 *   `ansible_connection: local` -> transport local, and in `ansible_ssh_common_args`
 *   `-J HOST` / `-o ProxyJump=HOST` -> jump (HOST must be an inventory host),
 *   `-o UserKnownHostsFile=FILE` -> known_hosts, `-o StrictHostKeyChecking=yes|accept-new`
 *   -> host_key_policy;
 * - Ansible's group and host order is kept (`Inventory.patternOrder`) for `--limit`
 *   subscripts such as `web[0]`.
 *
 * Refused with a diagnostic naming the thing: dynamic inventory scripts (`#!` first
 * line), inventory plugin configs (`plugin:`), every other `ansible_*` variable orch cannot honour (passwords,
 * become, ssh/sftp/scp extra args, other connection plugins), a host name orch cannot
 * use, and anything Ansible itself rejects (undefined child group, bad range).
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { parseDocument, visit } from 'yaml';
import type { Diagnostic } from '../model/diagnostics.js';
import { diagAt } from '../model/diagnostics.js';
import { displayPath, loadYaml, parseYamlText } from './load-yaml.js';
import { readVaultText, recordSecretLeaves } from './secret-values.js';
import { SECRET_PLACEHOLDER } from './source-index.js';
import { isVaultText } from '../secrets/vault.js';
import type { SourceIndexImpl } from './source-index.js';

/** The prefix that forces `-i` to read a file as an Ansible inventory. */
export const ANSIBLE_PREFIX = 'ansible:';

/** Host names orch accepts (docs/reference/inventory.md). */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

type Vars = Record<string, unknown>;

/** One Ansible group while reading, in Ansible's own terms. */
interface AGroup {
  name: string;
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Vars;
}

/** The Ansible inventory as ansible-core holds it after parsing. */
interface AInventory {
  /** Creation order, `all` and `ungrouped` first. */
  groups: Map<string, AGroup>;
  /** Hosts in creation order with their own vars. */
  hosts: Map<string, Vars>;
  /**
   * INI only: 1-based lines, for diagnostics: `h\0HOST` (first line naming the host),
   * `v\0HOST\0KEY` (a host var), `g\0GROUP\0KEY` (a group var).
   */
  lines?: Map<string, number>;
}

/** Result of `loadAnsibleInventory`. */
export interface LoadedAnsibleInventory {
  file: string;
  absPath: string;
  /** The inventory in orch's raw shape (`defaults`, `hosts`, `roles`, `groups`), when there are no diagnostics. */
  value?: Record<string, unknown>;
  /** Ansible's groups in order with their hosts in `get_hosts()` order (see `Inventory.patternOrder`). */
  order?: Map<string, string[]>;
  diagnostics: Diagnostic[];
  /** Absolute path -> sha256 of every file read (the inventory, group_vars/, host_vars/). */
  fileHashes: Record<string, string>;
}

/**
 * Decides whether an `-i` argument names an Ansible inventory: `ansible:FILE` always;
 * a `.ini` file, or a file without extension, or a `.yml`/`.yaml`/`.json` file whose
 * content is shaped like an Ansible YAML inventory (a top-level `all:`, or only groups
 * holding `hosts`/`children`/`vars`, and none of orch's top-level keys); a file starting
 * with `#!` (an Ansible dynamic inventory script) too, so that it is refused clearly.
 *
 * @returns the path to read (prefix removed) when Ansible, else undefined. Never throws:
 *   an unreadable file is left to the normal loader to report.
 */
export async function detectAnsibleInventory(arg: string): Promise<string | undefined> {
  if (arg.startsWith(ANSIBLE_PREFIX)) return arg.slice(ANSIBLE_PREFIX.length);
  // Callers may already have resolved `ansible:FILE` against the cwd (`/cwd/ansible:FILE`).
  const forced = /^(.*\/)ansible:(.+)$/s.exec(arg);
  if (forced) {
    const exists = await stat(arg).then(() => true, () => false);
    if (!exists) return resolve(forced[1]!, forced[2]!);
  }
  let text: string;
  try {
    const st = await stat(arg);
    if (!st.isFile()) return undefined;
    text = (await readFile(arg, 'utf8')).slice(0, 64 * 1024);
  } catch {
    return undefined;
  }
  if (text.startsWith('#!')) return arg;
  // A whole file made with `ansible-vault encrypt` is Ansible's (orch's own format encrypts values, not files).
  if (isVaultText(text)) return arg;
  const ext = extname(arg).toLowerCase();
  if (ext === '.ini' || ext === '.cfg') return arg;
  if (ext === '.yml' || ext === '.yaml') {
    // Fast path (orch inventories can be large): a top-level key of orch's format at
    // column 0 settles it without parsing the whole file a second time.
    const top = new Set([...text.matchAll(/^["']?([A-Za-z_][\w.-]*)["']?\s*:/gm)].map((m) => m[1]!));
    if (['defaults', 'hosts', 'roles', 'groups'].some((k) => top.has(k))) return undefined;
  }
  if (ext === '' || ext === '.yml' || ext === '.yaml' || ext === '.json') {
    let value: unknown;
    try {
      value = parseYamlPlain(text);
    } catch {
      return ext === '' ? arg : undefined; // not YAML: INI when without extension
    }
    if (ext === '' && (value === null || typeof value !== 'object')) return arg; // a list of host lines parses as a YAML scalar
    return looksLikeAnsibleYaml(value) ? arg : undefined;
  }
  return undefined;
}

/**
 * Plain YAML parse; throws on a syntax error (the `yaml` package's errors, first line).
 * With `index`, inline `!vault` values are decrypted (src/config/secret-values.ts); a
 * value that cannot be throws `line N: cannot decrypt this !vault value: ...`.
 * Without `index` (the shape test) duplicate keys are not checked: yaml's check compares
 * each key with every earlier one (quadratic: a 64 KiB map of 3,000 keys took 0.5 s), and
 * a file found to be an Ansible inventory is parsed again, with the check, by its loader.
 */
function parseYamlPlain(text: string, index?: SourceIndexImpl, name = 'a vars file'): unknown {
  const doc = parseDocument(text, { uniqueKeys: index !== undefined, prettyErrors: false });
  if (doc.errors.length) throw new Error(doc.errors[0]!.message.split('\n')[0]);
  if (index && text.includes('!vault')) {
    let problem: string | undefined;
    visit(doc, {
      Scalar(_key, node) {
        if (node.tag !== '!vault' || problem !== undefined) return;
        const r = typeof node.value === 'string' ? readVaultText(node.value, index) : { error: 'a !vault value must be the text ansible-vault encrypt_string prints' };
        if ('error' in r) {
          const line = text.slice(0, node.range?.[0] ?? 0).split('\n').length;
          problem = `line ${line}: cannot decrypt this !vault value: ${r.error}`;
          return;
        }
        node.value = r.text;
        node.tag = undefined;
        if (r.text !== '' && !index.secretValues.has(r.text)) index.secretValues.set(r.text, `a !vault value in ${name}`);
      },
    });
    if (problem !== undefined) throw new Error(problem);
  }
  return doc.toJS({ maxAliasCount: 100 });
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A YAML value shaped like an Ansible inventory (and not like orch's). */
export function looksLikeAnsibleYaml(v: unknown): boolean {
  if (!isMap(v)) return false;
  if ('plugin' in v) return true;
  if (['defaults', 'hosts', 'roles', 'groups'].some((k) => k in v)) return false;
  if ('all' in v) return true;
  const entries = Object.values(v);
  return entries.length > 0 && entries.every((g) => g === null || (isMap(g) && Object.keys(g).every((k) => k === 'hosts' || k === 'children' || k === 'vars')));
}

// ---------------------------------------------------------------------------------------
// Shared helpers

/** Error with the 1-based line it refers to (INI), for diagnostics. */
class AnsibleInputError extends Error {
  constructor(
    message: string,
    readonly line = 1,
    readonly path: (string | number)[] = [],
  ) {
    super(message);
  }
}

/**
 * Ansible's `expand_hostname_range`: expands the first `[beg:end(:step)]` (numeric, with
 * zero padding when `beg` has a leading zero, or single letters) and recurses on the rest.
 * @throws AnsibleInputError with Ansible's messages.
 */
export function expandHostRange(pattern: string): string[] {
  if (!pattern.includes('[')) return [pattern];
  const open = pattern.indexOf('[');
  const close = pattern.indexOf(']', open);
  if (close < 0) throw new AnsibleInputError(`host range in "${pattern}" has no closing ]`);
  const head = pattern.slice(0, open);
  const nrange = pattern.slice(open + 1, close);
  const tail = pattern.slice(close + 1);
  const bounds = nrange.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new AnsibleInputError(`host range must be begin:end or begin:end:step (in "${pattern}")`);
  const beg = bounds[0] || '0';
  const end = bounds[1]!;
  const step = bounds.length === 3 ? Number(bounds[2]) : 1;
  if (!end) throw new AnsibleInputError(`host range must specify end value (in "${pattern}")`);
  if (!Number.isInteger(step) || step < 1) throw new AnsibleInputError(`host range step must be a whole number >= 1 (in "${pattern}")`);
  let fill = (x: number | string): string => String(x);
  if (beg[0] === '0' && beg.length > 1) {
    if (beg.length !== end.length) throw new AnsibleInputError(`host range must specify equal-length begin and end formats (in "${pattern}")`);
    fill = (x) => String(x).padStart(beg.length, '0');
  }
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let seq: (string | number)[] = [];
  const ib = letters.indexOf(beg);
  const ie = letters.indexOf(end);
  if (beg.length === 1 && end.length === 1 && ib >= 0 && ie >= 0) {
    if (ib > ie) throw new AnsibleInputError(`host range must have begin <= end (in "${pattern}")`);
    for (let i = ib; i <= ie; i += step) seq.push(letters[i]!);
  } else {
    if (!/^[0-9]+$/.test(beg) || !/^[0-9]+$/.test(end)) throw new AnsibleInputError(`host range bounds must be numbers or single letters (in "${pattern}")`);
    const b = Number(beg);
    const e = Number(end);
    if (e - b > 100000 * step) throw new AnsibleInputError(`host range in "${pattern}" is too big (at most 100000 hosts)`);
    for (let i = b; i <= e; i += step) seq.push(i);
  }
  const out: string[] = [];
  for (const r of seq) out.push(...expandHostRange(head + fill(r) + tail));
  return out;
}

/**
 * A host pattern of an inventory line: `name`, `name:port`, `[v6]:port`, ranges.
 * Ansible's `_expand_hostpattern` (via `parse_address`, whose port forms are mirrored here).
 */
function expandHostPattern(hostpattern: string): { hosts: string[]; port?: number } {
  let pattern = hostpattern;
  let port: number | undefined;
  const b = /^\[(.+)\]:([0-9]+)$/.exec(pattern);
  const hp = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/.exec(b ? b[1]! : pattern);
  if (b) {
    pattern = b[1]!;
    port = Number(b[2]);
  }
  if (hp) {
    pattern = hp[1]!;
    port = Number(hp[2]);
  }
  if (hostpattern.trim().endsWith(':') && port === undefined) {
    throw new AnsibleInputError(`Invalid host pattern '${hostpattern}' supplied, ending in ':' is not allowed, this character is reserved to provide a port.`);
  }
  const hosts = expandHostRange(pattern);
  return port === undefined ? { hosts } : { hosts, port };
}

/** Ansible's `to_safe_group_name(name, force=True)` (the INI plugin): invalid characters become `_`. */
function safeGroupName(name: string): string {
  return name.replace(/^[\d\W]|[^\w]/gu, '_');
}

/**
 * Python's `ast.literal_eval` on an INI value, for the literals that occur in inventories:
 * integers, floats, `True`/`False`/`None`, quoted strings, and lists/dicts written as JSON
 * (with Python's constants); anything else stays the string it was.
 */
export function parseIniValue(v: string): unknown {
  const s = v.trim();
  if (/^[-+]?[0-9]+$/.test(s) || /^[-+]?[0-9][0-9_]*[0-9]$/.test(s)) {
    const n = Number(s.replace(/_/g, ''));
    if (Number.isSafeInteger(n)) return n;
  }
  if (/^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(s) && /[.eE]/.test(s)) return Number(s);
  if (s === 'True') return true;
  if (s === 'False') return false;
  if (s === 'None') return null;
  const q = /^(['"])((?:\\.|(?!\1).)*)\1$/s.exec(s);
  if (q) return q[2]!.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' })[c] ?? `\\${c}`);
  if (/^[[{]/.test(s)) {
    try {
      return JSON.parse(s.replace(/\bTrue\b/g, 'true').replace(/\bFalse\b/g, 'false').replace(/\bNone\b/g, 'null').replace(/'/g, '"'));
    } catch {
      return v;
    }
  }
  return v;
}

/** POSIX `shlex.split(line, comments=True)`: words, quotes, backslashes, `#` comments. */
export function shlexSplit(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else if (c === '#' && !inWord) break;
    else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('No closing quotation');
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error('No closing quotation');
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < line.length && /["\\$`\n]/.test(line[i + 1]!)) {
          cur += line[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      inWord = true;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('No escaped character');
      cur += line[i + 1];
      inWord = true;
      i += 2;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

function newInventory(): AInventory {
  const groups = new Map<string, AGroup>();
  const inv: AInventory = { groups, hosts: new Map() };
  addGroup(inv, 'all');
  addGroup(inv, 'ungrouped');
  addChild(inv, 'all', 'ungrouped');
  return inv;
}

function addGroup(inv: AInventory, name: string): AGroup {
  let g = inv.groups.get(name);
  if (!g) inv.groups.set(name, (g = { name, hosts: [], children: [], parents: [], vars: {} }));
  return g;
}

function ancestors(inv: AInventory, name: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(inv.groups.get(name)?.parents ?? [])];
  while (stack.length) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    stack.push(...(inv.groups.get(p)?.parents ?? []));
  }
  return seen;
}

function addChild(inv: AInventory, parent: string, child: string): void {
  const p = inv.groups.get(parent)!;
  const c = inv.groups.get(child)!;
  if (parent === child) throw new AnsibleInputError(`can't add group ${parent} to itself`);
  if (p.children.includes(child)) return;
  if (ancestors(inv, parent).has(child)) {
    throw new AnsibleInputError(`Adding group '${child}' as child to '${parent}' creates a recursive dependency loop.`);
  }
  p.children.push(child);
  if (!c.parents.includes(parent)) c.parents.push(parent);
}

/** Members of each group as a set (group.hosts keeps the order), so big groups fill in linear time. */
const memberSets = new WeakMap<AGroup, Set<string>>();

function addHost(inv: AInventory, host: string, group: string | undefined, port?: number): Vars {
  let vars = inv.hosts.get(host);
  if (!vars) inv.hosts.set(host, (vars = {}));
  if (port !== undefined) setOwn(vars, 'ansible_port', port);
  if (group) {
    const g = inv.groups.get(group)!;
    let members = memberSets.get(g);
    if (!members) memberSets.set(g, (members = new Set(g.hosts)));
    if (!members.has(host)) {
      members.add(host);
      g.hosts.push(host);
    }
  }
  return vars;
}

function setOwn(target: Vars, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

// ---------------------------------------------------------------------------------------
// INI

/** Ansible's INI inventory parser. @throws AnsibleInputError (with the line) on what Ansible rejects. */
export function parseIniInventory(text: string): AInventory {
  const inv = newInventory();
  const lines = new Map<string, number>();
  inv.lines = lines;
  const pending = new Map<string, { line: number; state: string; parents: string[] }>();
  let group = 'ungrouped';
  let state = 'hosts';
  const textLines = text.split(/\r\n|\n|\r/);
  const section = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
  textLines.forEach((raw, idx) => {
    const lineno = idx + 1;
    const line = raw.trim();
    if (!line || line[0] === ';' || line[0] === '#') return;
    const err = (m: string): never => {
      throw new AnsibleInputError(m, lineno);
    };
    const m = section.exec(line);
    if (m) {
      group = safeGroupName(m[1]!);
      state = m[2] ?? 'hosts';
      if (!['hosts', 'children', 'vars'].includes(state)) err(`Section [${m[1]}:${state}] has unknown type: ${state}`);
      if (!inv.groups.has(group)) {
        if (state === 'vars' && !pending.has(group)) pending.set(group, { line: lineno, state, parents: [] });
        addGroup(inv, group);
      }
      const p = pending.get(group);
      if (p && state !== 'vars') {
        if (p.state === 'children') addPendingChildren(inv, group, pending);
        else pending.delete(group);
      }
      return;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      err(`Invalid section entry: '${line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters`);
    }
    if (state === 'hosts') {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (e) {
        return err(`Error parsing host definition '${line}': ${(e as Error).message}`);
      }
      if (tokens.length === 0) return;
      let expanded: { hosts: string[]; port?: number };
      try {
        expanded = expandHostPattern(tokens[0]!);
      } catch (e) {
        return err((e as Error).message);
      }
      const vars: Vars = {};
      for (const t of tokens.slice(1)) {
        const eq = t.indexOf('=');
        if (eq < 0) err(`Expected key=value host variable assignment, got: ${t}`);
        setOwn(vars, t.slice(0, eq), parseIniValue(t.slice(eq + 1)));
      }
      for (const h of expanded.hosts) {
        if (h.trim() === '---') err(`Invalid host pattern '${tokens[0]}' supplied, '---' is normally a sign this is a YAML file.`);
        const hv = addHost(inv, h, group, expanded.port);
        for (const [k, v] of Object.entries(vars)) setOwn(hv, k, v);
        if (!lines.has(`h\0${h}`)) lines.set(`h\0${h}`, lineno);
        for (const k of Object.keys(vars)) lines.set(`v\0${h}\0${k}`, lineno);
      }
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) err(`Expected key=value, got: ${line}`);
      setOwn(inv.groups.get(group)!.vars, line.slice(0, eq).trim(), parseIniValue(line.slice(eq + 1).trim()));
      lines.set(`g\0${group}\0${line.slice(0, eq).trim()}`, lineno);
    } else {
      const cm = /^([^:\]\s]+)\s*(?:#.*)?$/.exec(line);
      if (!cm) return err(`Expected group name, got: ${line}`);
      const child = cm[1]!;
      if (!inv.groups.has(child)) {
        const p = pending.get(child);
        if (!p) pending.set(child, { line: lineno, state, parents: [group] });
        else p.parents.push(group);
      } else {
        try {
          addChild(inv, group, child);
        } catch (e) {
          err((e as Error).message);
        }
      }
    }
  });
  for (const [name, d] of pending) {
    if (d.state === 'vars') throw new AnsibleInputError(`Section [${name}:vars] not valid for undefined group: ${name}`, d.line);
    throw new AnsibleInputError(`Section [${d.parents[d.parents.length - 1]}:children] includes undefined group: ${name}`, d.line);
  }
  return inv;
}

function addPendingChildren(inv: AInventory, group: string, pending: Map<string, { line: number; state: string; parents: string[] }>): void {
  for (const parent of pending.get(group)!.parents) {
    addChild(inv, parent, group);
    const pp = pending.get(parent);
    if (pp && pp.state === 'children') addPendingChildren(inv, parent, pending);
  }
  pending.delete(group);
}

// ---------------------------------------------------------------------------------------
// YAML

/** Ansible's YAML inventory reader over plain data. @throws AnsibleInputError with the path of the offending key. */
export function readYamlInventory(data: unknown): AInventory {
  if (!isMap(data) || Object.keys(data).length === 0) throw new AnsibleInputError('YAML inventory has invalid structure, it should be a non-empty dictionary');
  if (data.plugin !== undefined) {
    throw new AnsibleInputError(`inventory plugin configuration (plugin: ${String(data.plugin)}) is not supported: orch reads static INI and YAML inventories only`, 1, ['plugin']);
  }
  const inv = newInventory();
  const parseGroup = (name: string, gd: unknown, path: (string | number)[]): string => {
    if (!isMap(gd) && gd !== null) return name; // Ansible skips it with a warning
    addGroup(inv, name);
    if (gd === null) return name;
    for (const [key, section] of Object.entries(gd)) {
      const sec = typeof section === 'string' ? { [section]: null } : section;
      if (sec === null || sec === undefined) continue;
      if (!isMap(sec)) throw new AnsibleInputError(`Invalid "${key}" entry for "${name}" group, requires a dictionary`, 1, [...path, key]);
      if (key === 'vars') for (const [k, v] of Object.entries(sec)) setOwn(inv.groups.get(name)!.vars, k, v);
      else if (key === 'children') {
        for (const [sub, sd] of Object.entries(sec)) {
          parseGroup(sub, sd, [...path, 'children', sub]);
          try {
            addChild(inv, name, sub);
          } catch (e) {
            throw new AnsibleInputError((e as Error).message, 1, [...path, 'children', sub]);
          }
        }
      } else if (key === 'hosts') {
        for (const [pattern, hv] of Object.entries(sec)) {
          let expanded: { hosts: string[]; port?: number };
          try {
            expanded = expandHostPattern(pattern);
          } catch (e) {
            throw new AnsibleInputError((e as Error).message, 1, [...path, 'hosts', pattern]);
          }
          if (hv !== null && hv !== undefined && !isMap(hv)) throw new AnsibleInputError(`host ${pattern}: vars must be a mapping`, 1, [...path, 'hosts', pattern]);
          for (const h of expanded.hosts) {
            const vars = addHost(inv, h, name, expanded.port);
            for (const [k, v] of Object.entries(hv ?? {})) setOwn(vars, k, v);
          }
        }
      }
    }
    return name;
  };
  for (const [name, gd] of Object.entries(data)) parseGroup(name, gd, [name]);
  return inv;
}

// ---------------------------------------------------------------------------------------
// After parsing: reconcile, vars files, mapping to orch

/** Ansible's `reconcile_inventory`: parentless groups under `all`; hosts in no group in `ungrouped`. */
function reconcile(inv: AInventory): void {
  for (const g of inv.groups.values()) {
    if (g.name !== 'all' && g.parents.length === 0) addChild(inv, 'all', g.name);
  }
  const ungrouped = inv.groups.get('ungrouped')!;
  const direct = new Map<string, string[]>();
  for (const g of inv.groups.values()) for (const h of g.hosts) (direct.get(h) ?? direct.set(h, []).get(h)!).push(g.name);
  for (const h of inv.hosts.keys()) {
    const mine = direct.get(h) ?? [];
    if (mine.includes('ungrouped')) {
      if (mine.some((g) => g !== 'all' && g !== 'ungrouped')) ungrouped.hosts = ungrouped.hosts.filter((x) => x !== h);
    } else if (mine.length === 0 || (mine.length === 1 && mine[0] === 'all')) {
      if (!ungrouped.hosts.includes(h)) ungrouped.hosts.push(h);
    }
  }
}

/**
 * `Group.get_hosts()`: own hosts, then the children's, breadth first, each host once.
 * Ansible walks a level beyond the direct children through a Python set, so the order
 * among grandchildren of different children is arbitrary there; orch takes them in order.
 */
function groupHosts(inv: AInventory, name: string): string[] {
  const ordered: string[] = [name, ...(inv.groups.get(name)?.children ?? [])];
  const seen = new Set(ordered);
  let level = [...ordered];
  while (level.length) {
    const next: string[] = [];
    for (const g of level) {
      for (const c of inv.groups.get(g)?.children ?? []) {
        if (!seen.has(c)) {
          seen.add(c);
          ordered.push(c);
          next.push(c);
        }
      }
    }
    level = next;
  }
  const out: string[] = [];
  const have = new Set<string>();
  for (const g of ordered) for (const h of inv.groups.get(g)?.hosts ?? []) if (!have.has(h)) (have.add(h), out.push(h));
  return out;
}

/** Longest chain of parents above each group (`all` = 0), Ansible's `Group.depth`. */
function groupDepths(inv: AInventory): Map<string, number> {
  const depth = new Map<string, number>();
  const visit = (g: string, stack: Set<string>): number => {
    const d = depth.get(g);
    if (d !== undefined) return d;
    if (stack.has(g)) return 0;
    stack.add(g);
    const parents = inv.groups.get(g)?.parents ?? [];
    const v = parents.length ? Math.max(...parents.map((p) => visit(p, stack) + 1)) : 0;
    stack.delete(g);
    depth.set(g, v);
    return v;
  };
  for (const g of inv.groups.keys()) visit(g, new Set());
  return depth;
}

interface VarsFile {
  file: string;
  vars: Vars;
}

/**
 * Ansible's `host_group_vars` files for `name` under `dir` (`group_vars` or `host_vars`):
 * `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json`, or every such file below the folder
 * `NAME/` (sorted, recursively); later files win. @throws AnsibleInputError naming the file.
 */
async function readVarsFiles(dir: string, name: string, hashes: Record<string, string>, index: SourceIndexImpl): Promise<VarsFile[]> {
  const found: string[] = [];
  const consider = async (p: string, recurse: boolean): Promise<void> => {
    let st;
    try {
      st = await stat(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      if (!recurse) return;
      for (const e of (await readdir(p)).sort()) {
        if (e.startsWith('.')) continue;
        const full = join(p, e);
        const est = await stat(full);
        if (est.isDirectory()) await consider(full, true);
        else if (['', '.yml', '.yaml', '.json'].includes(extname(e))) found.push(full);
      }
    } else found.push(p);
  };
  for (const ext of ['', '.yml', '.yaml', '.json']) await consider(join(dir, name + ext), ext === '');
  const out: VarsFile[] = [];
  for (const f of found) {
    const bytes = await readFile(f);
    hashes[f] = createHash('sha256').update(bytes).digest('hex');
    let text = bytes.toString('utf8');
    // A whole file made with `ansible-vault encrypt`: every value in it is a secret.
    const encrypted = isVaultText(text);
    if (encrypted) {
      const r = readVaultText(text, index);
      if ('error' in r) throw new AnsibleInputError(`${displayPath(f)}: cannot decrypt: ${r.error}`);
      if (r.text === SECRET_PLACEHOLDER) continue; // validate without the password: its vars are unknown
      text = r.text;
    }
    let value: unknown;
    try {
      value = parseYamlPlain(text, index, displayPath(f));
    } catch (e) {
      throw new AnsibleInputError(`${displayPath(f)}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (encrypted) recordSecretLeaves(value, index, displayPath(f));
    if (value === null || value === undefined) continue;
    if (!isMap(value)) throw new AnsibleInputError(`${displayPath(f)}: vars file must hold a mapping`);
    out.push({ file: f, vars: value });
  }
  return out;
}

/** `ansible_*` vars orch maps to host settings; every other `ansible_*` var is refused. */
const CONNECTION_VARS = new Set([
  'ansible_host', 'ansible_ssh_host', 'ansible_port', 'ansible_ssh_port', 'ansible_user', 'ansible_ssh_user',
  'ansible_ssh_private_key_file', 'ansible_private_key_file', 'ansible_ssh_common_args', 'ansible_connection',
]);
/** `ansible_*` vars without connection meaning, kept as ordinary vars. */
const PLAIN_ANSIBLE_VARS = new Set(['ansible_python_interpreter']);

/** What orch takes from `ansible_ssh_common_args`. */
interface CommonArgs {
  jump?: string;
  knownHosts?: string;
  hostKeyPolicy?: 'strict' | 'accept-new';
}

/**
 * `-J HOST`, `-o ProxyJump=HOST`, `-o UserKnownHostsFile=FILE` and
 * `-o StrictHostKeyChecking=yes|accept-new` in ssh common args; anything else is refused
 * (orch does not run the ssh program, so other options would be silently lost).
 * @throws Error naming every option refused (and, for `StrictHostKeyChecking=no`, the
 * settings that do what it wants).
 */
export function parseSshCommonArgs(args: string): CommonArgs {
  const words = shlexSplit(args);
  const out: CommonArgs = {};
  const bad: string[] = [];
  let insecure = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-J' || w.startsWith('-J')) {
      const v = w === '-J' ? words[++i] : w.slice(2);
      if (!v) bad.push(w);
      else out.jump = v;
    } else if (w === '-o' || w.startsWith('-o')) {
      const opt = (w === '-o' ? words[++i] : w.slice(2)) ?? '';
      const m = /^(\w+)\s*[= ]\s*(.+)$/.exec(opt.trim());
      if (!m) {
        bad.push(opt);
        continue;
      }
      const key = m[1]!.toLowerCase();
      const value = m[2]!.trim();
      if (key === 'proxyjump') out.jump = value;
      else if (key === 'userknownhostsfile') out.knownHosts = value.split(/\s+/)[0]!;
      else if (key === 'stricthostkeychecking' && /^(yes|accept-new)$/i.test(value)) out.hostKeyPolicy = value.toLowerCase() === 'yes' ? 'strict' : 'accept-new';
      else {
        if (key === 'stricthostkeychecking' && /^(no|off)$/i.test(value)) insecure = true;
        bad.push(opt);
      }
    } else bad.push(w);
  }
  if (bad.length) {
    // StrictHostKeyChecking=no: never from an inventory; say what does it.
    const hint = insecure
      ? '; to trust a host\'s key on first contact set host_key_policy: accept-new (or -o StrictHostKeyChecking=accept-new here), and for a throwaway test host pass --insecure-host-keys on the command line'
      : '';
    throw new Error(`ansible_ssh_common_args: orch takes only -J HOST, -o ProxyJump=HOST, -o UserKnownHostsFile=FILE and -o StrictHostKeyChecking=yes|accept-new, not ${bad.map((b) => JSON.stringify(b)).join(', ')}${hint}`);
  }
  return out;
}

/**
 * Ansible's var precedence for one host (its "variable precedence" list, levels 3-9):
 * the inventory file's group vars (all, then groups by depth and name) < group_vars/all <
 * group_vars/* (same order) < the inventory file's host vars < host_vars/*.
 */
function hostAnsibleVars(inv: AInventory, host: string, groups: string[], depth: Map<string, number>, groupFiles: Map<string, Vars>, hostFiles: Vars): Vars {
  const order = ['all', ...groups.sort((a, b) => (depth.get(a)! - depth.get(b)!) || (a < b ? -1 : a > b ? 1 : 0))];
  const vars: Vars = {};
  for (const g of order) for (const [k, v] of Object.entries(inv.groups.get(g)!.vars)) setOwn(vars, k, v);
  for (const g of order) for (const [k, v] of Object.entries(groupFiles.get(g) ?? {})) setOwn(vars, k, v);
  for (const [k, v] of Object.entries(inv.hosts.get(host) ?? {})) setOwn(vars, k, v);
  for (const [k, v] of Object.entries(hostFiles)) setOwn(vars, k, v);
  return vars;
}

function withoutAnsibleVars(v: Vars): Vars {
  const out: Vars = {};
  for (const [k, val] of Object.entries(v)) if (!k.startsWith('ansible_') || PLAIN_ANSIBLE_VARS.has(k)) setOwn(out, k, val);
  return out;
}

/**
 * Reads an Ansible inventory file (see the module doc) into orch's raw inventory shape.
 * Diagnostics carry the file and, for INI, the line; vars-file problems name that file.
 */
export async function loadAnsibleInventory(file: string, index: SourceIndexImpl): Promise<LoadedAnsibleInventory> {
  const absPath = resolve(file);
  const name = displayPath(absPath);
  const fileHashes: Record<string, string> = {};
  const fail = (message: string, line = 1, path: (string | number)[] = []): LoadedAnsibleInventory => {
    const d = path.length ? diagAt(index, name, path, message) : { file: name, line, col: 1, path: '(root)', message };
    if (!path.length) d.line = line;
    return { file: name, absPath, diagnostics: [d], fileHashes };
  };
  let text: string;
  try {
    const st = await stat(absPath);
    if (st.isDirectory()) return fail('an inventory folder is not supported: give its files with several -i');
    const bytes = await readFile(absPath);
    fileHashes[absPath] = createHash('sha256').update(bytes).digest('hex');
    text = bytes.toString('utf8');
  } catch (e) {
    return fail(`cannot read file: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (text.startsWith('#!')) return fail('dynamic inventory scripts are not supported: orch reads static INI and YAML inventories (save the script\'s output with `ansible-inventory -i SCRIPT --list -y > inventory.yml`)');
  // A whole inventory made with `ansible-vault encrypt`.
  const encrypted = isVaultText(text);
  if (encrypted) {
    const r = readVaultText(text, index);
    if ('error' in r) return fail(`cannot decrypt: ${r.error}`);
    text = r.text;
  }

  let inv: AInventory;
  try {
    const ext = extname(absPath).toLowerCase();
    let yamlValue: unknown;
    let isYaml = ext === '.yml' || ext === '.yaml' || ext === '.json';
    if (!isYaml && ext === '') {
      try {
        const v = parseYamlPlain(text);
        isYaml = isMap(v) && looksLikeAnsibleYaml(v);
      } catch {
        isYaml = false;
      }
    }
    if (isYaml) {
      const loaded = encrypted ? { ...parseYamlText(text, name, index) } : await loadYaml(absPath, index);
      if (loaded.diagnostics.length) return { file: name, absPath, diagnostics: loaded.diagnostics, fileHashes };
      yamlValue = loaded.value;
      inv = readYamlInventory(yamlValue);
    } else inv = parseIniInventory(text);
    reconcile(inv);
    // Every var of a whole encrypted inventory is a secret, as every var of an encrypted
    // vars file is — except the connection vars orch shows in its output (address, port, user…).
    if (encrypted) {
      const secretVars = (vars: Vars): Record<string, unknown> => Object.fromEntries(Object.entries(vars).filter(([k]) => !CONNECTION_VARS.has(k) && !PLAIN_ANSIBLE_VARS.has(k)));
      for (const g of inv.groups.values()) recordSecretLeaves(secretVars(g.vars), index, name);
      for (const vars of inv.hosts.values()) recordSecretLeaves(secretVars(vars), index, name);
    }
  } catch (e) {
    if (e instanceof AnsibleInputError) return fail(e.message, e.line, e.path);
    throw e;
  }

  // group_vars/ and host_vars/ beside the inventory.
  const base = dirname(absPath);
  const groupFiles = new Map<string, Vars>();
  const hostFiles = new Map<string, Vars>();
  try {
    for (const g of inv.groups.keys()) {
      const merged: Vars = {};
      for (const vf of await readVarsFiles(join(base, 'group_vars'), g, fileHashes, index)) for (const [k, v] of Object.entries(vf.vars)) setOwn(merged, k, v);
      if (Object.keys(merged).length) groupFiles.set(g, merged);
    }
    for (const h of inv.hosts.keys()) {
      const merged: Vars = {};
      for (const vf of await readVarsFiles(join(base, 'host_vars'), h, fileHashes, index)) for (const [k, v] of Object.entries(vf.vars)) setOwn(merged, k, v);
      if (Object.keys(merged).length) hostFiles.set(h, merged);
    }
  } catch (e) {
    if (e instanceof AnsibleInputError) return fail(e.message);
    throw e;
  }

  const diagnostics: Diagnostic[] = [];
  const problem = (message: string, line = 1): void => void diagnostics.push({ file: name, line, col: 1, path: '(root)', message });
  // INI: the line that set KEY for host H (its own line, else a [group:vars] line of one of
  // its groups), else the host's first line; YAML inventories: line 1.
  const lineOf = (h: string, key?: string): number => {
    const l = inv.lines;
    if (!l) return 1;
    if (key !== undefined) {
      const own = l.get(`v\0${h}\0${key}`);
      if (own !== undefined) return own;
      for (const g of groupsOf.get(h) ?? []) {
        const gl = l.get(`g\0${g}\0${key}`);
        if (gl !== undefined) return gl;
      }
      const all = l.get(`g\0all\0${key}`);
      if (all !== undefined) return all;
    }
    return l.get(`h\0${h}`) ?? 1;
  };
  const depth = groupDepths(inv);
  const order = new Map<string, string[]>();
  for (const g of inv.groups.keys()) order.set(g, groupHosts(inv, g));
  // Groups of each host (directly or through children), computed once.
  const groupsOf = new Map<string, string[]>();
  for (const [g, hs] of order) if (g !== 'all') for (const h of hs) (groupsOf.get(h) ?? groupsOf.set(h, []).get(h)!).push(g);

  // Hosts: connection settings from the effective Ansible vars.
  const hosts: Record<string, unknown> = {};
  for (const h of inv.hosts.keys()) {
    if (!HOST_NAME.test(h)) {
      problem(`host ${JSON.stringify(h)}: orch host names match ^[A-Za-z0-9][A-Za-z0-9_.-]*$ (give it a name and set ansible_host to the address)`, lineOf(h));
      continue;
    }
    const vars = hostAnsibleVars(inv, h, [...(groupsOf.get(h) ?? [])], depth, groupFiles, hostFiles.get(h) ?? {});
    const own: Record<string, unknown> = {};
    for (const k of Object.keys(vars)) {
      if (k.startsWith('ansible_') && !CONNECTION_VARS.has(k) && !PLAIN_ANSIBLE_VARS.has(k)) {
        problem(`host ${h}: ${k} is not supported by orch (it takes ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file, ansible_connection ssh|local and a ProxyJump in ansible_ssh_common_args)`, lineOf(h, k));
      }
    }
    const str = (k: string): string | undefined => (vars[k] === undefined || vars[k] === null ? undefined : String(vars[k]));
    const address = str('ansible_host') ?? str('ansible_ssh_host');
    const portV = vars.ansible_port ?? vars.ansible_ssh_port;
    const user = str('ansible_user') ?? str('ansible_ssh_user');
    const identity = str('ansible_ssh_private_key_file') ?? str('ansible_private_key_file');
    const connection = str('ansible_connection');
    if (address !== undefined) own.address = address;
    if (portV !== undefined && portV !== null) {
      const port = Number(portV);
      if (!Number.isInteger(port) || port < 1 || port > 65535) problem(`host ${h}: ansible_port ${JSON.stringify(portV)} is not a port number`, lineOf(h, vars.ansible_port !== undefined ? 'ansible_port' : 'ansible_ssh_port'));
      else own.port = port;
    }
    if (user !== undefined) own.user = user;
    if (identity !== undefined) own.identity = identity;
    if (connection !== undefined && !['ssh', 'smart', 'paramiko', 'local'].includes(connection)) {
      problem(`host ${h}: ansible_connection ${connection} is not supported by orch (ssh or local)`, lineOf(h, 'ansible_connection'));
    }
    if (connection === 'local') own.transport = 'local';
    const common = str('ansible_ssh_common_args');
    if (common !== undefined && common.trim() !== '') {
      try {
        const ca = parseSshCommonArgs(common);
        const jump = ca.jump;
        if (ca.knownHosts !== undefined) own.known_hosts = ca.knownHosts;
        if (ca.hostKeyPolicy !== undefined) own.host_key_policy = ca.hostKeyPolicy;
        if (jump === undefined || jump.toLowerCase() === 'none') {
          /* no bastion */
        } else if (jump.includes(',')) problem(`host ${h}: ProxyJump ${jump}: give orch one bastion per host (the bastion's own ansible_ssh_common_args give the next hop)`, lineOf(h, 'ansible_ssh_common_args'));
        else if (!inv.hosts.has(jump)) problem(`host ${h}: ProxyJump ${jump} is not a host of the inventory (orch's jump names an inventory host; add it)`, lineOf(h, 'ansible_ssh_common_args'));
        else if (jump !== h) own.jump = jump;
      } catch (e) {
        problem(`host ${h}: ${(e as Error).message}`, lineOf(h, 'ansible_ssh_common_args'));
      }
    }
    // Every var, resolved by Ansible's precedence (orch's own group/host layers would order them differently).
    own.vars = withoutAnsibleVars(vars);
    hosts[h] = own;
  }

  // Groups (and roles): every group but all/ungrouped that has hosts.
  const groups: Record<string, unknown> = {};
  const roles: Record<string, string[]> = {};
  const nonEmpty = (g: string): boolean => (order.get(g)?.length ?? 0) > 0;
  for (const g of inv.groups.values()) {
    if (g.name === 'all' || g.name === 'ungrouped' || !nonEmpty(g.name)) continue;
    if (!HOST_NAME.test(g.name)) {
      problem(`group ${JSON.stringify(g.name)}: orch group names match ^[A-Za-z0-9][A-Za-z0-9_.-]*$`);
      continue;
    }
    const spec: Record<string, unknown> = {};
    if (g.hosts.length) spec.hosts = g.hosts.filter((h) => HOST_NAME.test(h));
    const kids = g.children.filter((c) => c !== 'ungrouped' && nonEmpty(c));
    if (kids.length) spec.children = kids;
    groups[g.name] = spec;
    roles[g.name] = order.get(g.name)!.filter((h) => HOST_NAME.test(h));
  }
  if (diagnostics.length) return { file: name, absPath, diagnostics, fileHashes };
  const value: Record<string, unknown> = { hosts };
  if (Object.keys(roles).length) value.roles = roles;
  if (Object.keys(groups).length) value.groups = groups;
  return { file: name, absPath, value, order, diagnostics: [], fileHashes };
}
