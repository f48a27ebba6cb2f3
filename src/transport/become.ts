/**
 * `become: true` (Ansible's name): orch logs in as a sudo user and runs every command of
 * the host side — the agent with its lock, facts, state and registry, every step — through
 * `sudo -n -u USER -H -- bash -c COMMAND` (USER = `become_user`, default root), so a run
 * through sudo is the same run as one logged in as that user. The command travels as one
 * argument of the remote command line; scripts and payloads still go on stdin.
 *
 * At connect time `sudo -n -u USER -- true` must succeed: a sudo that asks for a password
 * (or refuses the user) fails the connection with a ConnectError naming the host, before
 * anything runs there.
 *
 * Source: Ansible's become plugins (`become_method: sudo`, `become_user`), sudo(8) `-n`.
 */
import { ConnectError } from '../model/errors.js';
import type { PlanHost } from '../model/plan.js';
import { quote } from '../shell/quote.js';
import type { ConnectOptions, Connection, ExecOptions, ExecResult, Transport } from './transport.js';

/** The remote command line that runs `command` as `user` through sudo. */
export function becomeCommand(user: string, command: string): string {
  return `sudo -n -H -u ${quote(user)} -- bash -c ${quote(command)}`;
}

/** A connection whose every `exec` runs through sudo as `user` (pty and sftp stay the login user's). */
class BecomeConnection implements Connection {
  constructor(private readonly inner: Connection, private readonly user: string) {}
  get host(): string {
    return this.inner.host;
  }
  get bytesSent(): number {
    return this.inner.bytesSent;
  }
  get alive(): boolean | undefined {
    return this.inner.alive;
  }
  exec(command: string, options?: ExecOptions): Promise<ExecResult> {
    return this.inner.exec(becomeCommand(this.user, command), options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Connects through `transport`, then (with `host.become`) checks that sudo runs without
 * a password and returns a connection that runs everything through it.
 * @throws ConnectError `HOST: become: sudo -n as USER failed (…): become needs passwordless sudo (NOPASSWD in sudoers) for the login user`
 */
export async function connectBecome(transport: Transport, host: PlanHost, options: ConnectOptions): Promise<Connection> {
  const conn = await transport.connect(host, options);
  if (host.become === undefined) return conn;
  let res: ExecResult;
  try {
    res = await conn.exec(`sudo -n -u ${quote(host.become)} -- true`);
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw err;
  }
  if (res.code !== 0) {
    await conn.close().catch(() => undefined);
    const said = res.stderr.toString('utf8').trim().split('\n').slice(-3).join(' ');
    throw new ConnectError(host.name, `become: sudo -n as ${host.become} failed (${said || `exit ${res.code}`}): become needs passwordless sudo (NOPASSWD in sudoers) for the login user${host.user ? ` ${host.user}` : ''}`);
  }
  return new BecomeConnection(conn, host.become);
}

/** `transport` with become applied to the hosts that ask for it. */
export function withBecome(transport: Transport): Transport {
  return { connect: (host, options) => connectBecome(transport, host, options) };
}
