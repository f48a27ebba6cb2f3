/**
 * Reading encrypted values while loading: inline `!vault` values and whole Ansible Vault
 * files, with the passwords of `SourceIndexImpl.secretReading`. Every decrypted value is
 * recorded in `index.secretValues` so the run masks it.
 */
import { decryptVault, VaultError } from '../secrets/vault.js';
import { SECRET_PLACEHOLDER, type SourceIndexImpl } from './source-index.js';

/**
 * Decrypts Ansible Vault `text` (an inline `!vault` value, or a whole file) with the
 * index's vault passwords. With `placeholder` reading (validate) and no password that
 * fits, gives {@link SECRET_PLACEHOLDER}.
 * @returns `{ text }`, or `{ error }` (the VaultError's message: no password, wrong password, damaged).
 */
export function readVaultText(text: string, index: SourceIndexImpl): { text: string } | { error: string } {
  const reading = index.secretReading;
  try {
    const plain = decryptVault(text, reading?.vault ?? []).toString('utf8');
    return { text: plain };
  } catch (e) {
    if (!(e instanceof VaultError)) throw e;
    if (reading?.placeholder) return { text: SECRET_PLACEHOLDER };
    return { error: e.message };
  }
}

/** Records the string leaves of `value` (numbers too, as text) as secret values of the run, from `origin` (a file name). */
export function recordSecretLeaves(value: unknown, index: SourceIndexImpl, origin: string): void {
  const stack: unknown[] = [value];
  for (let n = 0; stack.length > 0 && n < 1_000_000; n++) {
    const v = stack.pop();
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') {
      const s = String(v);
      if (s !== '' && !index.secretValues.has(s)) index.secretValues.set(s, origin);
    } else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object') stack.push(...Object.values(v));
  }
}
