/**
 * Ansible Vault, format 1.1 and 1.2 (`$ANSIBLE_VAULT;1.1;AES256`,
 * `$ANSIBLE_VAULT;1.2;AES256;VAULT_ID`), with node:crypto only.
 *
 * The format, as Ansible's documentation describes it
 * (https://docs.ansible.com/ansible/latest/vault_guide/vault_using_encrypted_content.html#format-of-files-encrypted-with-ansible-vault):
 * a header line, then the hex encoding (in lines of 80 characters) of the text
 * `hex(salt) "\n" hex(hmac) "\n" hex(ciphertext)`. The keys come from
 * PBKDF2-HMAC-SHA256(password, salt, 10000 iterations, 80 bytes): 32 bytes of AES key,
 * 32 bytes of HMAC key, 16 bytes of initial counter. The plaintext, PKCS#7-padded to the
 * 16-byte AES block, is encrypted with AES-256-CTR; the HMAC-SHA256 of the ciphertext
 * authenticates it.
 */
import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { OrchError } from '../model/errors.js';

/** The first characters of every vault-encrypted text. */
export const VAULT_HEADER = '$ANSIBLE_VAULT;';
/** The vault id Ansible gives a password without a label. */
export const DEFAULT_VAULT_ID = 'default';

/** One vault password, with its vault id (`default` when none was given). */
export interface VaultSecret {
  id: string;
  password: Buffer;
  /** Where the password came from, for messages (`--vault-password-file pw.txt`). */
  source: string;
}

/** A vault text could not be decrypted (wrong password, no password, damaged text). */
export class VaultError extends OrchError {}

/** True when `text` (or bytes) starts like an Ansible Vault envelope. */
export function isVaultText(text: string | Uint8Array): boolean {
  const s = typeof text === 'string' ? text : Buffer.from(text.subarray(0, VAULT_HEADER.length)).toString('latin1');
  return s.trimStart().startsWith(VAULT_HEADER);
}

/** The parts of a vault envelope. @throws VaultError for a malformed envelope. */
export function parseVaultEnvelope(text: string): { version: string; cipher: string; id?: string; salt: Buffer; hmac: Buffer; ciphertext: Buffer } {
  const lines = text.trim().split(/\r?\n/).map((l) => l.trim());
  const header = lines.shift() ?? '';
  const parts = header.split(';');
  if (parts[0] !== '$ANSIBLE_VAULT' || parts.length < 3) throw new VaultError('not an Ansible Vault text (the first line is not $ANSIBLE_VAULT;1.1;AES256)');
  const [, version, cipher, id] = parts as [string, string, string, string | undefined];
  if (version !== '1.1' && version !== '1.2') throw new VaultError(`unsupported Ansible Vault format version ${version} (orch reads 1.1 and 1.2)`);
  if (cipher.trim() !== 'AES256') throw new VaultError(`unsupported Ansible Vault cipher ${cipher} (orch reads AES256)`);
  const hex = lines.join('');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new VaultError('damaged Ansible Vault text: the body is not hexadecimal');
  const inner = Buffer.from(hex, 'hex').toString('latin1').split('\n');
  if (inner.length !== 3 || !inner.every((p) => /^(?:[0-9a-fA-F]{2})+$/.test(p))) throw new VaultError('damaged Ansible Vault text: expected salt, HMAC and ciphertext');
  return {
    version, cipher: cipher.trim(), ...(id !== undefined && id.trim() !== '' && { id: id.trim() }),
    salt: Buffer.from(inner[0]!, 'hex'), hmac: Buffer.from(inner[1]!, 'hex'), ciphertext: Buffer.from(inner[2]!, 'hex'),
  };
}

function deriveKeys(password: Buffer, salt: Buffer): { key: Buffer; hmacKey: Buffer; iv: Buffer } {
  const derived = pbkdf2Sync(password, salt, 10000, 80, 'sha256');
  return { key: derived.subarray(0, 32), hmacKey: derived.subarray(32, 64), iv: derived.subarray(64, 80) };
}

/**
 * Decrypts a vault envelope with the first of `secrets` whose HMAC matches (one whose
 * vault id equals the envelope's 1.2 id is tried first, as Ansible does).
 * @returns the plaintext bytes.
 * @throws VaultError `no vault password given ...` / `the vault password(s) given (...) do not decrypt it` / damaged text.
 */
export function decryptVault(text: string, secrets: readonly VaultSecret[]): Buffer {
  if (secrets.length === 0 && isVaultText(text)) {
    throw new VaultError('it is encrypted with Ansible Vault and no vault password was given (use --vault-password-file FILE, --vault-id [LABEL@]FILE, ANSIBLE_VAULT_PASSWORD_FILE or --ask-vault-pass)');
  }
  const env = parseVaultEnvelope(text);
  const ordered = env.id === undefined ? secrets : [...secrets.filter((s) => s.id === env.id), ...secrets.filter((s) => s.id !== env.id)];
  for (const s of ordered) {
    const { key, hmacKey, iv } = deriveKeys(s.password, env.salt);
    const mac = createHmac('sha256', hmacKey).update(env.ciphertext).digest();
    if (mac.length !== env.hmac.length || !timingSafeEqual(mac, env.hmac)) continue;
    const d = createDecipheriv('aes-256-ctr', key, iv);
    const padded = Buffer.concat([d.update(env.ciphertext), d.final()]);
    const pad = padded[padded.length - 1] ?? 0;
    if (pad < 1 || pad > 16 || pad > padded.length || !padded.subarray(padded.length - pad).every((b) => b === pad)) {
      throw new VaultError('damaged Ansible Vault text: bad padding after decryption');
    }
    return padded.subarray(0, padded.length - pad);
  }
  const ids = [...new Set(secrets.map((s) => s.source))].join(', ');
  throw new VaultError(`the vault password${secrets.length > 1 ? 's' : ''} given (${ids}) do${secrets.length > 1 ? '' : 'es'} not decrypt it${env.id !== undefined ? ` (vault id ${env.id})` : ''}: wrong password`);
}

/**
 * Encrypts `plaintext` as Ansible Vault 1.1 (1.2 when `id` is given and not `default`),
 * as `ansible-vault encrypt` writes it: header, then hex lines of 80 characters, final newline.
 */
export function encryptVault(plaintext: string | Uint8Array, password: string | Buffer, id?: string): string {
  const salt = randomBytes(32);
  const { key, hmacKey, iv } = deriveKeys(Buffer.from(password), salt);
  const data = Buffer.from(plaintext);
  const pad = 16 - (data.length % 16);
  const c = createCipheriv('aes-256-ctr', key, iv);
  const ciphertext = Buffer.concat([c.update(Buffer.concat([data, Buffer.alloc(pad, pad)])), c.final()]);
  const mac = createHmac('sha256', hmacKey).update(ciphertext).digest();
  const body = Buffer.from(`${salt.toString('hex')}\n${mac.toString('hex')}\n${ciphertext.toString('hex')}`, 'latin1').toString('hex');
  const header = id !== undefined && id !== DEFAULT_VAULT_ID ? `$ANSIBLE_VAULT;1.2;AES256;${id}` : '$ANSIBLE_VAULT;1.1;AES256';
  return `${header}\n${body.match(/.{1,80}/g)!.join('\n')}\n`;
}

/**
 * Reads a vault password file as Ansible does: an executable file is run and its stdout
 * is the password; otherwise the file's content. Surrounding whitespace is stripped
 * (Ansible's `FileVaultSecret`). @throws VaultError naming the file.
 */
export function readVaultPasswordFile(file: string, id = DEFAULT_VAULT_ID, flag = '--vault-password-file'): VaultSecret {
  let raw: Buffer;
  try {
    let executable = false;
    try {
      accessSync(file, constants.X_OK);
      executable = true;
    } catch {
      /* a plain file */
    }
    raw = executable ? execFileSync(file, [], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 }) : readFileSync(file);
  } catch (e) {
    throw new VaultError(`${flag} ${file}: cannot read the vault password: ${(e as Error).message.split('\n')[0]}`);
  }
  const password = Buffer.from(raw.toString('utf8').trim(), 'utf8');
  if (password.length === 0) throw new VaultError(`${flag} ${file}: the vault password is empty`);
  return { id, password, source: `${flag} ${file}` };
}

/**
 * Vault passwords of a run, in Ansible's order: each `--vault-id [LABEL@]FILE`, each
 * `--vault-password-file FILE`, then `ANSIBLE_VAULT_PASSWORD_FILE` when no flag gave a
 * file. (`--ask-vault-pass` is asked by the CLI and added after these.)
 * @throws VaultError naming an unreadable file.
 */
export function vaultSecretsFrom(opts: { vaultId?: string[]; vaultPasswordFile?: string[] }, env: NodeJS.ProcessEnv): VaultSecret[] {
  const out: VaultSecret[] = [];
  for (const v of opts.vaultId ?? []) {
    const at = v.indexOf('@');
    const id = at > 0 ? v.slice(0, at) : DEFAULT_VAULT_ID;
    const file = at > 0 ? v.slice(at + 1) : v;
    if (file === 'prompt') throw new VaultError('--vault-id LABEL@prompt: use --ask-vault-pass to be asked for the password');
    out.push(readVaultPasswordFile(file, id, '--vault-id'));
  }
  for (const f of opts.vaultPasswordFile ?? []) out.push(readVaultPasswordFile(f));
  const fromEnv = env.ANSIBLE_VAULT_PASSWORD_FILE;
  if (out.length === 0 && fromEnv !== undefined && fromEnv !== '') out.push(readVaultPasswordFile(fromEnv, DEFAULT_VAULT_ID, 'ANSIBLE_VAULT_PASSWORD_FILE'));
  return out;
}
