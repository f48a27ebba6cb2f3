import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  decideHostKey,
  entryMatches,
  fingerprintSha256,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  readKeyType,
} from '../../../src/transport/known-hosts.js';

// Keys and hashed lines come from the real ssh-keygen; lookups are cross-checked with `ssh-keygen -F`.
let dir: string;
const keys: Record<string, { type: string; b64: string; blob: Buffer; pubFile: string }> = {};

function keygen(name: string, type: string): void {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  const [t, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/) as [string, string];
  keys[name] = { type: t, b64, blob: Buffer.from(b64, 'base64'), pubFile: `${file}.pub` };
}

function key(name: string): { type: string; b64: string; blob: Buffer; pubFile: string } {
  const k = keys[name];
  if (!k) throw new Error(`no key ${name}`);
  return k;
}

/** Line numbers `ssh-keygen -F NAME` reports for a known_hosts file (its own matcher, incl. hashed). */
function sshKeygenFind(file: string, name: string): number[] {
  try {
    const out = execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' });
    return [...out.matchAll(/^# Host .* found: line (\d+)/gm)].map((m) => Number(m[1]));
  } catch {
    return []; // exit 1 = not found
  }
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'orch-kh-'));
  keygen('a', 'ed25519');
  keygen('b', 'ed25519');
  keygen('c', 'ecdsa');
  keygen('r', 'rsa');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseKnownHosts', () => {
  it('parses plain, [host]:port, comma lists, markers and comments, reporting malformed lines', () => {
    const a = key('a');
    const c = key('c');
    const text = [
      '# comment',
      '',
      `10.0.0.1,web1 ${a.type} ${a.b64} a comment`,
      `[10.0.0.2]:2222 ${c.type} ${c.b64}`,
      `@revoked * ${a.type} ${a.b64}`,
      'garbage-line-without-key',
      `10.0.0.3 ssh-rsa ${a.b64}`,
      `@bogus 10.0.0.4 ${a.type} ${a.b64}`,
    ].join('\n');
    const { entries, problems } = parseKnownHosts(text);
    expect(entries.map((e) => ({ line: e.line, marker: e.marker, patterns: e.patterns, keyType: e.keyType }))).toEqual([
      { line: 3, marker: undefined, patterns: ['10.0.0.1', 'web1'], keyType: 'ssh-ed25519' },
      { line: 4, marker: undefined, patterns: ['[10.0.0.2]:2222'], keyType: 'ecdsa-sha2-nistp256' },
      { line: 5, marker: 'revoked', patterns: ['*'], keyType: 'ssh-ed25519' },
    ]);
    expect(entries[0]!.key.equals(a.blob)).toBe(true);
    expect(problems).toEqual([
      { line: 6, message: 'expected "HOSTS KEYTYPE BASE64KEY"' },
      { line: 7, message: 'key does not decode as ssh-rsa' },
      { line: 8, message: 'unknown marker @bogus' },
    ]);
  });

  it('reads the key type from the blob', () => {
    expect(readKeyType(key('a').blob)).toBe('ssh-ed25519');
    expect(readKeyType(key('r').blob)).toBe('ssh-rsa');
    expect(readKeyType(Buffer.from([0, 0]))).toBeUndefined();
  });
});

describe('fingerprintSha256', () => {
  it.each(['a', 'c', 'r'])('matches ssh-keygen -lf for key %s', (name) => {
    const k = key(name);
    const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', k.pubFile], { encoding: 'utf8' });
    expect(out.split(' ')[1]).toBe(fingerprintSha256(k.blob));
  });
});

describe('matching, plain and hashed, against ssh-keygen -F', () => {
  let plainFile: string;
  let hashedFile: string;
  beforeAll(() => {
    const a = key('a');
    const b = key('b');
    const c = key('c');
    const plain = [
      `10.0.0.1 ${a.type} ${a.b64}`,
      `[10.0.0.2]:2222 ${b.type} ${b.b64}`,
      `web1,web2.example.com ${c.type} ${c.b64}`,
      `*.internal,!secret.internal ${a.type} ${a.b64}`,
      `db?.lan ${b.type} ${b.b64}`,
    ].join('\n');
    plainFile = path.join(dir, 'kh-plain');
    writeFileSync(plainFile, `${plain}\n`);
    hashedFile = path.join(dir, 'kh-hashed');
    // ssh-keygen -H hashes plain names; wildcard/negated lines are left as they are.
    writeFileSync(hashedFile, `${plain}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', hashedFile], { stdio: 'ignore' });
  });

  const cases: [string, string, number][] = [
    ['10.0.0.1 on 22', '10.0.0.1', 22],
    ['10.0.0.1 on 2222 (not listed)', '10.0.0.1', 2222],
    ['10.0.0.2 on 2222', '10.0.0.2', 2222],
    ['10.0.0.2 on 22 (only [host]:2222 listed)', '10.0.0.2', 22],
    ['second name of a comma list', 'web2.example.com', 22],
    ['case-insensitive name', 'WEB1', 22],
    ['wildcard', 'app.internal', 22],
    ['negated pattern', 'secret.internal', 22],
    ['? wildcard', 'db1.lan', 22],
    ['unknown', '10.9.9.9', 22],
  ];

  it.each(cases)('%s', (_label, address, port) => {
    const name = knownHostsName(address, port);
    for (const file of [plainFile, hashedFile]) {
      const { entries } = parseKnownHosts(readFileSync(file, 'utf8'));
      const ours = entries.filter((e) => entryMatches(e, name)).map((e) => e.line);
      // ssh-keygen -F lowercases the name it looks up, like ssh does before matching.
      expect(ours).toEqual(sshKeygenFind(file, name.toLowerCase()));
    }
  });

  it('the hashed file really is hashed (one hashed line per name; wildcard lines stay plain)', () => {
    const { entries } = parseKnownHosts(readFileSync(hashedFile, 'utf8'));
    expect(entries.map((e) => (e.hashed ? 'hashed' : e.patterns.join(',')))).toEqual(['hashed', 'hashed', 'hashed', 'hashed', '*.internal,!secret.internal', 'db?.lan']);
    expect(readFileSync(hashedFile, 'utf8')).not.toMatch(/10\.0\.0\.1|web1/);
  });
});

describe('checkHostKey + decideHostKey', () => {
  const text = (): string => {
    const a = key('a');
    const c = key('c');
    const r = key('r');
    return [`10.0.0.1 ${a.type} ${a.b64}`, `10.0.0.5 ${c.type} ${c.b64}`, `10.0.0.5 ${r.type} ${r.b64}`, `@revoked 10.0.0.7 ${a.type} ${a.b64}`, `10.0.0.7 ${a.type} ${a.b64}`].join('\n');
  };
  const ctx = (name: string, k: Buffer) => ({ name, knownHostsFile: '/home/u/.ssh/known_hosts', key: k });

  it.each([
    ['known key', '10.0.0.1', 'a', 'strict', { accept: true, record: false }],
    ['unknown host, strict', '10.0.0.9', 'a', 'strict', { accept: false, message: 'host key for 10.0.0.9 not in /home/u/.ssh/known_hosts; add it with ssh-keyscan, or set host_key_policy: accept-new' }],
    ['unknown host, accept-new', '10.0.0.9', 'a', 'accept-new', { accept: true, record: true }],
    ['unknown host, off', '10.0.0.9', 'a', 'off', { accept: true, record: false }],
    ['changed key, strict', '10.0.0.1', 'b', 'strict', 'changed:1'],
    ['changed key, accept-new', '10.0.0.1', 'b', 'accept-new', 'changed:1'],
    ['changed key, off', '10.0.0.1', 'b', 'off', { accept: true, record: false }],
    ['a second known key type', '10.0.0.5', 'r', 'strict', { accept: true, record: false }],
    ['same type as line 2 but other key', '10.0.0.5', 'b', 'strict', 'changed:2'],
    ['revoked beats known', '10.0.0.7', 'a', 'accept-new', 'revoked:4'],
  ] as const)('%s', (_label, host, keyName, policy, expected) => {
    const k = key(keyName);
    const { entries } = parseKnownHosts(text());
    const d = decideHostKey(checkHostKey(entries, host, k.blob), policy, ctx(host, k.blob));
    if (typeof expected === 'string') {
      const [kind, line] = expected.split(':');
      const msg =
        kind === 'changed'
          ? `HOST KEY CHANGED for ${host} (${k.type} ${fingerprintSha256(k.blob)}); known_hosts line ${line} has a different key; possible man-in-the-middle — nothing was run`
          : `host key for ${host} (${k.type} ${fingerprintSha256(k.blob)}) is marked @revoked in known_hosts line ${line} — nothing was run`;
      expect(d).toEqual({ accept: false, message: msg });
    } else {
      expect(d).toEqual(expected);
    }
  });

  it('lists known key types for algorithm ordering', () => {
    const { entries } = parseKnownHosts(text());
    expect(knownKeyTypes(entries, '10.0.0.5')).toEqual(['ecdsa-sha2-nistp256', 'ssh-rsa']);
    expect(knownKeyTypes(entries, '10.0.0.9')).toEqual([]);
  });
});

describe('appendKnownHost', () => {
  it('creates the file and appends plain lines that ssh-keygen -F finds, fixing a missing final newline', async () => {
    const file = path.join(dir, 'sub', 'kh-append');
    await appendKnownHost(file, '10.1.0.1', key('a').blob);
    writeFileSync(file, readFileSync(file, 'utf8').trimEnd()); // drop the final newline
    await appendKnownHost(file, '[10.1.0.2]:2200', key('c').blob);
    expect(readFileSync(file, 'utf8')).toBe(`10.1.0.1 ssh-ed25519 ${key('a').b64}\n[10.1.0.2]:2200 ecdsa-sha2-nistp256 ${key('c').b64}\n`);
    expect(sshKeygenFind(file, '[10.1.0.2]:2200')).toEqual([2]);
  });

  it('writes a hashed line when every existing entry is hashed', async () => {
    const file = path.join(dir, 'kh-append-hashed');
    writeFileSync(file, `10.2.0.1 ${key('a').type} ${key('a').b64}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    await appendKnownHost(file, '10.2.0.2', key('b').blob);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('10.2.0.2');
    expect(sshKeygenFind(file, '10.2.0.2')).toEqual([2]);
    const { entries } = parseKnownHosts(text);
    expect(checkHostKey(entries, '10.2.0.2', key('b').blob)).toEqual({ status: 'known', entry: entries[1] });
  });
});
