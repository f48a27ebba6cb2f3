/**
 * Installs what the benchmark needs when it is absent, from Debian through apt-get
 * (root only), and reports what is usable. A missing optional tool never fails the
 * whole benchmark: its rows are skipped with the reason.
 */
import { runTimed, tailOf } from './proc.js';
import { findExecutable } from '../test/harness/fleet.js';

/** What one tool came to. */
export interface ToolStatus {
  /** Absolute path of the executable when usable. */
  path?: string;
  /** Version line when usable (e.g. "ansible-playbook [core 2.14.18]"). */
  version?: string;
  /** Why it is unavailable. */
  reason?: string;
  /** True when this run installed it. */
  installed?: boolean;
}

/** Absolute path of `cmd` on PATH (plus the sbin dirs): the test harness's lookup. */
export { findExecutable };

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LANG: 'C.UTF-8' };
let aptUpdated = false;

/** The apt candidate version of `pkg`, or undefined when apt knows none. */
async function aptCandidate(pkg: string): Promise<string | undefined> {
  const r = await runTimed('apt-cache', ['policy', pkg], { env: APT_ENV, timeoutMs: 60_000 });
  const m = /Candidate:\s*(\S+)/.exec(r.stdout);
  return m && m[1] !== '(none)' ? m[1] : undefined;
}

/**
 * Makes `cmd` available, installing Debian package `pkg` when it is missing: checks
 * `apt-cache policy PKG` first (running `apt-get update` once when there is no
 * candidate), then `apt-get install -y --no-install-recommends PKG` (10 min budget).
 * Resolves with the tool's status; never rejects.
 */
export async function ensureTool(cmd: string, pkg: string, versionArgs: string[], log: (s: string) => void): Promise<ToolStatus> {
  let exe = findExecutable(cmd);
  let installed = false;
  if (!exe) {
    if (process.getuid?.() !== 0) return { reason: `${cmd} not found and not root to apt-get install ${pkg}` };
    if (!findExecutable('apt-get')) return { reason: `${cmd} not found and no apt-get to install ${pkg}` };
    let cand = await aptCandidate(pkg);
    if (!cand && !aptUpdated) {
      log(`apt-get update (no candidate for ${pkg})`);
      aptUpdated = true;
      const u = await runTimed('apt-get', ['update'], { env: APT_ENV, timeoutMs: 300_000 });
      if (u.code !== 0) return { reason: `apt-get update failed: ${tailOf(u.stderr, 3)}` };
      cand = await aptCandidate(pkg);
    }
    if (!cand) return { reason: `apt has no candidate for ${pkg}` };
    log(`installing ${pkg} ${cand} with apt-get`);
    const r = await runTimed('apt-get', ['install', '-y', '--no-install-recommends', pkg], { env: APT_ENV, timeoutMs: 600_000 });
    if (r.code !== 0) return { reason: `apt-get install ${pkg} failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${tailOf(r.stderr || r.stdout, 3)}` };
    exe = findExecutable(cmd);
    if (!exe) return { reason: `apt-get installed ${pkg} but ${cmd} is still not on PATH` };
    installed = true;
  }
  const v = await runTimed(exe, versionArgs, { env: { ...process.env, LANG: 'C.UTF-8' }, timeoutMs: 60_000 });
  const version = (v.stdout + v.stderr).trim().split('\n')[0] ?? '';
  if (v.code !== 0) return { reason: `${exe} ${versionArgs.join(' ')} failed (exit ${v.code}): ${tailOf(v.stderr, 3)}` };
  return { path: exe, version, ...(installed && { installed }) };
}
