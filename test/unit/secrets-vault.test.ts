/**
 * Ansible Vault (src/secrets/vault.ts) against Debian's ansible-core, both ways:
 * - `ansible-vault encrypt_string` and `ansible-vault encrypt` (the CLI, with vault ids)
 *   produce texts orch decrypts;
 * - a seeded corpus of random values (empty, block-size edges, UTF-8, newlines) encrypted
 *   by ansible-core's own VaultLib (one Python process) decrypts in orch, and orch's
 *   encryptions decrypt in VaultLib;
 * - a wrong password, a damaged text and a missing password are errors that say so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decryptVault, encryptVault, readVaultPasswordFile, vaultSecretsFrom, type VaultSecret } from '../../src/secrets/vault.js';
import { seededRandom } from '../harness/random.js';

/** The interpreter of Debian's `ansible-vault` (its shebang), when it has ansible-core. */
function ansiblePython(): string | undefined {
  const r = spawnSync('sh', ['-c', 'head -1 "$(command -v ansible-vault)"'], { encoding: 'utf8' });
  const m = /^#!\s*(\S+)/.exec(r.stdout ?? '');
  if (!m) return undefined;
  return spawnSync(m[1]!, ['-c', 'import ansible.parsing.vault'], { encoding: 'utf8' }).status === 0 ? m[1] : undefined;
}
const python = ansiblePython();
if (!python) console.log('ansible-core not found (apt-get install ansible-core): Ansible Vault differential test skipped');

const SEED = Number(process.env.ORCH_VAULT_SEED ?? 20261206);
const dir = mkdtempSync(join(tmpdir(), 'orch-vault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const secret = (password: string, id = 'default'): VaultSecret => ({ id, password: Buffer.from(password), source: `test ${id}` });

/** Random values: lengths around the 16-byte block, ASCII, UTF-8, newlines, YAML-looking text. */
function corpus(seed: number, n: number): string[] {
  const r = seededRandom(seed);
  const alphabet = ['a', 'Z', '0', ' ', '\n', ':', '#', '"', "'", 'é', 'ß', '€', '日', '🙂', '\t', '$', '{', '}'];
  const out = ['', 'x', 'a'.repeat(15), 'b'.repeat(16), 'c'.repeat(17), 'd'.repeat(32)];
  while (out.length < n) {
    const len = Math.floor(r() * 70);
    out.push(Array.from({ length: len }, () => alphabet[Math.floor(r() * alphabet.length)]!).join(''));
  }
  return out;
}

describe.skipIf(!python)('Ansible Vault differential (ansible-core)', () => {
  const password = `pw-${Math.floor(seededRandom(SEED)() * 1e9)}`;
  const pwFile = join(dir, 'pw.txt');
  writeFileSync(pwFile, `${password}\n`);

  it('decrypts what ansible-vault encrypt_string and encrypt write (1.1 and 1.2 with a vault id)', () => {
    const values = corpus(SEED + 1, 9).slice(6).filter((v) => v !== '' && !v.startsWith('-'));
    for (const [i, value] of ['plain-value', ...values].entries()) {
      const id = i % 2 === 0 ? [] : ['--vault-id', `prod@${pwFile}`];
      const args = id.length ? ['encrypt_string', ...id, '--encrypt-vault-id', 'prod'] : ['encrypt_string', '--vault-password-file', pwFile];
      const r = spawnSync('ansible-vault', [...args, '--stdin-name', 'v'], { input: value, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const text = r.stdout.split('\n').slice(1).map((l) => l.trim()).join('\n');
      expect(text.startsWith(id.length ? '$ANSIBLE_VAULT;1.2;AES256;prod' : '$ANSIBLE_VAULT;1.1;AES256')).toBe(true);
      // the vault id is tried first, whatever the order of the passwords
      expect(decryptVault(text, [secret('wrong', 'other'), secret(password, id.length ? 'prod' : 'default')]).toString('utf8')).toBe(value);
    }
    const file = join(dir, 'vars.yml');
    const content = 'db_password: "s3cr3t value"\nport: 5432\n';
    writeFileSync(file, content);
    const e = spawnSync('ansible-vault', ['encrypt', '--vault-password-file', pwFile, file], { encoding: 'utf8' });
    expect(e.status, e.stderr).toBe(0);
    expect(decryptVault(readFileSync(file, 'utf8'), [readVaultPasswordFile(pwFile)]).toString('utf8')).toBe(content);
  });

  it('agrees with VaultLib both ways on a seeded random corpus', () => {
    const values = corpus(SEED, 60);
    const script = `
import sys, json
from ansible.parsing.vault import VaultLib, VaultSecret
data = json.load(sys.stdin)
v = VaultLib([('default', VaultSecret(data['password'].encode()))])
out = {'encrypted': [v.encrypt(x.encode()).decode() for x in data['values']],
       'decrypted': [v.decrypt(t.encode()).decode() for t in data['texts']]}
print(json.dumps(out))
`;
    const texts = values.map((v) => encryptVault(v, password));
    const r = spawnSync(python!, ['-c', script], { input: JSON.stringify({ password, values, texts }), encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { encrypted: string[]; decrypted: string[] };
    expect(got.decrypted).toEqual(values); // orch -> ansible
    expect(got.encrypted.map((t) => decryptVault(t, [secret(password)]).toString('utf8'))).toEqual(values); // ansible -> orch
    // orch writes what ansible-vault writes: header, 80-column hex lines, final newline
    for (const t of texts) expect(t).toMatch(/^\$ANSIBLE_VAULT;1\.1;AES256\n(?:[0-9a-f]{80}\n)*[0-9a-f]{1,80}\n$/);
  });

  it('ansible-vault view reads a file orch encrypted with a vault id', () => {
    const file = join(dir, 'orch.yml');
    writeFileSync(file, encryptVault('token: from-orch\n', password, 'prod'));
    expect(readFileSync(file, 'utf8')).toMatch(/^\$ANSIBLE_VAULT;1\.2;AES256;prod\n/);
    const r = spawnSync('ansible-vault', ['view', '--vault-id', `prod@${pwFile}`, file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('token: from-orch\n');
  });
});

describe('Ansible Vault errors', () => {
  const text = encryptVault('value', 'right');

  it.each([
    ['a wrong password', [secret('wrong')], 'the vault password given (test default) does not decrypt it: wrong password'],
    ['two wrong passwords', [secret('a'), secret('b', 'x')], 'the vault passwords given (test default, test x) do not decrypt it: wrong password'],
    ['no password', [], 'it is encrypted with Ansible Vault and no vault password was given (use --vault-password-file FILE'],
  ])('%s', (_name, secrets, message) => {
    expect(() => decryptVault(text, secrets)).toThrow(message);
  });

  it('a damaged text and an unknown version say so', () => {
    expect(() => decryptVault(text.replace(/\n[0-9a-f]/, '\nz'), [secret('right')])).toThrow('damaged Ansible Vault text: the body is not hexadecimal');
    expect(() => decryptVault(text.replace('1.1', '1.0'), [secret('right')])).toThrow('unsupported Ansible Vault format version 1.0');
    // a flipped ciphertext byte fails the HMAC: reported as a wrong password, as Ansible does
    const lines = text.split('\n');
    const last = lines[lines.length - 2]!;
    lines[lines.length - 2] = last.slice(0, -1) + (last.endsWith('0') ? '1' : '0');
    expect(() => decryptVault(lines.join('\n'), [secret('right')])).toThrow(/wrong password|damaged/);
  });

  it('password files: stripped, executable ones run, env var only without a flag, an empty one refused', () => {
    const f = join(dir, 'plain.txt');
    writeFileSync(f, '  right \n');
    expect(decryptVault(text, [readVaultPasswordFile(f)]).toString()).toBe('value');
    const x = join(dir, 'script.sh');
    writeFileSync(x, '#!/bin/sh\necho right\n', { mode: 0o755 });
    expect(decryptVault(text, [readVaultPasswordFile(x)]).toString()).toBe('value');
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '\n');
    expect(() => readVaultPasswordFile(empty)).toThrow(`--vault-password-file ${empty}: the vault password is empty`);
    expect(() => readVaultPasswordFile(join(dir, 'nope'))).toThrow(`--vault-password-file ${join(dir, 'nope')}: cannot read the vault password`);
    expect(vaultSecretsFrom({}, { ANSIBLE_VAULT_PASSWORD_FILE: f }).map((s) => s.source)).toEqual([`ANSIBLE_VAULT_PASSWORD_FILE ${f}`]);
    expect(vaultSecretsFrom({ vaultId: [`prod@${x}`], vaultPasswordFile: [f] }, { ANSIBLE_VAULT_PASSWORD_FILE: empty }).map((s) => `${s.id}:${s.source}`))
      .toEqual([`prod:--vault-id ${x}`, `default:--vault-password-file ${f}`]);
  });
});
