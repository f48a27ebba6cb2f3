import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/model/errors.js';
import { decryptAge, encryptAge, findRecipientsFile, identityPath, parseRecipients, recipientsFor } from '../../src/secrets/age.js';
import * as age from 'age-encryption';

describe('age recipients and identities', () => {
  it('parses .orch-recipients with comments; a bad line is an error with its line number', () => {
    const r = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
    expect(parseRecipients(`# team\n\n${r} # alice\n`, 'f')).toEqual([r]);
    try {
      parseRecipients(`${r}\nssh-ed25519 AAAA\n`, '/x/.orch-recipients');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).diagnostics[0]).toMatchObject({ file: '/x/.orch-recipients', line: 2 });
    }
  });

  it('finds the nearest .orch-recipients above the file; none is an error naming the file', () => {
    const d = mkdtempSync(join(tmpdir(), 'orch-rcp-'));
    mkdirSync(join(d, 'a/b'), { recursive: true });
    expect(() => recipientsFor(join(d, 'a/b/s.age'))).toThrow(/s\.age/);
    writeFileSync(join(d, 'a/.orch-recipients'), 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n');
    expect(findRecipientsFile(join(d, 'a/b'))).toBe(join(d, 'a/.orch-recipients'));
    expect(recipientsFor(join(d, 'a/b/s.age'))).toHaveLength(1);
  });

  it('identity path: flag, then ORCH_AGE_IDENTITY, then ~/.config/orch/age.txt', () => {
    expect(identityPath('/f', { ORCH_AGE_IDENTITY: '/e' })).toBe('/f');
    expect(identityPath(undefined, { ORCH_AGE_IDENTITY: '/e' })).toBe('/e');
    expect(identityPath(undefined, {})).toMatch(/\.config\/orch\/age\.txt$/);
  });

  it('a wrong identity fails naming the file, without the plaintext', async () => {
    const [a, b] = [await age.generateX25519Identity(), await age.generateX25519Identity()];
    const enc = await encryptAge('k: v-secret\n', [await age.identityToRecipient(a)]);
    expect(Buffer.from(await decryptAge(enc, [a], 's.age')).toString()).toBe('k: v-secret\n');
    const err = await decryptAge(enc, [b], 'prod/s.age').then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/prod\/s\.age/);
    expect(err?.message).not.toContain('v-secret');
    await expect(decryptAge(Buffer.from('k: v\n'), [a], 'plain.yml')).rejects.toThrow(/plain\.yml is not an age-encrypted file/);
  });
});
