/**
 * `orch cron install|list|remove` against the REAL `crontab` program (Debian `cron`),
 * as root, through the built CLI. Root's crontab is backed up first and restored after.
 * Run `npm run build` first.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeWork, ORCH, orch } from './cli.js';

const isRoot = process.getuid?.() === 0;
const hasCrontab = (): boolean => spawnSync('sh', ['-c', 'command -v crontab'], { stdio: 'ignore' }).status === 0;
if (!hasCrontab() && isRoot) execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'cron'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });

/** Root's crontab as it was before the suite (null: there was none). */
let backup: string | null = null;

const readTable = (): string => {
  const r = spawnSync('crontab', ['-l'], { encoding: 'utf8' });
  if (r.status === 0) return r.stdout;
  expect(r.stderr).toMatch(/^no crontab for /);
  return '';
};
const writeTable = (text: string): void => void execFileSync('crontab', ['-'], { input: text });

const UNRELATED = 'MAILTO=""\n# backups, kept by hand\n17 4 * * *\t/usr/local/bin/backup --all  # 100\\% nightly\n';

let work: string;
let env: Record<string, string>;

/** A valid playbook deploying a dir bundle to this machine (transport: local). */
function playbook(name: string): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'app'), { recursive: true });
  writeFileSync(join(dir, 'app', 'VERSION'), '1.0.0\n');
  writeFileSync(join(dir, 'app', 'hello.txt'), 'hello\n');
  writeFileSync(join(dir, 'inventory.yml'), 'hosts:\n  me: { transport: local }\n');
  writeFileSync(join(dir, 'site.yml'), `inventory: inventory.yml
vars: { app: hello, root: ${join(work, 'srv', name)} }
bundles:
  hello: { source: app, builder: dir }
nodes:
  hello:
    steps:
      - install: { bundle: hello }
      - symlink: {}
`);
  return join(dir, 'site.yml');
}

/** Lines of root's crontab belonging to `pb`: its marker and the job right below it. */
function blockOf(table: string, pb: string): string[] {
  const lines = table.split('\n');
  return lines.flatMap((l, i) => (l === `# orch:${pb}` ? [l, lines[i + 1] ?? ''] : []));
}

describe.skipIf(!hasCrontab() && !isRoot)('orch cron with the real crontab', () => {
  beforeAll(() => {
    expect(existsSync(join(ORCH, '..', '..', 'build', 'cli', 'cron.js')), 'run `npm run build` first').toBe(true);
    const r = spawnSync('crontab', ['-l'], { encoding: 'utf8' });
    backup = r.status === 0 ? r.stdout : null;
  });

  afterAll(() => {
    if (backup === null) spawnSync('crontab', ['-r'], { stdio: 'ignore' });
    else writeTable(backup);
  });

  beforeEach(() => {
    ({ dir: work, env } = makeWork('cron'));
    work = realpathSync(work);
    writeTable(UNRELATED);
  });

  it('install twice -> one entry; a second playbook gets its own; list shows both; remove leaves the rest byte for byte', async () => {
    const a = playbook('a');
    const b = playbook('b');

    const first = await orch(['cron', 'install', a, '--every', '15m', '--limit', 'me'], env);
    expect(first.code, first.stderr).toBe(0);
    const log = join(env.HOME!, '.orch', 'converge-site.log');
    expect(first.stdout).toBe(`added: */15 * * * * ${a}\n  log: ${log}\n`);
    const again = await orch(['cron', 'install', a, '--every', '15m', '--limit', 'me'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`unchanged: */15 * * * * ${a}\n  log: ${log}\n`);

    const job = `*/15 * * * * cd ${join(work, 'a')} && PATH=${[process.execPath.replace(/\/node$/, ''), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].filter((d, i, all) => all.indexOf(d) === i).join(':')} ${process.execPath} ${ORCH} converge ${a} --limit me --log ${log}`;
    expect(readTable()).toBe(`${UNRELATED}# orch:${a}\n${job}\n`);
    expect(existsSync(join(env.HOME!, '.orch')), 'the log folder exists').toBe(true);

    // Changing the schedule replaces the entry in place (relative path from the playbook's folder).
    const changed = await orch(['cron', 'install', 'site.yml', '--every', '1h'], env, { cwd: join(work, 'a') });
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toMatch(new RegExp(`^replaced: [0-9]{1,2} \\*/1 \\* \\* \\* ${a}\\n`));
    expect(blockOf(readTable(), a)).toHaveLength(2);

    const second = await orch(['cron', 'install', b, '--cron', '*/5  * * * 1-5', '--log', 'b.log'], { ...env }, { cwd: work });
    expect(second.code, second.stderr).toBe(0);
    const table = readTable();
    expect(table.startsWith(UNRELATED)).toBe(true);
    expect(blockOf(table, a)).toHaveLength(2);
    expect(blockOf(table, b)).toEqual([`# orch:${b}`, expect.stringMatching(new RegExp(`^\\*/5 \\* \\* \\* 1-5 cd .* converge ${b} --log ${join(work, 'b.log')}$`))]);

    const list = await orch(['cron', 'list'], env);
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${a}  [0-9]{1,2} \\*/1 \\* \\* \\*  cd ${join(work, 'a')} && `));
    expect(lines[1]).toMatch(new RegExp(`^${b}  \\*/5 \\* \\* \\* 1-5  cd ${join(work, 'b')} && `));
    const json = await orch(['cron', 'list', '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual([
      { playbook: a, schedule: expect.stringMatching(/^[0-9]{1,2} \*\/1 \* \* \*$/), command: blockOf(table, a)[1]!.replace(/^(\S+ ){5}/, '') },
      { playbook: b, schedule: '*/5 * * * 1-5', command: blockOf(table, b)[1]!.replace(/^(\S+ ){5}/, '') },
    ]);

    const removed = await orch(['cron', 'remove', a], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`removed: ${a}\n`);
    expect(readTable()).toBe(`${UNRELATED}${blockOf(table, b).join('\n')}\n`);

    const none = await orch(['cron', 'remove', a], env);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toBe(`nothing to remove: no orch entry for ${a}\n`);

    expect((await orch(['cron', 'remove', b], env)).code).toBe(0);
    expect(readTable()).toBe(UNRELATED);
    expect((await orch(['cron', 'list'], env)).stdout).toBe('no orch entries in the crontab\n');
    expect((await orch(['cron', 'list', '--json'], env)).stdout).toBe('[]\n');
  });

  it('concurrent installs of different playbooks keep every entry (the edit is locked)', async () => {
    const pbs = ['p1', 'p2', 'p3', 'p4'].map(playbook);
    const rs = await Promise.all(pbs.map((pb) => orch(['cron', 'install', pb, '--every', '2h'], env)));
    for (const r of rs) expect(r.code, r.stderr).toBe(0);
    const table = readTable();
    expect(table.startsWith(UNRELATED)).toBe(true);
    for (const pb of pbs) expect(blockOf(table, pb)).toHaveLength(2);
    expect(table.split('\n').filter((l) => l.startsWith('# orch:'))).toHaveLength(4);
  });

  it.each([
    [['--every', '7m'], '<command line>:1:1: --every: 7m does not divide an hour evenly: use 1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m or 30m (or 1h, 2h, 3h, 4h, 6h, 8h or 12h, 1d, or --cron "EXPR" for any other schedule)\n'],
    [['--cron', '*/5 * * *'], '<command line>:1:1: --cron: "*/5 * * *" has 4 fields; a cron expression has 5: minute hour day-of-month month day-of-week\n'],
    [[], '<command line>:1:1: --every: give a schedule: --every 15m|1h|1d, or --cron "M H DOM MON DOW"\n'],
  ])('install %j -> exit 1 with the message, crontab untouched', async (flags, message) => {
    const r = await orch(['cron', 'install', playbook('a'), ...flags], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(message);
    expect(readTable()).toBe(UNRELATED);
  });

  it('refuses a playbook that does not load, naming the problem', async () => {
    const pb = playbook('a');
    writeFileSync(pb, 'nodes:\n  x:\n    steps:\n      - bogus: {}\n');
    const r = await orch(['cron', 'install', pb, '--every', '1d'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${pb}:4:`);
    const missing = await orch(['cron', 'install', join(work, 'nope.yml'), '--every', '1d'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`<command line>:1:1: PLAYBOOK: ${join(work, 'nope.yml')}: no such playbook file\n`);
    expect(readTable()).toBe(UNRELATED);
  });

  it('without crontab on PATH: a clear error and exit 1', async () => {
    for (const args of [['cron', 'install', playbook('a'), '--every', '15m'], ['cron', 'list'], ['cron', 'remove', 'x.yml']]) {
      const r = await orch(args, { ...env, PATH: join(work, 'no-bin') });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toBe('orch: crontab not found: install cron (Debian: apt-get install cron)\n');
    }
    expect(readTable()).toBe(UNRELATED);
  });

  it('the installed job line, run the way cron runs it, converges the playbook and logs one JSON line', async () => {
    const pb = playbook('a');
    expect((await orch(['cron', 'install', pb, '--every', '30m'], env)).code).toBe(0);
    const job = blockOf(readTable(), pb)[1]!.replace(/^(\S+ ){5}/, '');
    // cron: /bin/sh -c with `\%` unescaped, from HOME, with a bare environment.
    const run = spawnSync('/bin/sh', ['-c', job.replaceAll('\\%', '%')], { cwd: env.HOME, env: { HOME: env.HOME!, PATH: '/usr/bin:/bin', SHELL: '/bin/sh', LOGNAME: 'root' }, encoding: 'utf8' });
    expect(run.status, run.stderr + run.stdout).toBe(2);
    expect(readFileSync(join(work, 'srv', 'a', 'current', 'hello.txt'), 'utf8')).toBe('hello\n');
    const logLines = readFileSync(join(env.HOME!, '.orch', 'converge-site.log'), 'utf8').trim().split('\n');
    expect(logLines).toHaveLength(1);
    JSON.parse(logLines[0]!);
  });

  it('--age-identity is passed on: the job decrypts an age vars file cron could not find by default, and logs no secret', async () => {
    const pb = playbook('s');
    const dir = join(pb, '..');
    const identity = join(work, 'keys', 'deploy-age.txt');
    const init = await orch(['secrets', 'init', '--identity', identity], env, { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    const secret = `s3cr3t-${process.pid}-${Date.now()}`;
    writeFileSync(join(dir, 'secrets.yml'), `token: ${secret}\n`);
    const enc = await orch(['secrets', 'encrypt', 'secrets.yml', '-o', 'secrets.yml.age', '-r', init.stdout.trim()], env, { cwd: dir });
    expect(enc.code, enc.stderr).toBe(0);
    rmSync(join(dir, 'secrets.yml'));
    writeFileSync(pb, readFileSync(pb, 'utf8').replace('vars: {', 'vars_files: [secrets.yml.age]\nvars: {') + `      - put: { dest: ${join(work, 'srv', 's', 'token')}, content: "{{token}}" }\n`);
    // Refused while the identity file does not exist (every run would fail in silence).
    const missing = await orch(['cron', 'install', pb, '--every', '30m', '--age-identity', join(work, 'keys', 'nope.txt')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--age-identity');
    expect(blockOf(readTable(), pb)).toEqual([]);
    expect((await orch(['cron', 'install', pb, '--every', '30m', '--age-identity', identity], env)).code).toBe(0);
    const job = blockOf(readTable(), pb)[1]!.replace(/^(\S+ ){5}/, '');
    expect(job).toContain(`--age-identity ${identity}`);
    expect(job).not.toContain(secret);
    const run = spawnSync('/bin/sh', ['-c', job.replaceAll('\\%', '%')], { cwd: env.HOME, env: { HOME: env.HOME!, PATH: '/usr/bin:/bin', SHELL: '/bin/sh', LOGNAME: 'root' }, encoding: 'utf8' });
    expect(run.status, run.stderr + run.stdout).toBe(2);
    expect(readFileSync(join(work, 'srv', 's', 'token'), 'utf8')).toBe(secret);
    const log = readFileSync(join(env.HOME!, '.orch', 'converge-site.log'), 'utf8');
    expect(log).not.toContain(secret);
  });
});
