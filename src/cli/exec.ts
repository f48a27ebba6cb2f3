/**
 * `orch exec (PLAYBOOK | -i INVENTORY) --limit P -- COMMAND...`: an ad-hoc command on
 * every selected host in parallel (Ansible's ad-hoc `ansible HOSTS -a CMD`), over the
 * same transports, host-key checks and connection limits as a run. The words after `--`
 * are joined with spaces, as `ssh HOST COMMAND...` does, and sent to the host's bash on
 * stdin (so the command is never in a command line that `ps` shows). No host lock: it is
 * an ad-hoc look, not a deployment.
 */
import { resolve } from 'node:path';
import pLimit from 'p-limit';
import { selectHosts } from '../compile/limit.js';
import { planHostsFor } from '../compile/plan-hosts.js';
import { loadInventory } from '../config/inventory.js';
import { loadPlaybook } from '../config/playbook.js';
import { SourceIndexImpl } from '../config/source-index.js';
import { ConfigError } from '../model/errors.js';
import type { Plan } from '../model/plan.js';
import { Masker } from '../shell/mask.js';
import { EXIT, ExitRequest } from './main.js';
import { newSession, parseTimeout, type CommonOpts } from './run.js';

const out = (s: string): void => void process.stdout.write(s);
const cmdline = (path: string, message: string): ConfigError => new ConfigError([{ file: '<command line>', line: 1, col: 1, path, message }]);

/** One host's result. `code` null = unreachable or killed. */
interface ExecRow {
  host: string;
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

export async function runExec(args: string[], opts: CommonOpts): Promise<void> {
  const words = [...args];
  const first = words[0];
  const playbook = first !== undefined && /\.ya?ml$/.test(first) && !opts.inventory?.length ? words.shift() : undefined;
  if (!words.length) throw cmdline('COMMAND', 'give the command after --, e.g. orch exec -i inv.yml --limit web -- uptime');
  if (opts.limit === undefined) throw cmdline('--limit', 'exec needs --limit (use --limit all for every host)');
  const index = new SourceIndexImpl();
  let files = (opts.inventory ?? []).map((f) => resolve(f));
  if (!files.length && playbook) {
    const pb = await loadPlaybook(resolve(playbook), index);
    if (!pb.playbook) throw new ConfigError(pb.diagnostics);
    if (pb.playbook.inventory) files = [pb.playbook.inventory];
  }
  if (!files.length) throw cmdline('-i', 'give a playbook with an inventory: key, or -i INVENTORY');
  const inv = await loadInventory(files, index);
  if (!inv.inventory) throw new ConfigError(inv.diagnostics);
  const inventory = inv.inventory;
  const sel = selectHosts(opts.limit, { hosts: [...inventory.hosts.keys()].sort(), roles: inventory.roles, groups: inventory.groups });
  if ('error' in sel) throw cmdline('--limit', sel.error);
  const command = words.join(' ');
  const plan: Plan = {
    planVersion: 1, hosts: planHostsFor(inventory, sel.hosts), targets: sel.hosts, bundles: {}, phases: [],
    inputs: { files: {}, bundles: {}, playbook: '', inventories: files, extraVars: {} },
  };
  const session = await newSession(plan, new Masker(), opts, undefined);
  const timeout = parseTimeout(opts.timeout);
  const limit = pLimit(Math.max(1, Number(opts.forks ?? 50)));
  const rows: ExecRow[] = [];
  try {
    await Promise.all(sel.hosts.map((host) => limit(async () => {
      try {
        const conn = await session.connection(host);
        const res = await conn.exec('bash -s', { stdin: Buffer.from(`${command}\n`, 'utf8'), ...(timeout !== undefined && { timeoutMs: timeout * 1000 }) });
        rows.push({ host, code: res.code, stdout: res.stdout.toString('utf8'), stderr: res.stderr.toString('utf8') });
      } catch (e) {
        rows.push({ host, code: null, stdout: '', stderr: '', error: (e as Error).message.replace(`${host}: `, '') });
      }
    })));
  } finally {
    await session.close();
  }
  rows.sort((a, b) => (a.host < b.host ? -1 : 1));
  if (opts.json) out(`${JSON.stringify(rows)}\n`);
  else {
    for (const r of rows) {
      out(`${r.host} | ${r.error ? `UNREACHABLE: ${r.error}` : r.code === 0 ? 'ok' : `FAILED (exit ${r.code ?? 'signal'})`}\n`);
      for (const line of `${r.stdout}${r.stderr}`.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1)) out(`  ${line}\n`);
    }
  }
  if (rows.some((r) => r.code !== 0)) throw new ExitRequest(EXIT.FAILED);
}
