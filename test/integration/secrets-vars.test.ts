/**
 * Secret vars on a 3-host SSH fleet, through the built CLI:
 * - `vars_files: [secrets.yml.age]` (made with `orch secrets encrypt`) puts a secret into
 *   a file on every host; the value is in no output (plan, `plan -o`, `apply --json
 *   --verbose`, converge and its `--log`);
 * - an Ansible repository as it is: an INI inventory with `group_vars/all/vault.yml` made
 *   by `ansible-vault encrypt`, and a YAML inventory with an inline `!vault` value
 *   (`ansible-vault encrypt_string`), deploy with `--vault-password-file`; a wrong
 *   password exits 1 naming the file and contacts no host (sshd logs);
 * - a failing secret command stops the run before any connection (sshd logs);
 * - `orch validate` passes with no secret given, and on an import-only file;
 * - `--ask-vault-pass` asks on the terminal without echo (a tmux pty, no fleet).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../harness/fleet.js';
import { encryptVault } from '../../src/secrets/vault.js';
import { makeWork, ORCH, orch, summaryOf } from './cli.js';
import { Pty, haveTmux } from './terminal-pty.js';

const haveAnsibleVault = spawnSync('ansible-vault', ['--version'], { encoding: 'utf8' }).status === 0;
if (!haveAnsibleVault) console.log('ansible-vault not found (apt-get install ansible-core): Ansible Vault deploy test skipped');

describe.skipIf(!canRunFleet())('secret vars on a 3-host fleet', () => {
  let fleet: Fleet;
  const { dir: work, env } = makeWork('secrets-vars');
  const secret = `db-${randomBytes(12).toString('hex')}`;
  const vaultSecret = `vault-${randomBytes(12).toString('hex')}`;
  const inlineSecret = `inline-${randomBytes(12).toString('hex')}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const pwFile = join(work, 'vault-pass.txt');
  /** "Connection from" lines in each host's sshd log (LogLevel VERBOSE logs every TCP connection). */
  const connections = (): number[] => fleet.hosts.map((h) => (readFileSync(h.logFile, 'utf8').match(/Connection from /g) ?? []).length);
  const onHost = (i: number, p: string): string => readFileSync(join(fleet.hosts[i]!.dir, p), 'utf8');

  beforeAll(async () => {
    fleet = await startFleet({ count: 3 });
    writeFileSync(join(work, 'inventory.yml'), fleet.inventoryYaml());
    writeFileSync(pwFile, `${password}\n`);
  }, 60_000);

  afterAll(async () => {
    await fleet?.teardown();
  });

  it('vars_files with an age file: the secret reaches every host and no output', async () => {
    const init = await orch(['secrets', 'init'], env, { cwd: work });
    expect(init.code, init.stderr).toBe(0);
    writeFileSync(join(work, '.orch-recipients'), `${init.stdout.trim()}\n`);
    writeFileSync(join(work, 'secrets.yml'), `db_password: ${secret}\n`);
    const enc = await orch(['secrets', 'encrypt', 'secrets.yml', '-o', 'secrets.yml.age'], env, { cwd: work });
    expect(enc.code, enc.stderr).toBe(0);
    spawnSync('rm', ['-f', join(work, 'secrets.yml')]);
    writeFileSync(join(work, 'age.yml'), `
inventory: inventory.yml
vars_files: [secrets.yml.age]
vars: { root: /srv/age }
steps:
  - put: { dest: /srv/age/db.conf, content: "password={{db_password}}\\n", mode: "0600" }
  - run: { cmd: "echo using {{db_password}}" }
`);
    const plan = await orch(['plan', 'age.yml', '-o', 'plan.json'], env, { cwd: work });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('echo using ***');
    const json = await orch(['plan', 'age.yml', '--json'], env, { cwd: work });
    expect(json.code, json.stderr).toBe(0);
    const apply = await orch(['apply', 'age.yml', '--yes', '--json', '--verbose'], env, { cwd: work });
    expect(apply.code, apply.stderr).toBe(0);
    expect(summaryOf(apply.stdout).changed).toBe(3);
    expect(apply.stdout).toContain('using ***');
    const converge = await orch(['converge', 'age.yml', '--log', 'converge.log', '--verbose'], env, { cwd: work });
    expect(converge.code, converge.stderr).toBe(2); // the run step changes every time
    for (let i = 0; i < 3; i++) expect(onHost(i, 'srv/age/db.conf')).toBe(`password=${secret}\n`);
    const texts = [plan, json, apply, converge].flatMap((r) => [r.stdout, r.stderr]);
    texts.push(readFileSync(join(work, 'plan.json'), 'utf8'), readFileSync(join(work, 'converge.log'), 'utf8'));
    expect(readFileSync(join(work, 'converge.log'), 'utf8').length).toBeGreaterThan(0);
    for (const t of texts) expect(t).not.toContain(secret);
  });

  it.skipIf(!haveAnsibleVault)('an Ansible repository with vault files and !vault values deploys with --vault-password-file', async () => {
    const repo = join(work, 'ansible');
    mkdirSync(join(repo, 'group_vars', 'all'), { recursive: true });
    writeFileSync(join(repo, 'hosts.ini'), [
      '[web]', ...fleet.hosts.map((h) => `${h.name} ansible_host=${h.address}`), '',
      '[all:vars]', 'ansible_user=root', `ansible_ssh_private_key_file=${fleet.identityFile}`,
      `ansible_ssh_common_args='-o UserKnownHostsFile=${fleet.knownHostsFile}'`, '',
    ].join('\n'));
    const vaultFile = join(repo, 'group_vars', 'all', 'vault.yml');
    writeFileSync(vaultFile, `vault_db_password: ${vaultSecret}\n`);
    const e = spawnSync('ansible-vault', ['encrypt', '--vault-password-file', pwFile, vaultFile], { encoding: 'utf8' });
    expect(e.status, e.stderr).toBe(0);
    expect(readFileSync(vaultFile, 'utf8')).toMatch(/^\$ANSIBLE_VAULT;1\.1;AES256\n/);
    const s = spawnSync('ansible-vault', ['encrypt_string', '--vault-password-file', pwFile, '--name', 'api_token', inlineSecret], { encoding: 'utf8' });
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toContain('!vault |');
    writeFileSync(join(repo, 'hosts.yml'), [
      'all:', '  vars:', '    ansible_user: root', `    ansible_ssh_private_key_file: ${fleet.identityFile}`,
      `    ansible_ssh_common_args: '-o UserKnownHostsFile=${fleet.knownHostsFile}'`,
      ...s.stdout.trim().split('\n').map((l) => `    ${l}`),
      '  children:', '    web:', '      hosts:', ...fleet.hosts.map((h) => `        ${h.name}: { ansible_host: ${h.address} }`), '',
    ].join('\n'));
    writeFileSync(join(work, 'ansible.yml'), `
vars: { root: /srv/ans }
steps:
  - put: { dest: "/srv/ans/{{file}}", content: "{{value}}\\n" }
`);
    const ini = await orch(['apply', 'ansible.yml', '-i', join(repo, 'hosts.ini'), '--vault-password-file', pwFile, '-e', 'file=db', '-e', 'value={{vault_db_password}}', '--yes', '--json'], env, { cwd: work });
    expect(ini.code, ini.stderr).toBe(0);
    const yml = await orch(['apply', 'ansible.yml', '-i', join(repo, 'hosts.yml'), '-e', 'file=api', '-e', 'value={{api_token}}', '--yes', '--json', '--diff'], { ...env, ANSIBLE_VAULT_PASSWORD_FILE: pwFile }, { cwd: work });
    expect(yml.code, yml.stderr).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(onHost(i, 'srv/ans/db')).toBe(`${vaultSecret}\n`);
      expect(onHost(i, 'srv/ans/api')).toBe(`${inlineSecret}\n`);
    }
    for (const t of [ini.stdout, ini.stderr, yml.stdout, yml.stderr]) {
      expect(t).not.toContain(vaultSecret);
      expect(t).not.toContain(inlineSecret);
    }

    // A wrong password: exit 1, the file named, no host contacted.
    writeFileSync(join(work, 'wrong.txt'), 'not-the-password\n');
    const before = connections();
    const bad = await orch(['apply', 'ansible.yml', '-i', join(repo, 'hosts.ini'), '--vault-password-file', join(work, 'wrong.txt'), '-e', 'file=db', '-e', 'value=x{{vault_db_password}}', '--yes'], env, { cwd: work });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('group_vars/all/vault.yml: cannot decrypt: the vault password given (--vault-password-file');
    expect(bad.stderr).toContain('wrong password');
    const badInline = await orch(['plan', 'ansible.yml', '-i', join(repo, 'hosts.yml'), '-e', 'file=api', '-e', 'value=x'], { ...env, ANSIBLE_VAULT_PASSWORD_FILE: join(work, 'wrong.txt') }, { cwd: work });
    expect(badInline.code).toBe(1);
    expect(badInline.stderr).toMatch(/hosts\.yml:\d+:\d+: .*api_token: cannot decrypt this !vault value: .*wrong password/);
    const none = await orch(['plan', 'ansible.yml', '-i', join(repo, 'hosts.ini'), '-e', 'file=db', '-e', 'value=x'], env, { cwd: work });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no vault password was given (use --vault-password-file FILE');
    expect(connections()).toEqual(before);
  });

  it('a failing secret command stops the run before any host is contacted', async () => {
    writeFileSync(join(work, 'cmd.yml'), `
inventory: inventory.yml
secret_commands:
  token: "printf 'from-the-command-%s' ok"
  db_password: "echo 'vault is sealed' >&2; exit 3"
steps:
  - put: { dest: /srv/cmd/token, content: "{{token}} {{db_password}}\\n" }
`);
    const before = connections();
    const r = await orch(['apply', 'cmd.yml', '--yes'], env, { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cmd\.yml:5:\d+: secret_commands\.db_password: secret command of "db_password" \(.*\) failed: exit 3: vault is sealed/);
    expect(connections()).toEqual(before);

    // The working command's value is a secret: masked in the plan.
    writeFileSync(join(work, 'cmd.yml'), readFileSync(join(work, 'cmd.yml'), 'utf8').replace(/ {2}db_password: .*\n/, ''));
    writeFileSync(join(work, 'cmd.yml'), readFileSync(join(work, 'cmd.yml'), 'utf8').replace(' {{db_password}}', ''));
    const ok = await orch(['plan', 'cmd.yml', '--offline', '--json'], env, { cwd: work });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).not.toContain('from-the-command-ok');
  });

  it('validate passes without any secret when each has a source, and on an import-only file', async () => {
    writeFileSync(join(work, 'prod.yml'), `
inventory: inventory.yml
secret: [db_password, api_key]
vars_files: [secrets.yml.age]
secret_commands: { session_key: "exit 1" }
vars: { root: /srv/prod }
steps:
  - put: { dest: /srv/prod/conf, content: "{{db_password}} {{api_key}} {{session_key}}\\n" }
  - run: { cmd: "test -n {{db_password}}" }
`);
    // No identity (a fresh HOME), no -e, and the secret command is not run.
    const bare = { ...env, HOME: join(work, 'nohome') };
    const v = await orch(['validate', 'prod.yml'], bare, { cwd: work });
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('prod.yml: valid playbook (compiled for 3 hosts');
    // plan still needs every value.
    const p = await orch(['plan', 'prod.yml', '--offline'], bare, { cwd: work });
    expect(p.code).toBe(1);
    // A var no source gives is still an error.
    writeFileSync(join(work, 'prod2.yml'), readFileSync(join(work, 'prod.yml'), 'utf8').replace('{{session_key}}', '{{nowhere}}'));
    const u = await orch(['validate', 'prod2.yml'], bare, { cwd: work });
    expect(u.code).toBe(1);
    expect(u.stderr).toContain('undefined variable "nowhere"');

    mkdirSync(join(work, 'nodes'), { recursive: true });
    writeFileSync(join(work, 'nodes', 'python-app.yml'), `
templates:
  service_app:
    required: [root]
    steps:
      - run: { cmd: "echo {{root}}" }
`);
    const imp = await orch(['validate', 'nodes/python-app.yml', '-i', 'inventory.yml'], bare, { cwd: work });
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    expect(imp.stdout).toContain('nodes/python-app.yml: valid import');
    writeFileSync(join(work, 'nodes', 'broken.yml'), 'templates:\n  t: { extends: nope }\n');
    const broken = await orch(['validate', 'nodes/broken.yml'], bare, { cwd: work });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('unknown template "nope"');
  });
});

describe.skipIf(!haveTmux())('--ask-vault-pass (pty)', () => {
  const { dir: work, env } = makeWork('ask-vault');
  const pties: Pty[] = [];
  afterAll(() => pties.forEach((p) => p.close()));

  it('asks on the terminal, does not echo, and decrypts with the answer', async () => {
    const password = `typed-${randomBytes(6).toString('hex')}`;
    const value = `asked-${randomBytes(8).toString('hex')}`;
    writeFileSync(join(work, 'inv.yml'), 'hosts:\n  local: { transport: local }\n');
    writeFileSync(join(work, 'vault.yml'), encryptVault(`token: ${value}\n`, password));
    writeFileSync(join(work, 'pb.yml'), 'inventory: inv.yml\nvars_files: [vault.yml]\nsteps:\n  - run: { cmd: "echo {{token}}" }\n');
    const p = new Pty([process.execPath, ORCH, 'plan', 'pb.yml', '--offline', '--ask-vault-pass'], env, { cwd: work });
    pties.push(p);
    await p.waitFor(/Vault password:/, 90_000); // a loaded CI machine starts node slowly
    p.keys('-l', password);
    p.keys('Enter');
    const { code, text } = await p.exit(90_000);
    expect(code, text).toBe(0);
    expect(text).toContain('run echo ***');
    expect(text).not.toContain(password);
    expect(text).not.toContain(value);
  }, 200_000);
});
