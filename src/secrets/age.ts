/**
 * age-encrypted files (https://age-encryption.org/v1) with the `age-encryption` npm
 * package (FiloSottile's TypeScript age): X25519 identities and recipients, armored
 * (`-----BEGIN AGE ENCRYPTED FILE-----`) or binary files, interoperable with the `age` CLI.
 *
 * Recipients of a file default to the nearest `.orch-recipients` file (one `age1...` per
 * line, `#` comments and blank lines allowed) found in the file's folder or any parent.
 * The identity comes from `--age-identity FILE`, then `$ORCH_AGE_IDENTITY`, then
 * `~/.config/orch/age.txt` (the format `age-keygen` writes: `AGE-SECRET-KEY-1...` lines).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { cmdlineDiagnostic } from '../model/diagnostics.js';
import { ConfigError } from '../model/errors.js';

const ARMOR_HEADER = '-----BEGIN AGE ENCRYPTED FILE-----';

/**
 * The age-encryption module, loaded on first use: initialising its curves takes about
 * 15 ms, which every command that decrypts nothing (most plans) would pay at start.
 */
let ageModule: Promise<typeof import('age-encryption')> | undefined;
const loadAge = (): Promise<typeof import('age-encryption')> => (ageModule ??= import('age-encryption'));

/** Name of the recipients file looked up next to an encrypted file and in its parent folders. */
export const RECIPIENTS_FILE = '.orch-recipients';

function fail(path: string, message: string): never {
  throw new ConfigError([cmdlineDiagnostic(path, message)]);
}

/** Default identity path: `$HOME/.config/orch/age.txt`. */
export function defaultIdentityPath(): string {
  return join(homedir(), '.config', 'orch', 'age.txt');
}

/** The identity file to use: `flag`, else `$ORCH_AGE_IDENTITY`, else the default path. */
export function identityPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? (env['ORCH_AGE_IDENTITY'] || defaultIdentityPath()));
}

/** `AGE-SECRET-KEY-1...` lines of an identity file (age-keygen format); ConfigError naming the file if none. */
export function readIdentities(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(file, `cannot read the age identity file ${file}: ${(e as Error).message} (create one with \`orch secrets init\`, or give --age-identity FILE / ORCH_AGE_IDENTITY)`);
  }
  const ids = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('AGE-SECRET-KEY-1'));
  if (ids.length === 0) fail(file, `${file} holds no age identity (expected a line AGE-SECRET-KEY-1...)`);
  return ids;
}

/** Parses recipients text: one `age1...` per line, `#` comments and blank lines ignored. */
export function parseRecipients(text: string, file: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    if (!/^age1[02-9ac-hj-np-z]+$/.test(line)) {
      throw new ConfigError([{ file, line: i + 1, col: 1, path: '', message: `"${line}" is not an age X25519 recipient (expected age1... as printed by \`orch secrets init\` or age-keygen -y)` }]);
    }
    out.push(line);
  });
  return out;
}

/** The nearest `.orch-recipients` at or above `dir`, or undefined. */
export function findRecipientsFile(dir: string): string | undefined {
  let d = resolve(dir);
  for (let i = 0; i < 256; i++) {
    const f = join(d, RECIPIENTS_FILE);
    if (existsSync(f)) return f;
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
  return undefined;
}

/** Recipients for `file`: the explicit list if non-empty, else the nearest `.orch-recipients`; ConfigError if none. */
export function recipientsFor(file: string, explicit: string[] = []): string[] {
  if (explicit.length > 0) return parseRecipients(explicit.join('\n'), '<command line>');
  const rf = findRecipientsFile(dirname(resolve(file)));
  if (!rf) fail(file, `no recipients for ${file}: give -r age1... or write a ${RECIPIENTS_FILE} file (one age1... per line) in its folder or above`);
  const r = parseRecipients(readFileSync(rf, 'utf8'), rf);
  if (r.length === 0) fail(rf, `${rf} lists no recipient`);
  return r;
}

/** True when `data` is an age file (armored or binary). */
export function isAgeFile(data: Uint8Array): boolean {
  const head = Buffer.from(data.subarray(0, 64)).toString('latin1');
  return head.startsWith('age-encryption.org/v1\n') || head.trimStart().startsWith(ARMOR_HEADER);
}

/** Encrypts `plaintext` to X25519 `recipients`; armored text when `armor` (the default), else binary bytes. */
export async function encryptAge(plaintext: Uint8Array | string, recipients: string[], armor = true): Promise<Uint8Array> {
  const age = await loadAge();
  const e = new age.Encrypter();
  for (const r of recipients) e.addRecipient(r);
  const bin = await e.encrypt(plaintext);
  return armor ? Buffer.from(age.armor.encode(bin), 'utf8') : bin;
}

/**
 * Decrypts an armored or binary age file with `identities` (`AGE-SECRET-KEY-1...`).
 * Errors: ConfigError naming `file` when the data is not age or no identity matches.
 */
export async function decryptAge(data: Uint8Array, identities: string[], file: string): Promise<Uint8Array> {
  if (!isAgeFile(data)) fail(file, `${file} is not an age-encrypted file (no age-encryption.org/v1 header)`);
  const age = await loadAge();
  const text = Buffer.from(data).toString('latin1');
  const bin = text.trimStart().startsWith(ARMOR_HEADER) ? age.armor.decode(text) : data;
  const d = new age.Decrypter();
  for (const id of identities) d.addIdentity(id);
  try {
    return await d.decrypt(bin, 'uint8array');
  } catch (e) {
    return fail(file, `cannot decrypt ${file}: ${(e as Error).message} (wrong identity? it must be one of the file's recipients)`);
  }
}

/** True when the file's bytes are armored age (so a re-encryption keeps the same form). */
export function isArmored(data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, 64)).toString('latin1').trimStart().startsWith(ARMOR_HEADER);
}

/** Writes `data` to `path` atomically: a private temp file in the same folder, fsync, rename. */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o600): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Generates an identity file at `path` (mode 0600, folder 0700; refuses to overwrite) and returns its recipient. */
export async function initIdentity(path: string): Promise<string> {
  if (existsSync(path)) fail(path, `${path} exists already; orch will not overwrite an identity (its recipient: age-keygen -y ${path})`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const age = await loadAge();
  const id = await age.generateX25519Identity();
  const recipient = await age.identityToRecipient(id);
  writeFileAtomic(path, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${id}\n`, 0o600);
  chmodSync(path, 0o600);
  return recipient;
}
