import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../src/engine/events.js';
import { colorEnabled, makePalette } from '../../../src/ui/color.js';
import { errorHeadline, formatStepFailure, tailLines } from '../../../src/ui/failure.js';
import { LinesRenderer } from '../../../src/ui/lines.js';
import { StatusLine } from '../../../src/ui/progress.js';
import { formatElapsed } from '../../../src/ui/tty.js';

type StepEnd = Extract<EngineEvent, { type: 'step-end' }>;
const failed = (over: Partial<StepEnd> = {}): StepEnd => ({
  type: 'step-end', host: 'web1', phase: 0, node: 'shop', step: 2, name: 'migrate db', status: 'failed', ms: 120, exitCode: 1,
  error: 'exit 1: boom', ...over,
});

describe('colour decision', () => {
  it.each([
    [true, {}, false, true],
    [false, {}, false, false],
    [true, { NO_COLOR: '1' }, false, false],
    [true, { NO_COLOR: '' }, false, true],
    [false, { FORCE_COLOR: '1' }, false, true],
    [true, { FORCE_COLOR: '0' }, false, true],
    [false, { FORCE_COLOR: '0' }, false, false],
    [true, { FORCE_COLOR: '1', NO_COLOR: '1' }, false, true],
    [true, { FORCE_COLOR: '1' }, true, false],
    [true, { TERM: 'dumb' }, false, false],
  ])('tty=%s env=%j --no-color=%s -> %s', (tty, env, flag, want) => {
    expect(colorEnabled(tty, env as NodeJS.ProcessEnv, flag)).toBe(want);
  });

  it('a disabled palette leaves text byte-exact; an enabled one adds SGR codes', () => {
    expect(makePalette(false).change('~ x')).toBe('~ x');
    expect(makePalette(true).fail('x')).toBe('\x1b[31mx\x1b[39m');
  });
});

describe('failure block', () => {
  it('shows label, exit code, the last 20 lines of stderr and of stdout, indented under the host', () => {
    const stderr = ['Traceback (most recent call last):', '  File "<string>", line 1, in <module>', 'ValueError: no such table: users'].join('\n');
    const stdout = Array.from({ length: 25 }, (_, i) => `line ${i + 1}`).join('\n');
    const text = formatStepFailure(failed({ stderr, stdout, label: 'run migrate --all' }));
    expect(text).toBe([
      'web1: run migrate --all: failed',
      '    exit 1',
      '    stderr:',
      '      Traceback (most recent call last):',
      '        File "<string>", line 1, in <module>',
      '      ValueError: no such table: users',
      '    stdout (last 20 of 25 lines):',
      ...Array.from({ length: 20 }, (_, i) => `      line ${i + 6}`),
      '',
    ].join('\n'));
    expect(formatStepFailure(failed({ stderr: 'x' }), undefined, { withNode: true })).toBe('web1: shop: migrate db: failed\n    exit 1\n    stderr:\n      x\n');
  });

  it('a step without output (connection lost) shows the error instead', () => {
    const e = failed({ exitCode: undefined, error: 'connection lost\nread ECONNRESET' });
    expect(formatStepFailure(e)).toBe('web1: migrate db: failed\n    connection lost\n    read ECONNRESET\n');
    expect(formatStepFailure(failed())).toBe('web1: migrate db: failed\n    exit 1\n');
  });

  it('tailLines ignores trailing newlines and CRLF', () => {
    expect(tailLines('a\r\nb\n\n', 1)).toEqual({ lines: ['b'], total: 2 });
  });

  it.each([
    ['shop: migrate db: exit 1: Traceback (most recent call last):\n  File "x"\nValueError: no such table', 'shop: migrate db: exit 1: ValueError: no such table'],
    ['connection refused', 'connection refused'],
    ['a: b: timed out after 5 s: x\ny', 'a: b: timed out after 5 s: y'],
    ['first\nsecond', 'first ... second'],
  ])('errorHeadline(%j) = %j', (input, want) => {
    expect(errorHeadline(input)).toBe(want);
  });
});

describe('plain renderer', () => {
  const run = (verbose: boolean): string => {
    let out = '';
    const r = new LinesRenderer((s) => void (out += s), false, { verbose });
    r.onEvent({ type: 'step-end', host: 'h1', phase: 0, node: 'app', step: 0, name: 'run {{x}}', label: 'run make', status: 'changed', ms: 1500, stdout: 'built', stderr: 'warning: y' });
    r.onEvent(failed({ stderr: 'bad' }));
    return out;
  };
  it('shows the rendered label, and each failure block; --verbose adds every step\'s output', () => {
    expect(run(false)).toBe('h1: run make: changed (1.5 s)\nweb1: migrate db: failed\n    exit 1\n    stderr:\n      bad\n');
    expect(run(true)).toBe('h1: run make: changed (1.5 s)\n    stderr:\n      warning: y\n    stdout:\n      built\nweb1: migrate db: failed\n    exit 1\n    stderr:\n      bad\n');
  });
});

describe('status line', () => {
  it('draws in place, truncated to the width, and clear() erases it; disabled writes nothing', () => {
    const writes: string[] = [];
    const s = new StatusLine({ isTTY: true, columns: 20, write: (t) => (writes.push(t), true) });
    s.set('Reading the state of 300 hosts: 12 of 300 done');
    s.clear();
    expect(writes[0]).toMatch(/^\r. Reading the state\x1b\[K$/);
    expect([...writes[0]!.replace('\x1b[K', '')].length).toBe(20);
    expect(writes[writes.length - 1]).toBe('\r\x1b[K');
    const none: string[] = [];
    const off = new StatusLine({ isTTY: false, write: (t) => (none.push(t), true) });
    off.set('x');
    off.clear();
    expect(none).toEqual([]);
  });

  it('formatElapsed', () => {
    expect(formatElapsed(999)).toBe('0 s');
    expect(formatElapsed(65_000)).toBe('1 m 05 s');
  });
});
