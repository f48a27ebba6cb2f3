/** become: every exec through `sudo -n -H -u USER -- bash -c COMMAND`; a sudo that wants a password fails at connect. */
import { describe, expect, it } from 'vitest';
import { ConnectError } from '../../../src/model/errors.js';
import type { PlanHost } from '../../../src/model/plan.js';
import { becomeCommand, connectBecome } from '../../../src/transport/become.js';
import type { Connection, ExecResult, Transport } from '../../../src/transport/transport.js';

const HOST: PlanHost = { name: 'web1', address: '10.0.0.5', addressExplicit: true, transport: 'ssh', user: 'admin', hostKeyPolicy: 'strict', jump: [] };

/** A transport whose connection records commands and answers the sudo check with `check`. */
function fake(check: ExecResult): { transport: Transport; commands: string[]; closed: () => boolean } {
  const commands: string[] = [];
  let closed = false;
  const conn: Connection = {
    host: 'web1', bytesSent: 0,
    exec: async (c) => {
      commands.push(c);
      return c.endsWith('-- true') ? check : { code: 0, stdout: Buffer.from('ok'), stderr: Buffer.alloc(0) };
    },
    close: async () => void (closed = true),
  };
  return { transport: { connect: async () => conn }, commands, closed: () => closed };
}
const OK: ExecResult = { code: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

describe('become', () => {
  it('quotes the command as one argument of sudo', () => {
    expect(becomeCommand('root', "echo 'a b'")).toBe("sudo -n -H -u root -- bash -c 'echo '\\''a b'\\'''");
  });
  it('checks sudo -n once at connect, then runs every exec through it', async () => {
    const f = fake(OK);
    const conn = await connectBecome(f.transport, { ...HOST, become: 'shop' }, {} as never);
    await conn.exec('bash -n');
    expect(f.commands).toEqual(['sudo -n -u shop -- true', 'sudo -n -H -u shop -- bash -c \'bash -n\'']);
  });
  it('without become: the connection as it is, no check', async () => {
    const f = fake(OK);
    await (await connectBecome(f.transport, HOST, {} as never)).exec('true');
    expect(f.commands).toEqual(['true']);
  });
  it('a sudo that asks for a password: ConnectError naming the host, connection closed', async () => {
    const f = fake({ code: 1, stdout: Buffer.alloc(0), stderr: Buffer.from('sudo: a password is required\n') });
    const err = await connectBecome(f.transport, { ...HOST, become: 'root' }, {} as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as Error).message).toBe('web1: become: sudo -n as root failed (sudo: a password is required): become needs passwordless sudo (NOPASSWD in sudoers) for the login user admin');
    expect(f.closed()).toBe(true);
  });
});
