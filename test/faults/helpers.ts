/**
 * Shared pieces of the fault-injection suite (issue 6): a scratch work dir with its own
 * HOME and cache, a `dir` bundle source writer, and host-side inspection helpers.
 * Every suite drives the built CLI (`bin/orch.js`) as a subprocess, like a user.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fleet, TestHost } from '../harness/fleet.js';

export { orch, summaryOf, startOrch, ORCH, type BackgroundRun, type Work } from '../integration/cli.js';
import { makeWork as makeSharedWork, type Work } from '../integration/cli.js';

/** Creates a fresh work dir under the OS temp dir (NOT inside a test host's view). */
export function makeWork(prefix: string): Work {
  return makeSharedWork(`faults-${prefix}`);
}

/** Writes a `dir` builder source at `<work>/<name>` with VERSION and `files` (path -> content). */
export function writeApp(work: Work, name: string, version: string, files: Record<string, string | Buffer> = {}): string {
  const src = join(work.dir, name);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'VERSION'), `${version}\n`);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(src, p, '..'), { recursive: true });
    writeFileSync(join(src, p), content);
  }
  return src;
}

/** Writes `text` to `<work>/<name>` and returns the path. */
export function writeFile(work: Work, name: string, text: string | Buffer): string {
  const p = join(work.dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** A path on a test host, seen through the host's private folder on the control machine. */
export function onHost(host: TestHost, p: string): string {
  return join(host.dir, p.replace(/^\//, ''));
}

/** Number of SSH connections sshd logged for `host` so far ("Connection from" lines). */
export function sshdConnections(host: TestHost): number {
  let log = '';
  try {
    log = readFileSync(host.logFile, 'utf8');
  } catch {
    return 0;
  }
  return log.split('\n').filter((l) => l.includes('Connection from')).length;
}

/** Runs a command on a host and throws unless it exits 0; returns stdout. */
export async function hostOk(fleet: Fleet, host: TestHost, command: string): Promise<string> {
  const r = await fleet.hostExec(host, command);
  if (r.code !== 0) throw new Error(`${host.name}: ${command}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every `everyMs` until true; throws after `timeoutMs` naming `what`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A string is a JS/Node stack trace when it has `    at ` frames. */
export const STACK_RE = /^\s+at .+\(?.+:\d+:\d+\)?$/m;
