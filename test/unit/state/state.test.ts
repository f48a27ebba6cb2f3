import { describe, expect, it } from 'vitest';
import { markBad, nextState, parseRegistry, parseState, type AppState } from '../../../src/state/state.js';
import { compareVersions, formatQueryTable, parseQueryOutput } from '../../../src/state/query.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const at = '2026-01-01T00:00:00.000Z';
const by = 'ops@ctl';

describe('nextState', () => {
  it.each([
    ['install keeps current/previous', { current: '1', previous: null }, 'install', '2', { current: '1', previous: null }],
    ['switch moves current to previous', { current: '1', previous: null }, 'switch', '2', { current: '2', previous: '1' }],
    ['switch to the current version changes nothing', { current: '2', previous: '1' }, 'switch', '2', { current: '2', previous: '1' }],
    ['rollback swaps', { current: '2', previous: '1' }, 'rollback', '1', { current: '1', previous: '2' }],
  ] as const)('%s', (_n, prev, action, version, want) => {
    const s0: AppState = { app: 'a', root: '/r', ...prev, history: [] };
    const s1 = nextState(s0, { action, app: 'a', root: '/r', version, sha256: 'x', at, by });
    expect({ current: s1.current, previous: s1.previous }).toEqual(want);
    expect(s1.history).toEqual([{ version, sha256: 'x', action, at, by }]);
    expect(s0.history).toEqual([]);
  });

  it('starts from the host\'s current link when state.json is missing', () => {
    const s = nextState(undefined, { action: 'switch', app: 'a', root: '/r', version: '2', sha256: 'x', at, by, currentOnHost: '1' });
    expect(s).toMatchObject({ current: '2', previous: '1' });
  });

  it('markBad records the version and sha256', () => {
    const s = markBad({ app: 'a', root: '/r', current: '1', previous: '2', history: [] }, '2', 'sha', at, by);
    expect(s.bad).toEqual({ '2': 'sha' });
    expect(s.history.at(-1)).toEqual({ version: '2', sha256: 'sha', action: 'bad', at, by });
  });

  it('parses damaged files as absent / empty', () => {
    expect(parseState('{not json')).toBeUndefined();
    expect(parseRegistry('[]')).toEqual({ apps: {} });
    expect(parseRegistry('{"apps":{"x":"/srv/x"}}')).toEqual({ apps: { x: '/srv/x' } });
  });
});

describe('query', () => {
  const state = JSON.stringify({ app: 'shop', root: '/srv/shop', current: '1.10.0', previous: '1.9.0', history: [
    { version: '1.9.0', sha256: 'a', action: 'switch', at: '2026-01-01T00:00:00.000Z', by: 'x@y' },
    { version: '1.10.0', sha256: 'b', action: 'switch', at: '2026-01-02T00:00:00.000Z', by: 'ops@ctl' },
  ], bad: { '1.11.0': 'c' } });
  const output = [
    `G ${b64('{\n  "apps": {\n    "shop": "/srv/shop"\n  }\n}')}`,
    `R ${b64('/srv/shop')}`,
    `S ${b64(state)}`,
    `C ${b64('versions/1.10.0')}`,
    `P ${b64('versions/1.9.0')}`,
    `V ${b64('1.10.0')} ${'b'.repeat(64)}`,
    `V ${b64('1.9.0')} ${'a'.repeat(64)}`,
    `V ${b64('1.12.0')} -`,
    'END',
  ].join('\n');

  it('parses one round trip of output into SPEC rows', () => {
    expect(parseQueryOutput('web1', output)).toEqual([{
      host: 'web1', app: 'shop', root: '/srv/shop', current: '1.10.0', previous: '1.9.0', versions: ['1.9.0', '1.10.0'],
      deployed_at: '2026-01-02T00:00:00.000Z', deployed_by: 'ops@ctl', sha256: 'b'.repeat(64), incomplete: ['1.12.0'], bad: ['1.11.0'],
    }]);
  });

  it('refuses output cut short', () => {
    expect(() => parseQueryOutput('web1', output.replace('END', ''))).toThrow('query output was cut short');
  });

  it('formats the table with a drift column', () => {
    const rows = parseQueryOutput('web1', output).map((r) => ({ ...r, drift: '2.0.0' }));
    expect(formatQueryTable([...rows, { host: 'web2', error: 'connection refused' }], true)).toBe([
      'HOST  APP   CURRENT  PREVIOUS  VERSIONS                         DEPLOYED              BY       DRIFT',
      'web1  shop  1.10.0   1.9.0     1.9.0,1.10.0,1.12.0(incomplete)  2026-01-02T00:00:00Z  ops@ctl  -> 2.0.0',
      'web2  !  unreachable: connection refused',
      '',
    ].join('\n'));
  });

  it.each([['1.9.0', '1.10.0', -1], ['2.0.0', '1.99.9', 1], ['1.0.0', '1.0.0', 0]] as const)('compareVersions(%s, %s)', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
  });
});
