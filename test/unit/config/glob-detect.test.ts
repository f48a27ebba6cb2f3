import { afterAll, describe, expect, it } from 'vitest';
import { detectFileKind } from '../../../src/config/detect.js';
import { compileGlob, isGlob } from '../../../src/config/glob.js';
import { SourceIndexImpl } from '../../../src/config/source-index.js';
import { validateFiles } from '../../../src/config/validate-files.js';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import { removeTempDirs, tempFiles } from './helpers.js';

afterAll(removeTempDirs);

describe('compileGlob', () => {
  it.each<[string, string, boolean]>([
    ['web*', 'web1', true],
    ['web*', 'web', true],
    ['web*', 'db1', false],
    ['*', '', true],
    ['web?', 'web1', true],
    ['web?', 'web12', false],
    ['db[12]', 'db2', true],
    ['db[12]', 'db3', false],
    ['db[1-3]x', 'db2x', true],
    ['db[!1-3]', 'db2', false],
    ['db[^1-3]', 'db7', true],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'axxbyy', false],
    ['web.example.com', 'webXexample.com', false],
    ['[web', '[web', true],
    ['*.internal', 'db1.internal', true],
  ])('%j matches %j: %s', (glob, name, expected) => {
    expect(compileGlob(glob)(name)).toBe(expected);
  });

  // Its speed (O(name x glob), no catastrophic backtracking) is measured by `npm run
  // bench:inputs`; here, the answer (a backtracking matcher would not finish in the test's time).
  it('matches a pathological pattern', () => {
    const name = 'a'.repeat(20_000);
    expect(compileGlob(`${'*a'.repeat(30)}*b`)(name)).toBe(false);
    expect(compileGlob(`${'*a'.repeat(30)}*`)(name)).toBe(true);
  });

  it.each([
    ['web*', true],
    ['w?b', true],
    ['[ab]', true],
    ['web1', false],
    ['db1.internal', false],
  ])('isGlob(%j) = %s', (s, expected) => {
    expect(isGlob(s)).toBe(expected);
  });
});

describe('detectFileKind', () => {
  it.each<[unknown, 'inventory' | 'playbook']>([
    [{ hosts: {} }, 'inventory'],
    [{ defaults: {}, hosts: null }, 'inventory'],
    [{ nodes: {} }, 'playbook'],
    [{ roles: { web: ['a'] } }, 'playbook'],
    [null, 'playbook'],
    [['hosts'], 'playbook'],
  ])('%j is a %s', (value, kind) => {
    expect(detectFileKind(value)).toBe(kind);
  });
});

describe('validateFiles', () => {
  it('checks each file as what it is and reports everything at once', async () => {
    const t = tempFiles();
    const inv = t.write('inv.yml', 'hosts:\n  a: { port: 0 }\n');
    const pb = t.write('pb.yml', 'nodes:\n  x: { serial: 0 }\n');
    const ok = t.write('ok.yml', 'hosts:\n  a: {}\n');
    const bad = t.write('bad.yml', 'a: [\n');
    const r = await validateFiles([inv, pb, ok, bad], new SourceIndexImpl());
    expect(r.kinds).toEqual({ [inv]: 'inventory', [pb]: 'playbook', [ok]: 'inventory', [bad]: undefined });
    expect(r.diagnostics.map(formatDiagnostic).map((s) => s.split(t.dir).join('D'))).toEqual([
      'D/bad.yml:2:1: a: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'D/inv.yml:2:8: hosts.a.port: must be >= 1',
      'D/pb.yml:2:8: nodes.x.serial: must be a number of hosts (1 or more), a percentage like "25%", or a non-empty list of them',
    ]);
  });
});
