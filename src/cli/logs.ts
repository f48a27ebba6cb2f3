/**
 * `orch logs PLAYBOOK [--node N] [-n 100] [-f]`: the last lines of every selected host's
 * service logs, each line prefixed by its host, hosts read in parallel (Kamal's
 * `kamal app logs`). Which services: the playbook's `service` steps of the systemd,
 * supervisor and daemon managers (of `--node N` and its children, else every node),
 * read with `journalctl -u NAME`, `supervisorctl tail` and `tail <root>/shared/log/NAME.log`
 * (src/host/logs.sh). `-f` follows until Ctrl-C. No host lock: reading only.
 * Exit 0; 4 when a host could not be read (its error is printed, prefixed by the host).
 */
import { secretReadingOf } from './secret-flags.js';
import pLimit from 'p-limit';
import { LOGS_SH, PRELUDE_SH, SUPERVISOR_SH } from '../host/embedded.generated.js';
import { preparePlan } from '../engine/prepare.js';
import { ConfigError } from '../model/errors.js';
import type { ServiceRef } from '../model/plan.js';
import { quote } from '../shell/quote.js';
import { qpath } from '../host/layout.js';
import { EXIT, ExitRequest } from './exit-codes.js';
import { cmdlineError } from './targets.js';
import { newSession, parseExtraVars, type CommonOpts } from './run.js';

const out = (s: string): void => void process.stdout.write(s);

/** The bash line that prints one service's last `lines` lines (follow: keeps reading). */
export function logsCommand(s: ServiceRef, lines: number, follow: boolean): string {
  const f = follow ? '1' : '0';
  if (s.manager === 'daemon') return `logs_daemon ${qpath(s.root ?? '/')} ${quote(s.name)} ${lines} ${f}`;
  if (s.manager === 'systemd') return `logs_systemd ${quote(s.name)} ${lines} ${f} ${s.sudo ? 1 : 0} ${s.scope === 'user' ? 1 : 0}`;
  return `logs_supervisor ${s.config ? qpath(s.config) : "''"} ${quote(s.serverUrl ?? '')} ${s.sudo ? 1 : 0} ${quote(s.name)} ${lines} ${f}`;
}

/** Prefixes every complete line of a stream with `host | `; `flush` prints the rest. */
function linePrefixer(host: string, write: (s: string) => void): { push(chunk: Buffer): void; flush(): void } {
  let rest = '';
  return {
    push(chunk) {
      const text = rest + chunk.toString('utf8');
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) write(`${host} | ${p}\n`);
    },
    flush() {
      if (rest) write(`${host} | ${rest}\n`);
      rest = '';
    },
  };
}

export async function runLogs(playbook: string, opts: CommonOpts & { lines?: string; follow?: boolean }): Promise<void> {
  const lines = Number(opts.lines ?? 100);
  if (!Number.isInteger(lines) || lines < 1 || lines > 100_000) throw cmdlineError('-n', `give a whole number of lines from 1 to 100000 (got ${JSON.stringify(opts.lines)})`);
  const prepared = await preparePlan({
    secrets: await secretReadingOf(opts),
    playbook, inventories: opts.inventory ?? [], extraVars: parseExtraVars(opts.extraVar), env: process.env,
    now: () => new Date(), skipSyntaxCheck: true, ...(opts.limit !== undefined && { limit: opts.limit }), ...(opts.node !== undefined && { node: opts.node }),
  });
  if (!prepared.plan) throw new ConfigError(prepared.diagnostics);
  const { plan, masker } = prepared;
  // Host -> its distinct services, in playbook order.
  const services = new Map<string, ServiceRef[]>();
  for (const phase of plan.phases) {
    for (const step of phase.steps) {
      for (const [host, task] of Object.entries(step.tasks)) {
        if (!task.service) continue;
        const list = services.get(host) ?? [];
        if (!list.some((s) => JSON.stringify(s) === JSON.stringify(task.service))) list.push(task.service);
        services.set(host, list);
      }
    }
  }
  if (!services.size) throw cmdlineError(opts.node ? '--node' : 'PLAYBOOK', 'no service step of the systemd, supervisor or daemon manager on the selected hosts: nothing has logs to show');
  const hosts = [...services.keys()].sort();
  const session = await newSession(plan, masker, opts, undefined);
  const limit = pLimit(Math.max(1, Number(opts.forks ?? 50)));
  const write = (s: string): void => out(masker.mask(s));
  let failed = false;
  try {
    await Promise.all(hosts.map((host) => limit(async () => {
      const body = services.get(host)!.map((s) => logsCommand(s, lines, opts.follow === true));
      const script = [PRELUDE_SH.trimEnd(), SUPERVISOR_SH.trimEnd(), LOGS_SH.trimEnd(), 'rc=0', ...body.map((b) => `${b} || rc=1`), 'exit "$rc"', ''].join('\n');
      const o = linePrefixer(host, write);
      const e = linePrefixer(host, write);
      try {
        const conn = await session.connection(host);
        const res = await conn.exec('bash -s', { stdin: Buffer.from(script, 'utf8'), onStdout: (c) => o.push(c), onStderr: (c) => e.push(c) });
        o.flush();
        e.flush();
        if (res.code !== 0) failed = true;
      } catch (err) {
        failed = true;
        write(`${host} | UNREACHABLE: ${(err as Error).message.replace(`${host}: `, '')}\n`);
      }
    })));
  } finally {
    await session.close();
  }
  if (failed) throw new ExitRequest(EXIT.FAILED);
}
