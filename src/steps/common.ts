/**
 * What step kinds share: task scripts assembled from host libraries (src/host/*.sh)
 * and one call line, path and root checks, fact keys. Builders are pure: resolved data
 * in, a task out (kamal's `lib/kamal/commands/*` builders: tested by their exact text).
 */
import { PRELUDE_SH, PROTOCOL_SH } from '../host/embedded.generated.js';
import { joinPath, qpath, RESTART_PENDING, STATE_FILE } from '../host/layout.js';
import type { Facts, Probe } from '../model/task.js';
import { quote } from '../shell/quote.js';
import type { StepContext } from './kind.js';

export { joinPath, qpath, quote, RESTART_PENDING };

/** Script prelude of every task: protocol.sh (src/host/protocol.ts: exit codes, limits, b64), then src/host/prelude.sh (strict mode, orch_status, orch_fail, orch_write). */
export const PRELUDE = `${PROTOCOL_SH}${PRELUDE_SH.trimEnd()}`;

/**
 * A task script: the prelude, the host libraries `libs` (embedded src/host/*.sh, only
 * those the task needs: the script travels to every host), then `lines` (one call line,
 * sometimes preceded by the user's command as a function). Memoised in `ctx.memo`,
 * so hosts with the same inputs share one string.
 */
export function hostScript(ctx: Pick<StepContext, 'memo'>, libs: string[], ...lines: string[]): string {
  // Keyed by the libraries' ids and the call lines: the long text is built once per key.
  const key = `${libs.map(libId).join(',')}\0${lines.join('\n')}`;
  const hit = ctx.memo.get(key);
  if (hit !== undefined) return hit;
  const text = [PRELUDE, ...libs.map((l) => l.trimEnd()), ...lines].join('\n') + '\n';
  ctx.memo.set(key, text);
  return text;
}

/** A small id per library text (the embedded constants: a handful, for the life of the process). */
const LIB_IDS = new Map<string, number>();
function libId(lib: string): number {
  let id = LIB_IDS.get(lib);
  if (id === undefined) LIB_IDS.set(lib, (id = LIB_IDS.size));
  return id;
}

/** A call line: `fn 'arg' ...`; every argument is shell-quoted here (use `raw` for `"$1"` and qpath results). */
export function shCall(fn: string, ...args: (string | number | Raw)[]): string {
  return [fn, ...args.map((a) => (typeof a === 'object' ? a.raw : quote(String(a))))].join(' ');
}

/** Shell text inserted as is into a call line (`"$1"`, a `qpath`). */
export interface Raw {
  raw: string;
}
export const raw = (text: string): Raw => ({ raw: text });
/** A host path argument (`~/x` expands to the remote home). */
export const hostPath = (p: string): Raw => raw(qpath(p));
/** The task's payload flag, state.json and registry.json texts (`$1 $2 $3` of every task script). */
export const PAYLOAD_ARG = raw('"$1"');
export const STATE_ARG = raw('"${2:-}"');
export const REGISTRY_ARG = raw('"${3:-}"');

/**
 * A pseudo fact set while predicting a host once one of its steps is predicted `changed`
 * or `maybe` (src/compile/predict.ts): facts read before the run (an `unless` status) may
 * then be stale.
 */
export const EARLIER_CHANGE = 'predict:earlier-change';

/**
 * The user's shell command as a function, so `bash -n` at plan time checks it as part
 * of the script: `NAME() { :` / the command / `}` (the `:` keeps a comment-only
 * command valid). Run by the host library as `( NAME )`: a subshell under
 * `set -euo pipefail`, like Ansible's `shell` module.
 */
export function userFunction(name: string, command: string): string {
  return [`${name}() { :`, command, '}'].join('\n');
}

/** Host paths must be absolute or start with `~/`; returns an error message or undefined. */
export function checkHostPath(path: string, what: string): string | undefined {
  if (path.includes('\0')) return `${what} contains a NUL byte`;
  if (path.startsWith('/') || path === '~' || path.startsWith('~/')) return undefined;
  return `${what} must be an absolute path or start with ~/ (got ${JSON.stringify(path)})`;
}

/** Resolves `root` (required for install/symlink/prune): reports and returns undefined when unset or invalid. */
export function requireRoot(ctx: StepContext<unknown>, kind: string): string | undefined {
  const root = ctx.getVar('root');
  if (root === undefined || root === '') {
    ctx.fail(undefined, `${kind} needs var "root" (the app's folder on the host), e.g. vars: { root: /srv/app }`);
    return undefined;
  }
  if (typeof root !== 'string') {
    ctx.fail(undefined, `var "root" must be a string (got ${typeof root})`);
    return undefined;
  }
  const bad = checkHostPath(root, 'var "root"');
  if (bad) {
    ctx.fail(undefined, bad);
    return undefined;
  }
  return root.replace(/\/+$/, '') || '/';
}

/** The app name: var `app`, else the bundle's package name. */
export function appName(ctx: StepContext<unknown>, bundle?: { package: string }): string | undefined {
  const app = ctx.getVar('app');
  if (typeof app === 'string' && app) return app;
  return bundle?.package;
}

/** Versions become folder names: same rule as the bundle layer. */
export const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** Octal mode as written (`"0644"`) -> as `stat -c %a` prints it (`644`). */
export const statMode = (mode: string): string => parseInt(mode, 8).toString(8);

/** Mode, owner and group a step manages (unset = left alone). */
export interface MetaSpec {
  mode?: string;
  owner?: string;
  group?: string;
}

/**
 * Reads and checks `mode`, `owner`, `group` of a step's args (`put`, `directory`).
 * Returns undefined after reporting a problem.
 */
export function metaArgs(ctx: StepContext<MetaSpec>): MetaSpec | undefined {
  const out: MetaSpec = {};
  if (ctx.args.mode !== undefined) {
    const mode = String(ctx.args.mode);
    if (!/^[0-7]{3,4}$/.test(mode)) return void ctx.fail('mode', `mode must be octal like "0644" (got ${JSON.stringify(mode)})`);
    out.mode = mode;
  }
  for (const k of ['owner', 'group'] as const) {
    if (ctx.args[k] === undefined) continue;
    const v = ctx.render(k, 'text');
    if (v === undefined) return undefined;
    if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(v)) return void ctx.fail(k, `${k} must be a user or group name or a numeric id (got ${JSON.stringify(v)})`);
    out[k] = v;
  }
  return out;
}

/**
 * Whether a `stat` fact (`KIND MODE USER GROUP UID GID`) matches the managed mode, owner
 * and group (by name or numeric id). `kind` restricts the file type (`d`, `f`).
 */
export function statMatches(fact: string, meta: MetaSpec, kind?: 'd' | 'f'): boolean {
  const [k, mode, user, group, uid, gid] = fact.trim().split(' ');
  if (kind !== undefined && k !== kind) return false;
  if (meta.mode !== undefined && mode !== statMode(meta.mode)) return false;
  if (meta.owner !== undefined && meta.owner !== user && meta.owner !== uid) return false;
  if (meta.group !== undefined && meta.group !== group && meta.group !== gid) return false;
  return true;
}

/**
 * The `stat` fact after a step gave the path `meta` (the managed fields set, the others
 * as they were, `?` when unknown): later steps predict against it.
 */
export function statAfter(old: string | null | undefined, meta: MetaSpec, kind: 'd' | 'f'): string {
  const p = old ? old.trim().split(' ') : [kind, '?', '?', '?', '?', '?'];
  p[0] = kind;
  if (meta.mode !== undefined) p[1] = statMode(meta.mode);
  if (meta.owner !== undefined) p[2] = p[4] = meta.owner;
  if (meta.group !== undefined) p[3] = p[5] = meta.group;
  return p.join(' ');
}

/** Schema of `mode` (put, directory): quoted octal. */
export const MODE_SCHEMA = {
  description: 'Octal permission bits, quoted (YAML 1.2 reads 0644 as the number 644).',
  examples: ['0644', '600'],
  type: 'string',
  pattern: '^[0-7]{3,4}$',
  'x-message': 'must be an octal mode in quotes, like "0644"',
  'x-type-message': 'must be an octal mode in quotes, like "0644" (YAML reads 0644 unquoted as the number 644)',
};

/** Key of a probe in the facts map. */
export const factKey = (p: Probe): string => `${p.kind}:${p.path}`;

/** The sha256 recorded as bad for `version` in the state.json fact of `root`, if any. */
export function badSha(f: Facts, root: string, version: string): string | undefined {
  const text = f.get(`read:${joinPath(root, STATE_FILE)}`);
  if (!text) return undefined;
  try {
    const bad = (JSON.parse(text) as { bad?: Record<string, string> }).bad;
    return bad?.[version];
  } catch {
    return undefined;
  }
}

/** First line of a text, at most `n` characters (labels of commands). */
export function firstLine(text: string, n = 60): string {
  return text.split('\n')[0]!.slice(0, n);
}

/** A value as a label shows it. */
export const labelText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** `files` (path -> sha256) of a bundle's info.json text, or undefined. */
export function infoFiles(text: string | null | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  try {
    const f = (JSON.parse(text) as { files?: unknown }).files;
    return f && typeof f === 'object' && !Array.isArray(f) ? (f as Record<string, string>) : undefined;
  } catch {
    return undefined;
  }
}

/** The version `<root>/current` points at, from a `link` fact (`versions/1.2.0` -> `1.2.0`), or null. */
export function currentVersion(facts: Facts | undefined, root: string): string | null {
  const link = facts?.get(`link:${root.replace(/\/+$/, '')}/current`);
  return link ? link.replace(/^versions\//, '') : null;
}
