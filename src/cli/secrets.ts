/**
 * `orch secrets init|encrypt|view|edit|rekey`: age-encrypted files (see src/secrets/age.ts).
 *
 * `edit` decrypts into a private temp folder (mode 0700, file 0600), runs `$VISUAL`/`$EDITOR`
 * (default `vi`), re-encrypts and renames atomically over the file. The plaintext is removed
 * in every case: editor exit, editor crash, Ctrl-C (SIGINT is ignored by orch while the
 * editor owns the terminal, then cleanup runs), SIGTERM/SIGHUP to orch.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import {
  decryptAge, encryptAge, identityPath, initIdentity, isArmored, readIdentities, recipientsFor, writeFileAtomic,
} from '../secrets/age.js';
import { cmdlineDiagnostic } from '../model/diagnostics.js';
import { ConfigError } from '../model/errors.js';

/** Options shared by the `orch secrets` subcommands, as commander hands them over. */
export interface SecretsOptions {
  ageIdentity?: string;
  identity?: string;
  recipient?: string[];
  output?: string;
  binary?: boolean;
}

function readInput(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ConfigError([cmdlineDiagnostic(file, `cannot read ${file}: ${(e as Error).message}`)]);
  }
}

/** `orch secrets init [--identity FILE]`: writes a new identity and prints its recipient. */
export async function runSecretsInit(opts: SecretsOptions): Promise<void> {
  const path = identityPath(opts.identity ?? opts.ageIdentity);
  const recipient = await initIdentity(path);
  process.stderr.write(`wrote the age identity ${path} (mode 0600); add its recipient to .orch-recipients:\n`);
  process.stdout.write(`${recipient}\n`);
}

/** `orch secrets encrypt FILE [-o OUT] [-r R]...`: OUT defaults to FILE.age (armored unless --binary). */
export async function runSecretsEncrypt(file: string, opts: SecretsOptions): Promise<void> {
  const out = resolve(opts.output ?? `${file}.age`);
  const recipients = recipientsFor(out, opts.recipient ?? []);
  writeFileAtomic(out, await encryptAge(readInput(file), recipients, !opts.binary), 0o644);
  process.stderr.write(`encrypted ${file} -> ${out} for ${recipients.length} recipient(s)\n`);
}

/** `orch secrets view FILE.age`: prints the plaintext to stdout. */
export async function runSecretsView(file: string, opts: SecretsOptions): Promise<void> {
  const plain = await decryptAge(readInput(file), readIdentities(identityPath(opts.ageIdentity)), file);
  process.stdout.write(plain);
}

/** `orch secrets rekey FILE.age [-r R]...`: re-encrypts to the given recipients (or the .orch-recipients file). */
export async function runSecretsRekey(file: string, opts: SecretsOptions): Promise<void> {
  const data = readInput(file);
  const plain = await decryptAge(data, readIdentities(identityPath(opts.ageIdentity)), file);
  const recipients = recipientsFor(file, opts.recipient ?? []);
  writeFileAtomic(resolve(file), await encryptAge(plain, recipients, isArmored(data)), 0o644);
  process.stderr.write(`re-encrypted ${file} for ${recipients.length} recipient(s)\n`);
}

function runEditor(path: string): Promise<number> {
  const editor = process.env['VISUAL'] || process.env['EDITOR'] || 'vi';
  return new Promise((res, rej) => {
    // The editor line may carry flags (EDITOR="code --wait"), as git and sops allow: run through sh.
    const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, 'orch-editor', path], { stdio: 'inherit' });
    child.on('error', rej);
    child.on('exit', (code, signal) => res(signal ? 128 : (code ?? 1)));
  });
}

/** `orch secrets edit FILE.age`: decrypt to a private temp file, $EDITOR, re-encrypt, atomic rename. */
export async function runSecretsEdit(file: string, opts: SecretsOptions): Promise<void> {
  const data = readInput(file);
  const plain = await decryptAge(data, readIdentities(identityPath(opts.ageIdentity)), file);
  const recipients = recipientsFor(file, opts.recipient ?? []);
  const dir = mkdtempSync(join(tmpdir(), 'orch-secret-'));
  const tmp = join(dir, basename(file).replace(/\.age$/, ''));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanup();
    process.kill(process.pid, sig);
  };
  const ignoreInt = (): void => undefined;
  process.on('SIGINT', ignoreInt);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  process.once('exit', cleanup);
  try {
    writeFileSync(tmp, plain, { mode: 0o600 });
    const code = await runEditor(tmp);
    if (code !== 0) throw new ConfigError([cmdlineDiagnostic(file, `the editor exited with status ${code}; ${file} is unchanged`)]);
    const edited = readFileSync(tmp);
    if (edited.equals(Buffer.from(plain))) {
      process.stderr.write(`${file} unchanged\n`);
      return;
    }
    writeFileAtomic(resolve(file), await encryptAge(edited, recipients, isArmored(data)), 0o644);
    process.stderr.write(`re-encrypted ${file} for ${recipients.length} recipient(s)\n`);
  } finally {
    cleanup();
    process.off('SIGINT', ignoreInt);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('exit', cleanup);
  }
}
