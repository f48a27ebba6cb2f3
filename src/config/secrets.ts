/**
 * Secret values given on the command line (`-e NAME=VALUE` for a var listed in the
 * playbook's `secret:`): checked before anything is compiled or printed.
 */
import type { Diagnostic } from '../model/diagnostics.js';
import { cmdlineDiagnostic } from '../model/diagnostics.js';
import type { Masker } from '../shell/mask.js';
import { isTooShortSecret, shortSecretMessage } from '../shell/mask.js';

/**
 * Adds the `-e` value of every var named in `secretNames` to `masker`, and returns a
 * diagnostic (`<command line>:1:1: -e db_password: secret var "db_password" is 1
 * character long; a secret needs at least 4 characters ...`) for each value shorter than
 * `MIN_SECRET_LENGTH`, which is not added. Empty values are ignored, as `Masker.add` does.
 */
export function addSecretExtraVars(masker: Masker, secretNames: readonly string[], extraVars: Record<string, string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const name of secretNames) {
    const v = Object.hasOwn(extraVars, name) ? extraVars[name] : undefined;
    if (v === undefined) continue;
    if (isTooShortSecret(v)) out.push(cmdlineDiagnostic(`-e ${name}`, shortSecretMessage(`secret var "${name}"`, v.length)));
    else masker.add(v);
  }
  return out;
}
