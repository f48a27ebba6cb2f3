import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadShellModel, Shell } from '../../../src/cli/shell/shell.js';

const INVENTORY = `
hosts:
  web1: { address: 10.0.0.11, vars: { weight: 2 } }
  web2: { address: 10.0.0.12 }
  db1: { address: 10.0.0.21 }
roles:
  web: [web1, web2]
  db: [db1]
`;

const PLAYBOOK = `inventory: inventory.yml
vars: { app: shop, root: "/srv/{{app}}", token: tok-123 }
secret: [token]
roles: { web: web, db: db }
nodes:
  shop:
    roles: { host: web }
    vars: { url: "https://{{host.name}}/{{app}}" }
    steps:
      - run: { cmd: "echo {{root}}" }
    actions:
      migrate:
        - run: { cmd: "migrate", once: true }
    nodes:
      api:
        steps:
          - run: { cmd: "echo api" }
      admin: {}
  db:
    roles: { host: db }
    steps:
      - run: { cmd: "echo db", name: dump }
`;

describe('orch shell (no terminal, no connections)', () => {
  let shell: Shell;
  let out = '';
  let err = '';
  let dir: string;
  const run = async (line: string): Promise<{ code: number; out: string; err: string }> => {
    out = '';
    err = '';
    const code = await shell.execute(line);
    return { code, out, err };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-shell-unit-'));
    writeFileSync(join(dir, 'inventory.yml'), INVENTORY);
    writeFileSync(join(dir, 'playbook.yml'), PLAYBOOK);
    const { model, problems } = await loadShellModel(join(dir, 'playbook.yml'), {}, () => undefined);
    expect(problems).toEqual([]);
    const io = {
      stdin: process.stdin, interactive: false,
      stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream,
      stderr: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream,
    };
    shell = new Shell(model, io, []);
  });

  it('cd, pwd, cd -, cd .., cd / and dotted paths', async () => {
    expect(shell.prompt()).toBe('orch:/> ');
    await run('cd shop/api');
    expect(shell.prompt()).toBe('orch:/shop/api> ');
    expect((await run('cd ../admin')).code).toBe(0);
    expect((await run('pwd')).out).toBe('/shop/admin\n');
    expect((await run('cd -')).out).toBe('/shop/api\n');
    await run('cd ..');
    expect((await run('pwd')).out).toBe('/shop\n');
    await run('cd /');
    await run('cd shop.api');
    expect((await run('pwd')).out).toBe('/shop/api\n');
    await run('cd');
    expect((await run('pwd')).out).toBe('/\n');
    expect(await run('cd shop/nope')).toEqual({ code: 1, out: '', err: 'no node "nope" under /shop (children: api, admin)\n' });
  });

  it('ls shows children, steps, actions and hosts by role', async () => {
    await run('cd /');
    expect((await run('ls shop')).out).toBe('nodes:   api/  admin/\nsteps:   1:run\nactions: migrate\nhosts:   web1, web2\n  role host: web1, web2\n');
    expect((await run('ls')).out).toBe('nodes:   shop/  db/\nhosts:   db1, web1, web2\n  role db: db1\n  role web: web1, web2\n');
  });

  it('inspect: where, hosts by role, effective vars rendered with secrets masked, rendered steps, actions', async () => {
    const r = await run('inspect /shop');
    expect(r.out).toBe([
      `node shop  (${join(dir, 'playbook.yml')}:6)`,
      'hosts: web1, web2',
      '  role host: web1, web2',
      'vars (on web1):',
      '  app = shop',
      '  root = /srv/shop',
      '  token = ***',
      '  url = https://web1/shop',
      '  weight = 2',
      'steps:',
      '  1. run echo /srv/shop  [web1, web2]',
      'actions:',
      '  migrate: run migrate',
      'children: api, admin',
      '',
    ].join('\n'));
  });

  it('source prints the node\'s YAML with line numbers', async () => {
    expect((await run('source db')).out).toBe(`${join(dir, 'playbook.yml')}\n19    db:\n20      roles: { host: db }\n21      steps:\n22        - run: { cmd: "echo db", name: dump }\n`);
  });

  it('find lists nodes below the current one', async () => {
    await run('cd /');
    expect((await run('find')).out).toBe('shop\nshop/api\nshop/admin\ndb\n');
    expect((await run('find ad')).out).toBe('shop/admin\n');
  });

  it('completes commands, actions, node paths and hosts', async () => {
    await run('cd /');
    expect(shell.complete('in')).toEqual([['inspect'], 'in']);
    expect(shell.complete('cd s')).toEqual([['shop/'], 's']);
    expect(shell.complete('cd shop/a')).toEqual([['shop/api/', 'shop/admin/'], 'shop/a']);
    await run('cd shop');
    expect(shell.complete('mi')).toEqual([['migrate'], 'mi']);
    expect(shell.complete('migrate r')).toEqual([['root='], 'r']);
    expect(shell.complete('connect w')).toEqual([['web1', 'web2'], 'w']);
  });

  it('--limit narrows the hosts the shell shows and acts on', async () => {
    const { model } = await loadShellModel(join(dir, 'playbook.yml'), { limit: 'web1,db1' }, () => undefined);
    let text = '';
    const limited = new Shell(model, { stdin: process.stdin, interactive: false, stdout: { write: (t: string) => ((text += t), true) } as unknown as NodeJS.WriteStream, stderr: process.stderr }, ['--limit', 'web1,db1']);
    await limited.execute('ls shop');
    expect(text).toBe('nodes:   api/  admin/\nsteps:   1:run\nactions: migrate\nhosts:   web1\n  role host: web1\n');
    expect(limited.complete('connect ')).toEqual([['db1', 'web1'], '']);
    await limited.execute('cd shop');
    expect(limited.complete('connect ')).toEqual([['web1'], '']);
  });

  it('unknown commands and bad action parameters exit 1', async () => {
    await run('cd /shop');
    expect(await run('frobnicate')).toEqual({ code: 1, out: '', err: 'unknown command "frobnicate" (type help; actions here: migrate)\n' });
    expect(await run('migrate force')).toEqual({ code: 1, out: '', err: 'action parameters are key=value, got "force"\n' });
    expect((await run('connect')).err).toBe('connect needs a terminal\n');
  });
});
