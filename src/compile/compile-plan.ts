/**
 * compilePlan: playbook + inventory + resolved bundles -> Plan. Pure: no fs, network,
 * clock or env (file reads and hashing are injected; `env` is passed in).
 *
 * Sources: python-deployer (nodes, roles, overrides, required), terraform (the plan is
 * the only thing that decides what apply does), Ansible (serial, max_fail, limit).
 */
import type { Diagnostic, SourceIndex } from '../model/diagnostics.js';
import { cmdlineDiagnostic, diagAt, sortDiagnostics } from '../model/diagnostics.js';
import type { Host, Inventory, Vars } from '../model/inventory.js';
import type { BatchAround, MaxFail, Plan, PlanBundle, PlanInputs, PlanPhase, PlanStep, Task } from '../steps/plan.js';
import type { Playbook, SerialSpec, StepSpec } from '../model/playbook.js';
import type { Masker } from '../shell/mask.js';
import { isTooShortSecret, shortSecretMessage } from '../shell/mask.js';
import { RenderError, renderTemplate } from '../shell/render.js';
import { limitUniverse, selectHosts } from './limit.js';
import { planHostsFor } from './plan-hosts.js';
import { flattenNodes, resolveNodeTree, type ResolvedNode } from './resolve-nodes.js';
import { isStepKind, STEP_KIND_NAMES, STEP_KINDS } from '../steps/index.js';
import { sharedPathProblem } from '../steps/install.js';
import type { DescribeContext, StepContext } from '../steps/kind.js';
import { buildScope, getVar } from './vars.js';
import { hasRole, startFollows } from './lifecycle.js';
import { parseDuration } from '../model/duration.js';

/** Everything compilePlan needs; impure capabilities are injected. */
export interface CompileInput {
  playbook: Playbook;
  inventory: Inventory;
  index: SourceIndex;
  /** Bundles resolved on the control machine (built or inspected artifacts). */
  bundles: Record<string, PlanBundle>;
  limit?: string;
  /** `--node PATH`: only that subtree. */
  node?: string;
  /** `-e key=value`. */
  extraVars: Record<string, string>;
  /** Environment for `{{env "NAME"}}`. */
  env: Record<string, string | undefined>;
  /** Collects secret values (secret vars, env reads) for masking. */
  masker: Masker;
  /** Reads a local file (absolute path); throws an Error with a message on failure. */
  readFile: (absPath: string) => Buffer;
  sha256: (bytes: Buffer) => string;
  /** Resolves a path relative to a base directory (path.resolve, injected). */
  resolvePath: (baseDir: string, p: string) => string;
  /** Inputs to record in the plan (file hashes etc.). */
  inputs: PlanInputs;
}

export interface CompileResult {
  plan?: Plan;
  diagnostics: Diagnostic[];
  /** The resolved node tree (for `orch tree`). */
  tree?: ResolvedNode;
  /** Non-fatal problems to show the user (e.g. a `--limit` term that matched nothing). */
  warnings?: string[];
}

/** The nodes a run covers and the hosts `--limit` leaves, or the command-line diagnostic. */
interface NodeSelection {
  limited: Set<string>;
  nodes: ResolvedNode[];
  warnings: string[];
}

/** `--limit` (Ansible limit pattern syntax, limit.ts) and `--node` applied to the resolved tree. */
function selectNodes(root: ResolvedNode, inventory: Inventory, limit: string | undefined, node: string | undefined): NodeSelection | { diagnostic: Diagnostic } {
  let limited = new Set([...inventory.hosts.keys()].sort());
  const warnings: string[] = [];
  if (limit !== undefined) {
    const sel = selectHosts(limit, limitUniverse(inventory));
    if ('error' in sel) return { diagnostic: cmdlineDiagnostic('--limit', sel.error) };
    limited = new Set(sel.hosts);
    warnings.push(...sel.warnings.map((w) => `--limit: ${w}`));
  }
  let nodes = flattenNodes(root);
  if (node !== undefined) {
    const top = nodes.find((n) => n.path === node);
    if (!top) {
      const known = nodes.filter((n) => n.path).map((n) => n.path).join(', ') || '(none)';
      return { diagnostic: cmdlineDiagnostic('--node', `no node "${node}" (nodes: ${known})`) };
    }
    nodes = flattenNodes(top);
  }
  return { limited, nodes, warnings };
}

/**
 * The hosts a step of node `n` runs on: its `on:` role (the step's, else the node's),
 * else the node's `host` role, else the node's hosts; within `limited`; the first one
 * only with `once`. Undefined when `on:` names a role the node does not have.
 */
function stepHosts(n: ResolvedNode, step: StepSpec, limited: Set<string>): string[] | undefined {
  const onRole = step.on ?? n.spec.on;
  let hosts: string[];
  if (onRole !== undefined) {
    const r = n.roles.get(onRole);
    if (!r) return undefined;
    hosts = r.filter((h) => limited.has(h));
  } else if (n.roles.has('host')) hosts = n.roles.get('host')!.filter((h) => limited.has(h));
  else hosts = n.hosts.filter((h) => limited.has(h));
  return step.once && hosts.length > 1 ? hosts.slice(0, 1) : hosts;
}

/**
 * The hosts a run of `playbook` will connect to, known before bundles are built or the
 * plan compiles: every host some step runs on (same rules as compilePlan; a superset
 * of the plan's targets only where a step builds no task for a host). Sorted.
 * Undefined when the tree, `--limit` or `--node` has a problem (compilePlan reports it).
 */
export function candidateTargets(playbook: Playbook, inventory: Inventory, index: SourceIndex, limit?: string, node?: string): string[] | undefined {
  const diags: Diagnostic[] = [];
  const root = resolveNodeTree(playbook, inventory, index, diags);
  if (diags.length) return undefined;
  const sel = selectNodes(root, inventory, limit, node);
  if ('diagnostic' in sel) return undefined;
  const out = new Set<string>();
  for (const n of sel.nodes) {
    for (const step of n.spec.steps ?? []) {
      for (const h of stepHosts(n, step, sel.limited) ?? []) out.add(h);
    }
    // drain/undrain hosts (load balancers): every host of the step's role, whatever the limit.
    for (const step of [...(n.spec.drain ?? []), ...(n.spec.undrain ?? [])]) for (const h of (step.on !== undefined && n.roles.get(step.on)) || []) out.add(h);
  }
  return [...out].sort();
}

/** Compiles a plan. Returns diagnostics (never throws for user input). */
export function compilePlan(input: CompileInput): CompileResult {
  const { playbook, inventory, index } = input;
  const diags: Diagnostic[] = [];
  const root = resolveNodeTree(playbook, inventory, index, diags);
  if (diags.length) return { diagnostics: sortDiagnostics(diags), tree: root };

  const sel = selectNodes(root, inventory, input.limit, input.node);
  if ('diagnostic' in sel) return { diagnostics: [sel.diagnostic] };
  const { limited, nodes, warnings } = sel;

  const bundleNames = Object.keys(input.bundles);
  const phases: PlanPhase[] = [];
  const targets = new Set<string>();
  const renderDiags = new Map<string, { d: Diagnostic; hosts: string[] }>();
  const report = (file: string, path: (string | number)[], message: string, host?: string, at?: { file: string; line: number; col: number }): void => {
    reports++;
    const key = `${at ? `${at.file}:${at.line}:${at.col}` : file}\0${path.join('\0')}\0${message}`;
    const prev = renderDiags.get(key);
    if (prev) {
      if (host && prev.hosts.length < 50) prev.hosts.push(host);
      return;
    }
    renderDiags.set(key, { d: { ...diagAt(index, file, path, message), ...at }, hosts: host ? [host] : [] });
  };

  const scriptMemo = new Map<string, string>();
  // Scope per (node, host), memoised: parent scopes are reused by children. Keyed by
  // node object, then host name (no key strings built per lookup); a node's var layers,
  // its bundle and each host's `host` object are computed once, not per (node, host).
  const scopes = new Map<ResolvedNode, Map<string, Record<string, unknown>>>();
  const layersOf = new Map<ResolvedNode, Vars[]>();
  const bundleOf = new Map<ResolvedNode, PlanBundle | undefined>();
  const hostExtras = new Map<string, Record<string, unknown>>();
  const nodeVarsChain = (n: ResolvedNode): Vars[] => {
    const hit = layersOf.get(n);
    if (hit) return hit;
    const chain: ResolvedNode[] = [];
    for (let c: ResolvedNode | undefined = n; c; c = c.parent) chain.unshift(c);
    const layers: Vars[] = [];
    for (const c of chain) {
      if (c.spec.vars) layers.push(c.spec.vars);
      layers.push(c.overrideVars);
    }
    layersOf.set(n, layers);
    return layers;
  };
  const nodeBundle = (n: ResolvedNode): PlanBundle | undefined => {
    if (bundleOf.has(n)) return bundleOf.get(n);
    const inst = (n.spec.steps ?? []).find((s) => hasRole(s, 'stage'));
    const named = inst?.args.bundle;
    const b = typeof named === 'string' ? input.bundles[named] : bundleNames.length === 1 ? input.bundles[bundleNames[0]!] : undefined;
    bundleOf.set(n, b);
    return b;
  };
  const secretNames = new Set(playbook.secret);
  /** The scope of node `n` for `host`, whose `host` object is `hostObj`, below `parent` (no memo, no secret check). */
  const makeScope = (n: ResolvedNode, host: Host, hostObj: Record<string, unknown>, parent: Record<string, unknown>): Record<string, unknown> => {
    const raw: Vars = Object.assign({}, host.vars, playbook.vars, ...nodeVarsChain(n), input.extraVars);
    const bundle = nodeBundle(n);
    const extras: Record<string, unknown> = { host: hostObj, node: { name: n.name, path: n.path }, parent };
    if (bundle) extras.bundle = { name: bundle.name, package: bundle.package, version: bundle.version, platform: bundle.platform, sha256: bundle.sha256 };
    const scope = buildScope(raw, extras, { env: input.env, masker: input.masker });
    if (bundle) {
      const release: Record<string, unknown> = {};
      const rootOf = (): string => String(getVar(scope, 'root') ?? '');
      Object.defineProperty(release, 'root', { enumerable: true, get: rootOf });
      Object.defineProperty(release, 'dir', { enumerable: true, get: () => `${rootOf()}/versions/${bundle.version}` });
      Object.defineProperty(release, 'current', { enumerable: true, get: () => `${rootOf()}/current` });
      Object.defineProperty(release, 'previous', { enumerable: true, get: () => `${rootOf()}/previous` });
      Object.defineProperty(scope, 'release', { enumerable: true, value: release });
    }
    return scope;
  };
  const scopeFor = (n: ResolvedNode, host: Host): Record<string, unknown> => {
    let perNode = scopes.get(n);
    if (!perNode) scopes.set(n, (perNode = new Map()));
    const hit = perNode.get(host.name);
    if (hit) return hit;
    const hostObj = hostExtras.get(host.name) ?? hostExtras.set(host.name, { name: host.name, address: host.address, roles: host.roles, groups: host.groups, vars: host.vars }).get(host.name)!;
    const scope = makeScope(n, host, hostObj, n.parent ? scopeFor(n.parent, host) : {});
    // Secret vars: their rendered values are masked everywhere.
    for (const s of secretNames) {
      try {
        const v = getVar(scope, s);
        if (typeof v !== 'string' && typeof v !== 'number') continue;
        const text = String(v);
        if (isTooShortSecret(text)) report(playbook.root.src.file, ['secret', playbook.secret.indexOf(s)], shortSecretMessage(`secret var "${s}"`, text.length), host.name);
        else input.masker.add(text);
      } catch {
        /* reported where used */
      }
    }
    perNode.set(host.name, scope);
    return scope;
  };

  // Hosts alike for a step: a task depends on its host only through the scope (the step
  // kinds read no other host field), so hosts with the same inventory vars share the task
  // compiled for the first of them when that compile read nothing else of its host (no
  // `host.*`, no field of `ctx.host`) and reported nothing. The first host is compiled
  // with a fresh scope whose `host` object records reads (a memoised scope's cached vars
  // would hide an earlier read). 10,000 alike hosts then cost one compile per step.
  let hostRead = false;
  const watched = (src: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> => {
    const view: Record<string, unknown> = {};
    for (const k of keys) Object.defineProperty(view, k, { enumerable: true, get: () => ((hostRead = true), src[k]) });
    return view;
  };
  const HOST_OBJ_KEYS = ['name', 'address', 'roles', 'groups', 'vars'] as const;
  const freshScope = (n: ResolvedNode, host: Host, hostObj: Record<string, unknown>): Record<string, unknown> =>
    makeScope(n, host, hostObj, n.parent ? freshScope(n.parent, host, hostObj) : {});
  const classKeys = new Map<string, string | null>();
  /** The key of hosts alike (their vars as JSON), or null when a var is not plain data. */
  const classOf = (host: Host): string | null => {
    let k = classKeys.get(host.name);
    if (k === undefined) classKeys.set(host.name, (k = isEmptyPlain(host.vars) ? '{}' : plainDataKey(host.vars)));
    return k;
  };
  let reports = 0;

  for (const n of nodes) {
    const nodeHosts = n.hosts.filter((h) => limited.has(h));
    // required vars
    for (const req of n.spec.required ?? []) {
      const missing: string[] = [];
      for (const h of nodeHosts) {
        try {
          if (getVar(scopeFor(n, inventory.hosts.get(h)!), req) === undefined) missing.push(h);
        } catch {
          /* a failing template counts as set; the error shows where it is used */
        }
      }
      if (missing.length) {
        report(n.spec.src.file, [...n.spec.src.path, 'required'],
          `required var "${req}" of node ${n.path || '(root)'} is not set (set it in vars, with an override ${n.path ? `${n.path.replaceAll('.', '__')}__${req}` : req}, or -e ${req}=...)`);
      }
    }
    (n.spec.shared ?? []).forEach((p, i) => {
      const problem = sharedPathProblem(p);
      if (problem) report(n.spec.src.file, [...n.spec.src.path, 'shared', i], problem);
    });
    const steps = n.spec.steps ?? [];
    if (!steps.length || !nodeHosts.length) continue;
    const planSteps: PlanStep[] = [];
    /**
     * One step compiled for `hosts` (each with `scopeOf` its scope), at `index` of the phase;
     * with `share`, hosts alike share one compile (see above; scopeOf must then be the node's
     * plain scope, so not for drain/undrain copies, whose scope holds the batch).
     */
    const compileStep = (step: StepSpec, i: number, hosts: string[], scopeOf: (host: Host) => Record<string, unknown>, prefix = '', share = false): PlanStep => {
      const stepKind = step.kind;
      // The callers report unknown kinds (loadPlaybook refuses them; a Playbook built in code may still hold one).
      if (!isStepKind(stepKind)) throw new Error(`unknown step kind "${stepKind}"`);
      const tasks: Record<string, Task> = {};
      const kind = STEP_KINDS[stepKind];
      let label: string | undefined;
      /** Per class of alike hosts: the shared task and label, or null when each host compiles its own. */
      const shared = new Map<string, { task: Task | undefined; own: string } | null>();
      const one = (host: Host, scope: Record<string, unknown>, ctxHost: Host): { task: Task | undefined; own: string } => {
        const ctx = makeStepContext(scriptMemo, input, n, host, step, scope, nodeBundle(n), report, ctxHost);
        const task = kind.build(ctx) as Task | undefined;
        if (!task) return { task, own: '' };
        // The label is rendered per host (host.address may be in it); the step keeps the first one.
        // Masked here: labels are printed everywhere (plan, progress, JSON, tree) and may hold a secret var.
        return { task, own: input.masker.mask(step.name !== undefined ? safeRender(step.name, scope, input) : kind.describe(describeContext(ctx, scope, input))) };
      };
      for (const h of hosts) {
        const host = inventory.hosts.get(h)!;
        const cls = share ? classOf(host) : null;
        let got: { task: Task | undefined; own: string };
        const known = cls === null ? null : shared.get(cls);
        if (known) {
          // Secret vars are still read (and masked) per host, as the host's own compile would.
          if (secretNames.size) scopeFor(n, host);
          if (!known.task) continue;
          // A copy per host (a later change to one host's task never shows in another's).
          const task = { ...known.task };
          if (label === undefined) label = known.own;
          else if (known.own !== label) task.label = known.own;
          tasks[h] = task;
          continue;
        } else if (cls !== null && known === undefined) {
          // The host's secret values are known to the masker before its label is masked.
          if (secretNames.size) scopeFor(n, host);
          const before = reports;
          hostRead = false;
          const hostObj = watched(host as unknown as Record<string, unknown>, HOST_OBJ_KEYS);
          got = one(host, freshScope(n, host, hostObj), watched(host as unknown as Record<string, unknown>, Object.keys(host)) as unknown as Host);
          const alike = !hostRead && reports === before;
          hostRead = false;
          // Not alike: this compile still is this host's own (its scope is equal to the memoised one).
          shared.set(cls, alike ? { task: got.task && { ...got.task }, own: got.own } : null);
        } else got = one(host, scopeOf(host), host);
        const task = got.task;
        if (!task) continue;
        if (label === undefined) label = got.own;
        else if (got.own !== label) task.label = got.own;
        tasks[h] = task;
      }
      const when = (step.when === 'changed' || step.when === 'always' ? step.when : undefined) ?? kind.whenOf?.(step.args) ?? kind.defaultWhen;
      // The position is found when first read (a message, a printed or saved plan): finding
      // it composes the file's YAML document with source ranges (SourceIndex.entry), which a
      // run that reports nothing about its steps never needs. Enumerable, so JSON has it.
      let at: string | undefined;
      const src = step.src;
      return {
        index: i, name: `${prefix}${label || stepKind}`, kind: stepKind, when, tasks,
        get at(): string {
          if (at === undefined) {
            const pos = index.locate(src.file, src.path);
            at = `${pos.file}:${pos.line}:${pos.col}`;
          }
          return at;
        },
      };
    };
    steps.forEach((step, i) => {
      const stepPath = [...step.src.path];
      const hosts = stepHosts(n, step, limited);
      if (!hosts) {
        report(step.src.file, [...stepPath, 'on'], `node ${n.path || '(root)'} has no role "${step.on ?? n.spec.on}" (roles: ${[...n.roles.keys()].sort().join(', ') || '(none)'})`);
        return;
      }
      if (!isStepKind(step.kind)) {
        report(step.src.file, stepPath, `unknown step kind "${step.kind}" (known: ${STEP_KIND_NAMES.join(', ')})`);
        return;
      }
      planSteps.push(compileStep(step, i, hosts, (host) => scopeFor(n, host), '', true));
    });
    const phaseHosts = [...new Set(planSteps.flatMap((s) => Object.keys(s.tasks)))].sort();
    if (!phaseHosts.length) continue;
    phaseHosts.forEach((h) => targets.add(h));
    const batches = makeBatches(phaseHosts, n.spec.serial);
    if (typeof batches === 'string') {
      report(n.spec.src.file, [...n.spec.src.path, 'serial'], batches);
      continue;
    }
    const phase: PlanPhase = { node: n.path, hosts: phaseHosts, batches, steps: planSteps };
    if (n.spec.drain?.length || n.spec.undrain?.length) {
      const around = compileAround(n, batches, steps.length, planSteps.length, (h) => inventory.hosts.get(h)!.address, (step, i, hosts, batch, prefix) => compileStep(step, i, hosts, (host) => withBatch(scopeFor(n, host), batch), prefix), report);
      if (around) {
        phase.steps.push(...around.steps);
        phase.around = around.around;
        phase.aroundHosts = around.hosts;
        around.hosts.forEach((h) => targets.add(h));
      }
    }
    const mf = parseMaxFail(n.spec.max_fail);
    const mfp = parseMaxFailPercentage(n.spec.max_fail_percentage);
    if (typeof mf === 'string') report(n.spec.src.file, [...n.spec.src.path, 'max_fail'], mf);
    else if (typeof mfp === 'string') report(n.spec.src.file, [...n.spec.src.path, 'max_fail_percentage'], mfp);
    else if (mf && mfp) report(n.spec.src.file, [...n.spec.src.path, 'max_fail_percentage'], 'set either max_fail or max_fail_percentage, not both (max_fail: "P%" is the same as max_fail_percentage: P)');
    else if (mf ?? mfp) phase.maxFail = (mf ?? mfp)!;
    // Rolling deploys stop at the first failing batch unless max_fail says otherwise (Ansible's serial).
    else if (n.spec.serial !== undefined) phase.maxFail = { count: 0 };
    if (n.spec.bake !== undefined) {
      const bake = bakeOf(n.spec.bake, planSteps);
      if (typeof bake === 'string') report(n.spec.src.file, [...n.spec.src.path, 'bake'], bake);
      else if (bake > 0) phase.bake = bake;
    }
    phases.push(phase);
  }

  for (const { d, hosts } of renderDiags.values()) {
    if (hosts.length && hosts.length < limited.size) d.message += ` (host${hosts.length > 1 ? 's' : ''} ${hosts.slice(0, 5).join(', ')}${hosts.length > 5 ? ', ...' : ''})`;
    diags.push(d);
  }
  if (diags.length) return { diagnostics: sortDiagnostics(diags), tree: root };
  if (!targets.size) {
    return { diagnostics: [{ file: playbook.file, line: 1, col: 1, path: '(root)', message: 'no host runs any step (check roles, on, --limit and --node)' }], tree: root };
  }

  const planHosts = planHostsFor(inventory, [...targets]);

  return {
    plan: {
      planVersion: 1,
      inputs: input.inputs,
      hosts: planHosts,
      targets: [...targets].sort(),
      bundles: input.bundles,
      phases,
    },
    diagnostics: [],
    tree: root,
    warnings,
  };
}

/**
 * A key equal for equal plain data (JSON text; objects' keys in their order), or null when
 * `v` holds anything else (a class instance, a function, undefined, a non-finite number).
 */
export function plainDataKey(v: unknown): string | null {
  const plain = (x: unknown, depth: number): boolean => {
    if (depth > 64) return false;
    if (x === null || typeof x === 'string' || typeof x === 'boolean') return true;
    if (typeof x === 'number') return Number.isFinite(x) && !Object.is(x, -0);
    if (Array.isArray(x)) return x.every((e) => plain(e, depth + 1));
    if (typeof x !== 'object') return false;
    const proto = Object.getPrototypeOf(x);
    if (proto !== Object.prototype && proto !== null) return false;
    for (const k of Object.keys(x)) if (!plain((x as Record<string, unknown>)[k], depth + 1)) return false;
    return Object.getOwnPropertySymbols(x).length === 0;
  };
  return plain(v, 0) ? JSON.stringify(v) : null;
}

/** True for `{}` (a plain object without own keys). */
function isEmptyPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k in v) if (Object.hasOwn(v, k)) return false;
  return Object.getOwnPropertySymbols(v).length === 0;
}

function safeRender(text: string, scope: Record<string, unknown>, input: CompileInput): string {
  try {
    return renderTemplate(text, scope, { mode: 'text', env: input.env, masker: input.masker });
  } catch {
    return text;
  }
}

/** What a kind's `describe` sees: its args and a text renderer that never reports. */
function describeContext(ctx: StepContext, scope: Record<string, unknown>, input: CompileInput): DescribeContext {
  return {
    args: ctx.args,
    host: ctx.host,
    bundles: ctx.bundles,
    ...(ctx.bundle && { bundle: ctx.bundle }),
    label(field) {
      const v = (ctx.args as Record<string, unknown> | null)?.[field];
      if (v === undefined) return undefined;
      return typeof v === 'string' ? safeRender(v, scope, input) : String(v);
    },
  };
}

function makeStepContext(
  scriptMemo: Map<string, string>,
  input: CompileInput,
  n: ResolvedNode,
  host: Host,
  step: StepSpec,
  scope: Record<string, unknown>,
  bundle: PlanBundle | undefined,
  report: (file: string, path: (string | number)[], message: string, host?: string, at?: { file: string; line: number; col: number }) => void,
  ctxHost: Host = host,
): StepContext {
  // A field may be dotted (`unit.content`, `name.1`: an item of a list).
  const fieldPath = (field?: string): (string | number)[] => (field ? [...step.src.path, step.kind, ...field.split('.').map((k) => (/^[0-9]+$/.test(k) ? Number(k) : k))] : [...step.src.path, step.kind]);
  const fail = (field: string | undefined, message: string): void => report(step.src.file, fieldPath(field), message, host.name);
  const doRender = (text: string, mode: 'shell' | 'text', field: string, file?: string): string | undefined => {
    try {
      return renderTemplate(text, scope, { mode, env: input.env, masker: input.masker });
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      // A template file's error is at its own line (the playbook line only names the file).
      if (file !== undefined && err.loc) {
        // Shown as the playbook's folder (as given) joined with the path written in it.
        const src = step.src.file;
        const shown = file.startsWith('/') ? file : `${src.includes('/') ? src.slice(0, src.lastIndexOf('/') + 1) : ''}${file}`;
        report(src, fieldPath(field), err.message, host.name, { file: shown, line: err.loc.line, col: err.loc.column });
      }
      else fail(field, err.message);
      return undefined;
    }
  };
  const baseDir = input.resolvePath(playbookDirOf(input.playbook.file), '.');
  return {
    host: ctxHost,
    nodePath: n.path,
    args: step.args,
    ...(bundle && { bundle }),
    bundles: input.bundles,
    render(field, mode) {
      const v = step.args[field];
      if (v === undefined) return undefined;
      if (typeof v !== 'string') return String(v);
      return doRender(v, mode, field);
    },
    renderText: (text, field, file) => doRender(text, 'text', field, file),
    getVar(name) {
      try {
        return getVar(scope, name);
      } catch (err) {
        if (err instanceof RenderError) fail(undefined, err.message);
        else throw err;
        return undefined;
      }
    },
    readLocalFile(p, field) {
      const abs = input.resolvePath(baseDir, p);
      try {
        return { bytes: input.readFile(abs), absPath: abs };
      } catch (err) {
        fail(field, `cannot read ${abs}: ${(err as Error).message}`);
        return undefined;
      }
    },
    fail,
    sha256: input.sha256,
    memo: scriptMemo,
    nodeRollback: n.spec.rollback !== false,
    nodeShared: (n.spec.shared ?? []).filter((p) => sharedPathProblem(p) === undefined),
    restartFollows: startFollows(n.spec.steps ?? [], (n.spec.steps ?? []).indexOf(step)),
  };
}

function playbookDirOf(file: string): string {
  const i = file.lastIndexOf('/');
  return i <= 0 ? '/' : file.slice(0, i);
}

/**
 * Ansible `serial`: N hosts, "P%" of the phase's hosts, or a list whose last value
 * repeats (`[1, "10%", "100%"]`: a canary, then 10 %, then the rest). A percentage is of
 * ALL the phase's hosts, not of those left, truncated as ansible-core does it, at least 1
 * (`pct_to_int` in lib/ansible/utils/helpers.py: `int((pct / 100.0) * n) or 1`, used by
 * `_get_serialized_batches` in lib/ansible/executor/playbook_executor.py): 50 % of 5 is 2.
 * Returns batches or an error message.
 */
export function makeBatches(hosts: string[], serial: SerialSpec | undefined): string[][] | string {
  if (serial === undefined) return [hosts];
  const specs = Array.isArray(serial) ? serial : [serial];
  if (!specs.length) return 'serial must not be an empty list';
  const sizes: number[] = [];
  for (const s of specs) {
    const n = batchSize(s, hosts.length);
    if (typeof n === 'string') return n;
    sizes.push(n);
  }
  const out: string[][] = [];
  let i = 0;
  let k = 0;
  while (i < hosts.length) {
    const size = sizes[Math.min(k, sizes.length - 1)]!;
    out.push(hosts.slice(i, i + size));
    i += size;
    k++;
  }
  return out;
}

function batchSize(s: number | string, total: number): number | string {
  if (typeof s === 'number') return Number.isInteger(s) && s >= 1 ? s : `serial must be a whole number >= 1 or "P%" (got ${s})`;
  const m = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (m) {
    const p = Number(m[1]);
    if (p <= 0 || p > 100) return `serial percentage must be in (0, 100] (got "${s}")`;
    // The same float arithmetic as Python's (both IEEE doubles): 29 % of 100 is 28 there too.
    return Math.trunc((p / 100) * total) || 1;
  }
  if (/^\d+$/.test(s) && Number(s) >= 1) return Number(s);
  return `serial must be a whole number >= 1 or "P%" (got ${JSON.stringify(s)})`;
}

/**
 * Ansible's `max_fail_percentage: P` (a number 0-100, or `"P%"`): a batch fails the
 * rollout when more than P % of its hosts failed -> `{percent: P}`, or an error message.
 */
export function parseMaxFailPercentage(v: number | string | undefined): MaxFail | undefined | string {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : /^\d+(?:\.\d+)?%?$/.test(v) ? Number(v.replace('%', '')) : NaN;
  if (Number.isFinite(n) && n >= 0 && n <= 100) return { percent: n };
  return `max_fail_percentage must be a number from 0 to 100 (got ${JSON.stringify(v)})`;
}

/**
 * `bake: DURATION` of a node -> milliseconds, or an error message: the time a batch runs
 * the new release before the node's healthchecks run on it again (src/engine/stages.ts),
 * so a node with `bake` needs a healthcheck step.
 */
export function bakeOf(v: number | string, steps: PlanStep[]): number | string {
  const d = parseDuration(v);
  if (!d.ok) return `bake: ${d.message}`;
  if (d.seconds > 0 && !steps.some((s) => hasRole(s, 'verify'))) return 'bake needs a healthcheck step in this node: after the bake time its healthchecks run again on the batch';
  return Math.round(d.seconds * 1000);
}

/** `max_fail: N | "P%"` -> MaxFail, or an error message. */
export function parseMaxFail(v: number | string | undefined): MaxFail | undefined | string {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? { count: v } : `max_fail must be a whole number >= 0 or "P%" (got ${v})`;
  const m = /^(\d+(?:\.\d+)?)%$/.exec(v);
  if (m && Number(m[1]) <= 100) return { percent: Number(m[1]) };
  if (/^\d+$/.test(v)) return { count: Number(v) };
  return `max_fail must be a whole number >= 0 or "P%" (got ${JSON.stringify(v)})`;
}

/** `scope` plus `batch` (a copy: scopes are memoised per node and host). */
function withBatch(scope: Record<string, unknown>, batch: { name: string; address: string }[]): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  const own = Object.getOwnPropertyDescriptors(scope);
  delete own.batch;
  Object.defineProperties(out, own);
  Object.defineProperty(out, 'batch', { enumerable: true, value: batch });
  return out;
}

type Report = (file: string, path: (string | number)[], message: string, host?: string) => void;

/**
 * A node's `drain:`/`undrain:` steps compiled once per batch (Ansible's rolling update:
 * pre_tasks/post_tasks delegated to the load balancers), on the hosts of each step's
 * `on:` role (all of them: `--limit` narrows the batches, never the load balancers),
 * with `batch` in scope. Each copy gets its own index, from `firstIndex` on.
 * Undefined (reported) when a step has no `on:`, names a role the node lacks, or one of
 * its hosts is also in a batch.
 */
function compileAround(
  n: ResolvedNode,
  batches: string[][],
  firstIndex: number,
  firstPos: number,
  addressOf: (host: string) => string,
  compile: (step: StepSpec, index: number, hosts: string[], batch: { name: string; address: string }[], prefix: string) => PlanStep,
  report: Report,
): { steps: PlanStep[]; around: BatchAround[]; hosts: string[] } | undefined {
  const lists = { drain: n.spec.drain ?? [], undrain: n.spec.undrain ?? [] };
  const inBatch = new Set(batches.flat());
  const hostsOf = new Map<StepSpec, string[]>();
  let ok = true;
  for (const [key, list] of Object.entries(lists)) {
    for (const step of list) {
      if (step.on === undefined) {
        report(step.src.file, [...step.src.path], `${key} steps run on another role's hosts (e.g. a load balancer): add on: ROLE (roles of node ${n.path || '(root)'}: ${[...n.roles.keys()].sort().join(', ') || '(none)'})`);
        ok = false;
        continue;
      }
      const hosts = n.roles.get(step.on);
      if (!hosts) {
        report(step.src.file, [...step.src.path, 'on'], `node ${n.path || '(root)'} has no role "${step.on}" (roles: ${[...n.roles.keys()].sort().join(', ') || '(none)'})`);
        ok = false;
        continue;
      }
      const both = hosts.filter((h) => inBatch.has(h));
      if (both.length) {
        report(step.src.file, [...step.src.path, 'on'], `${key} runs on ${both.join(', ')}, which ${both.length > 1 ? 'are' : 'is'} also in a batch of node ${n.path || '(root)'}: give the node's own hosts role "host" (or its steps on: ROLE) so that role "${step.on}" is not among them`);
        ok = false;
        continue;
      }
      hostsOf.set(step, step.once && hosts.length > 1 ? hosts.slice(0, 1) : [...hosts]);
    }
  }
  if (!ok) return undefined;
  const steps: PlanStep[] = [];
  const around: BatchAround[] = [];
  let next = firstIndex;
  const all = new Set<string>();
  batches.forEach((hosts, bi) => {
    const batch = hosts.map((h) => ({ name: h, address: addressOf(h) }));
    const range = (key: 'drain' | 'undrain'): [number, number] => {
      const from = firstPos + steps.length;
      for (const step of lists[key]) {
        const on = hostsOf.get(step)!;
        on.forEach((h) => all.add(h));
        steps.push(compile(step, next++, on, batch, `${key} batch ${bi + 1}/${batches.length}: `));
      }
      return [from, firstPos + steps.length];
    };
    around.push({ drain: range('drain'), undrain: range('undrain') });
  });
  return { steps, around, hosts: [...all].sort() };
}
