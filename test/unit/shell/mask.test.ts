import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MASK, MIN_SECRET_LENGTH, Masker, SecretTooShortError } from '../../../src/shell/mask.js';
import { quote } from '../../../src/shell/quote.js';

function masker(...secrets: string[]): Masker {
  const m = new Masker();
  for (const s of secrets) m.add(s);
  return m;
}

describe('Masker.mask', () => {
  it.each([
    ['raw', ['hunter2'], 'password is hunter2, again hunter2', 'password is ***, again ***'],
    ['at start and end', ['s3cr3t'], 's3cr3t-middle-s3cr3t', '***-middle-***'],
    ['longest first', ['abcd', 'abcdefgh'], 'abcdefgh abcd abcdefg', '*** *** ***efg'],
    ['longest first, added in the other order', ['abcdefgh', 'abcd'], 'abcdefgh abcd', '*** ***'],
    ['inside a longer word: the whole secret, never a part of it', ['password'], 'passwords: password1, passwor', '***s: ***1, passwor'],
    ['overlapping occurrences become one mask', ['aaaa'], 'xaaaaay', 'x***y'],
    ['touching occurrences become one mask', ['hunter2'], 'hunter2hunter2 hunter2', '*** ***'],
    ['two secrets sharing characters become one mask', ['abcdef', 'defghi'], '<abcdefghi>', '<***>'],
    ['regex metacharacters are literal', ['a.b*c(['], 'a.b*c([ aXbbbc([', '*** aXbbbc(['],
    ['empty secret ignored', [''], 'nothing to hide', 'nothing to hide'],
    ['no secrets', [], 'text', 'text'],
    ['unicode', ['pässwörd🔑'], 'pw=pässwörd🔑.', 'pw=***.'],
  ])('%s', (_name, secrets, text, expected) => {
    expect(masker(...secrets).mask(text)).toBe(expected);
  });

  it('masks the quote()d form of a secret as it appears in a script', () => {
    const secret = "it's a secret";
    const script = `curl -u ${quote(secret)} https://example.test`;
    expect(script).toBe(`curl -u 'it'\\''s a secret' https://example.test`);
    expect(masker(secret).mask(script)).toBe('curl -u *** https://example.test');
  });

  it('masks the JSON-escaped form of a secret as it appears in a saved plan or event line', () => {
    const secret = 'line1\n"quoted"\\tab\t';
    const json = JSON.stringify({ script: `echo ${secret} done` });
    expect(json).not.toContain(secret);
    const masked = masker(secret).mask(json);
    expect(masked).toBe('{"script":"echo *** done"}');
    expect(JSON.parse(masked)).toEqual({ script: 'echo *** done' });
  });

  it('masks a secret that bash printed back after receiving it quoted', () => {
    const secret = `p@ss w'rd $(id) "x"`;
    const r = spawnSync('bash', ['-c', `echo "login with" ${quote(secret)} >&2; echo ok`]);
    expect(masker(secret).mask(r.stderr.toString())).toBe('login with ***\n');
  });

  it('picks up secrets added after a first mask() call', () => {
    const m = masker('first');
    expect(m.mask('first second')).toBe('*** second');
    m.add('second');
    expect(m.mask('first second')).toBe('*** ***');
  });

  it.each([['x'], ['ab'], ['abc']])('refuses the %j secret, shorter than 4 characters', (secret) => {
    const m = new Masker();
    expect(() => m.add(secret)).toThrow(SecretTooShortError);
    expect(() => m.add(secret)).toThrow(
      `a secret value is ${secret.length} character${secret.length === 1 ? '' : 's'} long; a secret needs at least 4 characters (a shorter value cannot be masked without garbling every message)`,
    );
    expect(m.size).toBe(0);
    expect(m.mask('exactly')).toBe('exactly');
    expect(MIN_SECRET_LENGTH).toBe(4);
  });

  it('counts distinct non-empty secrets in size', () => {
    const m = masker('a1b2', 'a1b2', '', 'b2c3');
    expect(m.size).toBe(2);
    expect(MASK).toBe('***');
  });
});

describe('Masker.maskDeep', () => {
  it('masks strings inside plain objects and arrays and keeps everything else', () => {
    const when = new Date(0);
    const input = {
      planVersion: 1,
      token: 'tok-123',
      nested: { list: ['a tok-123 b', 42, null, true, { deeper: 'tok-123' }], when },
      'tok-123': 'keys are kept',
    };
    const out = masker('tok-123').maskDeep(input);
    expect(out).toEqual({
      planVersion: 1,
      token: '***',
      nested: { list: ['a *** b', 42, null, true, { deeper: '***' }], when },
      'tok-123': 'keys are kept',
    });
    expect(out.nested.when).toBe(when);
    // the input is not modified
    expect(input.token).toBe('tok-123');
    expect(input.nested.list[0]).toBe('a tok-123 b');
  });

  it('masks a top-level string and returns other top-level values as they are', () => {
    const m = masker('pw-1');
    expect(m.maskDeep('my pw-1')).toBe('my ***');
    expect(m.maskDeep(7)).toBe(7);
    expect(m.maskDeep(undefined)).toBeUndefined();
  });

  it('preserves shared references and cycles', () => {
    type Node = { name: string; self?: Node; shared?: string[] };
    const shared = ['pw-1'];
    const a: Node = { name: 'pw-1', shared };
    a.self = a;
    const out = masker('pw-1').maskDeep({ a, b: shared });
    expect(out.a.name).toBe('***');
    expect(out.a.self).toBe(out.a);
    expect(out.b).toBe(out.a.shared);
    expect(out.b).toEqual(['***']);
  });
});
