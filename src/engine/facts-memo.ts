/**
 * Speculative facts: the probes each host's facts read in a playbook's last run, kept on
 * the control machine, so the next apply's agents can read the same facts as soon as they
 * hold the early lock, while the playbook still compiles (agent.ts `EarlyLaunch`). When
 * the new plan's facts script is the same (the usual redeploy), the facts are already
 * there when the compile ends; otherwise they are read again, as without a memo. Like a
 * CPU's branch prediction, a wrong guess costs time, never a wrong result: only the choice
 * of probes comes from the file, the facts are read under this run's lock.
 *
 * Only read-only probes are kept (never `unless`, which runs a command of the playbook:
 * nothing of a playbook runs on a host before its plan is valid), and no probe whose path
 * holds a secret value (the file is on disk). File:
 * `<cache>/facts/<sha256 of the playbook's and inventories' absolute paths>.json`, mode 0600,
 * `{ "v": 1, "sets": [[[KIND, PATH], ...], ...], "hosts": { NAME: INDEX } }` (hosts alike
 * share a set); a missing or damaged file counts as empty. Written by temp name and
 * rename, once per run, when something changed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PROBE_KINDS, type Probe } from '../model/task.js';
import { factsScript } from './facts.js';

/** Probe kinds a speculative facts script may hold: every kind but `unless` (a command of the playbook). */
const SPECULATIVE_KINDS: ReadonlySet<string> = new Set(PROBE_KINDS.filter((k) => k !== 'unless'));

/**
 * The memo file of the playbook at `playbook` run with the inventories `inventories` (absolute
 * paths; none: the playbook's own) under `cacheDir` (`$XDG_CACHE_HOME/orch` by default): runs
 * of one playbook against two inventories with the same host names keep separate memos.
 */
export function factsMemoFile(cacheDir: string, playbook: string, inventories: readonly string[] = []): string {
  return join(cacheDir, 'facts', `${createHash('sha256').update([playbook, ...inventories].join('\0')).digest('hex')}.json`);
}

/** The probes of a playbook's last run per host (see the module's comment). No I/O but `load` and `save`. */
export class FactsMemo {
  readonly #hosts: Map<string, readonly Probe[]>;
  #changed = false;

  private constructor(readonly file: string, hosts: Map<string, readonly Probe[]>) {
    this.#hosts = hosts;
  }

  /** Reads `file` (synchronously: it is small and read once, before any host is contacted); empty when absent or damaged. */
  static load(file: string): FactsMemo {
    const hosts = new Map<string, readonly Probe[]>();
    try {
      const j = JSON.parse(readFileSync(file, 'utf8')) as { v?: unknown; sets?: unknown; hosts?: unknown };
      if (j.v === 1 && Array.isArray(j.sets) && typeof j.hosts === 'object' && j.hosts !== null) {
        const sets = j.sets.map(probesOf);
        for (const [name, i] of Object.entries(j.hosts)) {
          const set = typeof i === 'number' ? sets[i] : undefined;
          if (set) hosts.set(name, set);
        }
      }
    } catch {
      /* absent or damaged: empty */
    }
    return new FactsMemo(file, hosts);
  }

  /** The facts script of `host`'s last run (facts.ts `factsScript`), or undefined. */
  scriptFor(host: string): string | undefined {
    const p = this.#hosts.get(host);
    return p ? factsScript([...p]) : undefined;
  }

  /**
   * Remembers the probes `host`'s facts read in this run; forgets the host when one is
   * not read-only or `secret(path)` says a path holds a secret value.
   */
  record(host: string, probes: readonly Probe[], secret: (text: string) => boolean): void {
    const ok = probes.every((p) => SPECULATIVE_KINDS.has(p.kind) && !secret(p.path));
    const old = this.#hosts.get(host);
    if (!ok) {
      if (old) this.#changed = this.#hosts.delete(host);
      return;
    }
    if (old && sameProbes(old, probes)) return;
    this.#hosts.set(host, probes.map((p) => ({ ...p })));
    this.#changed = true;
  }

  /** Writes the file when something changed (folder made mode 0700, file 0600). Never throws: a memo not written costs the next run time, nothing else. */
  async save(): Promise<void> {
    if (!this.#changed) return;
    this.#changed = false;
    const sets: [string, string][][] = [];
    const index = new Map<string, number>();
    const hosts: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const [name, probes] of this.#hosts) {
      const set = probes.map((p): [string, string] => [p.kind, p.path]);
      const key = JSON.stringify(set);
      let i = index.get(key);
      if (i === undefined) {
        index.set(key, (i = sets.length));
        sets.push(set);
      }
      hosts[name] = i;
    }
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFile(tmp, JSON.stringify({ v: 1, sets, hosts }), { mode: 0o600, flag: 'wx' });
      await rename(tmp, this.file);
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}

/** A stored set as probes; undefined when any entry is not `[KIND, PATH]` of a read-only kind. */
function probesOf(set: unknown): readonly Probe[] | undefined {
  if (!Array.isArray(set)) return undefined;
  const out: Probe[] = [];
  for (const e of set) {
    // A NUL cannot be in a path or an argument (quote refuses it).
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'string' || !SPECULATIVE_KINDS.has(e[0]) || e[1].includes('\0')) return undefined;
    out.push({ kind: e[0], path: e[1] } as Probe);
  }
  return out;
}

function sameProbes(a: readonly Probe[], b: readonly Probe[]): boolean {
  return a.length === b.length && a.every((p, i) => p.kind === b[i]!.kind && p.path === b[i]!.path);
}
