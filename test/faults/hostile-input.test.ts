/**
 * Issue 6, rows 1-4 and 7: hostile input is refused before any connection opens (exit 1,
 * a clear message, no stack trace, bounded time); shell metacharacters in every field that
 * reaches a command are either refused or arrive byte-exact; templates cannot reach
 * prototypes; secrets never leak. Real sshd hosts (test/harness/fleet.ts), the built CLI.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet, type TestHost } from '../harness/fleet.js';
import { makeWork, onHost, orch, sleep, sshdConnections, STACK_RE, summaryOf, waitFor, writeApp, writeFile, type Work } from './helpers.js';

const SENTINEL = `orch-sentinel-${process.pid}`;
const S = `/tmp/${SENTINEL}`;

/**
 * 50 hostile strings: command separators, substitutions, quotes, redirections, option
 * injection, globs, expansions, control characters and unicode. Each tries to create
 * the sentinel file when it reaches a shell unquoted.
 */
export const CORPUS: readonly string[] = [
  `;touch ${S}`, `$(touch ${S})`, `\`touch ${S}\``, `a\ntouch ${S}`, `'; touch ${S}; '`,
  `"; touch ${S}; "`, `-oProxyCommand=touch ${S}`, `*`, `/*`, `?`,
  `[a-z]*`, `{a,b}`, `~`, `~root`, `$HOME`,
  '${PATH}', '$((6*7))', `| touch ${S}`, `& touch ${S} &`, `&& touch ${S}`,
  `|| touch ${S}`, `> ${S}`, `< /etc/passwd`, `>> ${S}`, `2>${S}`,
  '\\', '\\\\n', `\\$(touch ${S})`, `'\\''`, '!!',
  '!$', '#comment', ' leading space', 'trailing space ', 'tab\there',
  `\r\ntouch ${S}`, 'été ünïcödé', '日本語', 'emoji 🚀', '\u202e rtl override',
  'zero\u200bwidth', '%s%n%x', '--help', '-rf /', "$'\\x41'",
  `<(touch ${S})`, '$IFS', 'a;b|c&d>e<f`g$h(i)j{k}l[m]n*o?p~q!r#s', `"'"'"`, '\u001b[31mred',
];

describe.skipIf(!canRunFleet())('hostile input (issue 6 rows 1-4, 7)', () => {
  let fleet: Fleet;
  let work: Work;
  const h = (i: number): TestHost => fleet.hosts[i - 1]!;

  /** The sentinel exists nowhere: control /tmp, cwd, HOME; each host's /tmp, /root, /srv (recursively by name). */
  const sentinelAnywhere = (): string[] => {
    const found: string[] = [];
    for (const p of [S, join(process.cwd(), SENTINEL), join(work.dir, SENTINEL), join(work.env.HOME!, SENTINEL)]) if (existsSync(p)) found.push(p);
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.name.includes(SENTINEL) && !e.name.startsWith('run-') && !e.name.startsWith('put-') && !e.name.startsWith('dest-')) found.push(p);
        if (e.isDirectory()) walk(p);
      }
    };
    for (const host of fleet.hosts) walk(host.dir);
    return found;
  };

  beforeAll(async () => {
    fleet = await startFleet({ count: 2, name: 'orchhi' });
    work = makeWork('hostile');
    writeFile(work, 'inventory.yml', fleet.inventoryYaml({ roles: { web: ['h1'] } }));
    writeApp(work, 'app', '1.0.0', { 'bin/run': '#!/bin/sh\necho app\n' });
    // The harness's readiness probe is a TCP connection sshd logs: let it land first.
    await waitFor(() => sshdConnections(h(1)) >= 1, 'the readiness probe in h1\'s sshd log', 10_000);
    await sleep(300);
  }, 120_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  /** Runs `orch plan` on a playbook text and returns the result plus whether h1's sshd saw a connection. */
  const planOf = async (name: string, text: string | Buffer, args: string[] = []): Promise<{ code: number | null; out: string; ms: number; connected: boolean }> => {
    const pb = writeFile(work, name, text);
    const before = sshdConnections(h(1));
    const r = await orch(['plan', pb, ...args], work.env, { cwd: work.dir });
    return { code: r.code, out: r.stdout + r.stderr, ms: r.ms, connected: sshdConnections(h(1)) > before };
  };

  // ---- row 1: YAML bombs ----------------------------------------------------------------
  const aliasBomb = (): string => {
    const lines = ['inventory: inventory.yml', 'vars:', `  l0: &l0 [${Array(10).fill('"lol"').join(', ')}]`];
    for (let i = 1; i < 10; i++) lines.push(`  l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]`);
    lines.push('nodes:', '  a:', '    roles: { host: web }', '    steps:', '      - run: { cmd: "echo {{l9}}" }', '');
    return lines.join('\n');
  };
  it.each([
    ['an alias bomb (10 levels x 10)', 'bomb.yml', aliasBomb, /bomb\.yml:\d+:\d+: .*alias/i],
    ['5,000-deep nesting', 'deep.yml', () => `inventory: inventory.yml\nvars:\n  deep: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, /deep\.yml:\d+:\d+: .*nest/i],
    ['a 50 MB file', 'big.yml', () => Buffer.concat([Buffer.from('inventory: inventory.yml\nvars:\n  big: "'), Buffer.alloc(50 * 1024 * 1024, 'x'), Buffer.from('"\n')]), /big\.yml: .*(too big|larger|bytes|MiB)/i],
  ])('row 1: %s is refused in < 1 s, exit 1, no stack, no connection', async (_what, file, make, message) => {
    const r = await planOf(file, make());
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(message);
    expect(r.out).not.toMatch(STACK_RE);
    expect(r.connected).toBe(false);
    console.log(`row 1: ${file}: ${r.ms} ms`);
    expect(r.ms).toBeLessThan(1000);
  });

  // ---- row 2: unknown/duplicate keys, slow patterns --------------------------------------
  it.each([
    ['an unknown key', 'unknown.yml', 'inventory: inventory.yml\nnodez: {}\n', /unknown\.yml:2:1: .*nodez/],
    ['a duplicate key', 'dup.yml', 'inventory: inventory.yml\nvars:\n  a: 1\n  a: 2\n', /dup\.yml:4:3: .*[Dd]uplicate/],
    ['an unknown step key', 'stepkey.yml', 'inventory: inventory.yml\nsteps:\n  - run: { cmd: "true", cmdd: x }\n', /stepkey\.yml:3:\d+: .*cmdd/],
    ['a 1 MB key', 'longkey.yml', `inventory: inventory.yml\nvars: { ${'k'.repeat(1024 * 1024)}: 1 }\nnodez: 1\n`, /longkey\.yml:3:1: .*nodez/],
  ])('row 2: %s is refused with file:line:col, exit 1, quickly', async (_what, file, text, message) => {
    const r = await planOf(file, text);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(message);
    expect(r.out).not.toMatch(STACK_RE);
    expect(r.connected).toBe(false);
    console.log(`row 2: ${file}: ${r.ms} ms`);
    expect(r.ms).toBeLessThan(2000);
  });

  it('row 2: a 100,000-character host name with a bad last character is refused by the schema quickly', async () => {
    const bad = `${'a'.repeat(100_000)}!`;
    const file = writeFile(work, 'inv-longname.yml', `defaults: { user: root }\nhosts:\n  "${bad}": { address: 127.0.0.1 }\n`);
    const r = await orch(['hosts', '-i', file], work.env, { cwd: work.dir });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/inv-longname\.yml:3:\d+: hosts.*/);
    expect(r.stderr).not.toMatch(STACK_RE);
    console.log(`row 2: 100k host name: ${r.ms} ms`);
    expect(r.ms).toBeLessThan(2000);
  });

  it.each([
    ['a catastrophic-backtracking regex', '~(a+)+$', /./],
    ['a 201-character regex', `~${'a'.repeat(201)}`, /--limit regex "~a+\.\.\." is too long \(201 characters; at most 200\)/],
    ['a glob with 12 stars', `${'*a'.repeat(12)}*b`, /./],
    ['a backreference', '~(a+)\\1+$', /--limit term "~\(a\+\)\\1\+\$": backreferences and lookaround are not supported \(patterns run in linear time\)/],
  ])('row 2: --limit with %s over long host names finishes in bounded time', async (_what, pattern, message) => {
    const names = Array.from({ length: 20 }, (_, i) => `${'a'.repeat(40 + i)}-${i}`);
    const file = writeFile(work, 'inv-regex.yml', `defaults: { user: root }\nhosts:\n${names.map((n) => `  ${n}: { address: 127.0.0.1 }`).join('\n')}\n`);
    const r = await orch(['hosts', '-i', file, '--limit', pattern, '--json'], work.env, { cwd: work.dir, timeoutMs: 20_000 });
    console.log(`row 2: --limit ${pattern.slice(0, 20)}: ${r.ms} ms, exit ${r.code}`);
    expect(r.ms).toBeLessThan(3000);
    expect(r.code === 0 || r.code === 1, r.stderr).toBe(true);
    if (r.code === 1) expect(r.stderr).toMatch(message);
    else expect(JSON.parse(r.stdout)).toEqual([]); // no name ends in b / matches (a+)+$ in full: every name has a '-'
    expect(r.stderr).not.toMatch(STACK_RE);
  });

  // ---- row 3: shell metacharacters ------------------------------------------------------
  it('row 3: the corpus has 50 distinct strings', () => {
    expect(new Set(CORPUS).size).toBe(50);
  });

  it('row 3: 50 hostile strings in cmd vars, put content, put dest, root and -e arrive byte-exact; no sentinel anywhere', async () => {
    const q = (s: string): string => JSON.stringify(s);
    const noSlash = CORPUS.map((s, i) => [s, i] as const).filter(([s]) => !s.includes('/') && s !== '.' && s !== '..');
    const lines = ['inventory: inventory.yml', 'vars:'];
    CORPUS.forEach((s, i) => lines.push(`  c${i}: ${q(s)}`));
    lines.push('roles: { web: web }', 'nodes:', '  files:', '    steps:', '      - run: { cmd: "mkdir -p /srv/out" }');
    CORPUS.forEach((_s, i) => {
      lines.push(`      - run: { cmd: "printf %s {{c${i}}} > /srv/out/run-${i}" }`);
      lines.push(`      - put: { content: "{{c${i}}}", dest: "/srv/out/put-${i}" }`);
    });
    for (const [, i] of noSlash) lines.push(`      - put: { content: "d${i}", dest: "/srv/out/dest-${i}-{{c${i}}}" }`);
    lines.push('      - run: { cmd: "printf %s {{cli}} > /srv/out/cli" }');
    for (const [, i] of noSlash) {
      lines.push(`  r${i}:`, `    vars: { root: "/srv/roots/r${i}-{{c${i}}}" }`, '    steps:', '      - install: { bundle: app }', '      - symlink: {}');
    }
    lines.splice(2 + CORPUS.length, 0, 'bundles:', '  app: { source: app, builder: dir }');
    const pb = writeFile(work, 'corpus.yml', `${lines.join('\n')}\n`);
    const cli = CORPUS[0]! + CORPUS[1]! + CORPUS[2]!;
    const r = await orch(['apply', pb, '--json', '-e', `cli=${cli}`], work.env, { cwd: work.dir, timeoutMs: 300_000 });
    expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(0);
    expect(summaryOf(r.stdout).hosts.map((x) => x.status)).toEqual(['changed']);
    const out = (p: string): string => readFileSync(onHost(h(1), `/srv/out/${p}`), 'utf8');
    let exact = 0;
    CORPUS.forEach((s, i) => {
      expect({ i, run: out(`run-${i}`) }).toEqual({ i, run: s });
      expect({ i, put: out(`put-${i}`) }).toEqual({ i, put: s });
      exact += 2;
    });
    for (const [s, i] of noSlash) {
      expect({ i, dest: readFileSync(onHost(h(1), `/srv/out/dest-${i}-${s}`), 'utf8') }).toEqual({ i, dest: `d${i}` });
      const root = onHost(h(1), `/srv/roots/r${i}-${s}`);
      expect({ i, current: readFileSync(join(root, 'current', 'bin', 'run'), 'utf8') }).toEqual({ i, current: '#!/bin/sh\necho app\n' });
      const state = JSON.parse(readFileSync(join(root, '.orch', 'state.json'), 'utf8')) as { root: string };
      expect(state.root).toBe(`/srv/roots/r${i}-${s}`);
      exact += 2;
    }
    expect(out('cli')).toBe(cli);
    console.log(`row 3: ${exact + 1} values byte-exact on the host (${noSlash.length} as dest/root path parts), run ${r.ms} ms`);
    expect(readdirSync(onHost(h(1), '/srv/roots')).length).toBe(noSlash.length);
    expect(sentinelAnywhere()).toEqual([]);
  }, 300_000);

  it.each([
    ['a host name', () => `hosts:\n  "h1;touch ${S}": { address: 10.0.0.1 }\n`, /hosts.*must match pattern|hosts.*name/],
    ['a jump host name', () => `hosts:\n  a: { address: 10.0.0.1, jump: "$(touch ${S})" }\n`, /jump/],
    ['a role member', () => `hosts:\n  a: { address: 10.0.0.1 }\nroles:\n  web: ["a;touch ${S}"]\n`, /roles\.web/],
  ])('row 3: shell metacharacters in %s are refused (exit 1)', async (_what, text, message) => {
    const file = writeFile(work, 'inv-meta.yml', `defaults: { user: root }\n${text()}`);
    const r = await orch(['hosts', '-i', file], work.env, { cwd: work.dir });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK_RE);
    expect(sentinelAnywhere()).toEqual([]);
  });

  it.each(CORPUS.filter((s) => /[;$`|&<>]/.test(s)).slice(0, 6))('row 3: a hostile SSH user or address %j never runs anything', async (s) => {
    const i1 = writeFile(work, 'inv-user.yml', fleet.inventoryYaml({ hosts: { h1: { user: s }, h2: { address: s } } }));
    const pb = writeFile(work, 'user.yml', 'nodes:\n  a:\n    steps:\n      - run: { cmd: "true" }\n');
    const r = await orch(['apply', pb, '-i', i1, '--json'], work.env, { cwd: work.dir });
    expect([1, 4], r.stdout + r.stderr).toContain(r.code);
    if (r.code === 4) expect(summaryOf(r.stdout).hosts.every((x) => x.status === 'unreachable')).toBe(true);
    expect(r.stderr).not.toMatch(STACK_RE);
    expect(sentinelAnywhere()).toEqual([]);
  });

  it.each([
    ['1.0;touch', `1.0;touch ${S}`],
    ['$(...)', `$(touch ${S})`],
    ['a newline', '1.0\nrm'],
    ['../', '../../etc'],
  ])('row 3: a bundle VERSION with %s is refused (exit 1)', async (_what, version) => {
    writeApp(work, 'badver', 'x');
    writeFileSync(join(work.dir, 'badver', 'VERSION'), version);
    const pb = writeFile(work, 'badver.yml', 'inventory: inventory.yml\nvars: { root: /srv/badver }\nbundles:\n  b: { source: badver, builder: dir }\nroles: { web: web }\nsteps:\n  - install: {}\n');
    const r = await orch(['plan', pb], work.env, { cwd: work.dir });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/version/i);
    expect(r.stderr).not.toMatch(STACK_RE);
    expect(existsSync(onHost(h(1), '/srv/badver'))).toBe(false);
    expect(sentinelAnywhere()).toEqual([]);
  });

  // ---- row 4: templates -----------------------------------------------------------------
  it.each([
    ['{{constructor}}', 'cmd', /constructor/],
    ['{{__proto__}}', 'cmd', /__proto__/],
    ['{{lookup this "constructor"}}', 'cmd', /constructor/],
    ['{{this.constructor.name}}', 'cmd', /constructor/],
    ['{{host.constructor}}', 'content', /constructor/],
    ['{{nope_missing_var}}', 'cmd', /"?nope_missing_var"?/],
    ['{{nope_missing_var}}', 'content', /"?nope_missing_var"?/],
  ])('row 4: template %s in %s is an error naming it (exit 1)', async (tpl, field, message) => {
    const step = field === 'cmd' ? `run: { cmd: ${JSON.stringify(`echo ${tpl}`)} }` : `put: { dest: /srv/t, content: ${JSON.stringify(tpl)} }`;
    const r = await planOf('tpl.yml', `inventory: inventory.yml\nroles: { web: web }\nsteps:\n  - ${step}\n`);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/tpl\.yml:4:\d+: /);
    expect(r.out).toMatch(message);
    expect(r.out).not.toMatch(STACK_RE);
    expect(r.connected).toBe(false);
  });

  it('row 4: the installed handlebars is >= 4.7.7 (no known advisories) in package-lock.json', () => {
    const lock = JSON.parse(readFileSync(join(process.cwd(), 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
    const v = lock.packages['node_modules/handlebars']?.version ?? '0.0.0';
    const [maj, min, pat] = v.split('.').map(Number) as [number, number, number];
    expect(maj * 1e6 + min * 1e3 + pat, v).toBeGreaterThanOrEqual(4_007_007);
    const installed = JSON.parse(readFileSync(join(process.cwd(), 'node_modules/handlebars/package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(v);
  });

  // ---- row 7: secrets -------------------------------------------------------------------
  it('row 7: a secret var and an {{env}} value printed by a failing step appear nowhere', async () => {
    const secret = 'Sekr1t-var-Q9zX';
    const envSecret = 'Env-s3cret-K7wP';
    writeApp(work, 'sapp', '2.0.0', { 'bin/run': '#!/bin/sh\necho ok\n' });
    const pb = writeFile(work, 'secret.yml', [
      'inventory: inventory.yml',
      'secret: [db_password]',
      `vars: { app: sapp, root: /srv/sapp, db_password: ${secret}, token: '{{env "ORCH_FAULT_TOKEN"}}' }`,
      'bundles:', '  sapp: { source: sapp, builder: dir }',
      'roles: { web: web }',
      'steps:',
      '  - install: {}',
      '  - symlink: {}',
      '  - run: { cmd: "echo pw={{db_password}} tok={{token}}; echo pw={{db_password}} tok={{token}} >&2; exit 3" }',
      '',
    ].join('\n'));
    const env = { ...work.env, ORCH_FAULT_TOKEN: envSecret };
    const planFile = join(work.dir, 'secret.plan.json');
    const log = join(work.dir, 'converge.log');
    const runs = [
      await orch(['plan', pb, '-o', planFile], env, { cwd: work.dir }),
      await orch(['plan', pb, '--json'], env, { cwd: work.dir }),
      await orch(['apply', pb, '--json'], env, { cwd: work.dir }),
      await orch(['apply', pb], env, { cwd: work.dir }),
      await orch(['converge', pb, '--log', log], env, { cwd: work.dir }),
      await orch(['apply', planFile, '--json'], env, { cwd: work.dir }),
    ];
    // converge: the install and switch were done by the apply before it: failures, no changes.
    expect(runs.map((r) => r.code)).toEqual([0, 0, 4, 4, 4, 4]);
    // The step really printed them (masked): the failure message carries the masked line.
    expect(runs[2]!.stdout).toContain('pw=*** tok=***');
    const texts: [string, string][] = runs.flatMap((r, i) => [[`run ${i} stdout`, r.stdout], [`run ${i} stderr`, r.stderr]] as [string, string][]);
    texts.push(['plan file', readFileSync(planFile, 'utf8')], ['converge log', readFileSync(log, 'utf8')]);
    const hostFiles: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && statSync(p).size < 10_000_000) hostFiles.push(p);
      }
    };
    walk(onHost(h(1), '/srv/sapp'));
    walk(onHost(h(1), '/root/.orch'));
    expect(hostFiles.some((f) => f.endsWith('state.json'))).toBe(true);
    expect(hostFiles.some((f) => f.endsWith('registry.json'))).toBe(true);
    expect(hostFiles.some((f) => f.endsWith('lock.info'))).toBe(true);
    for (const f of hostFiles) texts.push([f, readFileSync(f, 'latin1')]);
    const leaks = texts.filter(([, t]) => t.includes(secret) || t.includes(envSecret)).map(([w]) => w);
    console.log(`row 7: ${texts.length} outputs/files checked`);
    expect(leaks).toEqual([]);
  }, 180_000);
});
