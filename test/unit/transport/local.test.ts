import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectError, RemoteCommandError } from '../../../src/model/errors.js';
import type { PlanHost } from '../../../src/model/plan.js';
import { LocalTransport } from '../../../src/transport/local.js';

const host: PlanHost = { name: 'ctl', address: 'ctl', addressExplicit: false, transport: 'local', hostKeyPolicy: 'strict', jump: [] };
const dir = mkdtempSync(path.join(tmpdir(), 'orch-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function connect() {
  return new LocalTransport().connect(host, { hosts: { ctl: host }, env: { ...process.env, ORCH_TEST_VAR: 'from-env' } });
}

describe('LocalTransport.exec', () => {
  it.each([
    ['stdout and exit 0', 'echo out; printf "x y"', 0, 'out\nx y', ''],
    ['stderr and exit 3', 'echo oops >&2; exit 3', 3, '', 'oops\n'],
    ['bash features (arrays, [[ ]])', 'a=(1 2 3); [[ ${#a[@]} == 3 ]] && echo "${a[1]}"', 0, '2\n', ''],
    ['quoting is left to the caller: the command runs as is', `printf '%s|' "a b" 'c'`, 0, 'a b|c|', ''],
    ['the environment comes from options.env', 'echo "$ORCH_TEST_VAR"', 0, 'from-env\n', ''],
  ])('%s', async (_label, cmd, code, stdout, stderr) => {
    const c = await connect();
    const r = await c.exec(cmd);
    expect({ code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() }).toEqual({ code, stdout, stderr });
    await c.close();
  });

  it('reports a signal death as code null with the signal name', async () => {
    const c = await connect();
    const r = await c.exec('kill -TERM $$');
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGTERM');
  });

  it('feeds a Buffer to stdin byte-exact and counts bytesSent', async () => {
    const c = await connect();
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const r = await c.exec('sha256sum | cut -d" " -f1');
    expect(r.stdout.toString()).toBe(`${createHash('sha256').update('').digest('hex')}\n`);
    const r2 = await c.exec('sha256sum | cut -d" " -f1', { stdin: data });
    expect(r2.stdout.toString()).toBe(`${createHash('sha256').update(data).digest('hex')}\n`);
    expect(c.bytesSent).toBe(data.length);
  });

  it('feeds a Readable to stdin and calls onStdout/onStderr live', async () => {
    const c = await connect();
    const chunks = [Buffer.from('one\n'), Buffer.from('two\n'), Buffer.from('three\n')];
    const seenOut: string[] = [];
    const seenErr: string[] = [];
    const r = await c.exec('cat; echo E >&2', {
      stdin: Readable.from(chunks),
      onStdout: (b) => seenOut.push(b.toString()),
      onStderr: (b) => seenErr.push(b.toString()),
    });
    expect(r.stdout.toString()).toBe('one\ntwo\nthree\n');
    expect(seenOut.join('')).toBe('one\ntwo\nthree\n');
    expect(seenErr.join('')).toBe('E\n');
    expect(c.bytesSent).toBe(14);
  });

  it('does not fail when the command exits without reading stdin', async () => {
    const c = await connect();
    const r = await c.exec('exit 0', { stdin: randomBytes(4 * 1024 * 1024) });
    expect(r.code).toBe(0);
  });

  it('kills the whole process group on timeout and rejects with the timeout message', async () => {
    const c = await connect();
    const marker = path.join(dir, 'survivor');
    // The background child would create the marker after 1.5 s if it survived the kill.
    const p = c.exec(`(sleep 1.5; touch ${marker}) & echo started >&2; sleep 30`, { timeoutMs: 300 });
    await expect(p).rejects.toThrow(new RemoteCommandError('ctl', 'timed out after 300 ms', null, 'started'));
    await expect(p).rejects.toBeInstanceOf(RemoteCommandError);
    // (The rejection is the timeout's, not the end of `sleep 30`: its message says so.)
    await new Promise((r) => setTimeout(r, 1800));
    expect(existsSync(marker)).toBe(false);
  });

  it('rejects exec after close with ConnectError', async () => {
    const c = await connect();
    await c.close();
    await expect(c.exec('true')).rejects.toThrow(new ConnectError('ctl', 'connection is closed'));
  });

  it('close kills commands still running after its grace time (1.5 s)', async () => {
    const c = await connect();
    const marker = path.join(dir, 'after-close');
    const p = c.exec(`sleep 3; touch ${marker}`);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await c.close();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    const r = await p;
    expect(r.signal).toBe('SIGKILL');
    await new Promise((r2) => setTimeout(r2, 2000));
    expect(existsSync(marker)).toBe(false);
  }, 10_000);
});
