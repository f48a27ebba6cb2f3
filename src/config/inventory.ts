/**
 * Loads, validates and merges inventory files into the `Inventory` model
 * (docs/reference/inventory.md): defaults applied to hosts, role globs resolved, group children resolved,
 * vars merged by precedence, every semantic problem reported with file:line:col.
 *
 * Vocabulary and group semantics after Ansible inventories (groups with `children`,
 * vars precedence "parents before children", later `-i` files win key by key);
 * roles after python-deployer's role mapping.
 */
import type { Diagnostic, DocPath } from '../model/diagnostics.js';
import { diagAt, sortDiagnostics } from '../model/diagnostics.js';
import type { Group, Host, HostKeyPolicy, Inventory, Vars } from '../model/inventory.js';
import { detectAnsibleInventory, loadAnsibleInventory } from './ansible-inventory.js';
import { parseDuration } from '../model/duration.js';
import { compileGlob, isGlob } from './glob.js';
import { loadYaml } from './load-yaml.js';
import type { SourceIndexImpl } from './source-index.js';
import { validateAgainstSchema } from './validate.js';

/** Result of `loadInventory`: `inventory` is set only when there are no diagnostics. */
export interface LoadInventoryResult {
  inventory?: Inventory;
  diagnostics: Diagnostic[];
  /** Absolute path -> sha256 (hex) of every file read. */
  fileHashes: Record<string, string>;
}

/** Which file last set each key of a merged tree (so positions point at the winning file). */
interface Origin {
  file: string;
  keys: Map<string, Origin>;
}

type RawMap = Record<string, unknown>;

interface RawHost {
  address?: string;
  port?: number;
  user?: string;
  identity?: string;
  known_hosts?: string;
  host_key_policy?: 'strict' | 'accept-new';
  transport?: 'ssh' | 'local';
  jump?: string;
  give_up?: number | string;
  become?: boolean;
  become_user?: string;
  vars?: Vars;
}
interface RawGroup {
  hosts?: string[];
  children?: string[];
  vars?: Vars;
}
interface RawInventory {
  defaults?: RawHost;
  hosts?: Record<string, RawHost | null>;
  roles?: Record<string, string[]>;
  groups?: Record<string, RawGroup | null>;
}

const isMap = (v: unknown): v is RawMap => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Deep-merges `src` (from `file`) into `target`: maps merge key by key, anything else
 * (scalars, lists) is replaced; a `null` never erases an existing map (`web1:` alone
 * in a later file keeps web1's settings).
 */
function mergeInto(target: RawMap, origin: Origin, src: RawMap, file: string): void {
  for (const [key, value] of Object.entries(src)) {
    // Own properties only: a `__proto__` var must never reach Object.prototype.
    const cur = Object.hasOwn(target, key) ? target[key] : undefined;
    if (isMap(cur) && isMap(value)) {
      let o = origin.keys.get(key);
      if (!o) {
        o = { file, keys: new Map() };
        origin.keys.set(key, o);
      }
      mergeInto(cur, o, value, file);
    } else if (value === null && isMap(cur)) {
      continue;
    } else {
      setOwn(target, key, isMap(value) || Array.isArray(value) ? structuredClone(value) : value);
      origin.keys.set(key, { file, keys: new Map() });
    }
  }
}

/** Defines `target[key]` as an own data property (never invokes the `__proto__` setter). */
function setOwn(target: RawMap, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Copies the own keys of `src` onto `target` var by var (like Object.assign, but prototype-safe). */
function assignVars(target: Vars, src: Vars | undefined): void {
  if (src === undefined) return;
  for (const k in src) if (Object.hasOwn(src, k)) setOwn(target, k, src[k]);
}

/** The file that set `path` (the deepest recorded key on the way). */
function fileOf(origin: Origin, path: DocPath): string {
  let o = origin;
  for (const seg of path) {
    const next = o.keys.get(String(seg));
    if (!next) break;
    o = next;
  }
  return o.file;
}

/**
 * Loads the inventory `files` (paths relative to the cwd or absolute), in order; later
 * files win key by key (maps merge deeply, lists and scalars are replaced).
 *
 * Produces `Inventory` (src/model/inventory.ts): every host with `defaults` applied
 * (its own keys win; `defaults.jump` is not applied to the bastion itself nor to local
 * hosts), `address` = name when absent (`addressExplicit` false), `hostKeyPolicy`
 * default `strict`, `transport` default `ssh`; role members as names or globs (see
 * `compileGlob`); groups with `children` resolved recursively; `host.groups` and
 * `host.roles` sorted; `host.vars` = defaults.vars < group vars (ordered by depth, parents
 * first, then by name) < host vars, merged var by var (a var's value is replaced, not
 * deep-merged, as Ansible's default `hash_behaviour=replace`).
 *
 * Diagnostics (file:line:col of the file that set the offending key): YAML and schema
 * errors of each file; unknown host in a role or group; a role or group that names no
 * existing host; unknown child group; group cycle (`group cycle: a -> b -> a`);
 * `jump` naming an unknown host, a local host, or forming a cycle
 * (`jump cycle: a -> b -> a`); `give_up` under 1 s. Schema errors stop before the
 * semantic checks. `host.giveUpSeconds`: the host's `give_up`, else `defaults.give_up`.
 */
export async function loadInventory(files: string[], index: SourceIndexImpl): Promise<LoadInventoryResult> {
  const diagnostics: Diagnostic[] = [];
  const fileHashes: Record<string, string> = {};
  const absFiles: string[] = [];
  if (files.length === 0) {
    return {
      diagnostics: [{ file: '(command line)', line: 1, col: 1, path: '(root)', message: 'no inventory file given' }],
      fileHashes,
    };
  }

  const loaded: { file: string; value: RawMap }[] = [];
  let patternOrder: Map<string, string[]> | undefined;
  for (const f of files) {
    // Hook: Ansible INI/YAML inventories (src/config/ansible-inventory.ts) become orch's raw shape.
    const ansible = await detectAnsibleInventory(f);
    if (ansible !== undefined) {
      const a = await loadAnsibleInventory(ansible, index);
      absFiles.push(a.absPath);
      Object.assign(fileHashes, a.fileHashes);
      diagnostics.push(...a.diagnostics);
      if (a.value) {
        const schemaDiags = validateAgainstSchema('inventory', a.value, a.file, index);
        diagnostics.push(...schemaDiags);
        if (schemaDiags.length === 0) loaded.push({ file: a.file, value: a.value });
        if (files.length === 1) patternOrder = a.order;
      }
      continue;
    }
    const l = await loadYaml(f, index);
    absFiles.push(l.absPath);
    if (l.sha256) fileHashes[l.absPath] = l.sha256;
    diagnostics.push(...l.diagnostics);
    if (l.diagnostics.length > 0) continue;
    const value = l.value === null || l.value === undefined ? {} : l.value; // an empty file is an empty inventory
    const schemaDiags = validateAgainstSchema('inventory', value, l.file, index);
    diagnostics.push(...schemaDiags);
    if (schemaDiags.length === 0) loaded.push({ file: l.file, value: value as RawMap });
  }
  if (diagnostics.length > 0) return { diagnostics: sortDiagnostics(diagnostics), fileHashes };

  // Merge, remembering which file set what, and the file order of hosts/roles/groups.
  const firstFile = loaded[0]?.file ?? '';
  const merged: RawMap = {};
  const origin: Origin = { file: firstFile, keys: new Map() };
  const order = { hosts: [] as string[], roles: [] as string[], groups: [] as string[] };
  // Sets beside the lists: `includes` per key made 10,000 hosts quadratic (~0.8 s).
  const seenKeys = { hosts: new Set<string>(), roles: new Set<string>(), groups: new Set<string>() };
  for (const { file, value } of loaded) {
    for (const section of ['hosts', 'roles', 'groups'] as const) {
      const section_ = value[section];
      if (!isMap(section_)) continue;
      const keys = index.keysAt(file, [section]) ?? Object.keys(section_);
      for (const k of keys) {
        if (seenKeys[section].has(k)) continue;
        seenKeys[section].add(k);
        order[section].push(k);
      }
    }
    // One file needs no merge: its data is used as it is (read-only from here on),
    // which saves a deep copy of every host.
    if (loaded.length > 1) mergeInto(merged, origin, value, file);
  }

  const raw = (loaded.length === 1 ? loaded[0]!.value : merged) as RawInventory;
  const at = (path: DocPath, message: string) => diagnostics.push(diagAt(index, fileOf(origin, path), path, message));
  const inventory = buildInventory(raw, order, absFiles, at);
  if (diagnostics.length > 0) return { diagnostics: sortDiagnostics(diagnostics), fileHashes };
  if (patternOrder) inventory.patternOrder = patternOrder;
  return { inventory, diagnostics: [], fileHashes };
}

/** Semantic pass over the merged raw inventory; reports through `at`. */
function buildInventory(
  raw: RawInventory,
  order: { hosts: string[]; roles: string[]; groups: string[] },
  files: string[],
  at: (path: DocPath, message: string) => void,
): Inventory {
  const hostNames = order.hosts.filter((h) => raw.hosts && h in raw.hosts);
  const hostSet = new Set(hostNames);
  const defaults = raw.defaults ?? {};

  /** Resolves a list of host names / globs; reports unknown plain names. Returns sorted unique names. */
  const resolveMembers = (members: string[], path: DocPath): { hosts: string[]; reported: boolean } => {
    const out = new Set<string>();
    let reported = false;
    members.forEach((m, i) => {
      if (isGlob(m)) {
        const match = compileGlob(m);
        for (const h of hostNames) if (match(h)) out.add(h);
      } else if (hostSet.has(m)) {
        out.add(m);
      } else {
        at([...path, i], `unknown host ${JSON.stringify(m)}`);
        reported = true;
      }
    });
    return { hosts: [...out].sort(), reported };
  };

  // Roles.
  const roles = new Map<string, string[]>();
  for (const role of order.roles) {
    const members = raw.roles?.[role];
    if (!members) continue;
    const { hosts, reported } = resolveMembers(members, ['roles', role]);
    if (hosts.length === 0 && !reported) at(['roles', role], 'names no existing host');
    roles.set(role, hosts);
  }

  // Groups: own members, then children resolved in post-order (children first).
  const groupNames = order.groups.filter((g) => raw.groups && g in raw.groups);
  const groupSet = new Set(groupNames);
  const own = new Map<string, { hosts: string[]; reported: boolean }>();
  const children = new Map<string, string[]>();
  for (const g of groupNames) {
    const spec = raw.groups?.[g] ?? {};
    own.set(g, resolveMembers(spec.hosts ?? [], ['groups', g, 'hosts']));
    const kids: string[] = [];
    (spec.children ?? []).forEach((c, i) => {
      if (groupSet.has(c)) kids.push(c);
      else at(['groups', g, 'children', i], `unknown group ${JSON.stringify(c)}`);
    });
    children.set(g, kids);
  }
  const { postOrder, cycleEdges, inCycle } = walkGroups(groupNames, children, at, raw);
  const resolved = new Map<string, Set<string>>();
  for (const g of postOrder) {
    const set = new Set(own.get(g)?.hosts ?? []);
    for (const c of children.get(g) ?? []) {
      if (cycleEdges.has(`${g}\0${c}`)) continue;
      for (const h of resolved.get(c) ?? []) set.add(h);
    }
    resolved.set(g, set);
  }
  // Depth: longest chain of parents above a group (reverse post-order is topological).
  const depth = new Map<string, number>(groupNames.map((g) => [g, 0]));
  for (const g of [...postOrder].reverse()) {
    for (const c of children.get(g) ?? []) {
      if (cycleEdges.has(`${g}\0${c}`)) continue;
      depth.set(c, Math.max(depth.get(c) ?? 0, (depth.get(g) ?? 0) + 1));
    }
  }
  const groups = new Map<string, Group>();
  for (const g of groupNames) {
    const hosts = [...(resolved.get(g) ?? [])].sort();
    if (hosts.length === 0 && !own.get(g)?.reported && !inCycle.has(g)) at(['groups', g], 'names no existing host');
    const spec = raw.groups?.[g] ?? {};
    groups.set(g, { name: g, hosts, children: [...(spec.children ?? [])], vars: { ...(spec.vars ?? {}) } });
  }

  // Hosts. Role membership per host, computed once (not hosts x roles x members).
  const rolesOf = new Map<string, string[]>();
  for (const [r, members] of roles) for (const m of members) (rolesOf.get(m) ?? rolesOf.set(m, []).get(m)!).push(r);
  const hosts = new Map<string, Host>();
  // give_up: the schema checked the form; at least 1 s (the agent's clock ticks in seconds).
  const giveUpOf = (v: number | string, path: DocPath): number | undefined => {
    const d = parseDuration(v);
    if (d.ok && d.seconds >= 1) return d.seconds;
    at(path, d.ok ? `give_up ${JSON.stringify(v)}: expected at least 1 s (the agent checks once a second)` : d.message);
    return undefined;
  };
  const defaultGiveUp = defaults.give_up !== undefined ? giveUpOf(defaults.give_up, ['defaults', 'give_up']) : undefined;
  for (const name of hostNames) {
    const own_ = raw.hosts?.[name] ?? {};
    const transport = own_.transport ?? defaults.transport ?? 'ssh';
    // Per host, so without a copy or a sort where one group (or none) holds it.
    const hostGroups: string[] = [];
    for (const g of groupNames) if (resolved.get(g)?.has(name)) hostGroups.push(g);
    if (hostGroups.length > 1) hostGroups.sort();
    const varGroups = hostGroups.length > 1 ? [...hostGroups].sort((a, b) => (depth.get(a) ?? 0) - (depth.get(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0)) : hostGroups;
    const vars: Vars = {};
    assignVars(vars, defaults.vars);
    for (const g of varGroups) assignVars(vars, raw.groups?.[g]?.vars);
    assignVars(vars, own_.vars);
    const jump = own_.jump ?? (transport === 'local' || defaults.jump === name ? undefined : defaults.jump);
    const host: Host = {
      name,
      address: own_.address ?? name,
      addressExplicit: own_.address !== undefined,
      transport,
      hostKeyPolicy: (own_.host_key_policy ?? defaults.host_key_policy ?? 'strict') as HostKeyPolicy,
      groups: hostGroups,
      roles: rolesOf.get(name)?.sort() ?? [], // a fresh list per host (built above)
      vars,
    };
    const user = own_.user ?? defaults.user;
    const port = own_.port ?? defaults.port;
    const identity = own_.identity ?? defaults.identity;
    const knownHosts = own_.known_hosts ?? defaults.known_hosts;
    if (user !== undefined) host.user = user;
    if (port !== undefined) host.port = port;
    if (identity !== undefined) host.identity = identity;
    if (knownHosts !== undefined) host.knownHosts = knownHosts;
    if (jump !== undefined) host.jump = jump;
    const giveUp = own_.give_up !== undefined ? giveUpOf(own_.give_up, ['hosts', name, 'give_up']) : defaultGiveUp;
    if (giveUp !== undefined) host.giveUpSeconds = giveUp;
    if ((own_.become ?? defaults.become) === true) host.become = own_.become_user ?? defaults.become_user ?? 'root';
    hosts.set(name, host);
  }
  checkJumps(hosts, raw, at);

  return { files, hosts, roles, groups };
}

/**
 * Iterative DFS over group children: returns groups in post-order (children before
 * parents) and the back edges (each reported once as a cycle).
 */
function walkGroups(
  groupNames: string[],
  children: Map<string, string[]>,
  at: (path: DocPath, message: string) => void,
  raw: RawInventory,
): { postOrder: string[]; cycleEdges: Set<string>; inCycle: Set<string> } {
  const state = new Map<string, 1 | 2>();
  const postOrder: string[] = [];
  const cycleEdges = new Set<string>();
  const inCycle = new Set<string>();
  for (const start of groupNames) {
    if (state.has(start)) continue;
    const stack: { name: string; i: number }[] = [{ name: start, i: 0 }];
    state.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const kids = children.get(top.name) ?? [];
      if (top.i < kids.length) {
        const c = kids[top.i++]!;
        const s = state.get(c);
        if (s === 1) {
          cycleEdges.add(`${top.name}\0${c}`);
          const from = stack.findIndex((f) => f.name === c);
          const cycle = [...stack.slice(from).map((f) => f.name), c];
          for (const g of cycle) inCycle.add(g);
          const idx = (raw.groups?.[top.name]?.children ?? []).indexOf(c);
          at(['groups', top.name, 'children', idx], `group cycle: ${cycle.join(' -> ')}`);
        } else if (s === undefined) {
          state.set(c, 1);
          stack.push({ name: c, i: 0 });
        }
      } else {
        state.set(top.name, 2);
        postOrder.push(top.name);
        stack.pop();
      }
    }
  }
  return { postOrder, cycleEdges, inCycle };
}

/** Reports jumps to unknown or local hosts and jump cycles (each cycle once). */
function checkJumps(hosts: Map<string, Host>, raw: RawInventory, at: (path: DocPath, message: string) => void): void {
  const jumpPath = (name: string): DocPath =>
    raw.hosts?.[name]?.jump !== undefined ? ['hosts', name, 'jump'] : ['defaults', 'jump'];
  const reported = new Set<string>();
  const once = (path: DocPath, message: string) => {
    const key = `${path.join('\0')}\0${message}`;
    if (reported.has(key)) return;
    reported.add(key);
    at(path, message);
  };
  for (const host of hosts.values()) {
    if (host.jump === undefined) continue;
    if (host.transport === 'local' && raw.hosts?.[host.name]?.jump !== undefined) {
      once(['hosts', host.name, 'jump'], 'a host with transport local cannot use a jump host');
      continue;
    }
    const target = hosts.get(host.jump);
    if (!target) {
      once(jumpPath(host.name), `unknown host ${JSON.stringify(host.jump)}`);
      continue;
    }
    if (target.transport === 'local') {
      once(jumpPath(host.name), `jump host ${JSON.stringify(host.jump)} has transport local`);
      continue;
    }
    // Follow the chain; a revisit is a cycle.
    const chain = [host.name];
    let cur: Host | undefined = target;
    while (cur) {
      const seenAt = chain.indexOf(cur.name);
      if (seenAt >= 0) {
        const cycle = chain.slice(seenAt);
        // Report once per cycle, at the alphabetically first member's jump.
        const first = [...cycle].sort()[0]!;
        const rot = [...cycle.slice(cycle.indexOf(first)), ...cycle.slice(0, cycle.indexOf(first)), first];
        once(jumpPath(first), `jump cycle: ${rot.join(' -> ')}`);
        break;
      }
      chain.push(cur.name);
      cur = cur.jump !== undefined ? hosts.get(cur.jump) : undefined;
    }
  }
}
