/** The transport registry: every name it knows is the one the schemas accept, and each loads. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRANSPORTS, transportNames, transportsFor } from '../../../src/transport/registry.js';
import { LocalTransport } from '../../../src/transport/local.js';
import type { PlanHost } from '../../../src/model/plan.js';

const schema = (name: string): { $defs?: Record<string, unknown> } & Record<string, unknown> =>
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../schema', name), 'utf8')) as never;

/** Every `transport` enum in a schema document. */
function transportEnums(doc: unknown, out: string[][] = []): string[][] {
  if (doc && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      if (k === 'transport' && v && typeof v === 'object' && Array.isArray((v as { enum?: unknown }).enum)) out.push([...(v as { enum: string[] }).enum].sort());
      else transportEnums(v, out);
    }
  }
  return out;
}

const host = (name: string, transport: PlanHost['transport']): PlanHost => ({ name, address: name, addressExplicit: false, transport, hostKeyPolicy: 'strict', jump: [] });

describe('transport registry', () => {
  it.each(['inventory.schema.json', 'plan.schema.json'])('%s lists exactly the registered transports', (file) => {
    const enums = transportEnums(schema(file));
    expect(enums.length).toBeGreaterThan(0);
    for (const e of enums) expect(e).toEqual(transportNames());
  });

  it('loads only the transports a plan uses, once each; a become host gets them through sudo', async () => {
    const pick = await transportsFor({ a: host('a', 'local'), b: host('b', 'local') });
    expect(pick(host('a', 'local'))).toBeInstanceOf(LocalTransport);
    expect(pick(host('a', 'local'))).toBe(pick(host('b', 'local')));
    expect(() => pick(host('c', 'ssh'))).toThrow('transport ssh of host c was not loaded');
    expect(pick({ ...host('a', 'local'), become: 'root' })).not.toBeInstanceOf(LocalTransport);
  });

  it('marks the local transport as this same machine (one lock for its hosts)', () => {
    expect(TRANSPORTS.local.sameMachine).toBe(true);
    expect(TRANSPORTS.ssh.sameMachine).toBe(false);
  });
});
