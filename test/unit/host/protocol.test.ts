/**
 * The host protocol (src/host/protocol.ts): protocol.sh carries exactly its values to the
 * host; every line type is printed by the host libraries under real bash and read back by
 * the parser; and no copy of its values lives anywhere else in src/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_SH, PRELUDE_SH, PROTOCOL_SH, ROLLBACK_SH, SWITCH_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { EXIT, formatLine, LIMITS, LINE_TYPES, LOCK, MARK, parseLine, protocolLines, protocolShellText, withoutProtocolLines, type ProtocolLine } from '../../../src/host/protocol.js';
import { runBash } from '../../harness/bash.js';

const SRC = new URL('../../../src/', import.meta.url).pathname;

describe('protocol.sh', () => {
  it('is what protocolShellText writes, and bash reads every value as protocol.ts has it', () => {
    expect(readFileSync(join(SRC, 'host/protocol.sh'), 'utf8')).toBe(protocolShellText());
    const names = [...Object.keys(EXIT).map((k) => `ORCH_EXIT_${k}`), ...Object.keys(LIMITS).map((k) => `ORCH_${k}`), 'ORCH_LOCK_FILE', 'ORCH_LOCK_INFO', 'ORCH_MARK'];
    const r = runBash([], names.map((n) => `printf '%s\\n' "$${n}"`).join('\n'));
    expect(r.stdout.split('\n').slice(0, -1)).toEqual([...Object.values(EXIT), ...Object.values(LIMITS), LOCK.FILE, LOCK.INFO, MARK].map(String));
  });
  it('b64 prints one line of base64 of any bytes', () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
    const r = runBash([], 'b64', [], { stdin: bytes });
    expect(r.stdout).toBe(bytes.toString('base64'));
  });
  it('comes first in every task script (embedded as PROTOCOL_SH)', () => {
    expect(PROTOCOL_SH).toContain(`ORCH_EXIT_LOCKED=${EXIT.LOCKED}\n`);
  });
});

describe('output lines', () => {
  const samples: ProtocolLine[] = [
    { type: 'status', status: 'ok' }, { type: 'status', status: 'changed' }, { type: 'status', status: 'skipped' },
    { type: 'pruned', version: '1.0.0+g1a2b3c4', sha256: 'a'.repeat(64) }, { type: 'pruned', version: '0.9' },
    { type: 'rolledback', version: '1.0.0' }, { type: 'target', version: '1.1.0' },
    { type: 'started' }, { type: 'locked' }, { type: 'end' }, { type: 'stopped' }, { type: 'speculating' }, { type: 'speculated' },
  ];
  it('every line type formats and parses back (the samples cover each type)', () => {
    expect([...new Set(samples.map((s) => s.type))]).toEqual([...LINE_TYPES]);
    for (const s of samples) expect(parseLine(formatLine(s))).toEqual(s);
  });
  it('a step\'s own output is not a protocol line', () => {
    for (const text of ['status=ok', '::orch::status=ok', '::orch:: status=done', '::orch:: pruned=1.0', '::orch:: rolledback=', '::orch:: nonsense', ' ::orch:: end', '::orch:: end ']) {
      expect(parseLine(text), text).toBeUndefined();
    }
    expect(withoutProtocolLines('a\n::orch:: status=ok\nb\n::orch:: end')).toBe('a\nb\n');
  });
  it('the host libraries print each type the parser reads (real bash)', () => {
    const status = runBash([PRELUDE_SH], 'orch_status ok; orch_status changed; orch_status skipped');
    expect(protocolLines(status.stdout)).toEqual(samples.slice(0, 3));
    // rollback.sh prints target= and rolledback= around a real switch of `current`.
    const root = runBash([], 'mktemp -d').stdout.trim();
    const rb = runBash([PRELUDE_SH, VERSIONS_SH, SWITCH_SH, ROLLBACK_SH], [
      'r=$1; mkdir -p "$r/versions/1.0.0" "$r/versions/1.1.0"; : > "$r/versions/1.0.0/.orch-installed"; : > "$r/versions/1.1.0/.orch-installed"',
      'ln -s versions/1.1.0 "$r/current"; ln -s versions/1.0.0 "$r/previous"',
      'orch_rollback "$r" "" "" ""',
    ].join('\n'), [root]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(protocolLines(rb.stdout).map((l) => l.type)).toContain('target');
    // Every `::orch:: KEY` the .sh files print is a type the parser knows.
    const printed = new Set<string>();
    for (const f of readdirSync(join(SRC, 'host')).filter((n) => n.endsWith('.sh'))) {
      for (const m of readFileSync(join(SRC, 'host', f), 'utf8').matchAll(/^[^#\n]*['"]::orch:: ([a-z]+)/gm)) printed.add(m[1]!);
    }
    expect([...printed].sort()).toEqual([...LINE_TYPES].sort());
    expect(AGENT_SH).toContain("echo '::orch:: locked'");
  });
});

describe('no copies of the protocol elsewhere in src/', () => {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|sh)$/.test(e.name) && !/(^protocol\.(ts|sh)|\.generated\.ts)$/.test(e.name)) files.push(p);
    }
  };
  walk(SRC);
  /** Code lines only: whole-line comments (`#`, `//`, ` * `) may name a value. */
  const code = (text: string): string[] => text.split('\n').filter((l) => !/^\s*(#|\/\/|\/?\*)/.test(l));
  const STRAY: [string, RegExp][] = [
    ['an exit code of the protocol', /\b(exit|return|rc\s*[=!]==?|rc=|code\s*[=!]==?|EXIT\s*=)\s*"?(75|76|99)\b/],
    // Any other spelling (`exitCode === 76`, `[75, 99].includes(rc)`): the number itself, outside a longer number or name.
    ['an exit code of the protocol as a number', /(?<![\w.])(75|76|99)(?![\w.])/],
    ['a read limit', /\b(1048576|262144)\b|=\s*(1024 \* 1024|256 \* 1024);/],
    ['the lock path', /\.orch\/lock\b/],
    ['a b64 definition', /\bb64\s*\(\)\s*\{|base64 -w0/],
    // A user's command wrapped as a function (orch_cmd, as userFunction in src/steps/ does) is data, not a library function.
    ['a bash function in a TS string', /`[^`]*\b(?!orch_cmd\b)[a-z_]+\(\) \{/],
  ];
  it('finds files to check', () => {
    expect(files.length).toBeGreaterThan(50);
  });
  it.each(STRAY)('%s appears only in src/host/protocol.ts', (_what, re) => {
    const hits: string[] = [];
    for (const f of files) {
      code(readFileSync(f, 'utf8')).forEach((l) => {
        if (re.test(l)) hits.push(`${f.slice(SRC.length)}: ${l.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });
});
