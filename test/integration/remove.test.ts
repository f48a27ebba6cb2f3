/**
 * `orch remove` end to end over the local transport (real bash, tar, processes; no root):
 * the plan printed per host, `--limit`, the hooks kept with the release run with its own
 * values, an orch `daemon` service stopped, `shared/` kept, `orch query` no longer listing
 * the app, a second remove `ok`, `--purge` taking the root, `--json` events. systemd units
 * are removed on real machines: test/integration/server.test.ts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeWork, orch, summaryOf } from './cli.js';

let work: string;
let env: Record<string, string>;

beforeEach(() => {
  ({ dir: work, env } = makeWork('remove'));
});

/** True while process `pid` runs (signal 0). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('orch remove (local transport)', () => {
  it('plans per host, runs the hooks kept with the release, stops the daemon, keeps shared/, drops the app from query; again ok; --purge takes the root', async () => {
    mkdirSync(join(work, 'app'));
    writeFileSync(join(work, 'app', 'VERSION'), '1.0.0\n');
    writeFileSync(join(work, 'inventory.yml'), 'hosts:\n  l1: { transport: local }\n  l2: { transport: local }\n');
    const srv = join(work, 'srv');
    const pb = join(work, 'playbook.yml');
    writeFileSync(pb, `
inventory: inventory.yml
vars: { app: "hello-{{host.name}}", root: "${srv}/{{host.name}}", word: one }
bundles:
  hello: { source: app }
nodes:
  web:
    steps:
      - install:
          bundle: hello
          before_remove: echo before {{word}} $(pwd) > ${srv}/{{host.name}}.before
          after_remove: ls -A > ${srv}/{{host.name}}.after
      - symlink: {}
      - service: { name: tick, manager: daemon, command: "exec sleep 300", startsecs: 0 }
`);
    // One host at a time: both local hosts share this user's registry, which a run computes from the facts it read first.
    for (const h of ['l1', 'l2']) {
      const a = await orch(['apply', pb, '--yes', '--limit', h], env, { cwd: work });
      expect(a.code, a.stdout + a.stderr).toBe(0);
    }
    const pid = (h: string): number => Number(readFileSync(join(srv, h, 'shared/pids/tick.pid'), 'utf8').trim());
    const [p1, p2] = [pid('l1'), pid('l2')];
    expect([alive(p1), alive(p2)]).toEqual([true, true]);
    const apps = async (): Promise<string[]> => {
      const q = await orch(['query', '-i', join(work, 'inventory.yml'), '--json'], env, { cwd: work });
      expect(q.code, q.stderr).toBe(0);
      return [...new Set((JSON.parse(q.stdout) as { app: string }[]).map((r) => r.app))].sort();
    };
    expect(await apps()).toEqual(['hello-l1', 'hello-l2']);

    // The playbook's word changed since the install: the hook runs with the release's own.
    const r = await orch(['remove', pb, '--limit', 'l1', '-e', 'word=two', '--detailed-exitcodes', '--yes'], env, { cwd: work });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain(`remove hello-l1 from ${srv}/l1; stop tick; keep shared/, packages and users`);
    expect(r.stdout).not.toContain('remove hello-l2');
    expect(readFileSync(join(srv, 'l1.before'), 'utf8')).toBe(`before one ${srv}/l1/versions/1.0.0\n`);
    expect(readFileSync(join(srv, 'l1.after'), 'utf8')).toBe('shared\n');
    expect(readdirSync(join(srv, 'l1'))).toEqual(['shared']);
    expect(existsSync(join(srv, 'l1/shared/log/tick.log'))).toBe(true);
    expect([alive(p1), alive(p2)]).toEqual([false, true]);
    expect(await apps()).toEqual(['hello-l2']);
    expect(existsSync(join(srv, 'l2/current'))).toBe(true);

    const again = await orch(['remove', pb, '--limit', 'l1', '--detailed-exitcodes', '--yes', '--json'], env, { cwd: work });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(summaryOf(again.stdout).changed).toBe(0);

    const purge = await orch(['remove', pb, '--purge', '--detailed-exitcodes', '--yes', '--json'], env, { cwd: work });
    expect(purge.code, purge.stdout + purge.stderr).toBe(2);
    expect(summaryOf(purge.stdout).changed).toBe(2);
    expect([existsSync(join(srv, 'l1')), existsSync(join(srv, 'l2'))]).toEqual([false, false]);
    expect(alive(p2)).toBe(false);
    expect(await apps()).toEqual([]);
  }, 120_000);

  it('a playbook without an install step: exit 1, nothing to remove', async () => {
    writeFileSync(join(work, 'inventory.yml'), 'hosts:\n  l1: { transport: local }\n');
    const pb = join(work, 'playbook.yml');
    writeFileSync(pb, 'inventory: inventory.yml\nnodes:\n  web:\n    steps:\n      - run: { cmd: "true" }\n');
    const r = await orch(['remove', pb, '--yes'], env, { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the playbook has no install step, so there is no app to remove');
  }, 60_000);
});
