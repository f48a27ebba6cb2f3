/** Behaviour of src/host/query.sh under real bash: the report orch query parses. */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQueryOutput, queryScript } from '../../../src/state/query.js';
import { runBash } from '../../harness/bash.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('query.sh', () => {
  it('reports nothing but G - and END without a registry', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'orch-query-'));
    const r = runBash([], queryScript(), [], { env: { ...process.env, HOME: home } });
    expect(r).toEqual({ code: 0, stdout: 'G -\nEND\n', stderr: '' });
  });

  it('lists each registered root (also ~/ ones) with state, links and versions', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'orch-query-'));
    const root = path.join(home, 'apps/shop');
    for (const v of ['1.0.0', '1.1.0']) mkdirSync(path.join(root, 'versions', v), { recursive: true });
    writeFileSync(path.join(root, 'versions/1.1.0/.orch-installed'), `${'a'.repeat(64)}\n`);
    symlinkSync('versions/1.1.0', path.join(root, 'current'));
    symlinkSync('versions/1.0.0', path.join(root, 'previous'));
    mkdirSync(path.join(root, '.orch'));
    const state = '{"app":"shop","root":"~/apps/shop","current":"1.1.0","previous":"1.0.0","history":[]}';
    writeFileSync(path.join(root, '.orch/state.json'), `${state}\n`);
    mkdirSync(path.join(home, '.orch'));
    const registry = '{\n  "apps": {\n    "shop": "~/apps/shop"\n  }\n}';
    writeFileSync(path.join(home, '.orch/registry.json'), `${registry}\n`);
    const r = runBash([], queryScript(), [], { env: { ...process.env, HOME: home } });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe([
      `G ${b64(`${registry}\n`)}`,
      `R ${b64('~/apps/shop')}`,
      `S ${b64(`${state}\n`)}`,
      `C ${b64('versions/1.1.0')}`,
      `P ${b64('versions/1.0.0')}`,
      `V ${b64('1.0.0')} -`,
      `V ${b64('1.1.0')} ${'a'.repeat(64)}`,
      'END',
      '',
    ].join('\n'));
    const [row] = parseQueryOutput('h1', r.stdout);
    expect(row).toMatchObject({ host: 'h1', app: 'shop', current: '1.1.0', previous: '1.0.0', versions: ['1.1.0'] }); // 1.0.0 has no marker: incomplete
  });
});
