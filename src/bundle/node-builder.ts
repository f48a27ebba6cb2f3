/**
 * The `node` builder: `data/` = the app (SOURCE without `node_modules`, `.orchignore`
 * respected) with its production dependencies installed by `npm ci --omit=dev`; its
 * install.sh copies `data/` into TARGET (the dir builder's).
 *
 * Source: npm's own deployment advice (`npm ci` from the lockfile, `--omit=dev`) and
 * platter's layout; the symlink rule is the artifact checker's.
 */
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BundleError } from './bundle-error.js';
import type { SourceEntry } from './dir-builder.js';
import { compareNames, NAME_PATTERN } from './layout.js';
import { runCommand } from './run-command.js';

/** Version of the node builder's output; part of the cache key and of info.json `tools`. */
export const NODE_BUILDER_VERSION = '2';

/** The node toolchain that builds the bundle. */
export interface NodeInfo {
  /** `node --version`, e.g. `v20.20.2`. */
  node: string;
  /** `npm --version`, e.g. `11.19.1`. */
  npm: string;
  /** The platform of native addons built with it: `process.platform-process.arch`, e.g. `linux-x64`. */
  platform: string;
}

/** Node source printing {@link NodeInfo} minus npm as one JSON line. */
export const NODE_PROBE_SCRIPT = 'console.log(JSON.stringify({node: process.version, platform: process.platform + "-" + process.arch}))';

/**
 * Asks `node` and `npm` on the build environment's PATH for their versions.
 * @throws BundleError `node: cannot run node: ...`, `npm --version: cannot run npm: ...`.
 */
export async function probeNode(env: NodeJS.ProcessEnv): Promise<NodeInfo> {
  const { stdout } = await runCommand('node', ['node', '-e', NODE_PROBE_SCRIPT], { env, prefix: 'node' });
  const npm = (await runCommand('npm --version', ['npm', '--version'], { env, prefix: 'npm' })).stdout.trim();
  let info: { node?: unknown; platform?: unknown };
  try {
    info = JSON.parse(stdout.trim()) as typeof info;
  } catch {
    info = {};
  }
  if (typeof info.node !== 'string' || typeof info.platform !== 'string' || !NAME_PATTERN.test(info.platform)) {
    throw new BundleError(`node: unexpected probe output ${JSON.stringify(stdout.trim().slice(0, 200))}`);
  }
  return { node: info.node, npm, platform: info.platform };
}

/** SOURCE entries the node builder copies: all but `node_modules` at the top (npm ci rebuilds it). */
export function selectNodeEntries(entries: readonly SourceEntry[]): SourceEntry[] {
  return entries.filter((e) => e.path !== 'node_modules' && !e.path.startsWith('node_modules/'));
}

/** The parts of `package-lock.json` the builder reads. */
interface Lockfile {
  packages?: Record<string, { version?: string; resolved?: string; dev?: boolean; link?: boolean; name?: string }>;
}

/**
 * Reads `<dir>/package-lock.json`.
 * @throws BundleError when it is missing (the node builder needs one) or not JSON.
 */
export async function readLockfile(dataDir: string): Promise<Lockfile> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'package-lock.json'), 'utf8');
  } catch {
    throw new BundleError('the node builder needs a package-lock.json in SOURCE (npm ci installs exactly what it locks); run `npm install` once and commit it');
  }
  try {
    return JSON.parse(text) as Lockfile;
  } catch (err) {
    throw new BundleError(`package-lock.json: invalid JSON: ${(err as Error).message}`);
  }
}

/**
 * `name==version` of every production package the lockfile installs under
 * `node_modules/` (dev packages left out), sorted.
 */
export function listNodeDependencies(lock: Lockfile): string[] {
  const out = new Set<string>();
  for (const [k, p] of Object.entries(lock.packages ?? {})) {
    if (!k.includes('node_modules/') || p.dev) continue;
    const name = k.slice(k.lastIndexOf('node_modules/') + 'node_modules/'.length);
    let version = p.version;
    if (version === undefined && p.link && p.resolved !== undefined) version = lock.packages?.[p.resolved]?.version;
    out.add(`${name}==${version ?? 'unknown'}`);
  }
  return [...out].sort(compareNames);
}

/**
 * The `npm ci` command line of a node build (argv): `npm ci --omit=dev --no-audit
 * --no-fund`. Nothing else: registry, cache, `offline`/`prefer-offline`, proxy and
 * auth come from the user's own npm configuration (`~/.npmrc`, the project's `.npmrc`,
 * `npm_config_*` variables), never guessed from the lockfile — a lockfile written with
 * `omit-lockfile-registry-resolved=true` has no `resolved` URLs and still needs the
 * registry.
 */
export function npmCiArgv(): string[] {
  return ['npm', 'ci', '--omit=dev', '--no-audit', '--no-fund'];
}

/**
 * Checks every symlink under `dataDir`: its target, resolved lexically against the
 * link's folder, must stay inside `dataDir` (npm's `.bin` links and `file:` links do).
 * @returns whether any `*.node` native addon was found.
 * @throws BundleError `data/<path>: symlink target "<t>" leaves the bundle's data folder`
 */
export async function scanNodeData(dataDir: string): Promise<{ nativeAddons: boolean }> {
  let nativeAddons = false;
  const walk = async (rel: string): Promise<void> => {
    for (const n of (await readdir(rel ? join(dataDir, rel) : dataDir)).sort(compareNames)) {
      const r = rel ? `${rel}/${n}` : n;
      const st = await lstat(join(dataDir, r));
      if (st.isDirectory()) await walk(r);
      else if (st.isSymbolicLink()) {
        const target = await readlink(join(dataDir, r));
        const resolved = posix.normalize(posix.join(posix.dirname(r), target));
        if (posix.isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
          throw new BundleError(`data/${r}: symlink target ${JSON.stringify(target)} leaves the bundle's data folder`);
        }
      } else if (st.isFile() && n.endsWith('.node')) nativeAddons = true;
    }
  };
  await walk('');
  return { nativeAddons };
}

/** Options of {@link buildNodeData}. */
export interface NodeBuildInput {
  /** `data/`, already holding the app's files (see {@link selectNodeEntries}). */
  dataDir: string;
  nodeInfo: NodeInfo;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

/**
 * Runs {@link npmCiArgv} in `data/` with the user's npm configuration, then
 * {@link scanNodeData}. Logs `node: npm ci --omit=dev...` and `node: N packages`.
 * @returns the bundle platform (`any`, or {@link NodeInfo.platform} when a `*.node`
 *   addon was installed) and the dependency list.
 * @throws BundleError without package-lock.json, when npm fails, or for an escaping symlink.
 */
export async function buildNodeData(input: NodeBuildInput): Promise<{ platform: string; dependencies: string[] }> {
  const lock = await readLockfile(input.dataDir);
  const argv = npmCiArgv();
  input.log(`node: ${argv.join(' ')}...`);
  await runCommand('npm ci', argv, {
    cwd: input.dataDir,
    env: { ...input.env, npm_config_update_notifier: 'false', npm_config_loglevel: 'warn' },
    prefix: 'npm',
    log: input.log,
  });
  const { nativeAddons } = await scanNodeData(input.dataDir);
  const dependencies = listNodeDependencies(lock);
  input.log(`node: ${dependencies.length} package${dependencies.length === 1 ? '' : 's'}${nativeAddons ? `, native addons (${input.nodeInfo.platform})` : ''}`);
  return { platform: nativeAddons ? input.nodeInfo.platform : 'any', dependencies };
}
