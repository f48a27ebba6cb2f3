/**
 * Loads a playbook (docs/reference/playbook.md) and the files it imports into the `Playbook` model:
 * schema-validated, paths resolved, nodes in file order, override keys collected,
 * steps normalised to `StepSpec`. Templates and `extends` are NOT expanded here
 * (compile does it), but `extends` naming no template is reported here.
 *
 * Vocabulary after python-deployer: nodes, role mapping, `a__b__name` overrides,
 * required properties; imports as its Node class libraries.
 */
import { dirname, resolve } from 'node:path';
import { homedir } from 'node:os';
import type { Diagnostic, DocPath } from '../model/diagnostics.js';
import { diagAt, sortDiagnostics } from '../model/diagnostics.js';
import type { Vars } from '../model/inventory.js';
import type { BundleSpec, Hooks, NodeSpec, Playbook, SerialSpec, StepSpec, Webhook } from '../model/playbook.js';
import { parseDuration } from '../model/duration.js';
import { COMMON_STEP_KEYS, ownStepKeys, STEP_KIND_NAMES, STEP_KINDS as STEP_KIND_REGISTRY, type StepKindName } from '../steps/index.js';
import { displayPath, expandHome, loadYaml } from './load-yaml.js';
import type { SourceIndexImpl } from './source-index.js';
import { validateAgainstSchema } from './validate.js';

/** Result of `loadPlaybook`: `playbook` is set only when there are no diagnostics. */
export interface LoadPlaybookResult {
  playbook?: Playbook;
  diagnostics: Diagnostic[];
  /** Absolute path -> sha256 (hex) of every file read (playbook and imports). */
  fileHashes: Record<string, string>;
}

/** Options of `loadPlaybook`. */
export interface LoadPlaybookOptions {
  /** Home folder used to expand `~/` in paths (default: `os.homedir()`). */
  home?: string;
}

/** The step kind keys, in the order docs/reference/steps.md lists them: the names of the step kind registry. */
export const STEP_KINDS: readonly StepKindName[] = STEP_KIND_NAMES;

/** Keys of a playbook that are header keys, not node keys. */
const HEADER_KEYS = new Set(['inventory', 'import', 'vars', 'bundles', 'templates', 'secret', 'vars_files', 'secret_commands', 'become', 'become_user']);

type RawMap = Record<string, unknown>;
const isMap = (v: unknown): v is RawMap => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Mutable state of one load. */
interface Ctx {
  index: SourceIndexImpl;
  home: string;
  diagnostics: Diagnostic[];
  fileHashes: Record<string, string>;
  /** Absolute paths of imported files, in load order (each once). */
  imports: string[];
  /** Templates by absolute path of the file that holds them (incl. its imports), once loaded. */
  templatesOf: Map<string, Map<string, NodeSpec>>;
}

/**
 * Loads the playbook `file` (relative to the cwd or absolute).
 *
 * - `inventory`, `import`, and bundle `source`/`artifact`/`requirements`/
 *   `prebuild_script`/`postbuild_script` are resolved against the playbook's folder
 *   (imports against the importing file's folder), after `~/` expansion; nothing else
 *   is (a `put: {src}` stays as written).
 * - Imports are loaded recursively; each file's templates = its imports' templates
 *   (later imports win) overridden by its own. An imported file may contain only
 *   `templates:` and `import:`. An import cycle is an error.
 * - `nodes` keep file order as `[name, NodeSpec][]`; keys containing `__` go to
 *   `overrides`. The root node's `vars` is the playbook's `vars` (`Playbook.vars`), so
 *   `root.vars` is left unset.
 * - Steps become `StepSpec`s: `kind`, `args` = the kind key's value (`{}` when empty,
 *   `{ bundle: NAME }` for `bundle: NAME`); for `service`, its `when` stays in `args`
 *   and is also the step's `when`.
 *
 * Diagnostics: YAML/schema errors of every file; unreadable import; import cycle
 * (`import cycle: a.yml -> b.yml -> a.yml`); `extends` naming no template; a child node
 * name containing `__` or `.`; a step `when` contradicting its service's `when`; a
 * step of the playbook's node tree naming a bundle not in `bundles:` (literal names only).
 */
export async function loadPlaybook(
  file: string,
  index: SourceIndexImpl,
  options: LoadPlaybookOptions = {},
): Promise<LoadPlaybookResult> {
  const ctx: Ctx = {
    index,
    home: options.home ?? homedir(),
    diagnostics: [],
    fileHashes: {},
    imports: [],
    templatesOf: new Map(),
  };
  const done = (): LoadPlaybookResult => ({ diagnostics: sortDiagnostics(ctx.diagnostics), fileHashes: ctx.fileHashes });

  const l = await loadYaml(file, index);
  if (l.sha256) ctx.fileHashes[l.absPath] = l.sha256;
  ctx.diagnostics.push(...l.diagnostics);
  if (l.diagnostics.length > 0) return done();
  const name = l.file;
  const dir = dirname(l.absPath);
  ctx.diagnostics.push(...validateAgainstSchema('playbook', l.value, name, index));
  if (!isMap(l.value)) return done();
  const raw = l.value;

  // Templates: imports first (so their errors are reported even when this file has some).
  const templates = await loadTemplates(ctx, raw, name, l.absPath, [l.absPath]);
  if (ctx.diagnostics.length > 0) return done();

  const at = (f: string, path: DocPath, message: string) => ctx.diagnostics.push(diagAt(index, f, path, message));
  const rootRaw: RawMap = {};
  for (const [k, v] of Object.entries(raw)) if (!HEADER_KEYS.has(k)) rootRaw[k] = v;
  const root = buildNode(ctx, rootRaw, name, []);

  const bundles = new Map<string, BundleSpec>();
  const rawBundles = isMap(raw.bundles) ? raw.bundles : {};
  for (const bname of index.keysAt(name, ['bundles']) ?? Object.keys(rawBundles)) {
    const b = rawBundles[bname];
    if (!isMap(b)) continue;
    const spec: BundleSpec = { name: bname, src: { file: name, path: ['bundles', bname] } };
    for (const key of ['source', 'artifact', 'requirements', 'prebuild_script', 'postbuild_script'] as const) {
      if (typeof b[key] === 'string') spec[key] = resolvePath(b[key], dir, ctx.home);
    }
    if (b.builder !== undefined) spec.builder = b.builder as BundleSpec['builder'];
    if (typeof b.python === 'string') spec.python = b.python;
    if (Array.isArray(b.pip_options)) spec.pip_options = b.pip_options.map(String);
    if (typeof b.build_on === 'string') spec.build_on = b.build_on;
    // Store bundles: URLs stay as written, paths resolve like the other file keys.
    for (const key of ['url', 'channel'] as const) {
      if (typeof b[key] === 'string') spec[key] = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(b[key]) ? b[key] : resolvePath(b[key], dir, ctx.home);
    }
    if (typeof b.allowed_signers === 'string') spec.allowed_signers = resolvePath(b.allowed_signers, dir, ctx.home);
    if (typeof b.sha256 === 'string') spec.sha256 = b.sha256;
    if (b.fetch === 'host' || b.fetch === 'control' || b.fetch === 'auto') spec.fetch = b.fetch;
    if (b.fetch !== undefined && spec.url === undefined && spec.channel === undefined) {
      at(name, ['bundles', bname, 'fetch'], 'fetch applies only to bundles from an artifact store (url + sha256, or channel + allowed_signers)');
    }
    if (b.allowed_signers !== undefined && spec.channel === undefined) {
      at(name, ['bundles', bname, 'allowed_signers'], 'allowed_signers applies only to channel bundles (a url bundle is pinned by its sha256)');
    }
    if (typeof b.pin === 'string') spec.pin = b.pin;
    if (b.pin !== undefined && spec.channel === undefined) {
      at(name, ['bundles', bname, 'pin'], 'pin applies only to channel bundles (the version the signed channel manifest must name)');
    }
    if (typeof b.package === 'string') spec.package = b.package;
    if (b.version === 'file' || b.version === 'git' || b.version === 'timestamp') spec.version = b.version;
    bundles.set(bname, spec);
  }

  // Semantic checks: extends, bundle references.
  const known = [...templates.keys()];
  const checkExtends = (node: NodeSpec) => {
    walkNodes(node, (n) => {
      if (n.extends !== undefined && !templates.has(n.extends)) {
        const hint = known.length > 0 ? `known: ${known.join(', ')}` : 'no templates are defined';
        at(n.src.file, [...n.src.path, 'extends'], `unknown template ${JSON.stringify(n.extends)} (${hint})`);
      }
    });
  };
  checkExtends(root);
  for (const t of templates.values()) checkExtends(t);
  walkNodes(root, (n) => {
    for (const step of [...(n.steps ?? []), ...(n.actions ?? []).flatMap(([, list]) => list), ...(n.drain ?? []), ...(n.undrain ?? []), ...(n.maintenance?.on ?? []), ...(n.maintenance?.off ?? [])]) {
      const ref = step.args.bundle;
      if ((step.kind === 'bundle' || step.kind === 'install') && typeof ref === 'string' && !ref.includes('{{') && !bundles.has(ref)) {
        const hint = bundles.size > 0 ? `known: ${[...bundles.keys()].join(', ')}` : 'the playbook has no bundles';
        const path = step.kind === 'bundle' ? [...step.src.path, 'bundle'] : [...step.src.path, 'install', 'bundle'];
        at(step.src.file, path, `unknown bundle ${JSON.stringify(ref)} (${hint})`);
      }
    }
  });
  // notify: timeouts are durations (a bad one is reported at its position).
  const webhooks: Webhook[] = [];
  if (Array.isArray(raw.notify)) {
    raw.notify.forEach((w, i) => {
      if (!isMap(w) || typeof w.webhook !== 'string') return;
      const d = w.timeout === undefined ? { ok: true as const, seconds: DEFAULT_WEBHOOK_TIMEOUT_SECONDS } : parseDuration(w.timeout);
      if (!d.ok) at(name, ['notify', i, 'timeout'], d.message);
      else if (d.seconds <= 0 || d.seconds > 300) at(name, ['notify', i, 'timeout'], `timeout must be more than 0 and at most 300 s (got ${JSON.stringify(w.timeout)})`);
      else webhooks.push({ webhook: w.webhook, timeoutSeconds: d.seconds, src: { file: name, path: ['notify', i] } });
    });
  }
  if (ctx.diagnostics.length > 0) return done();

  const playbook: Playbook = {
    file: l.absPath,
    imports: ctx.imports,
    vars: isMap(raw.vars) ? (raw.vars as Vars) : {},
    secret: Array.isArray(raw.secret) ? raw.secret.map(String) : [],
    bundles,
    templates,
    root,
  };
  if (typeof raw.inventory === 'string') playbook.inventory = resolvePath(raw.inventory, dir, ctx.home);
  if (Array.isArray(raw.vars_files)) {
    playbook.varsFiles = raw.vars_files.map((f, i) => ({ file: resolvePath(String(f), dir, ctx.home), src: { file: name, path: ['vars_files', i] } }));
  }
  if (isMap(raw.secret_commands)) {
    const cmds = raw.secret_commands;
    playbook.secretCommands = (index.keysAt(name, ['secret_commands']) ?? Object.keys(cmds))
      .filter((k) => typeof cmds[k] === 'string')
      .map((k) => ({ name: k, command: cmds[k] as string, src: { file: name, path: ['secret_commands', k] } }));
  }
  if (isMap(raw.hooks)) {
    const hooks: Hooks = {};
    for (const k of ['pre_apply', 'post_apply', 'on_failure', 'on_rollback'] as const) if (typeof raw.hooks[k] === 'string') hooks[k] = raw.hooks[k];
    playbook.hooks = hooks;
  }
  if (webhooks.length) playbook.notify = webhooks;
  if (raw.become === true) playbook.become = typeof raw.become_user === 'string' ? raw.become_user : 'root';
  return { playbook, diagnostics: [], fileHashes: ctx.fileHashes };
}

/** A webhook POST's timeout when `notify:` gives none, seconds. */
export const DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 5;

/** `~/` expansion, then resolution against `dir`. */
function resolvePath(p: string, dir: string, home: string): string {
  return resolve(dir, expandHome(p, home));
}

/** Calls `fn` on `node` and every descendant (pre-order), iteratively. */
function walkNodes(node: NodeSpec, fn: (n: NodeSpec) => void): void {
  const stack = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    fn(n);
    const kids = n.nodes ?? [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]![1]);
  }
}

/**
 * Templates visible in the file `name` (absolute `abs`): its imports' (loaded
 * recursively, later imports win) overridden by its own. `chain` = absolute paths of
 * the importing files down to this one, for cycle detection.
 */
async function loadTemplates(ctx: Ctx, raw: RawMap, name: string, abs: string, chain: string[]): Promise<Map<string, NodeSpec>> {
  const cached = ctx.templatesOf.get(abs);
  if (cached) return cached;
  const out = new Map<string, NodeSpec>();
  const dir = dirname(abs);
  const list = Array.isArray(raw.import) ? raw.import : [];
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    if (typeof entry !== 'string') continue;
    const target = resolvePath(entry, dir, ctx.home);
    const where: DocPath = ['import', i];
    if (chain.includes(target)) {
      const names = [...chain.slice(chain.indexOf(target)), target].map((p) => displayPath(p));
      ctx.diagnostics.push(diagAt(ctx.index, name, where, `import cycle: ${names.join(' -> ')}`));
      continue;
    }
    let imported = ctx.templatesOf.get(target);
    if (!imported) {
      const l = await loadYaml(target, ctx.index);
      if (l.readError !== undefined) {
        ctx.diagnostics.push(diagAt(ctx.index, name, where, `cannot import ${JSON.stringify(entry)}: ${l.readError}`));
        continue;
      }
      if (l.sha256) ctx.fileHashes[l.absPath] = l.sha256;
      if (!ctx.imports.includes(l.absPath)) ctx.imports.push(l.absPath);
      ctx.diagnostics.push(...l.diagnostics);
      if (l.diagnostics.length > 0) continue;
      const value = l.value === null || l.value === undefined ? {} : l.value;
      const schemaDiags = validateAgainstSchema('import', value, l.file, ctx.index);
      ctx.diagnostics.push(...schemaDiags);
      if (!isMap(value) || schemaDiags.length > 0) continue;
      imported = await loadTemplates(ctx, value, l.file, l.absPath, [...chain, target]);
    }
    for (const [k, v] of imported) out.set(k, v);
  }
  const own = isMap(raw.templates) ? raw.templates : {};
  for (const t of ctx.index.keysAt(name, ['templates']) ?? Object.keys(own)) {
    if (t in own) out.set(t, buildNode(ctx, own[t], name, ['templates', t]));
  }
  ctx.templatesOf.set(abs, out);
  return out;
}

/** Builds a NodeSpec from schema-valid raw data at `path` of `file`. */
function buildNode(ctx: Ctx, rawNode: unknown, file: string, path: DocPath): NodeSpec {
  const raw = isMap(rawNode) ? rawNode : {};
  const node: NodeSpec = { overrides: {}, src: { file, path } };
  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case 'extends':
        node.extends = value as string;
        break;
      case 'roles':
        node.roles = value as Record<string, string | string[]>;
        break;
      case 'vars':
        node.vars = value as Vars;
        break;
      case 'required':
        node.required = value as string[];
        break;
      case 'serial':
        node.serial = value as SerialSpec;
        break;
      case 'max_fail':
        node.max_fail = value as number | string;
        break;
      case 'max_fail_percentage':
        node.max_fail_percentage = value as number | string;
        break;
      case 'bake':
        node.bake = value as number | string;
        break;
      case 'rollback':
        node.rollback = value as boolean;
        break;
      case 'shared':
        node.shared = value as string[];
        break;
      case 'on':
        node.on = value as string;
        break;
      case 'steps':
        node.steps = (Array.isArray(value) ? value : []).map((s, i) => buildStep(ctx, s, file, [...path, 'steps', i]));
        break;
      case 'actions': {
        const acts = isMap(value) ? value : {};
        const names = ctx.index.keysAt(file, [...path, 'actions']) ?? Object.keys(acts);
        node.actions = names.filter((a) => a in acts).map((a) => [a, (Array.isArray(acts[a]) ? acts[a] : []).map((s, i) => buildStep(ctx, s, file, [...path, 'actions', a, i]))]);
        break;
      }
      case 'drain':
      case 'undrain':
        node[key] = (Array.isArray(value) ? value : []).map((s, i) => buildStep(ctx, s, file, [...path, key, i]));
        break;
      case 'maintenance': {
        const m = isMap(value) ? value : {};
        const list = (k: 'on' | 'off'): StepSpec[] => (Array.isArray(m[k]) ? m[k] : []).map((s, i) => buildStep(ctx, s, file, [...path, 'maintenance', k, i]));
        node.maintenance = { on: list('on'), off: list('off') };
        break;
      }
      case 'nodes': {
        const kids = isMap(value) ? value : {};
        const names = ctx.index.keysAt(file, [...path, 'nodes']) ?? Object.keys(kids);
        node.nodes = [];
        for (const child of names) {
          if (!(child in kids)) continue;
          if (child.includes('__') || child.includes('.')) {
            ctx.diagnostics.push(
              diagAt(ctx.index, file, [...path, 'nodes', child], `node name ${JSON.stringify(child)} must not contain "." or "__"`),
            );
          }
          node.nodes.push([child, buildNode(ctx, kids[child], file, [...path, 'nodes', child])]);
        }
        break;
      }
      default:
        if (key.includes('__')) node.overrides[key] = value;
    }
  }
  return node;
}

// The common step keys (COMMON_STEP_KEYS), which docs/reference/playbook.md also shows inside the kind's map (`run: { cmd: x, once: true }`).

/**
 * Builds a StepSpec from a schema-valid raw step at `path` of `file`. Common keys
 * written inside the kind's map are hoisted to the step and removed from `args`
 * (except keys the kind's schema fragment defines itself: service's own `name`, which
 * is the service's, and its `when`, which stays in `args` and is also the step's); the same key at both levels with different values
 * is an error.
 */
function buildStep(ctx: Ctx, rawStep: unknown, file: string, path: DocPath): StepSpec {
  const raw = isMap(rawStep) ? rawStep : {};
  const kind = STEP_KINDS.find((k) => k in raw) ?? 'run';
  const def = STEP_KIND_REGISTRY[kind];
  const value = raw[kind];
  const args: Record<string, unknown> = def.schemaInline ? { [kind]: value } : isMap(value) ? { ...value } : {};
  const own = ownStepKeys(kind);
  const step: StepSpec = { kind, args, src: { file, path } };
  for (const key of COMMON_STEP_KEYS) {
    // A kind's own `name` (service: the service's) is not the step's.
    if (key === 'name' && own.has(key)) {
      if (typeof raw.name === 'string') step.name = raw.name;
      continue;
    }
    const outer = raw[key];
    const inner = def.schemaInline ? undefined : args[key];
    if (outer !== undefined && inner !== undefined && outer !== inner) {
      ctx.diagnostics.push(
        diagAt(ctx.index, file, [...path, key], `contradicts ${kind}.${key} ${JSON.stringify(inner)}; give only one`),
      );
    }
    const v = outer ?? inner;
    // A kind's own `when` (service) stays in its args and is also the step's.
    if (!own.has(key)) delete args[key];
    if (v === undefined) continue;
    if (key === 'once') step.once = v as boolean;
    else step[key] = v as string;
  }
  return step;
}
