/**
 * `orch exec (PLAYBOOK | -i INVENTORY) --limit P -- COMMAND...`: an ad-hoc command on
 * every selected host in parallel (Ansible's ad-hoc `ansible HOSTS -a CMD`), over the
 * same transports, host-key checks and connection limits as a run. The words after `--`
 * are joined with spaces, as `ssh HOST COMMAND...` does, and sent to the host's bash on
 * stdin (so the command is never in a command line that `ps` shows). No host lock: it is
 * an ad-hoc look, not a deployment.
 */
import pLimit from 'p-limit';
import { Masker } from '../shell/mask.js';
import { EXIT, ExitRequest } from './exit-codes.js';
import { cmdlineError, connectionPlan, limitHosts, loadCommandInventory } from './targets.js';
import { newSession, parseTimeout, type CommonOpts } from './run.js';

const out = (s: string): void => void process.stdout.write(s);

/** One host's result. `code` null = unreachable or killed. */
interface ExecRow {
  host: string;
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why the host failed (`exit N`, `killed by SIGNAL`, the connection error); absent when the command exited 0. */
  error?: string;
  /** Not in the JSON: the host could not be reached. */
  unreachable?: true;
}

export async function runExec(args: string[], opts: CommonOpts): Promise<void> {
  const words = [...args];
  const first = words[0];
  const playbook = first !== undefined && /\.ya?ml$/.test(first) && !opts.inventory?.length ? words.shift() : undefined;
  if (!words.length) throw cmdlineError('COMMAND', 'give the command after --, e.g. orch exec -i inv.yml --limit web -- uptime');
  if (opts.limit === undefined) throw cmdlineError('--limit', 'exec needs --limit (use --limit all for every host)');
  const { inventory, files } = await loadCommandInventory(playbook, opts.inventory ?? []);
  const hosts = limitHosts(inventory, opts.limit);
  const command = words.join(' ');
  const session = await newSession(connectionPlan(inventory, hosts, files), new Masker(), opts, undefined);
  const timeout = parseTimeout(opts.timeout);
  const limit = pLimit(Math.max(1, Number(opts.forks ?? 50)));
  const rows: ExecRow[] = [];
  try {
    await Promise.all(hosts.map((host) => limit(async () => {
      try {
        const conn = await session.connection(host);
        const res = await conn.exec('bash -s', { stdin: Buffer.from(`${command}\n`, 'utf8'), ...(timeout !== undefined && { timeoutMs: timeout * 1000 }) });
        rows.push({ host, code: res.code, stdout: res.stdout.toString('utf8'), stderr: res.stderr.toString('utf8'), ...(res.code !== 0 && { error: res.code === null ? `killed${res.signal ? ` by ${res.signal}` : ''}` : `exit ${res.code}` }) });
      } catch (e) {
        rows.push({ host, code: null, stdout: '', stderr: '', error: (e as Error).message.replace(`${host}: `, ''), unreachable: true });
      }
    })));
  } finally {
    await session.close();
  }
  rows.sort((a, b) => (a.host < b.host ? -1 : 1));
  if (opts.json) out(`${JSON.stringify(rows.map(({ unreachable: _, ...row }) => row))}\n`);
  else {
    for (const r of rows) {
      out(`${r.host} | ${r.unreachable ? `UNREACHABLE: ${r.error ?? ''}` : r.code === 0 ? 'ok' : `FAILED (${r.error ?? `exit ${r.code}`})`}\n`);
      for (const line of `${r.stdout}${r.stderr}`.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1)) out(`  ${line}\n`);
    }
  }
  if (rows.some((r) => r.code !== 0)) throw new ExitRequest(EXIT.FAILED);
}
