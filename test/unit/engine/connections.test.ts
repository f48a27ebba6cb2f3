import { describe, expect, it } from 'vitest';
import { Connections, EarlyConnections } from '../../../src/engine/connections.js';
import type { EngineEvent } from '../../../src/engine/events.js';
import { ConnectError } from '../../../src/model/errors.js';
import type { Plan, PlanHost } from '../../../src/steps/plan.js';
import { Masker } from '../../../src/shell/mask.js';
import type { Connection, Transport } from '../../../src/transport/transport.js';

const host = (name: string): PlanHost => ({ name, address: `${name}.example`, addressExplicit: true, transport: 'ssh', hostKeyPolicy: 'strict', jump: [] });

/** A fake connection that records whether it was closed. */
function fakeConnection(name: string): Connection & { closed: boolean } {
  return {
    host: name, bytesSent: 0, closed: false,
    exec: () => Promise.reject(new Error('not used')),
    close() {
      this.closed = true;
      return Promise.resolve();
    },
  };
}

describe('EarlyConnections', () => {
  it('starts at most `max` connections in the order given; the Session takes them instead of connecting again; the rest are closed', async () => {
    const started: string[] = [];
    const conns = new Map<string, ReturnType<typeof fakeConnection>>();
    const early = new EarlyConnections(['a', 'b', 'c'].map(host), async (h) => {
      started.push(h.name);
      const c = fakeConnection(h.name);
      conns.set(h.name, c);
      return c;
    }, 2);
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);

    const late: string[] = [];
    const transport: Transport = {
      connect: (h: PlanHost) => {
        late.push(h.name);
        const c = fakeConnection(h.name);
        conns.set(h.name, c);
        return Promise.resolve(c);
      },
    } as unknown as Transport;
    const plan = { hosts: { a: host('a'), b: host('b'), c: host('c') } } as unknown as Plan;
    const events: EngineEvent[] = [];
    const set = new Connections(plan, () => transport, { hosts: plan.hosts, insecureHostKeys: false, env: {} }, (e) => events.push(e), new Masker(), early);
    const a = await set.get('a');
    const c = await set.get('c');
    expect(a).toBe(conns.get('a'));
    expect(c.host).toBe('c');
    // a came from the early pool; only c was opened by the Session itself.
    expect(late).toEqual(['c']);
    expect(events.filter((e) => e.type === 'connect').map((e) => (e as { host: string }).host)).toEqual(['a', 'c']);
    await set.closeAll();
    // b was started early but never taken: closed with the session, as a and c are.
    expect(['a', 'b', 'c'].map((n) => conns.get(n)!.closed)).toEqual([true, true, true]);
  });

  it('an early connection that failed is reported by the Session as its own connect failure', async () => {
    const early = new EarlyConnections([host('a')], () => Promise.reject(new Error('connection refused')), 5);
    const plan = { hosts: { a: host('a') } } as unknown as Plan;
    const events: EngineEvent[] = [];
    const never = { connect: () => Promise.reject(new Error('must not connect twice')) } as unknown as Transport;
    const set = new Connections(plan, () => never, { hosts: plan.hosts, insecureHostKeys: false, env: {} }, (e) => events.push(e), new Masker(), early);
    const err = await set.get('a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as Error).message).toContain('connection refused');
    expect(events).toMatchObject([{ type: 'connect', host: 'a', ok: false, error: 'connection refused' }]);
  });

  it('an early connection lost before the Session takes it (a long build) is closed and replaced', async () => {
    const dead = Object.assign(fakeConnection('a'), { alive: false });
    const early = new EarlyConnections([host('a')], () => Promise.resolve(dead), 5);
    const fresh = fakeConnection('a');
    const plan = { hosts: { a: host('a') } } as unknown as Plan;
    const transport = { connect: () => Promise.resolve(fresh) } as unknown as Transport;
    const set = new Connections(plan, () => transport, { hosts: plan.hosts, insecureHostKeys: false, env: {} }, () => undefined, new Masker(), early);
    expect(await set.get('a')).toBe(fresh);
    expect(dead.closed).toBe(true);
  });

  it('closeRest closes what nobody took, once', async () => {
    const c = fakeConnection('a');
    let n = 0;
    const early = new EarlyConnections([host('a')], () => {
      n++;
      return Promise.resolve(c);
    }, 5);
    await early.closeRest();
    expect(c.closed).toBe(true);
    expect(early.take('a')).toBeUndefined();
    expect(n).toBe(1);
  });
});
