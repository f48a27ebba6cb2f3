/**
 * The `dir` builder: `data/` = the files of SOURCE, and an `install.sh TARGET` that
 * copies them into TARGET.
 *
 * Source: platter's build-script contract (`HERE`, `DATA_DIR`, `SOURCE_DIR`,
 * `SCRATCHPAD`, `INSTALL_SCRIPT`; lines appended to INSTALL_SCRIPT run at the end of
 * install.sh from `HERE`) and platter's install.sh contract (works by hand, no network).
 * `.orchignore` uses gitignore syntax (the `ignore` package, as git applies it).
 */
import { spawn } from 'node:child_process';
import { chmod, copyFile, lstat, mkdir, readFile, readdir, readlink, symlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import ignore from 'ignore';
import { BundleError } from './bundle-error.js';
import { renderInstallScript } from './install-script.js';
import { compareNames, mapLimit } from './layout.js';
import { normaliseMode } from './tarball.js';

/** One file, folder or symlink of SOURCE that goes into `data/`. */
export interface SourceEntry {
  /** POSIX path relative to SOURCE, never empty. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits as found (the bundle normalises them, see `normaliseMode`). */
  mode: number;
  /** Link target, for symlinks. */
  target?: string;
  /**
   * Files: what lstat said, for the source hash cache (cache.ts `hashSource`): a
   * fingerprint `size:mtimeMs:ctimeMs:ino:dev` and the mtime, ms.
   */
  stat?: { fingerprint: string; mtimeMs: number };
}

/** Name of the ignore file read at the root of SOURCE. */
export const IGNORE_FILE = '.orchignore';

/**
 * The `.orchignore` rules of SOURCE as a predicate over POSIX paths relative to SOURCE:
 * true when the path, or a folder above it, is ignored (or lies in `.git`) — the rule
 * {@link listSourceFiles} applies while walking.
 */
export async function loadIgnoreRules(source: string): Promise<(path: string) => boolean> {
  const ig = ignore();
  try {
    ig.add(await readFile(join(source, IGNORE_FILE), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return (path: string): boolean => {
    const segs = path.split('/').filter(Boolean);
    if (segs.includes('.git') || segs.length === 0) return segs.length > 0;
    for (let i = 1; i < segs.length; i++) if (ig.ignores(`${segs.slice(0, i).join('/')}/`)) return true;
    return ig.ignores(segs.join('/'));
  };
}

/**
 * Lists what the dir builder bundles from SOURCE: every file, folder and symlink,
 * folders before their contents, siblings in byte order; `.git` and paths matched by
 * `SOURCE/.orchignore` (gitignore syntax; an ignored folder hides everything below
 * it) left out.
 * @throws BundleError `<source>/<path>: unsupported file type (only files, folders and symlinks are bundled)`
 * @throws BundleError `<source>/<path>: symlink target "<t>" leaves the bundle's data folder`
 */
export async function listSourceFiles(source: string): Promise<SourceEntry[]> {
  const ig = ignore();
  try {
    ig.add(await readFile(join(source, IGNORE_FILE), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const out: SourceEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(rel ? join(source, rel) : source)).sort(compareNames).filter((n) => n !== '.git');
    const stats = await mapLimit(names, 32, (n) => lstat(join(source, rel ? `${rel}/${n}` : n)));
    for (const [i, name] of names.entries()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = stats[i];
      if (!st) continue;
      if (st.isDirectory()) {
        if (ig.ignores(`${path}/`)) continue;
        out.push({ path, type: 'dir', mode: st.mode & 0o7777 });
        await walk(path);
      } else if (ig.ignores(path)) {
        continue;
      } else if (st.isFile()) {
        out.push({
          path, type: 'file', mode: st.mode & 0o7777,
          stat: { fingerprint: `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${st.dev}`, mtimeMs: st.mtimeMs },
        });
      } else if (st.isSymbolicLink()) {
        const target = await readlink(join(source, path));
        const resolved = posix.normalize(posix.join(posix.dirname(path), target));
        if (posix.isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
          throw new BundleError(`${join(source, path)}: symlink target ${JSON.stringify(target)} leaves the bundle's data folder`);
        }
        out.push({ path, type: 'symlink', mode: st.mode & 0o7777, target });
      } else {
        throw new BundleError(`${join(source, path)}: unsupported file type (only files, folders and symlinks are bundled)`);
      }
    }
  };
  await walk('');
  return out;
}

/** Copies `entries` (from {@link listSourceFiles}) from SOURCE into `dataDir` with normalised modes. */
export async function copySourceFiles(source: string, entries: readonly SourceEntry[], dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  for (const e of entries) {
    const to = join(dataDir, e.path);
    if (e.type === 'dir') await mkdir(to, { recursive: true });
    else if (e.type === 'symlink') await symlink(e.target ?? '', to);
    else {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(join(source, e.path), to);
      await chmod(to, normaliseMode(e.mode, 'file'));
    }
  }
}

/** The variables a pre/post-build script gets (platter's names). Absolute paths. */
export interface BuildScriptVars {
  /** The bundle folder being built (`<package>-<version>-<platform>/`); also the script's cwd. */
  HERE: string;
  /** `HERE/data`. */
  DATA_DIR: string;
  /** The SOURCE folder. */
  SOURCE_DIR: string;
  /** A fresh empty scratch folder, removed after the build. */
  SCRATCHPAD: string;
  /** A file; lines appended to it run at the end of install.sh (cwd `HERE`, `HERE`/`DATA_DIR`/`TARGET` set). */
  INSTALL_SCRIPT: string;
  /** python builds: the scratch build virtualenv (platter's `VIRTUAL_ENV`); unset otherwise. */
  VIRTUAL_ENV?: string;
}

/**
 * Runs a pre- or post-build script with `bash SCRIPT` (no execute bit needed), cwd
 * `HERE`, the given environment plus {@link BuildScriptVars} exported. Each output
 * line (stdout and stderr) goes to `log` prefixed with `<which>: `.
 * @throws BundleError `<which> script <path> failed with exit code <n>` (or `... killed by <signal>`)
 */
export async function runBuildScript(
  which: 'prebuild' | 'postbuild',
  script: string,
  vars: BuildScriptVars,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  const scriptEnv: NodeJS.ProcessEnv = { ...env, ...vars };
  if (vars.VIRTUAL_ENV !== undefined) scriptEnv.PATH = `${vars.VIRTUAL_ENV}/bin:${env.PATH ?? '/usr/bin:/bin'}`;
  const child = spawn('bash', [script], { cwd: vars.HERE, env: scriptEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const tails: string[] = [];
  const pipe = (stream: NodeJS.ReadableStream): void => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        tails.push(line);
        log(`${which}: ${line}`);
      }
    });
    stream.on('end', () => {
      if (buf) log(`${which}: ${buf}`);
    });
  };
  pipe(child.stdout);
  pipe(child.stderr);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res, rej) => {
    child.on('error', rej);
    child.on('close', (c, s) => res([c, s]));
  });
  if (code !== 0) {
    throw new BundleError(`${which} script ${script} failed with ${code === null ? `signal ${signal}` : `exit code ${code}`}`);
  }
}

/**
 * The dir bundle's `install.sh TARGET` (bash, `set -euo pipefail`): `mkdir -p TARGET`,
 * `cp -a data/. TARGET/`, then — from `HERE`, with `HERE`, `DATA_DIR` and `TARGET`
 * exported — the lines the build scripts appended to INSTALL_SCRIPT. Needs only bash
 * and coreutils; runs by hand as `./install.sh /srv/app/versions/1.0.0`.
 * @param ident `<package>-<version>-<platform>`, for messages.
 * @param postInstall the collected INSTALL_SCRIPT text (may be empty).
 */
export function renderDirInstallScript(ident: string, postInstall: string): string {
  return renderInstallScript('dir', ident, postInstall);
}
