/**
 * OpenSSH known_hosts: parsing, matching and host-key policy decisions.
 *
 * Source: OpenSSH sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT" — comma-separated host patterns
 * (`*`, `?`, `!negation`), `[host]:port` for a non-22 port, hashed entries
 * `|1|base64(salt)|base64(HMAC-SHA1(salt, host))`, markers `@revoked` and
 * `@cert-authority`; and ssh(1) `StrictHostKeyChecking` (`yes` = strict, `accept-new`).
 * Fingerprints are printed the way OpenSSH prints them: `SHA256:` + unpadded base64.
 *
 * The pure part (parse, match, check, format) does no I/O; `readKnownHosts` and
 * `appendKnownHost` are the only functions touching the file system.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { HostKeyPolicy } from '../model/inventory.js';

/** One key line of a known_hosts file. */
export interface KnownHostsEntry {
  /** 1-based line number in the file. */
  line: number;
  /** `@revoked` / `@cert-authority` marker, if any. */
  marker?: 'revoked' | 'cert-authority';
  /** Plain host patterns (comma list split), empty for a hashed entry. */
  patterns: string[];
  /** Hashed entry `|1|salt|hash`: salt and HMAC-SHA1 digest. */
  hashed?: { salt: Buffer; hash: Buffer };
  /** Key type as written, e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`. */
  keyType: string;
  /** The raw public key blob (base64-decoded). */
  key: Buffer;
}

/** A line that could not be parsed (reported, otherwise ignored like OpenSSH does). */
export interface KnownHostsProblem {
  line: number;
  message: string;
}

/**
 * Parses known_hosts text. Blank lines and `#` comments are skipped; malformed lines
 * are returned in `problems` and otherwise ignored (OpenSSH skips them too).
 */
export function parseKnownHosts(text: string): { entries: KnownHostsEntry[]; problems: KnownHostsProblem[] } {
  const entries: KnownHostsEntry[] = [];
  const problems: KnownHostsProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trim();
    if (!raw || raw.startsWith('#')) continue;
    const fields = raw.split(/[ \t]+/);
    let marker: KnownHostsEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else {
        problems.push({ line: i + 1, message: `unknown marker ${m}` });
        continue;
      }
    }
    const [hostField, keyType, keyB64] = fields;
    if (!hostField || !keyType || !keyB64) {
      problems.push({ line: i + 1, message: 'expected "HOSTS KEYTYPE BASE64KEY"' });
      continue;
    }
    const key = Buffer.from(keyB64, 'base64');
    if (key.length === 0 || readKeyType(key) !== keyType) {
      problems.push({ line: i + 1, message: `key does not decode as ${keyType}` });
      continue;
    }
    const entry: KnownHostsEntry = { line: i + 1, patterns: [], keyType, key };
    if (marker) entry.marker = marker;
    if (hostField.startsWith('|1|')) {
      const [, , salt, hash] = hostField.split('|');
      const saltBuf = Buffer.from(salt ?? '', 'base64');
      const hashBuf = Buffer.from(hash ?? '', 'base64');
      if (saltBuf.length !== 20 || hashBuf.length !== 20) {
        problems.push({ line: i + 1, message: 'malformed hashed host entry' });
        continue;
      }
      entry.hashed = { salt: saltBuf, hash: hashBuf };
    } else {
      entry.patterns = hostField.split(',').filter(Boolean);
    }
    entries.push(entry);
  }
  return { entries, problems };
}

/** Reads the key type string at the start of an SSH public key blob (RFC 4253 `string`). */
export function readKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** `SHA256:<unpadded base64>` of a key blob, as `ssh-keygen -lf` and ssh print it. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The name a host is looked up and recorded by: `address` for port 22, else
 * `[address]:port`; lowercased, as ssh lowercases the host name before any lookup
 * (hashed entries are case-sensitive).
 */
export function knownHostsName(address: string, port: number): string {
  const host = address.toLowerCase();
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH `match_pattern`: `*` any run, `?` one char, case-insensitive for host names. */
function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .toLowerCase()
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    's',
  );
  return re.test(text.toLowerCase());
}

/**
 * True when `entry` applies to host `name` (see `knownHostsName`). Plain entries follow
 * OpenSSH `match_hostname`: any positive pattern matching and no `!pattern` matching.
 * Hashed entries compare HMAC-SHA1(salt, name).
 */
export function entryMatches(entry: KnownHostsEntry, name: string): boolean {
  if (entry.hashed) {
    const digest = createHmac('sha1', entry.hashed.salt).update(name).digest();
    return digest.equals(entry.hashed.hash);
  }
  let positive = false;
  for (const p of entry.patterns) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) positive = true;
  }
  return positive;
}

/** Outcome of checking a presented host key against known_hosts entries. */
export type HostKeyCheck =
  | { status: 'known'; entry: KnownHostsEntry }
  | { status: 'unknown' }
  | { status: 'changed'; entry: KnownHostsEntry }
  | { status: 'revoked'; entry: KnownHostsEntry };

/**
 * Checks `key` (raw blob) presented by host `name`: `revoked` when a matching `@revoked`
 * line holds it; `known` when a matching line holds it; `changed` when matching lines
 * exist but none holds it (the line of the same key type is reported first, else the
 * first matching line: like OpenSSH with its host-key-algorithm reordering, a host we
 * know under another key type counts as changed, never as new); else `unknown`.
 * `@cert-authority` lines are ignored (orch does not do host certificates).
 */
export function checkHostKey(entries: readonly KnownHostsEntry[], name: string, key: Buffer): HostKeyCheck {
  const matching = entries.filter((e) => e.marker !== 'cert-authority' && entryMatches(e, name));
  const revoked = matching.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = matching.filter((e) => e.marker === undefined);
  const known = plain.find((e) => e.key.equals(key));
  if (known) return { status: 'known', entry: known };
  const type = readKeyType(key);
  const other = plain.find((e) => e.keyType === type) ?? plain[0];
  if (other) return { status: 'changed', entry: other };
  return { status: 'unknown' };
}

/**
 * Key types already known for `name`, in file order, for ordering the host-key
 * algorithms offered (OpenSSH prefers algorithms it has keys for, so a host known by its
 * ECDSA key is not reported "changed" just because ed25519 is preferred by default).
 */
export function knownKeyTypes(entries: readonly KnownHostsEntry[], name: string): string[] {
  const types: string[] = [];
  for (const e of entries) if (e.marker === undefined && entryMatches(e, name) && !types.includes(e.keyType)) types.push(e.keyType);
  return types;
}

/** Decision of `decideHostKey`: accept (optionally recording the key), or refuse with a message. */
export type HostKeyDecision = { accept: true; record: boolean } | { accept: false; message: string };

/**
 * Applies a host-key policy to a check. Messages (exact):
 * - unknown + strict: `host key for NAME not in KNOWN_HOSTS; add it with ssh-keyscan, or set host_key_policy: accept-new`
 * - changed: `HOST KEY CHANGED for NAME (KEYTYPE SHA256:fp); known_hosts line N has a different key; possible man-in-the-middle — nothing was run`
 * - revoked: `host key for NAME (KEYTYPE SHA256:fp) is marked @revoked in known_hosts line N — nothing was run`
 * `off` accepts everything and records nothing. NAME is `knownHostsName(address, port)`.
 */
export function decideHostKey(check: HostKeyCheck, policy: HostKeyPolicy, ctx: { name: string; knownHostsFile: string; key: Buffer }): HostKeyDecision {
  if (policy === 'off') return { accept: true, record: false };
  const desc = `${readKeyType(ctx.key) ?? 'unknown-type'} ${fingerprintSha256(ctx.key)}`;
  switch (check.status) {
    case 'known':
      return { accept: true, record: false };
    case 'revoked':
      return { accept: false, message: `host key for ${ctx.name} (${desc}) is marked @revoked in known_hosts line ${check.entry.line} — nothing was run` };
    case 'changed':
      return {
        accept: false,
        message: `HOST KEY CHANGED for ${ctx.name} (${desc}); known_hosts line ${check.entry.line} has a different key; possible man-in-the-middle — nothing was run`,
      };
    case 'unknown':
      if (policy === 'accept-new') return { accept: true, record: true };
      return {
        accept: false,
        message: `host key for ${ctx.name} not in ${ctx.knownHostsFile}; add it with ssh-keyscan, or set host_key_policy: accept-new`,
      };
  }
}

/** Reads and parses a known_hosts file; a missing file is empty. Other read errors throw. */
export async function readKnownHosts(file: string): Promise<{ text: string; entries: KnownHostsEntry[] }> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return { text, entries: parseKnownHosts(text).entries };
}

/**
 * Formats a known_hosts line for `name` and `key`. `hashed` writes `|1|salt|hash` with a
 * fresh random salt (what ssh does with `HashKnownHosts yes`).
 */
export function formatKnownHostsLine(name: string, key: Buffer, hashed: boolean): string {
  const type = readKeyType(key) ?? 'unknown';
  let host = name;
  if (hashed) {
    const salt = randomBytes(20);
    host = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  }
  return `${host} ${type} ${key.toString('base64')}\n`;
}

/**
 * Records a newly accepted host key (policy `accept-new`) by appending one line.
 *
 * Appends with O_APPEND in a single write() rather than write-temp-and-rename: several
 * runs (or several hosts of one run) may record keys into the same file at once, and
 * rename would make the last writer silently drop the others' lines (lost update),
 * while an O_APPEND write of one short line lands whole at the end of the file; it also
 * keeps the file's inode, mode and any symlink pointing at it. A line is only ever
 * added, so a crash cannot corrupt existing entries. The line is hashed when every
 * existing entry of the file is hashed (the user evidently uses `HashKnownHosts yes`).
 * Creates the file (0600) and its folder (0700) when missing.
 */
export async function appendKnownHost(file: string, name: string, key: Buffer): Promise<void> {
  const { text, entries } = await readKnownHosts(file);
  const hashed = entries.length > 0 && entries.every((e) => e.hashed !== undefined);
  const sep = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT, 0o600);
  try {
    await fh.write(sep + formatKnownHostsLine(name, key, hashed));
  } finally {
    await fh.close();
  }
}
