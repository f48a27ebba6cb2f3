/**
 * Terminal-facing commands without test hosts: shell completion driven through real bash
 * (the generated function called with COMP_WORDS/COMP_LINE as bash sets them, and typed
 * in a tmux pty), `orch tree --json/--limit`, help text, the man page, colour switches.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeWork, orch, ORCH } from './cli.js';
import { haveTmux, Pty } from './terminal-pty.js';

let work: string;
let env: Record<string, string>;
let bin: string;

beforeAll(() => {
  ({ dir: work, env } = makeWork('terminal-cli'));
  bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(ORCH, join(bin, 'orch'));
  writeFileSync(join(work, 'inventory.yml'), `
hosts:
  web1: { transport: local }
  web2: { transport: local }
  db1: { transport: local }
roles: { web: [web1, web2], db: [db1] }
groups: { eu: { hosts: [web1, db1] } }
`);
  writeFileSync(join(work, 'site.yml'), `
inventory: inventory.yml
vars: { app: shop, root: /tmp/orch-never-applied }
nodes:
  shop:
    roles: { host: web }
    steps:
      - run: { cmd: "echo {{host.name}}" }
      - put: { dest: "{{root}}/{{host.name}}.conf", content: "x" }
    nodes:
      worker:
        steps: [{ run: { cmd: "true" } }]
  db:
    roles: { host: db }
    steps: [{ run: { cmd: "true" } }]
`);
});

/** Sources `orch completion bash` in bash and calls its function as bash would for `line` split into `words`. */
function bashComplete(words: string[], line = words.join(' ')): string[] {
  const script = [
    'source <(orch completion bash)',
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    `COMP_LINE='${line}'`,
    `COMP_POINT=${line.length}`,
    '_orch',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { cwd: work, encoding: 'utf8', env: { ...env, PATH: `${bin}:${process.env.PATH}` } });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

describe('orch completion bash, sourced in bash', () => {
  it('completes commands: orch ap<TAB> -> apply', () => {
    expect(bashComplete(['orch', 'ap'])).toEqual(['apply']);
    expect(bashComplete(['orch', 'c']).sort()).toEqual(['clean-cache', 'completion', 'converge', 'cron']);
  });

  it('completes --limit with the host, role and group names of the playbook\'s inventory (and of -i)', () => {
    expect(bashComplete(['orch', 'apply', 'site.yml', '--limit', ''])).toEqual(['all', 'db1', 'web1', 'web2', 'db', 'web', 'eu']);
    expect(bashComplete(['orch', 'hosts', '-i', 'inventory.yml', '--limit', 'w'])).toEqual(['web1', 'web2', 'web']);
    // bash splits `web:!w` at ':' (COMP_WORDBREAKS): replies are for bash's word only.
    expect(bashComplete(['orch', 'plan', 'site.yml', '--limit', 'web', ':', '!w'], 'orch plan site.yml --limit web:!w')).toEqual(['!web1', '!web2', '!web']);
  });

  it('completes --node with node paths, options with their names, and files for the playbook', () => {
    expect(bashComplete(['orch', 'plan', 'site.yml', '--node', ''])).toEqual(['shop', 'shop.worker', 'db']);
    expect(bashComplete(['orch', 'apply', '--lim'])).toEqual(['--limit']);
    expect(bashComplete(['orch', 'apply', 'si'])).toEqual(['site.yml']);
    expect(bashComplete(['orch', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(bashComplete(['orch', 'bundle', '.', '--builder', 'p'])).toEqual(['python']);
  });

  it.skipIf(!haveTmux())('in an interactive bash in a pty, orch ap<TAB> becomes orch apply and --limit <TAB><TAB> lists names', async () => {
    const rc = join(work, 'bashrc');
    writeFileSync(rc, `PS1='$ '\nsource <(orch completion bash)\n`);
    const p = new Pty(['bash', '--noprofile', '--rcfile', rc, '-i'], { ...env, PATH: `${bin}:${process.env.PATH}` }, { cwd: work, cols: 100, rows: 20 });
    try {
      await p.waitFor(/^\$$/m); // rows are read without trailing spaces
      p.keys('orch ap', 'Tab');
      await p.waitFor(/^\$ orch apply$/m, 10_000);
      p.keys('site.yml --limit ', 'Tab', 'Tab');
      const t = await p.waitFor(/db1\s+.*web1/, 10_000);
      for (const n of ['all', 'db1', 'web1', 'web2', 'db', 'web', 'eu']) expect(t).toMatch(new RegExp(`(^|\\s)${n}(\\s|$)`, 'm'));
    } finally {
      p.close();
    }
  }, 30_000);

  const have = (cmd: string): boolean => spawnSync(cmd, ['--version']).status === 0;
  it.skipIf(!haveTmux() || !have('zsh'))('zsh (compinit) in a pty: orch ap<TAB> and --limit w<TAB>', async () => {
    writeFileSync(join(work, '.zshrc'), "PS1='%% '\nautoload -Uz compinit && compinit -u\nsource <(orch completion zsh)\n");
    const p = new Pty(['zsh', '-i'], { ...env, ZDOTDIR: work, PATH: `${bin}:${process.env.PATH}` }, { cwd: work, cols: 100, rows: 20 });
    try {
      await p.waitFor(/^%$/m, 10_000);
      p.keys('orch ap', 'Tab');
      await p.waitFor(/^% orch apply$/m, 10_000);
      p.keys('site.yml --limit w', 'Tab'); // zsh inserts the common prefix first, then lists
      await p.waitFor(/--limit web$/m, 10_000);
      p.keys('Tab');
      const t = await p.waitFor(/web1/, 10_000);
      expect(t).toMatch(/web2/);
    } finally {
      p.close();
    }
  }, 30_000);

  it.skipIf(!haveTmux() || !have('fish'))('fish in a pty: orch ap<TAB> and --limit w<TAB>', async () => {
    const dir = join(work, 'fishconf', 'fish', 'completions');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'orch.fish'), (await orch(['completion', 'fish'], env)).stdout);
    writeFileSync(join(work, 'fishconf', 'fish', 'config.fish'), 'function fish_prompt; echo -n "> "; end\nset -g fish_greeting\n');
    const p = new Pty(['fish', '-i'], { ...env, XDG_CONFIG_HOME: join(work, 'fishconf'), PATH: `${bin}:${process.env.PATH}` }, { cwd: work, cols: 100, rows: 20 });
    try {
      await p.waitFor(/^>$/m, 10_000);
      p.keys('orch ap', 'Tab');
      await p.waitFor(/^> orch apply$/m, 10_000);
      p.keys('site.yml --limit w', 'Tab');
      const t = await p.waitFor(/web1/, 10_000);
      expect(t).toMatch(/web2/);
    } finally {
      p.close();
    }
  }, 30_000);

  it('zsh and fish scripts call back into orch', async () => {
    for (const shell of ['zsh', 'fish']) {
      const r = await orch(['completion', shell], env);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/__complete --line/);
    }
    expect((await orch(['completion', 'tcsh'], env)).code).toBe(1);
  });
});

describe.skipIf(!haveTmux())('the confirmation prompt in a pty (local host)', () => {
  const setup = (name: string): { pb: string; dest: string } => {
    const dest = join(work, `${name}-out`, 'file.txt');
    const pb = join(work, `${name}.yml`);
    writeFileSync(pb, `inventory: inventory.yml\nvars: { app: t }\nnodes:\n  one:\n    roles: { host: db }\n    steps:\n      - put: { dest: "${dest}", content: "x\\n" }\n`);
    return { pb, dest };
  };

  it.each([
    ['Ctrl-C', 'C-c', 130],
    ['Ctrl-D', 'C-d', 1],
    ['an empty answer', 'Enter', 1],
  ])('%s at the prompt changes nothing', async (_what, key, code) => {
    const { pb, dest } = setup(`prompt-${key}`);
    const p = new Pty([process.execPath, ORCH, 'apply', pb], env, { cwd: work });
    try {
      await p.waitFor(/Apply these changes\? \[y\/N\]$/);
      p.keys(key);
      const r = await p.exit(30_000);
      expect(r.code).toBe(code);
      expect(r.text).toMatch(/^Cancelled; nothing was changed\.$/m);
      expect(existsSync(dest)).toBe(false);
    } finally {
      p.close();
    }
  }, 60_000);

  it('yes applies', async () => {
    const { pb, dest } = setup('prompt-yes');
    const p = new Pty([process.execPath, ORCH, 'apply', pb], env, { cwd: work });
    try {
      await p.waitFor(/Apply these changes\? \[y\/N\]$/);
      p.keys('yes', 'Enter');
      expect((await p.exit(30_000)).code).toBe(0);
      expect(readFileSync(dest, 'utf8')).toBe('x\n');
    } finally {
      p.close();
    }
  }, 60_000);
});

describe('orch tree', () => {
  it('--json gives nodes with hosts narrowed by --limit and rendered step labels per host', async () => {
    const r = await orch(['tree', 'site.yml', '--json', '--limit', 'web1,db1'], env, { cwd: work });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const tree = JSON.parse(r.stdout) as { nodes: { path: string; hosts: string[]; roles: Record<string, string[]>; steps: { kind: string; labels?: Record<string, string> }[] }[] };
    const shop = tree.nodes.find((n) => n.path === 'shop')!;
    expect(shop.hosts).toEqual(['web1']);
    expect(shop.roles).toEqual({ host: ['web1'] });
    expect(shop.steps.map((s) => s.kind)).toEqual(['run', 'put']);
    expect(shop.steps[1]!.labels).toEqual({ web1: expect.stringMatching(/^put \/tmp\/orch-never-applied\//) });
    expect(tree.nodes.map((n) => n.path)).toEqual(['', 'shop', 'shop.worker', 'db']);
  });

  it('text view honours --limit and --node', async () => {
    const r = await orch(['tree', 'site.yml', '--limit', 'web2', '--node', 'shop'], env, { cwd: work });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}shop {2}\[1 host: web2\]$/m);
    expect(r.stdout).not.toMatch(/web1|db1|^ {2}db/m);
    expect(r.stdout).toMatch(/step 1: run echo/);
  });
});

describe('help, man page, colour', () => {
  it('exec --help names its two arguments', async () => {
    const r = await orch(['exec', '--help'], env);
    expect(r.stdout).toMatch(/^Usage: orch exec \[options\] \[playbook\] \[command\.\.\.\]$/m);
    expect(r.stdout).toMatch(/^Arguments:\n {2}playbook +a playbook/m);
    expect(r.stdout).not.toMatch(/^ {2}playbook\]/m);
  });

  it('exec --json rows of failed hosts have an error key (absent on success)', async () => {
    const r = await orch(['exec', '-i', 'inventory.yml', '--limit', 'web1,db1', '--json', '--', 'test "$(hostname)" = never || exit 3'], env, { cwd: work });
    expect(r.code).toBe(4);
    const rows = JSON.parse(r.stdout) as { host: string; code: number; error?: string }[];
    expect(rows).toEqual([expect.objectContaining({ host: 'db1', code: 3, error: 'exit 3' }), expect.objectContaining({ host: 'web1', code: 3, error: 'exit 3' })]);
    const ok = await orch(['exec', '-i', 'inventory.yml', '--limit', 'web1', '--json', '--', 'true'], env, { cwd: work });
    expect(JSON.parse(ok.stdout)).toEqual([{ host: 'web1', code: 0, stdout: '', stderr: '' }]);
  });

  it('npm run build writes man/orch.1 from the help text: every command and option, valid roff', () => {
    const built = spawnSync(process.execPath, [join(ORCH, '../../scripts/build-man.mjs'), '--stdout'], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    expect(readFileSync(join(ORCH, '../../man/orch.1'), 'utf8')).toBe(built.stdout);
    for (const c of ['plan', 'apply', 'converge', 'rollback', 'query', 'exec', 'validate', 'hosts', 'tree', 'bundle', 'clean-cache', 'version bump', 'cron install', 'cron list', 'cron remove', 'completion']) {
      expect(built.stdout.split('\n')).toContainEqual(expect.stringMatching(new RegExp(`^\\.B orch ${c.replace(/-/g, '\\\\-')}( |$)`)));
    }
    expect(built.stdout).not.toMatch(/__complete/);
    expect(built.stdout).toMatch(/^\\fB\\-l, \\-\\-limit <pattern>\\fR$/m);
    const groff = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', join(ORCH, '../../man/orch.1')], { encoding: 'utf8' });
    if (groff.error === undefined) expect(groff.stderr).toBe('');
  });

  it('plan colours honour FORCE_COLOR, NO_COLOR and --no-color', async () => {
    const args = ['plan', 'site.yml', '--offline'];
    const forced = await orch(args, { ...env, FORCE_COLOR: '1' }, { cwd: work });
    expect(forced.stdout).toMatch(/^ {2}\x1b\[33m\? shop: run echo .*may change\x1b\[39m$/m);
    expect((await orch([...args, '--no-color'], { ...env, FORCE_COLOR: '1' }, { cwd: work })).stdout).not.toMatch(/\x1b\[/);
    expect((await orch(args, { ...env, NO_COLOR: '1' }, { cwd: work })).stdout).not.toMatch(/\x1b\[/);
    expect((await orch(args, env, { cwd: work })).stdout).not.toMatch(/\x1b\[/);
  });
});
