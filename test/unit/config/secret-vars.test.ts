/**
 * Secret sources of a playbook through preparePlan (no host is contacted: a local
 * inventory, --offline compile): vars_files (plain, Ansible Vault, age) and their
 * precedence (playbook vars < vars_files < secret_commands < node vars < -e), inline
 * `!vault` values in orch's own YAML, masking, and the errors naming the file or var.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as age from 'age-encryption';
import { preparePlan } from '../../../src/engine/prepare.js';
import { encryptVault } from '../../../src/secrets/vault.js';
import { encryptAge } from '../../../src/secrets/age.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-secret-vars-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const w = (name: string, text: string | Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
w('inv.yml', 'hosts:\n  local: { transport: local }\n');
const vault = { vault: [{ id: 'default', password: Buffer.from('pass-word'), source: 'test' }] };

async function prepare(playbook: string, extra: Record<string, unknown> = {}) {
  return preparePlan({ playbook: w('pb.yml', playbook), inventories: [], extraVars: {}, env: { HOME: dir }, now: () => new Date(), skipSyntaxCheck: true, ...extra });
}
/** The content each `put` step would upload (plans keep it unmasked; printers mask it), in order. */
const names = (p: Awaited<ReturnType<typeof prepare>>): string[] => p.plan!.phases.flatMap((ph) => ph.steps.map((s) => {
  const payload = s.tasks.local?.payload;
  return payload?.kind === 'content' ? Buffer.from(payload.base64, 'base64').toString('utf8') : '';
}));

describe('vars_files and secret_commands', () => {
  it('ranks above playbook vars and below node vars and -e; encrypted vars are masked', async () => {
    w('plain.yml', 'a: from-plain\nb: from-plain\nc: from-plain\n');
    w('vault.yml', encryptVault('b: vault-secret-b\nc: vault-secret-c\n', 'pass-word'));
    const id = await age.generateIdentity();
    w('age.txt', `${id}\n`);
    w('s.yml.age', await encryptAge('c: age-secret-c\nd: age-secret-d\n', [await age.identityToRecipient(id)]));
    const p = await prepare(`
inventory: inv.yml
vars_files: [plain.yml, vault.yml, s.yml.age]
secret_commands: { e: "echo cmd-secret-e" }
vars: { a: pb, b: pb, c: pb, d: pb, e: pb, f: pb }
steps:
  - put: { dest: /tmp/x, content: "{{a}} {{b}} {{c}} {{d}} {{e}} {{f}}" }
nodes:
  child:
    vars: { d: node-d }
    steps:
      - put: { dest: /tmp/y, content: "{{d}} {{e}}" }
`, { secrets: { ...vault, ageIdentity: join(dir, 'age.txt') }, extraVars: { e: 'extra-e' } });
    expect(p.diagnostics).toEqual([]);
    expect(names(p)).toEqual(['from-plain vault-secret-b age-secret-c age-secret-d extra-e pb', 'node-d extra-e']);
    expect(p.masker.mask('vault-secret-b age-secret-d cmd-secret-e from-plain')).toBe('*** *** *** from-plain');
    expect(p.playbook!.secret).toEqual(expect.arrayContaining(['b', 'c', 'd', 'e']));
    expect(p.playbook!.secret).not.toContain('a');
  });

  it('a decrypted file that is not YAML: the error gives the position, never the text', async () => {
    w('bad-vault.yml', encryptVault('ok: 1\npw: [unclosed-secret-text\n', 'pass-word'));
    const p = await prepare('inventory: inv.yml\nvars_files: [bad-vault.yml]\nsteps:\n  - run: { cmd: "true" }\n', { secrets: vault });
    expect(p.plan).toBeUndefined();
    const text = p.diagnostics.map((d) => `${d.file}:${d.line}: ${d.message}`).join('\n');
    expect(text).toMatch(/bad-vault\.yml:\d+: the decrypted content is not valid YAML at line \d+, column \d+/);
    expect(text).not.toContain('unclosed-secret');
  });

  it('an inline !vault value in the playbook is decrypted and masked', async () => {
    const text = encryptVault('inline-secret', 'pass-word').trim().split('\n').map((l) => `      ${l}`).join('\n');
    const p = await prepare(`inventory: inv.yml\nvars:\n  token: !vault |\n${text}\nsteps:\n  - put: { dest: /tmp/x, content: "t={{token}}" }\n`, { secrets: vault });
    expect(p.diagnostics).toEqual([]);
    expect(names(p)).toEqual(['t=inline-secret']);
    expect(p.masker.mask('t=inline-secret')).toBe('t=***');
  });

  it('a whole inventory encrypted with Ansible Vault: its vars are masked, its connection vars are not', async () => {
    w('vinv.yml', encryptVault('all:\n  hosts:\n    local:\n      ansible_connection: local\n      ansible_port: 22\n      api_token: inv-secret-token\n  vars:\n    db_url: postgres://inv-secret-db\n', 'pass-word'));
    const p = await prepare('inventory: vinv.yml\nsteps:\n  - put: { dest: /tmp/x, content: "{{api_token}} {{db_url}}" }\n', { secrets: vault });
    expect(p.diagnostics).toEqual([]);
    expect(names(p)).toEqual(['inv-secret-token postgres://inv-secret-db']);
    expect(p.masker.mask('inv-secret-token postgres://inv-secret-db local 22')).toBe('*** *** local 22');
  });

  it.each([
    ['a missing file', 'vars_files: [nope.yml]', {}, /^pb\.yml:2:\d+ vars_files\[0\] cannot read vars file .*nope\.yml: no such file$/],
    ['a wrong vault password', 'vars_files: [vault.yml]', { secrets: { vault: [{ id: 'default', password: Buffer.from('bad'), source: '--vault-password-file bad.txt' }] } }, /^pb\.yml:2:\d+ vars_files\[0\] .*vault\.yml: cannot decrypt: the vault password given \(--vault-password-file bad\.txt\) does not decrypt it: wrong password$/],
    ['no vault password', 'vars_files: [vault.yml]', {}, /vault\.yml: cannot decrypt: it is encrypted with Ansible Vault and no vault password was given/],
    ['a wrong age identity', 'vars_files: [s.yml.age]', { secrets: { vault: [], ageIdentity: join(dir, 'other.txt') } }, /vars_files\[0\] cannot decrypt .*s\.yml\.age: .*wrong identity/],
    ['a list, not a map', 'vars_files: [list.yml]', {}, /vars_files\[0\] .*list\.yml must hold a map of vars \(name: value\), not a list$/],
    ['a failing command', 'secret_commands: { pw: "echo no such entry >&2; exit 2" }', {}, /^pb\.yml:2:\d+ secret_commands\.pw secret command of "pw" \(echo no such entry >&2; exit 2\) failed: exit 2: no such entry$/],
    ['a silent command', 'secret_commands: { pw: "true" }', {}, /secret command of "pw" \(true\) printed nothing/],
  ])('%s is an error naming it', async (_name, key, extra, message) => {
    w('list.yml', '- a\n- b\n');
    spawnSync('age-keygen', ['-o', join(dir, 'other.txt')]);
    const p = await prepare(`inventory: inv.yml\n${key}\nsteps:\n  - run: { cmd: "true" }\n`, extra);
    expect(p.plan).toBeUndefined();
    expect(p.diagnostics.map((d) => `${d.file.replace(/^.*\//, '')}:${d.line}:${d.col} ${d.path} ${d.message}`).join('\n')).toMatch(message);
  });
});
