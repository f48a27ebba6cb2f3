/**
 * The secret flags of the run commands (`--vault-password-file`, `--vault-id`,
 * `--ask-vault-pass`, `--age-identity`; Ansible's names for the vault ones) turned into
 * the `SecretReading` the loaders use.
 */
import type { SecretReading } from '../config/source-index.js';
import { OrchError } from '../model/errors.js';
import { DEFAULT_VAULT_ID, vaultSecretsFrom, VaultError } from '../secrets/vault.js';

/** The parsed secret flags (commander option names). */
export interface SecretFlags {
  vaultPasswordFile?: string[];
  vaultId?: string[];
  askVaultPass?: boolean;
  ageIdentity?: string;
}

/**
 * Vault passwords from the flags, then `ANSIBLE_VAULT_PASSWORD_FILE` (only when no flag
 * gave one), then `--ask-vault-pass` (asked on the terminal, not echoed); the age identity
 * path from `--age-identity` (else `ORCH_AGE_IDENTITY` or the default, resolved when needed).
 * @throws OrchError naming an unreadable password file, or `--ask-vault-pass` without a terminal.
 */
export async function secretReadingOf(flags: SecretFlags, env: NodeJS.ProcessEnv = process.env, extra: Partial<SecretReading> = {}): Promise<SecretReading> {
  let vault;
  try {
    vault = vaultSecretsFrom(flags, env);
  } catch (e) {
    if (e instanceof VaultError) throw new OrchError(e.message);
    throw e;
  }
  if (flags.askVaultPass) {
    const pw = await askHidden('Vault password: ');
    vault.push({ id: DEFAULT_VAULT_ID, password: Buffer.from(pw, 'utf8'), source: '--ask-vault-pass' });
  }
  return { vault, ...(flags.ageIdentity !== undefined && { ageIdentity: flags.ageIdentity }), ...extra };
}

/**
 * Asks for a line on the terminal (stderr for the prompt, stdin read raw without echo).
 * Ctrl-C exits 130; Ctrl-D or Enter ends the answer.
 * @throws OrchError when stdin is not a terminal.
 */
export function askHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new OrchError('--ask-vault-pass needs a terminal; give --vault-password-file FILE instead'));
  process.stderr.write(prompt);
  return new Promise((resolve) => {
    let answer = '';
    stdin.setRawMode(true);
    stdin.resume();
    const onData = (b: Buffer): void => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          process.stderr.write('\n');
          process.exit(130);
        }
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          resolve(answer);
          return;
        }
        if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('');
        else answer += ch;
      }
    };
    stdin.on('data', onData);
  });
}
