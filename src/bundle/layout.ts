/**
 * The platter bundle layout (docs/reference/playbook.md "Bundles"), shared by every builder and by the
 * artifact checker.
 *
 * Source: platter's `Builder.put_meta_info` / `create_archive`: a tarball holding exactly
 * one folder `<package>-<version>-<platform>/` with `PACKAGE`, `VERSION`, `PLATFORM`
 * (one line each), `info.json`, an executable `install.sh` and `data/`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError } from './bundle-error.js';
import type { PlanBundle } from '../model/plan.js';

/**
 * A bundle tarball resolved on the control machine: a `PlanBundle` (src/model/plan.ts)
 * without `name` (the playbook's bundle key), so `{ name, ...info }` is a `PlanBundle`.
 * `version` matches {@link NAME_PATTERN}; `platform` is `any` for dir and node bundles.
 */
export type BundleInfo = Omit<PlanBundle, 'name'>;

/** The content of `info.json` (platter writes its pkginfo there; orch adds hashes). */
export interface BundleManifest {
  package: string;
  version: string;
  platform: string;
  /** `dir` | `python` | `node`. */
  builder: string;
  /** ISO 8601 build time (`SOURCE_DATE_EPOCH` when set, else the injected clock). */
  built_at: string;
  /** Content hash of SOURCE (see `hashSource` in cache.ts), lowercase hex sha256. */
  source_hash: string;
  /** Tool name -> version used for the build, e.g. `{ "orch-bundle": "1", "node": "v20.20.2" }`. */
  tools: Record<string, string>;
  /** python bundles: the build interpreter's version, e.g. `3.11.2`. */
  python_version?: string;
  /** node bundles: the build's `node --version`, e.g. `v20.20.2`. */
  node_version?: string;
  /** Bundled dependencies as `name==version` (python: from the wheel file names; node: from package-lock.json; empty for dir bundles). */
  dependencies: string[];
  /** Path relative to `data/` (POSIX, sorted) -> sha256 of every regular file in `data/`. */
  files: Record<string, string>;
}

/**
 * Package names, versions and platforms become folder names on hosts, so they are
 * restricted to `^[A-Za-z0-9][A-Za-z0-9._+-]*$` (no `/`, no leading dot or dash).
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** Platform of bundles that run anywhere (dir, node). */
export const PLATFORM_ANY = 'any';


/** The data folder of every bundle. */
export const DATA_DIR_NAME = 'data';

/** `<package>-<version>-<platform>`: the bundle's top folder and tarball base name. */
export function formatBundleDir(pkg: string, version: string, platform: string): string {
  return `${pkg}-${version}-${platform}`;
}

/**
 * Checks that `value` may become a folder name on a host.
 * @throws BundleError `invalid <what> "<value>" from <origin>: must match ^[A-Za-z0-9][A-Za-z0-9._+-]*$`
 */
export function assertSafeName(what: 'package name' | 'version' | 'platform', value: string, origin: string): void {
  if (!NAME_PATTERN.test(value)) {
    throw new BundleError(`invalid ${what} ${JSON.stringify(value)} from ${origin}: must match ${NAME_PATTERN.source}`);
  }
}

/** sha256 (lowercase hex) of a file's bytes: read at once up to 4 MiB, streamed above. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    if ((await fh.stat()).size <= 4 * 1024 * 1024) return hash.update(await fh.readFile()).digest('hex');
  } finally {
    await fh.close();
  }
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Maps `items` through `fn` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * sha256 of every regular file under `dataDir`, keyed by POSIX path relative to it,
 * keys sorted (symlinks and folders are not hashed; they are kept in the tarball).
 */
export async function hashDataFiles(dataDir: string): Promise<Record<string, string>> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dataDir, rel))).sort(compareNames);
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = await lstat(join(dataDir, r));
      if (st.isDirectory()) await walk(r);
      else if (st.isFile()) files.push(r);
    }
  };
  await walk('');
  files.sort(compareNames);
  const hashes = await mapLimit(files, 16, (r) => sha256File(join(dataDir, r)));
  return Object.fromEntries(files.map((r, i) => [r, hashes[i] ?? '']));
}

/** Byte-wise (code unit) comparison: the one order used for members, hashes and manifests. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Writes `PACKAGE`, `VERSION`, `PLATFORM` (one line each, `\n`-terminated),
 * `info.json` (2-space JSON, trailing newline) and `install.sh` (mode 0755) into the
 * bundle folder `here`. `data/` must already be complete.
 */
export async function writeLayout(here: string, manifest: BundleManifest, installScript: string): Promise<void> {
  await writeFile(join(here, 'PACKAGE'), `${manifest.package}\n`);
  await writeFile(join(here, 'VERSION'), `${manifest.version}\n`);
  await writeFile(join(here, 'PLATFORM'), `${manifest.platform}\n`);
  await writeFile(join(here, 'info.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(here, 'install.sh'), installScript);
  await chmod(join(here, 'install.sh'), 0o755);
}
