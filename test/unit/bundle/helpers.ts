/** Shared helpers of the bundle tests: temp folders and real bash runs. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/** A fresh temp folder. */
export function makeTempDir(prefix = 'orch-bundle-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs `bash -c SCRIPT bash ARGS...`, returns code and text outputs. */
export function runBash(script: string, args: string[] = [], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  // stdin /dev/null: with a socket on stdin bash believes rshd started it and reads ~/.bashrc
  const r = spawnSync('bash', ['-c', script, 'bash', ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every path under `root` (relative, sorted) with its type and, for files, mode & content. */
export function snapshotTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      const st = lstatSync(p);
      const rel = relative(root, p);
      if (st.isDirectory()) {
        out.push(`d ${rel}`);
        walk(p);
      } else if (st.isSymbolicLink()) out.push(`l ${rel}`);
      else out.push(`f ${rel} ${(st.mode & 0o111) ? 'x' : '-'}`);
    }
  };
  walk(root);
  return out;
}

/** Path of the python tarball generator fixture. */
export const MAKE_HOSTILE = join(import.meta.dirname, '../../fixtures/bundle/make-hostile.py');
