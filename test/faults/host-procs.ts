/**
 * Processes of one test host, read straight from the control machine's /proc: the test
 * hosts share the machine's PID namespace (only net, mount and UTS are their own,
 * test/harness/fleet.ts), so a machine-wide `ps` also sees other fleets' hosts — several
 * suites run at once. A host's processes are those in its sshd's mount namespace, minus
 * the sshd listener's session and the test process's own (hostExec's nsenter commands).
 * Reading /proc directly costs no fork, so a watcher can sample every few ms.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { TestHost } from '../harness/fleet.js';

/** One process: pid, parent, session id, state letter (R S D Z ...), command line. */
export interface HostProc {
  pid: number;
  ppid: number;
  sid: number;
  state: string;
  args: string;
}

/** pid, ppid, sid and state of /proc/PID/stat; undefined when the process is gone. */
function statOf(pid: number | string): { ppid: number; sid: number; state: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), sid: Number(f[3]) };
  } catch {
    return undefined;
  }
}

/**
 * Every live or zombie process of `host` (see the top of this file), in pid order.
 * @throws Error when the host's sshd is stopped (no namespace to compare with).
 */
export function hostProcs(host: TestHost): HostProc[] {
  if (host.sshdPid === undefined) throw new Error(`${host.name}: sshd is stopped`);
  const mnt = readlinkSync(`/proc/${host.sshdPid}/ns/mnt`);
  const skip = new Set([statOf(host.sshdPid)?.sid, statOf(process.pid)?.sid]);
  const out: HostProc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === host.sshdPid) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/mnt`) !== mnt) continue;
    } catch {
      continue;
    }
    const st = statOf(name);
    if (!st || skip.has(st.sid)) continue;
    let args = '';
    try {
      args = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
    } catch {
      /* gone meanwhile */
    }
    out.push({ pid, ...st, args });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** Session ids of the orch agents now alive on `host` (`bash -c ... orch-agent` session leaders). */
export function agentSessions(host: TestHost): number[] {
  return hostProcs(host).filter((p) => p.pid === p.sid && p.state !== 'Z' && p.args.endsWith(' orch-agent')).map((p) => p.sid);
}

/** The live (not zombie) processes of `host` in the sessions `sids`, one `pid state args` line each. */
export function sessionsAlive(host: TestHost, sids: number[]): string {
  const set = new Set(sids);
  return hostProcs(host).filter((p) => set.has(p.sid) && p.state !== 'Z').map((p) => `${p.pid} ${p.state} ${p.args}`).join('\n');
}

/**
 * The processes of one run on a host: `mark()` takes every process the host has at that
 * moment (call it while no other run has started: after the run was killed, before the
 * next one starts); `alive()` then lists the live ones of those, of their sessions, and
 * of their descendants (a session the marked sshd connection process starts later, such
 * as an agent started after the kill, counts too).
 */
export class RunProcs {
  readonly #pids = new Set<number>();
  readonly #sids = new Set<number>();

  constructor(private readonly host: TestHost) {}

  /** Takes the host's processes now as the run's; returns how many. */
  mark(): number {
    for (const p of hostProcs(this.host)) {
      this.#pids.add(p.pid);
      this.#sids.add(p.sid);
    }
    return this.#pids.size;
  }

  /** The run's processes alive now (zombies left out). */
  alive(): HostProc[] {
    const procs = hostProcs(this.host);
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const ours = (p: HostProc): boolean => {
      for (let q: HostProc | undefined = p, n = 0; q && n < 64; q = byPid.get(q.ppid), n++) {
        if (this.#pids.has(q.pid) || this.#sids.has(q.sid)) return true;
      }
      return false;
    };
    const out = procs.filter(ours);
    for (const p of out) {
      this.#pids.add(p.pid);
      this.#sids.add(p.sid);
    }
    return out.filter((p) => p.state !== 'Z');
  }
}
