/**
 * Strict Handlebars rendering of orch's string values (docs/reference/playbook.md "Variables").
 *
 * One isolated Handlebars environment (`Handlebars.create()`), templates compiled with
 * `strict: true`, `noEscape: true` and the default prototype-access denial left on.
 * Handlebars' own escaping is for HTML, so instead of overriding `escapeExpression`
 * every template's AST is rewritten before compilation (values enter shell text only through src/shell/quote.ts):
 *
 * - every `{{...}}` / `{{{...}}}` becomes `{{__orchOut MODE NAME VALUE}}`, where MODE is
 *   `q` (shell-quote with {@link quote}) for an escaped mustache in `shell` mode and `r`
 *   (raw) otherwise; `__orchOut` also turns numbers/booleans into text and refuses
 *   objects and lists;
 * - every variable reference (`x`, `x.y`, `this.x`, `../x`, `@root.x`, block params)
 *   becomes `(__orchVar "x.y" CONTAINER "x" "y")`, which walks the path through OWN
 *   properties of plain objects and arrays only and throws `undefined variable "x.y"`
 *   when a step is missing — so `{{constructor}}`, `{{__proto__}}`,
 *   `{{this.constructor.name}}` are errors, never values;
 * - helpers are limited to `if`, `unless`, `each`, `with` (blocks) and `lookup`, `env`
 *   (inline); partials and decorators are refused. A mustache without arguments is
 *   always a variable, also when named like a helper (`{{env}}` is the var `env`,
 *   `{{env "NAME"}}` the helper), so vars and helpers never shadow each other.
 *
 * Sources: Handlebars' strict mode; pyinfra's QuoteString for the quoting; Ansible's
 * `lookup('env', ...)` for `{{env "NAME"}}`.
 */
import { createRequire } from 'node:module';
import type HandlebarsNs from 'handlebars';
import { OrchError } from '../model/errors.js';
import type { Masker } from './mask.js';
import { isTooShortSecret, shortSecretMessage } from './mask.js';
import { quote } from './quote.js';

type AstNode = hbs.AST.Node;
type Program = hbs.AST.Program;
type Expression = hbs.AST.Expression;
type PathExpression = hbs.AST.PathExpression;
type SubExpression = hbs.AST.SubExpression;
type MustacheStatement = hbs.AST.MustacheStatement;
type BlockStatement = hbs.AST.BlockStatement;
type Hash = hbs.AST.Hash;
type StringLiteral = hbs.AST.StringLiteral;

/**
 * A template could not be rendered. `message` is one of:
 * `undefined variable "host.nmae"`, `variable "x" is an object; use a field of it`,
 * `environment variable "NAME" is not set`, `template syntax error: ...`,
 * `unknown helper "foo"`, `value of "x" cannot be shell-quoted: ...`, `template error: ...`.
 * `variable` is the variable path as written in the template (`host.nmae`, `@root.x`,
 * `env:NAME` for a missing environment variable), when the error is about one.
 */
export class RenderError extends OrchError {
  override name = 'RenderError';
  /** Where in the template text the failing expression is (1-based line and column), when known. */
  loc?: { line: number; column: number };
  constructor(
    message: string,
    readonly variable?: string,
  ) {
    super(message);
  }
}

/** Sets `loc` of a RenderError thrown inside a helper from its Handlebars `options.loc`. */
function withLoc<T>(options: unknown, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const loc = (options as { loc?: { start?: { line: number; column: number } } } | undefined)?.loc?.start;
    if (e instanceof RenderError && !e.loc && loc) e.loc = { line: loc.line, column: loc.column + 1 };
    throw e;
  }
}

/** Options of {@link renderTemplate}. */
export interface RenderOptions {
  /**
   * `shell`: `{{x}}` inserts `quote(x)`, `{{{x}}}` the raw text (for trusted fragments).
   * `text`: both insert the raw text (paths, file templates, var values).
   */
  mode: 'shell' | 'text';
  /** Environment read by `{{env "NAME"}}` (the caller passes process.env or a copy; render never reads it). */
  env?: Record<string, string | undefined>;
  /** Values read with `{{env "NAME"}}` are added to it as secrets. */
  masker?: Masker;
}

/**
 * The Handlebars environment, created (and the library loaded: ~80 ms of start-up) by
 * the first template that has a mustache; plans without templates never load it.
 */
let hbEnv: typeof HandlebarsNs | undefined;
function hb(): typeof HandlebarsNs {
  if (hbEnv) return hbEnv;
  const env = (createRequire(import.meta.url)('handlebars') as typeof HandlebarsNs).create();
  env.unregisterHelper('log');
  registerHelpers(env);
  hbEnv = env;
  return env;
}

/** Block helpers a template may use. */
const BLOCK_HELPERS = new Set(['if', 'unless', 'each', 'with']);
/** Inline helpers a template may use (`env` is bound per call). */
const INLINE_HELPERS = new Set(['lookup', 'env']);
/** Data variables a template may read (`@root.x`, `@index` ...). */
const DATA_VARS = new Set(['root', 'index', 'key', 'first', 'last']);
const OUT = '__orchOut';
const VAR = '__orchVar';
const INTERNAL_PREFIX = '__orch';

const COMPILE_OPTIONS = {
  strict: true,
  noEscape: true,
  data: true,
  knownHelpersOnly: true,
  knownHelpers: {
    if: true,
    unless: true,
    each: true,
    with: true,
    lookup: true,
    env: true,
    [OUT]: true,
    [VAR]: true,
  },
} as const;

function isWalkable(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Follows `parts` from `start` through own properties of plain objects/arrays. */
function followPath(display: string, start: unknown, parts: readonly unknown[]): unknown {
  if (start === undefined) throw undefinedVariable(display);
  let value: unknown = start;
  for (const part of parts) {
    const key = String(part);
    if (!isWalkable(value) || !Object.hasOwn(value, key)) throw undefinedVariable(display);
    value = value[key];
  }
  return value;
}

/**
 * `undefined variable "x"`; for a name that is also a helper, how to call the helper:
 * `undefined variable "env" (to read an environment variable, write {{env "NAME"}})`.
 */
function undefinedVariable(display: string): RenderError {
  const hints: Record<string, string> = {
    env: 'to read an environment variable, write {{env "NAME"}}',
    lookup: 'to look a key up, write {{lookup object key}}',
    if: 'for a condition, write {{#if x}}...{{/if}}',
    unless: 'for a condition, write {{#unless x}}...{{/unless}}',
    each: 'for a loop, write {{#each list}}...{{/each}}',
    with: 'to change the context, write {{#with x}}...{{/with}}',
  };
  const hint = Object.hasOwn(hints, display) ? ` (${hints[display]})` : '';
  return new RenderError(`undefined variable "${display}"${hint}`, display);
}

/** Text of a value inserted by a mustache. */
function toText(name: string, value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'undefined':
      throw new RenderError(`undefined variable "${name}"`, name);
    case 'object':
      if (value === null) return '';
      throw new RenderError(`variable "${name}" is an object; use a field of it`, name);
    default:
      throw new RenderError(`variable "${name}" is not a value (${typeof value})`, name);
  }
}

/** orch's helpers: variable paths, output quoting, own-property `lookup`. */
function registerHelpers(env: typeof HandlebarsNs): void {
  // `__orchVar DISPLAY CONTAINER PART... options`
  env.registerHelper(VAR, function (this: unknown, ...args: unknown[]) {
    const [display, start, ...parts] = args.slice(0, -1);
    return withLoc(args.at(-1), () => followPath(String(display), start, parts));
  });

  // `__orchOut MODE NAME VALUE options`
  env.registerHelper(OUT, function (mode: unknown, name: unknown, value: unknown, options: unknown) {
    const text = withLoc(options, () => toText(String(name), value));
    if (mode !== 'q') return text;
    try {
      return quote(text);
    } catch (e) {
      throw new RenderError(`value of "${String(name)}" cannot be shell-quoted: ${(e as Error).message}`, String(name));
    }
  });

  // `lookup OBJ KEY`: own properties only (Handlebars' own `lookup` returns undefined for
  // denied prototype members; here that is an error).
  env.registerHelper('lookup', function (...args: unknown[]) {
    if (args.length !== 3) throw new RenderError('template error: lookup needs exactly two arguments: {{lookup object key}}');
    const [obj, key] = args;
    return followPath(String(key), obj, [key]);
  });
}

function envHelper(options: RenderOptions): (...args: unknown[]) => string {
  return (...args: unknown[]) => {
    if (args.length !== 2 || typeof args[0] !== 'string') {
      throw new RenderError('template error: env needs exactly one string argument: {{env "NAME"}}');
    }
    const name = args[0];
    const value = options.env?.[name];
    if (value === undefined) throw new RenderError(`environment variable "${name}" is not set`, `env:${name}`);
    // Values read with env are secrets: one too short to mask is refused (see MIN_SECRET_LENGTH).
    if (isTooShortSecret(value)) throw new RenderError(shortSecretMessage(`environment variable "${name}" (read with {{env}}, so a secret)`, value.length), `env:${name}`);
    options.masker?.add(value);
    return value;
  };
}

// ---------------------------------------------------------------- AST rewriting

function syntaxError(message: string, node?: AstNode): RenderError {
  const at = node?.loc ? ` (line ${node.loc.start.line}, column ${node.loc.start.column + 1})` : '';
  return new RenderError(`template syntax error: ${message}${at}`);
}

function stringLiteral(value: string, loc: hbs.AST.SourceLocation): StringLiteral {
  return { type: 'StringLiteral', value, original: value, loc };
}

function pathNode(parts: string[], original: string, loc: hbs.AST.SourceLocation, data = false, depth = 0): PathExpression {
  return { type: 'PathExpression', data, depth, parts, original, loc };
}

/** Scope of block params visible at a point of the template, innermost last. */
type BlockScope = readonly (readonly string[])[];

function isBlockParam(scope: BlockScope, name: string): boolean {
  return scope.some((names) => names.includes(name));
}

/** True when `original` starts with `this` or `.` (Handlebars' scopedId: never a block param). */
function isScoped(path: PathExpression): boolean {
  return /^\.|^this\b/.test(path.original);
}

/** `x.y` as a value -> `(__orchVar "x.y" CONTAINER "x" "y")`. */
function rewriteVar(path: PathExpression, scope: BlockScope): SubExpression {
  const loc = path.loc;
  const parts = path.parts.map(String);
  for (const p of parts) {
    if (p.startsWith(INTERNAL_PREFIX)) throw syntaxError(`"${path.original}" is reserved`, path);
  }
  let container: PathExpression;
  let tail: string[];
  if (path.data) {
    const head = parts[0] ?? '';
    if (!DATA_VARS.has(head)) throw syntaxError(`unknown data variable "@${head}"`, path);
    container = pathNode([head], `@${head}`, loc, true, path.depth);
    tail = parts.slice(1);
  } else if (path.depth === 0 && !isScoped(path) && parts[0] !== undefined && isBlockParam(scope, parts[0])) {
    container = pathNode([parts[0]], parts[0], loc);
    tail = parts.slice(1);
  } else {
    container = pathNode([], 'this', loc, false, path.depth);
    tail = parts;
  }
  return {
    type: 'SubExpression',
    path: pathNode([VAR], VAR, loc),
    params: [stringLiteral(path.original, loc), container, ...tail.map((t) => stringLiteral(t, loc))],
    hash: undefined as unknown as Hash,
    loc,
  };
}

function helperName(path: AstNode, allowed: ReadonlySet<string>, what: string): string {
  const p = path as PathExpression;
  const name = p.type === 'PathExpression' ? p.original : String((path as StringLiteral).value);
  if (p.type !== 'PathExpression' || p.data || p.depth !== 0 || p.parts.length !== 1 || !allowed.has(name)) {
    if (BLOCK_HELPERS.has(name)) throw syntaxError(`"${name}" is a block helper; write {{#${name} ...}}...{{/${name}}}`, path);
    if (INLINE_HELPERS.has(name)) throw syntaxError(`"${name}" is not a block helper; write {{${name} ...}}`, path);
    const known = what === 'block helper' ? '#if, #unless, #each, #with' : 'lookup, env';
    throw syntaxError(`unknown ${what} "${name}" (known: ${known})`, path);
  }
  return name;
}

function rewriteExpr(expr: Expression, scope: BlockScope): Expression {
  switch (expr.type) {
    case 'PathExpression':
      return rewriteVar(expr as PathExpression, scope);
    case 'SubExpression': {
      const sub = expr as SubExpression;
      helperName(sub.path, INLINE_HELPERS, 'helper');
      const rewritten: SubExpression = { ...sub, params: sub.params.map((p) => rewriteExpr(p, scope)), hash: rewriteHash(sub.hash, scope) };
      return rewritten;
    }
    default:
      return expr; // literals
  }
}

function rewriteHash(hash: Hash | undefined, scope: BlockScope): Hash {
  if (!hash) return hash as unknown as Hash;
  return { ...hash, pairs: hash.pairs.map((pair) => ({ ...pair, value: rewriteExpr(pair.value, scope) })) };
}

/** Literal mustache paths (`{{"a b"}}`) are lookups of that key, as in Handlebars. */
function literalToPath(node: AstNode): PathExpression {
  if (node.type === 'PathExpression') return node as PathExpression;
  const value = String((node as StringLiteral).value);
  return pathNode([value], value, node.loc);
}

function rewriteMustache(m: MustacheStatement, mode: RenderOptions['mode'], scope: BlockScope): MustacheStatement {
  const loc = m.loc;
  const path = literalToPath(m.path);
  // A mustache with arguments is a helper call; without, it is always a variable, also
  // when named like a helper: `{{env}}` reads the var `env` (docs/reference/inventory.md's example has
  // `vars: {env: prod}`), `{{env "NAME"}}` calls the helper.
  const isCall = m.params.length > 0 || (m.hash?.pairs.length ?? 0) > 0;
  let value: Expression;
  if (isCall) {
    helperName(path, INLINE_HELPERS, 'helper');
    value = {
      type: 'SubExpression',
      path,
      params: m.params.map((p) => rewriteExpr(p, scope)),
      hash: rewriteHash(m.hash, scope),
      loc,
    } as SubExpression;
  } else {
    value = rewriteVar(path, scope);
  }
  const quoteIt = mode === 'shell' && m.escaped;
  return {
    type: 'MustacheStatement',
    path: pathNode([OUT], OUT, loc),
    params: [stringLiteral(quoteIt ? 'q' : 'r', loc), stringLiteral(path.original, loc), value],
    hash: undefined as unknown as Hash,
    escaped: m.escaped,
    strip: m.strip,
    loc,
  };
}

function rewriteProgram(program: Program | undefined, mode: RenderOptions['mode'], scope: BlockScope): void {
  if (!program) return;
  program.body = program.body.map((st) => {
    switch (st.type) {
      case 'ContentStatement':
      case 'CommentStatement':
        return st;
      case 'MustacheStatement':
        return rewriteMustache(st as MustacheStatement, mode, scope);
      case 'BlockStatement': {
        const b = st as BlockStatement;
        helperName(b.path, BLOCK_HELPERS, 'block helper');
        b.params = b.params.map((p) => rewriteExpr(p, scope));
        b.hash = rewriteHash(b.hash, scope);
        const inner = b.program?.blockParams?.length ? [...scope, b.program.blockParams] : scope;
        rewriteProgram(b.program, mode, inner);
        rewriteProgram(b.inverse, mode, scope);
        return b;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement':
        throw syntaxError('partials ({{> name}}) are not supported', st);
      default:
        throw syntaxError(`${st.type === 'DecoratorBlock' || st.type === 'Decorator' ? 'decorators are' : `${st.type} is`} not supported`, st);
    }
  });
}

/**
 * Handlebars' parse errors span four lines (`Parse error on line 1:`, the text, a caret,
 * `Expecting ...`); diagnostics are one line, so keep the first and the last.
 */
function oneLine(message: string): string {
  const lines = message.split('\n').filter((l) => l.trim() !== '');
  return lines.length <= 1 ? message : `${lines[0]} ${lines[lines.length - 1]}`;
}

/**
 * A Jinja filter (`{{ port | default(8000) }}`, Ansible's habit) in a template that failed
 * to parse: what to write instead, else undefined. Handlebars has no filters; a default
 * value is a var of the playbook (`vars:`), which inventory vars and `-e` override.
 */
export function jinjaHint(template: string): string | undefined {
  const m = /\{\{-?\s*([\w.@]+)\s*\|\s*(\w+)\s*(?:\(([^)]*)\))?[^}]*\}\}/.exec(template);
  if (!m) return undefined;
  const [, name, filter, arg] = m;
  if (filter === 'default' || filter === 'd') {
    return `Jinja filters like "| ${filter}(${arg ?? ''})" are not Handlebars: write {{${name}}} and give "${name}" its default in the playbook's vars: (vars: { ${name}: ${arg?.trim() || '...'} }; inventory vars and -e override it)`;
  }
  return `Jinja filters like "| ${filter}" are not Handlebars: orch templates have no filters; put the value you need in a var`;
}

function parseTemplate(template: string, processed: boolean): Program {
  try {
    return processed ? hb().parse(template) : hb().parseWithoutProcessing(template);
  } catch (e) {
    const hint = jinjaHint(template);
    throw new RenderError(hint ? `template syntax error: ${hint}` : `template syntax error: ${oneLine((e as Error).message)}`);
  }
}

// ---------------------------------------------------------------- compile cache

type Compiled = (scope: unknown, options: { helpers: Record<string, (...args: unknown[]) => unknown> }) => string;

/** Most compiled templates kept; plans render a few hundred distinct templates for many hosts. */
const CACHE_LIMIT = 2000;
const cache = new Map<string, Compiled>();

function compileTemplate(template: string, mode: RenderOptions['mode']): Compiled {
  const key = `${mode}\0${template}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const ast = parseTemplate(template, false);
  rewriteProgram(ast, mode, []);
  let fn: Compiled;
  try {
    fn = hb().compile(ast, { ...COMPILE_OPTIONS, knownHelpers: { ...COMPILE_OPTIONS.knownHelpers } }) as unknown as Compiled;
  } catch (e) {
    throw new RenderError(`template syntax error: ${oneLine((e as Error).message)}`);
  }
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(key, fn);
  return fn;
}

/**
 * Renders `template` against `scope` strictly.
 *
 * - `{{x}}`, `{{x.y}}`, `{{helper args}}`: in `shell` mode the value is inserted
 *   {@link quote}d, so the resulting script sees exactly the value as one word; in
 *   `text` mode as it is. `{{{x}}}` always inserts the raw text.
 * - Strings as they are, numbers and booleans as `String(v)`, `null` as the empty string;
 *   objects and lists are errors unless used by a block helper (`{{#each list}}`).
 * - Variables resolve through own properties of plain objects and arrays only.
 * - Helpers: `{{#if}}`, `{{#unless}}`, `{{#each}}`, `{{#with}}`, `{{lookup obj key}}`,
 *   `{{env "NAME"}}` (reads `options.env`; the value is added to `options.masker`).
 * - Compiled templates are cached per (mode, template), at most 2000, oldest dropped.
 *
 * @example renderTemplate("echo {{msg}}", { msg: "it's" }, { mode: "shell" }) === `echo 'it'\\''s'`
 * @throws RenderError — see its messages. Never throws for a valid template whose
 * variables all exist.
 */
export function renderTemplate(template: string, scope: Record<string, unknown>, options: RenderOptions): string {
  if (!template.includes('{{')) return template; // no mustache: nothing to render
  const fn = compileTemplate(template, options.mode);
  try {
    return fn(scope, { helpers: { env: envHelper(options) } });
  } catch (e) {
    if (e instanceof RenderError) throw e;
    const message = (e as Error).message;
    const undef = /^"([^"]*)" not defined in /.exec(message);
    if (undef) throw new RenderError(`undefined variable "${undef[1]}"`, undef[1]);
    throw new RenderError(`template error: ${message}`);
  }
}

/**
 * The top-level variable names `template` references, sorted and unique: `x` for `{{x}}`,
 * `{{x.y}}`, `{{this.x}}`, `{{@root.x}}`, `{{#if x}}`, `{{lookup x "k"}}`, `{{../x}}` inside
 * `{{#each}}`. Names relative to an `{{#each}}`/`{{#with}}` context, block params, data
 * variables and helper names are not included.
 * Used for "undefined template variable" diagnostics at compile time and `required` checks.
 *
 * @throws RenderError `template syntax error: ...` when the template does not parse.
 */
export function findTemplateVariables(template: string): string[] {
  if (!template.includes('{{')) return [];
  const found = new Set<string>();

  const visitPath = (path: PathExpression, depth: number, scope: BlockScope): void => {
    const parts = path.parts.map(String);
    if (path.data) {
      if (parts[0] === 'root' && parts[1] !== undefined) found.add(parts[1]);
      return;
    }
    if (path.depth !== depth || parts[0] === undefined) return;
    if (path.depth === 0 && !isScoped(path) && isBlockParam(scope, parts[0])) return;
    found.add(parts[0]);
  };
  const visitExpr = (expr: Expression | undefined, depth: number, scope: BlockScope): void => {
    if (!expr) return;
    if (expr.type === 'PathExpression') visitPath(expr as PathExpression, depth, scope);
    else if (expr.type === 'SubExpression') visitCall(expr as SubExpression, depth, scope);
  };
  const visitCall = (call: { params: Expression[]; hash?: Hash }, depth: number, scope: BlockScope): void => {
    for (const p of call.params) visitExpr(p, depth, scope);
    for (const pair of call.hash?.pairs ?? []) visitExpr(pair.value, depth, scope);
  };
  const visitProgram = (program: Program | undefined, depth: number, scope: BlockScope): void => {
    for (const st of program?.body ?? []) {
      if (st.type === 'MustacheStatement') {
        const m = st as MustacheStatement;
        const path = literalToPath(m.path);
        const hasArgs = m.params.length > 0 || (m.hash?.pairs.length ?? 0) > 0;
        if (!hasArgs) visitPath(path, depth, scope); // `{{env}}` is the var env, `{{env "X"}}` the helper
        visitCall(m, depth, scope);
      } else if (st.type === 'BlockStatement') {
        const b = st as BlockStatement;
        visitCall(b, depth, scope);
        const name = b.path.original;
        const shifts = name === 'each' || name === 'with';
        const inner = b.program?.blockParams?.length ? [...scope, b.program.blockParams] : scope;
        visitProgram(b.program, shifts ? depth + 1 : depth, inner);
        visitProgram(b.inverse, depth, scope);
      }
    }
  };
  visitProgram(parseTemplate(template, true), 0, []);
  return [...found].sort();
}
