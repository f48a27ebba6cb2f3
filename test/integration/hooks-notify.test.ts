/**
 * `hooks:` and `notify:` on a real apply over SSH: a local HTTP receiver (loopback) gets
 * the start, finish, failure and rollback events as JSON with secrets masked; the hooks
 * run on this machine with the summary on stdin and `ORCH_*` variables; a webhook that
 * never answers delays the run by at most its timeout and does not fail it; a
 * `pre_apply` that exits 1 stops the run with nothing changed on the host.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, orch } from './cli.js';

const SECRET = 'tok-5ecret-9f8e7d';

interface Received {
  path: string;
  /** Date.now() when it arrived. */
  at: number;
  body: { event: string; version: string; hosts: string[]; performer: string; failed_hosts?: { host: string; error: string }[]; rolled_back?: string[]; summary?: { failed: number } };
  raw: string;
}

describe.skipIf(!canRunFleet())('hooks and webhook notifications', () => {
  let fleet: Fleet;
  let host: TestHost;
  let work: string;
  let env: Record<string, string>;
  let receiver: http.Server;
  let dead: http.Server;
  const received: Received[] = [];
  const deadHits: string[] = [];
  let url = '';
  let deadUrl = '';

  const writeApp = (version: string, health: string): void => {
    mkdirSync(join(work, 'app'), { recursive: true });
    writeFileSync(join(work, 'app', 'VERSION'), `${version}\n`);
    writeFileSync(join(work, 'app', 'HEALTH'), `${health}\n`);
  };
  const playbook = (name: string, opts: { preApply?: string; webhooks?: string } = {}): string => {
    const file = join(work, `${name}.yml`);
    writeFileSync(file, `
inventory: inventory.yml
vars: { root: /srv/app, token: ${SECRET} }
secret: [token]
bundles:
  app: { source: app }
hooks:
  pre_apply: ${JSON.stringify(opts.preApply ?? 'cat > hook-pre.json; env | grep ^ORCH_ | sort > hook-pre.env')}
  post_apply: "cat > hook-post.json"
  on_failure: "cat > hook-failure.json; echo \\"$ORCH_FAILED_HOSTS\\" > hook-failure.hosts"
  on_rollback: "cat > hook-rollback.json"
notify:
${opts.webhooks ?? `  - { webhook: "${url}/deploys?key=abc", timeout: 5s }`}
steps:
  - install: { bundle: app }
  - symlink: {}
  - healthcheck: { cmd: "grep -q ok {{root}}/current/HEALTH || { echo \\"token {{token}} is unhealthy\\" >&2; exit 1; }", retries: 0 }
`);
    return file;
  };
  const events = (): string[] => received.map((r) => r.body.event);

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', at: Date.now(), body: JSON.parse(raw) as Received['body'], raw });
        res.end('ok');
      });
    });
    // Takes the request and never answers.
    dead = http.createServer((req) => {
      deadHits.push(req.url ?? '');
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    fleet = await startFleet({ count: 1 });
    host = fleet.hosts[0]!;
    ({ dir: work, env } = makeWork('hooks'));
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
  }, 120_000);

  afterAll(async () => {
    receiver?.closeAllConnections();
    dead?.closeAllConnections();
    receiver?.close();
    dead?.close();
    await fleet?.teardown();
  });

  it('a good release: pre_apply, then start and finish events; post_apply gets the summary; ORCH_* set', async () => {
    writeApp('1.0.0', 'ok');
    const r = await orch(['apply', playbook('good'), '--yes'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(events()).toEqual(['start', 'finish']);
    expect(received[0]!.path).toBe('/deploys?key=abc');
    expect(received[0]!.body).toMatchObject({ event: 'start', version: '1.0.0', hosts: [host.name] });
    expect(received[1]!.body.summary).toMatchObject({ failed: 0, changed: 1 });
    const pre = readFileSync(join(work, 'hook-pre.env'), 'utf8');
    expect(pre).toContain('ORCH_HOOK=pre_apply\n');
    expect(pre).toContain('ORCH_VERSION=1.0.0\n');
    expect(pre).toContain(`ORCH_HOSTS=${host.name}\n`);
    expect(pre).toMatch(/^ORCH_PERFORMER=\S+@\S+$/m);
    expect(pre).toContain(`ORCH_PLAYBOOK=${join(work, 'good.yml')}\n`);
    expect(JSON.parse(readFileSync(join(work, 'hook-post.json'), 'utf8'))).toMatchObject({ event: 'finish', version: '1.0.0', summary: { failed: 0 } });
  }, 120_000);

  it('an unhealthy release: failure and rollback events and hooks, the secret masked everywhere', async () => {
    received.length = 0;
    writeApp('2.0.0', 'bad');
    const r = await orch(['apply', playbook('good'), '--yes'], env);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(events()).toEqual(['start', 'failure', 'rollback']);
    const failure = received[1]!;
    expect(failure.body.failed_hosts).toEqual([{ host: host.name, error: expect.stringMatching(/token \*\*\* is unhealthy[\s\S]*rolled back to 1\.0\.0/) as unknown }]);
    expect(received[2]!.body.rolled_back).toEqual([host.name]);
    for (const x of received) expect(x.raw).not.toContain(SECRET);
    const hookFailure = readFileSync(join(work, 'hook-failure.json'), 'utf8');
    expect(hookFailure).toContain('***');
    expect(hookFailure).not.toContain(SECRET);
    expect(readFileSync(join(work, 'hook-failure.hosts'), 'utf8').trim()).toBe(host.name);
    expect(JSON.parse(readFileSync(join(work, 'hook-rollback.json'), 'utf8'))).toMatchObject({ event: 'rollback', version: '2.0.0', rolled_back: [host.name] });
  }, 120_000);

  it('a webhook that never answers delays the run by at most its timeout and does not fail it', async () => {
    writeApp('1.0.0', 'ok');
    received.length = 0;
    const r = await orch(['apply', playbook('dead', { webhooks: `  - { webhook: "${deadUrl}/hook", timeout: 2s }\n  - { webhook: "${url}/alive" }` }), '--yes'], env);
    const end = Date.now();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(deadHits.length).toBeGreaterThanOrEqual(1);
    expect(r.stderr).toMatch(new RegExp(`orch: warning: webhook ${deadUrl}/hook: the (start|finish) event was not delivered \\(no answer within 2 s\\); the run goes on`));
    // The live webhook still got both events; its finish came when the run was over.
    const alive = received.filter((x) => x.path === '/alive');
    expect(alive.map((x) => x.body.event)).toEqual(['start', 'finish']);
    const waited = end - alive[1]!.at;
    console.log(`the run ended ${waited} ms after its finish event (dead webhook's timeout: 2 s)`);
    expect(waited).toBeLessThan(2000 + 1500);
  }, 120_000);

  it('pre_apply exiting 1 stops the run before any host changes, and no event is sent', async () => {
    received.length = 0;
    writeApp('3.0.0', 'ok');
    const before = readdirSync(join(host.dir, 'srv/app/versions')).sort();
    const r = await orch(['apply', playbook('refused', { preApply: 'echo "CI is red" >&2; exit 1' }), '--yes'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('pre_apply hook failed (exit 1): CI is red; nothing was changed');
    expect(readdirSync(join(host.dir, 'srv/app/versions')).sort()).toEqual(before);
    expect(before).not.toContain('3.0.0');
    expect(readFileSync(join(host.dir, 'srv/app/current/VERSION'), 'utf8').trim()).toBe('1.0.0');
    expect(existsSync(join(host.dir, 'srv/app/.orch/bundles'))).toBe(true);
    expect(received).toEqual([]);
  }, 120_000);
});
