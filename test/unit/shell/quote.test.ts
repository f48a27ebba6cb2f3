import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { quote } from '../../../src/shell/quote.js';

/** A simple command line: every word quoted. */
const cmd = (...words: string[]): string => words.map(quote).join(' ');

const dir = mkdtempSync(join(tmpdir(), 'orch-quote-'));
const SENTINEL = join(dir, 'SENTINEL');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// A sentinel left by a failing case must not fail the cases after it.
afterEach(() => rmSync(SENTINEL, { force: true }));

/** Hostile values: each must come out of the shell exactly as it went in, and never run anything. */
const corpus: string[] = [
  '',
  ' ',
  '  leading and trailing  ',
  'plain',
  '/srv/app/current',
  ';',
  `; touch ${SENTINEL}`,
  `&& touch ${SENTINEL}`,
  `|| touch ${SENTINEL}`,
  `| touch ${SENTINEL}`,
  `& touch ${SENTINEL} &`,
  `$(touch ${SENTINEL})`,
  `\`touch ${SENTINEL}\``,
  `"$(touch ${SENTINEL})"`,
  `'$(touch ${SENTINEL})'`,
  `'; touch ${SENTINEL}; '`,
  `"; touch ${SENTINEL}; "`,
  `\\'; touch ${SENTINEL}; echo \\'`,
  `-oProxyCommand=touch ${SENTINEL}`,
  `--rsh=touch ${SENTINEL}`,
  '-n',
  '-e',
  '--',
  '-',
  `a\ntouch ${SENTINEL}\n`,
  '\n',
  'line1\r\nline2\r',
  'tab\there\t',
  "it's",
  "'",
  "''",
  "'''",
  '"',
  '"double" and \'single\'',
  '\\',
  '\\\\',
  'back\\slash\\n',
  'trailing backslash\\',
  '$HOME',
  '${HOME}',
  '$((1+1))',
  '$1 $@ $* $# $? $$ $!',
  '*',
  '?',
  '[a]',
  '[!a]*',
  '~',
  '~root',
  '~/x',
  '{a,b}',
  '{1..3}',
  '!',
  '!!',
  '!$',
  '#not a comment',
  'a #comment',
  '%s %d %%',
  '>out <in 2>&1',
  `> ${SENTINEL}`,
  'a=b',
  'PATH=/evil',
  '=cmd',
  'x=$(id)',
  'héllo wörld',
  '日本語のテキスト',
  'مرحبا بالعالم',
  'abc\u202edcba\u202c', // RTL override
  '\u200b\u200d\ufeff', // zero-width and BOM
  '😀🚀👩‍👩‍👧',
  '\x01\x02\x1b[31mred\x1b[0m\x7f',
  'ÿþý',
  'a'.repeat(50_000),
  `${"'".repeat(2000)}$(touch ${SENTINEL})`,
  'mixed \'single\' "double" `back` $(sub) ${var} \\ \n end',
  'if true; then touch x; fi',
  ')',
  '(',
  '}',
  '{ ',
  'EOF\nEOF',
  '\x0b\x0c',
];

function runShell(shell: string, script: string): Buffer {
  const r = spawnSync(shell, ['-c', script], { cwd: dir, maxBuffer: 10_000_000 });
  if (r.status !== 0) throw new Error(`${shell} exited ${r.status}: ${r.stderr.toString()}`);
  return r.stdout;
}

describe('quote', () => {
  it('has a corpus of at least 50 hostile strings', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(50);
  });

  it.each(corpus.map((s, i) => [i, JSON.stringify(s).slice(0, 60), s] as const))(
    'round-trips #%i %s byte-exact through bash -c and dash -c',
    (_i, _label, value) => {
      const script = `printf %s ${quote(value)}`;
      expect(runShell('bash', script).equals(Buffer.from(value, 'utf8'))).toBe(true);
      expect(runShell('sh', script).equals(Buffer.from(value, 'utf8'))).toBe(true);
      expect(existsSync(SENTINEL)).toBe(false);
    },
  );

  it('passes every corpus value as exactly one argument (cmd)', () => {
    const out = runShell('bash', cmd('printf', '%s\\0', ...corpus.filter((s) => s !== '')));
    expect(out.toString('utf8').split('\0').slice(0, -1)).toEqual(corpus.filter((s) => s !== ''));
    expect(existsSync(SENTINEL)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    ['', "''"],
    ['plain', 'plain'],
    ['/srv/shop-blue/releases', '/srv/shop-blue/releases'],
    ['user@host:22,x+y%z', 'user@host:22,x+y%z'],
    ['--prefix=/usr', '--prefix=/usr'],
    ['-n', '-n'],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ['$HOME', "'$HOME'"],
    ['*', "'*'"],
    ['~', "'~'"],
    ['FOO=bar', "'FOO=bar'"],
    ['_x1=', "'_x1='"],
    ['=cmd', "'=cmd'"],
    ['héllo', "'héllo'"],
    ['a\nb', "'a\nb'"],
  ])('quote(%j) === %j', (value, expected) => {
    expect(quote(value)).toBe(expected);
  });

  it('refuses a NUL byte with a clear error', () => {
    expect(() => quote('ab\0cd')).toThrow('cannot quote a value containing a NUL byte (at offset 2) for the shell');
    expect(() => cmd('echo', 'ok', '\0')).toThrow('cannot quote a value containing a NUL byte (at offset 0) for the shell');
  });

  it('leaves an assignment-shaped word quoted, so it runs as a command instead of assigning', () => {
    const r = spawnSync('bash', ['-c', `${quote('FOO=bar')} 2>&1; echo "[$FOO]"`], { cwd: dir });
    expect(r.stdout.toString()).toMatch(/FOO=bar: command not found\n\[\]\n$/);
  });
});
