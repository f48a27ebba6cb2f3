/**
 * The one module that names orch's layout on a host (docs/how-it-works.md "What orch leaves on a host"): every other module
 * takes these names from here. Paths are relative to an app's `<root>` unless noted.
 *
 * ```
 * <root>/versions/<V>/                 one folder per installed version (+ .orch-installed marker)
 * <root>/current -> versions/<V>       relative symlink, switched atomically
 * <root>/previous -> versions/<V>      the release `current` pointed at before the last switch
 * <root>/.orch/state.json              app state and history
 * <root>/.orch/bundles/<sha256>.tar.gz uploaded bundles (content-addressed)
 * ~/.orch/registry.json                {"apps": {"<app>": "<root>"}} for the SSH user
 * ~/.orch/lock                         the host lock (flock), per SSH user
 * ```
 */
import { quote } from '../shell/quote.js';

/** Folder of installed versions: `<root>/versions/<V>`. */
export const VERSIONS_DIR = 'versions';
/** The `current` link (relative target `versions/<V>`). */
export const CURRENT_LINK = 'current';
/** The `previous` link. */
export const PREVIOUS_LINK = 'previous';
/** Marker written last into a complete install; holds the bundle sha256. */
export const INSTALLED_MARKER = '.orch-installed';
/** Per-app state file. */
export const STATE_FILE = '.orch/state.json';
/** Content-addressed uploaded bundles. */
export const BUNDLES_DIR = '.orch/bundles';
/**
 * `<root>/.orch/restart-pending`: written by `symlink` before it switches `current` when
 * the node restarts a service afterwards, removed by that `service` step once it ran. A
 * run killed between the switch and the restart leaves it, and the next run's `symlink`
 * then reports `changed` so the restart happens (no lost restart).
 */
export const RESTART_PENDING = '.orch/restart-pending';
/** The SSH user's registry of apps (home-relative). */
export const REGISTRY_FILE = '~/.orch/registry.json';

/** `versions/<V>` (relative to root). */
export const versionDir = (version: string): string => `${VERSIONS_DIR}/${version}`;

/** Joins a host path and a relative part. */
export function joinPath(base: string, rel: string): string {
  return base.endsWith('/') ? `${base}${rel}` : `${base}/${rel}`;
}

/**
 * Quotes a host path for the shell: `~/x` becomes `"$HOME"/'x'` (so the remote home
 * applies), anything else is quoted whole.
 */
export function qpath(path: string): string {
  if (path === '~') return '"$HOME"';
  if (path.startsWith('~/')) return `"$HOME"/${quote(path.slice(2))}`;
  return quote(path);
}
