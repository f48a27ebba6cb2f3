/**
 * The public library as a consumer sees it: `npm pack` of this package, `npm install` of the
 * tarball into a fresh project, a TypeScript file importing 'orch' type-checked with
 * `tsc --strict`, then run: plan + apply of two different playbooks against two SSH fleets
 * at once in one process, with events, and an AbortSignal that stops the remote work.
 * Needs `npm run build` first (the tarball packs build/).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { makeWork } from './cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONSUMER = fileURLToPath(new URL('./library/consumer.ts', import.meta.url));

describe.skipIf(!canRunFleet())('orch as a library (packed, installed, tsc --strict)', () => {
  let a: Fleet;
  let b: Fleet;
  let work: string;
  let env: Record<string, string>;
  const token = randomBytes(6).toString('hex');

  beforeAll(async () => {
    [a, b] = await Promise.all([startFleet({ count: 2, name: 'liba' }), startFleet({ count: 1, name: 'libb' })]);
    ({ dir: work, env } = makeWork('library'));
    const pack = join(work, 'pack');
    mkdirSync(pack);
    execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', pack], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    const tgz = readdirSync(pack).find((f) => f.endsWith('.tgz'))!;
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--silent', join(pack, tgz)], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] });
    copyFileSync(CONSUMER, join(app, 'consumer.ts'));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')], outDir: 'out' },
      files: ['consumer.ts'],
    }));
    for (const [name, fleet] of [['one', a], ['two', b]] as const) {
      mkdirSync(join(work, name));
      writeFileSync(join(work, name, 'inventory.yml'), fleet.inventoryYaml());
    }
    writeFileSync(join(work, 'one', 'playbook.yml'), `
inventory: inventory.yml
steps:
  - put: { dest: /root/lib-one, content: "one\\n" }
`);
    writeFileSync(join(work, 'two', 'playbook.yml'), `
inventory: inventory.yml
steps:
  - run: { cmd: "echo {{word}} > /root/lib-two", creates: /root/lib-two }
`);
    writeFileSync(join(work, 'one', 'abort.yml'), `
inventory: inventory.yml
steps:
  - run: { cmd: "sleep 300 # lib-abort-${token}" }
`);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([a?.teardown(), b?.teardown()]);
  });

  it('type-checks with tsc --strict, applies two fleets at once with events, and an abort stops the remote work', async () => {
    const app = join(work, 'app');
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: app, stdio: ['ignore', 'inherit', 'inherit'] });
    const source = join(work, 'bundle-src');
    mkdirSync(source);
    writeFileSync(join(source, 'VERSION'), '3.1.4\n');
    writeFileSync(join(source, 'hello.txt'), 'hello\n');
    const stdout = execFileSync(process.execPath, ['out/consumer.js', join(work, 'one/playbook.yml'), join(work, 'two/playbook.yml'), join(work, 'one/abort.yml'), source, join(work, 'bundle-out')], {
      cwd: app, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000,
    });
    const r = JSON.parse(stdout) as {
      pending: number[]; targets: string[][];
      summaries: { hosts: { host: string; status: string }[]; changed: number; failed: number }[];
      aborted: { interrupted: boolean; summary: { hosts: { host: string; status: string }[] } };
      events: Record<string, string[]>;
      planAbort: string; removeRefused: string; beforeExecute: number[]; queried: string[];
      built: { path: string; package: string; version: string; sha256: string };
    };
    // plan with an already aborted signal rejects with its reason (an AbortError)
    expect(r.planAbort).toBe('AbortError');
    expect(r.removeRefused).toBe('the playbook has no install step, so there is no app to remove');
    // beforeExecute ran once, before the step ran (it was still pending)
    expect(r.beforeExecute).toEqual([1]);
    // query reads every host of the project; none is an error row
    expect(r.queried.filter((q) => q.includes(':'))).toEqual([]);
    // bundle builds the source's bundle under the given package name and version
    expect(r.built).toMatchObject({ package: 'libpkg', version: '3.1.4', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(r.built.path.startsWith(join(work, 'bundle-out'))).toBe(true);
    expect(existsSync(r.built.path)).toBe(true);
    expect(r.targets).toEqual([['h1', 'h2'], ['h1']]);
    // plan: every host had one step to do
    expect(r.pending).toEqual([2, 1]);
    expect(r.summaries[0]!.hosts.map((h) => h.status)).toEqual(['changed', 'changed']);
    expect(r.summaries[1]!.hosts.map((h) => h.status), JSON.stringify(r.summaries[1])).toEqual(['changed']);
    for (const name of ['one', 'two']) {
      expect(r.events[name]).toContain('step-start');
      expect(r.events[name]).toContain('step-end');
      expect(r.events[name]).toContain('summary');
    }
    // each apply changed its own fleet only
    for (const h of a.hosts) expect((await a.hostExec(h, 'cat /root/lib-one; test ! -e /root/lib-two && echo none')).stdout).toBe('one\nnone\n');
    expect((await b.hostExec(b.hosts[0]!, 'cat /root/lib-two; test ! -e /root/lib-one && echo none')).stdout).toBe('two\nnone\n');
    // the abort: interrupted, and 2 s later no remote `sleep` remains ([l]: pgrep must not match the shell running it)
    expect(r.aborted.interrupted).toBe(true);
    // the sleep had started (the abort came 1.5 s after step-start) and no host finished it
    expect(r.events.abort).toContain('step-start');
    expect(r.events.abort!.at(-1)).toBe('summary');
    expect(r.aborted.summary.hosts.map((h) => h.status)).not.toContain('changed');
    await new Promise((res) => setTimeout(res, 2000));
    const ps = await a.hostExec(a.hosts[0]!, `pgrep -f '[l]ib-abort-${token}' || echo none`);
    expect(ps.stdout.trim()).toBe('none');
  }, 240_000);
});
