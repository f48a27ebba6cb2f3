/**
 * `orch ssh (PLAYBOOK | -i INVENTORY) HOST [-- COMMAND...]`: an interactive login shell
 * (or COMMAND) on an inventory host, reached as a run reaches it — the inventory's
 * user, port, identity, `jump` bastions, known_hosts and host-key policy, and
 * `~/.ssh/config` (OpenSSH's `ssh -t HOST`, Kamal's `app exec -i`). With a terminal
 * the session gets a remote pty whose size follows the local window; without one
 * COMMAND runs with plain pipes (stdin forwarded) like `ssh HOST COMMAND`.
 *
 * A `transport: local` host gets the local login shell (or `bash -c COMMAND`).
 *
 * Exit code: the remote command's (or login shell's) status; 4 when the host cannot be
 * reached; 1 for bad input (unknown host).
 */
import { planHostsFor } from '../compile/plan-hosts.js';
import { EXIT, ExitRequest } from './exit-codes.js';
import { cmdlineError, loadCommandInventory } from './targets.js';
import { ConnectionPool } from './shell/pool.js';
import { attachPty, runLocalShell } from './shell/terminal.js';

export interface SshOpts {
  inventory?: string[];
  insecureHostKeys?: boolean;
}

/** Runs `orch ssh`; `args` = [PLAYBOOK] HOST [COMMAND...]. */
export async function runSsh(args: string[], opts: SshOpts): Promise<void> {
  const words = [...args];
  const playbook = words.length > 1 && /\.ya?ml$/.test(words[0]!) && !opts.inventory?.length ? words.shift() : undefined;
  const host = words.shift();
  if (host === undefined) throw cmdlineError('HOST', 'give the host to connect to, e.g. orch ssh -i inventory.yml web1');
  const { inventory } = await loadCommandInventory(playbook, opts.inventory ?? []);
  if (!inventory.hosts.has(host)) {
    throw cmdlineError('HOST', `no host ${JSON.stringify(host)} in the inventory (hosts: ${[...inventory.hosts.keys()].sort().slice(0, 20).join(', ')})`);
  }
  const command = words.length ? words.join(' ') : undefined;
  if (inventory.hosts.get(host)!.transport === 'local') {
    const local = await runLocalShell(command);
    if (local !== 0) throw new ExitRequest(local ?? EXIT.FAILED);
    return;
  }
  const pool = new ConnectionPool(planHostsFor(inventory, [host]), opts.insecureHostKeys === true);
  let code: number | null;
  try {
    let conn;
    try {
      conn = await pool.get(host);
    } catch (e) {
      process.stderr.write(`orch: ${(e as Error).message}\n`);
      throw new ExitRequest(EXIT.FAILED);
    }
    if (process.stdin.isTTY && process.stdout.isTTY) code = await attachPty(conn, { stdin: process.stdin, stdout: process.stdout }, command);
    else if (command !== undefined) {
      const res = await conn.exec(command, {
        stdin: process.stdin,
        onStdout: (c) => void process.stdout.write(c),
        onStderr: (c) => void process.stderr.write(c),
      });
      code = res.code;
    } else throw cmdlineError('COMMAND', 'without a terminal, give the command to run after --');
  } finally {
    await pool.closeAll();
  }
  if (code !== 0) throw new ExitRequest(code ?? EXIT.FAILED);
}
