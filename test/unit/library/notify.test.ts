/** Webhook delivery of src/library/notify.ts against real HTTP servers on loopback. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../../src/engine/events.js';
import { RunNotifier } from '../../../src/library/notify.js';
import type { Plan } from '../../../src/steps/plan.js';
import { Masker } from '../../../src/shell/mask.js';

const SECRET = 'hunter2-very-secret';
const plan = {
  planVersion: 1, inputs: { files: {}, bundles: {}, playbook: '/tmp/pb.yml', inventories: [], extraVars: {} }, hosts: {}, targets: ['h1', 'h2'],
  bundles: { shop: { name: 'shop', package: 'shop', version: '1.2.0', platform: 'any', sha256: 'a'.repeat(64), size: 1, path: '/dev/null', dir: 'x' } }, phases: [],
} as unknown as Plan;
const summary: RunSummary = {
  type: 'summary', changed: 1, failed: 1, unreachable: 0, ok: 0, bytesUploaded: 0, ms: 5,
  hosts: [
    { host: 'h1', status: 'changed', counts: { ok: 0, changed: 1, skipped: 0, failed: 0 } as RunSummary['hosts'][0]['counts'], changedSteps: [] },
    { host: 'h2', status: 'failed', counts: { ok: 0, changed: 0, skipped: 0, failed: 1 } as RunSummary['hosts'][0]['counts'], changedSteps: [], error: `healthcheck: exit 1: ${SECRET} rejected; rolled back to 1.1.0` },
  ],
};

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A server answering with `statuses` in turn (then 200); records each body. */
async function serve(statuses: number[]): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const s = http.createServer((req, res) => {
    let b = '';
    req.on('data', (d: Buffer) => (b += d.toString()));
    req.on('end', () => {
      bodies.push(b);
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/h?token=xyz`, bodies };
}

function notifier(urls: { url: string; timeout?: number }[], warnings: string[]): RunNotifier {
  const masker = new Masker();
  masker.add(SECRET);
  return new RunNotifier(plan, { notify: urls.map((u) => ({ webhook: u.url, timeoutSeconds: u.timeout ?? 5, src: { file: 'pb.yml', path: [] } })) }, masker, { performer: 'me@ctl', env: {}, warn: (l) => warnings.push(l), now: () => new Date('2026-01-01T00:00:00Z') });
}

describe('webhooks', () => {
  it('sends failure and rollback after the run, in order, with the secret masked; a 503 is tried again', async () => {
    const rx = await serve([503]);
    const warnings: string[] = [];
    await notifier([{ url: rx.url }], warnings).after(summary);
    expect(warnings).toEqual([]);
    const events = rx.bodies.map((b) => JSON.parse(b) as { event: string; failed_hosts: unknown; rolled_back: string[]; version: string; performer: string });
    expect(events.map((e) => e.event)).toEqual(['failure', 'failure', 'rollback']);
    expect(events[1]).toMatchObject({ version: '1.2.0', performer: 'me@ctl', rolled_back: ['h2'], failed_hosts: [{ host: 'h2', error: 'healthcheck: exit 1: *** rejected; rolled back to 1.1.0' }] });
    for (const b of rx.bodies) expect(b).not.toContain(SECRET);
  });

  it('a 4xx is not tried again and is a warning without the URL query; 3 attempts at most', async () => {
    const refusing = await serve([400]);
    const broken = await serve([500, 500, 500, 500]);
    const warnings: string[] = [];
    const n = notifier([{ url: refusing.url }, { url: broken.url }], warnings);
    n.notify('start');
    await n.settle();
    expect(refusing.bodies).toHaveLength(1);
    expect(broken.bodies).toHaveLength(3);
    const base = (u: string): string => u.replace('?token=xyz', '');
    expect(warnings.sort()).toEqual([
      `webhook ${base(broken.url)}: the start event was not delivered (HTTP 500); the run goes on`,
      `webhook ${base(refusing.url)}: the start event was not delivered (HTTP 400); the run goes on`,
    ].sort());
  });

  it('nothing listening: a warning, well within the timeout', async () => {
    const rx = await serve([]);
    const url = rx.url;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const warnings: string[] = [];
    const n = notifier([{ url, timeout: 3 }], warnings);
    const t0 = Date.now();
    n.notify('finish');
    await n.settle();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(warnings).toEqual([`webhook ${url.replace('?token=xyz', '')}: the finish event was not delivered (ECONNREFUSED); the run goes on`]);
  });
});
