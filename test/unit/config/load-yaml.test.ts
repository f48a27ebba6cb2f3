import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { expandHome, firstInvalidUtf8, loadYaml, MAX_YAML_BYTES, parseYamlText } from '../../../src/config/load-yaml.js';
import { SourceIndexImpl } from '../../../src/config/source-index.js';
import { validateAgainstSchema } from '../../../src/config/validate.js';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';
import { removeTempDirs, tempFiles } from './helpers.js';

afterAll(removeTempDirs);


describe('loadYaml', () => {
  it('parses a file, records its sha256 and registers it for positions', async () => {
    const t = tempFiles();
    const text = 'a:\n  b: [1, two]\n';
    const f = t.write('x.yml', text);
    const index = new SourceIndexImpl();
    const r = await loadYaml(f, index);
    expect(r.diagnostics).toEqual([]);
    expect(r.value).toEqual({ a: { b: [1, 'two'] } });
    expect(r.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(r.absPath).toBe(f);
    expect(index.locate(r.file, ['a', 'b', 1])).toEqual({ file: f, line: 2, col: 10 });
  });

  it('{{env "X"}} inside a double-quoted YAML string: the syntax error says how to write it', async () => {
    const t = tempFiles();
    const f = t.write('pb.yml', 'steps:\n  - run:\n      cmd: "deploy --token {{env "TOKEN"}}"\n');
    const r = await loadYaml(f, new SourceIndexImpl());
    expect(r.diagnostics.map((d) => `${d.line}:${d.col}: ${d.path}: ${d.message}`)).toEqual([
      `3:35: steps[0].run.cmd: YAML syntax error: Unexpected scalar at node end; the quotes in {{env "TOKEN"}} end the double-quoted YAML string: write {{env 'TOKEN'}} inside it, or quote the whole value with single quotes`,
    ]);
  });

  it('shows files inside the cwd relative to it', async () => {
    const r = await loadYaml('./test/fixtures/config/inventory/prod.yml', new SourceIndexImpl());
    expect(r.file).toBe('test/fixtures/config/inventory/prod.yml');
  });

  it.each<[string, string, string[]]>([
    ['duplicate keys', 'a: 1\nb:\n  c: 1\n  c: 2\n', ['4:3: b.c: duplicate key "c"']],
    ['duplicate top-level keys', 'hosts: {}\nhosts: {}\n', ['2:1: hosts: duplicate key "hosts"']],
    ['unclosed flow sequence', 'a: [1, 2\nb: 3\n', ['2:1: a[1]: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['unclosed quote', 'a: "x\n', ['2:1: a: YAML syntax error: Missing closing "quote']],
    ['tab indentation, in words', 'a:\n\tb: 1\n', ['2:1: (root): YAML syntax error: a tab character indents this line; YAML indents with spaces only (replace the tab with spaces)']],
    ['a tab, not the cascade it causes, and no JSON blob as the path', 'nodes:\n  x:\n    steps:\n\t- run: {cmd: x}\n', ['4:1: (root): YAML syntax error: a tab character indents this line; YAML indents with spaces only (replace the tab with spaces)']],
    ['an over-indented key: one error, at that key', 'vars:\n  a: 1\n   b: 2\nnodes: {}\n', ['3:4: vars.b: YAML syntax error: "b" is indented more than "a" on line 2, which already has a value; indent "b" like "a" (keys of one map start at the same column)']],
    ['one syntax error per document', 'a: [1, 2\nb: 3\nc: [4\n', ['2:1: a[1]: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['an unknown !!python tag on the document', '--- !!python/object:os.system\na: 1\n', ['1:5: (root): unknown YAML tag "!!python/object:os.system" (only the YAML 1.2 core schema\'s tags are allowed: !!map, !!seq, !!str, !!null, !!bool, !!int, !!float)']],
    ['a local tag', 'a:\n  b: !foo x\n', ['2:6: a.b: unknown YAML tag "!foo" (only the YAML 1.2 core schema\'s tags are allowed: !!map, !!seq, !!str, !!null, !!bool, !!int, !!float)']],
    ['tags the yaml library knows beyond the core schema', 'a: !!binary aGk=\nb: !!timestamp 2001-12-14\n', [
      '1:4: a: unknown YAML tag "!!binary" (only the YAML 1.2 core schema\'s tags are allowed: !!map, !!seq, !!str, !!null, !!bool, !!int, !!float)',
      '2:4: b: unknown YAML tag "!!timestamp" (only the YAML 1.2 core schema\'s tags are allowed: !!map, !!seq, !!str, !!null, !!bool, !!int, !!float)',
    ]],
    ['a core tag whose value does not fit', 'a: !!int abc\n', ['1:4: a: the value does not match its tag !!int']],
    ['two documents', 'a: 1\n---\nb: 2\n', ['2:1: (root): a file holds one YAML document; found a second one']],
    ['invalid UTF-8', Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]) as unknown as string, ['1:4: (root): file is not valid UTF-8 text: byte 0xff at byte offset 3 is not part of a valid UTF-8 sequence (save the file as UTF-8)']],
    ['invalid UTF-8 after multi-byte text, on line 2', Buffer.concat([Buffer.from('a: 1\nb: "é€😀'), Buffer.from([0xc3, 0x28, 0x0a])]) as unknown as string, ['2:9: (root): file is not valid UTF-8 text: byte 0xc3 at byte offset 18 is not part of a valid UTF-8 sequence (save the file as UTF-8)']],
    ['an overlong UTF-8 form', Buffer.from([0x61, 0x3a, 0x20, 0xc0, 0xaf, 0x0a]) as unknown as string, ['1:4: (root): file is not valid UTF-8 text: byte 0xc0 at byte offset 3 is not part of a valid UTF-8 sequence (save the file as UTF-8)']],
    ['a UTF-8-encoded surrogate', Buffer.from([0x0a, 0x61, 0xed, 0xa0, 0x80]) as unknown as string, ['2:2: (root): file is not valid UTF-8 text: byte 0xed at byte offset 2 is not part of a valid UTF-8 sequence (save the file as UTF-8)']],
    ['a UTF-8 sequence cut at the end of the file', Buffer.from([0x61, 0x3a, 0x20, 0xe2, 0x82]) as unknown as string, ['1:4: (root): file is not valid UTF-8 text: byte 0xe2 at byte offset 3 is not part of a valid UTF-8 sequence (save the file as UTF-8)']],
  ])('reports %s', async (_name, content, expected) => {
    const t = tempFiles();
    const f = t.write('x.yml', content);
    const r = await loadYaml(f, new SourceIndexImpl());
    expect(r.value).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(expected.map((e) => `${f}${e.startsWith(':') ? '' : ':'}${e}`));
  });

  it('gives the same data and positions whether js-yaml (fast path) or yaml (with an alias: slow path) parsed it', () => {
    const body = 'a: { o: 0o17, h: 0x1F, e: 1e3, n: ~, t: True, s: "012", m: 0644, b: 0b11, f: .5, i: -.inf, x: 12:30, y: yes }\nlist:\n  - 1\n  - two\n';
    const fastIndex = new SourceIndexImpl();
    const slowIndex = new SourceIndexImpl();
    const fast = parseYamlText(body, 'fast.yml', fastIndex);
    const slow = parseYamlText(`${body}z: &anchor 1\nw: *anchor\n`, 'slow.yml', slowIndex);
    const { z, w, ...slowValue } = slow.value as Record<string, unknown>;
    expect([z, w]).toEqual([1, 1]);
    expect(fast.value).toEqual(slowValue);
    expect(fast.value).toEqual({ a: { o: 15, h: 31, e: 1000, n: null, t: true, s: '012', m: 644, b: '0b11', f: 0.5, i: -Infinity, x: '12:30', y: 'yes' }, list: [1, 'two'] });
    expect(fastIndex.locate('fast.yml', ['list', 1])).toEqual({ file: 'fast.yml', line: 4, col: 5 });
    const { file: _f, ...fastPos } = fastIndex.locate('fast.yml', ['a', 'b']);
    const { file: _s, ...slowPos } = slowIndex.locate('slow.yml', ['a', 'b']);
    expect(fastPos).toEqual(slowPos);
    expect(fastIndex.keysAt('fast.yml', ['a'])).toEqual(['o', 'h', 'e', 'n', 't', 's', 'm', 'b', 'f', 'i', 'x', 'y']);
    // integer-like keys: JS objects reorder them, so the order comes from the document
    parseYamlText('hosts:\n  b: 1\n  "10": 2\n  a: 3\n', 'order.yml', fastIndex);
    expect(fastIndex.keysAt('order.yml', ['hosts'])).toEqual(['b', '10', 'a']);
  });

  it('accepts the core schema\'s tags', async () => {
    const t = tempFiles();
    const f = t.write('x.yml', 'a: !!map { b: !!int 22, c: !!str 12, d: !!bool true, e: !!null null, f: !!float 1.5, g: ! plain }\nh: !!seq [1]\n');
    const r = await loadYaml(f, new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    expect(r.value).toEqual({ a: { b: 22, c: '12', d: true, e: null, f: 1.5, g: 'plain' }, h: [1] });
  });

  it('reports a folder and a missing file as unreadable', async () => {
    const t = tempFiles();
    const index = new SourceIndexImpl();
    const dir = await loadYaml(t.dir, index);
    expect(dir.diagnostics.map(formatDiagnostic)).toEqual([`${t.dir}: is a folder, not a YAML file`]);
    expect(dir.readError).toBe('a folder, not a YAML file');
    const missing = await loadYaml(`${t.dir}/nope.yml`, index);
    expect(missing.readError).toBe('no such file');
    expect(missing.diagnostics.map(formatDiagnostic)).toEqual([`${t.dir}/nope.yml: no such file`]);
  });

  it('suggests a close name for a missing file', async () => {
    const t = tempFiles();
    t.write('playbooks/deploy.yml', 'a: 1\n');
    t.write('inventory.yaml', 'a: 1\n');
    const index = new SourceIndexImpl();
    const typo = await loadYaml(`${t.dir}/playbooks/deplyo.yml`, index);
    expect(typo.diagnostics.map(formatDiagnostic)).toEqual([`${t.dir}/playbooks/deploy.yml`].map((s) => `${t.dir}/playbooks/deplyo.yml: no such file (did you mean ${s}?)`));
    const ext = await loadYaml(`${t.dir}/inventory.yml`, index);
    expect(ext.readError).toBe(`no such file (did you mean ${t.dir}/inventory.yaml?)`);
    const dir = await loadYaml(`${t.dir}/playbook/deploy.yml`, index);
    expect(dir.readError).toBe(`no such file (did you mean ${t.dir}/playbooks/deploy.yml?)`);
    const far = await loadYaml(`${t.dir}/something-else.yml`, index);
    expect(far.readError).toBe('no such file');
  });
});

describe('firstInvalidUtf8', () => {
  it('agrees with a fatal TextDecoder on 20000 seeded random byte strings (valid iff at the end; the prefix before it decodes)', () => {
    let seed = 24;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    // bytes biased toward UTF-8 lead/continuation ranges so that valid and invalid strings both occur
    const pick = (): number => [rand(0x80), 0x80 + rand(0x40), 0xc0 + rand(0x20), 0xe0 + rand(0x10), 0xf0 + rand(0x10)][rand(5)]!;
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const decodes = (b: Uint8Array): boolean => {
      try { decoder.decode(b); return true; } catch { return false; }
    };
    let valid = 0;
    const wrong: string[] = [];
    for (let t = 0; t < 20000; t++) {
      const bytes = Uint8Array.from({ length: 1 + rand(8) }, pick);
      const at = firstInvalidUtf8(bytes);
      const ok = decodes(bytes);
      if (ok) valid++;
      if ((at === bytes.length) !== ok || !decodes(bytes.subarray(0, at))) wrong.push(`${Buffer.from(bytes).toString('hex')} -> ${at}`);
    }
    expect(wrong).toEqual([]);
    expect(valid).toBeGreaterThan(1000);
    expect(valid).toBeLessThan(19000);
  });
});

describe('loadYaml: hostile inputs are refused quickly', () => {
  it('refuses an alias bomb ("billion laughs") quickly', async () => {
    const t = tempFiles();
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i <= 9; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    const f = t.write('bomb.yml', lines.join('\n') + '\n');
    const r = await loadYaml(f, new SourceIndexImpl()); // time bound: npm run bench:inputs
    expect(r.value).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${f}:1:1: (root): too many alias expansions (more than 100); refusing a possible "billion laughs" document`,
    ]);
  });

  it('accepts a few aliases', async () => {
    const r = parseYamlText('base: &b { user: deploy }\nweb: *b\ndb: *b\n', 'x.yml', new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    expect(r.value).toEqual({ base: { user: 'deploy' }, web: { user: 'deploy' }, db: { user: 'deploy' } });
  });

  it.each([
    ['flow lists', '['.repeat(5000) + ']'.repeat(5000) + '\n', '1:201'],
    ['flow maps', '{a: '.repeat(5000) + '1' + '}'.repeat(5000) + '\n', '1:801'],
    ['block lists on one line', '- '.repeat(5000) + 'x\n', '1:401'],
  ])('refuses 5,000-deep %s quickly, without a stack overflow', async (_name, content, pos) => {
    const t = tempFiles();
    const f = t.write('deep.yml', content);
    const r = await loadYaml(f, new SourceIndexImpl()); // time bound: npm run bench:inputs
    expect(r.value).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([`${f}:${pos}: (root): nesting is deeper than 200 levels`]);
  });

  it('refuses 250-deep indented block maps at the 201st level', () => {
    const text = Array.from({ length: 250 }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' 1\n';
    const r = parseYamlText(text, 'x.yml', new SourceIndexImpl());
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(['x.yml:201:201: (root): nesting is deeper than 200 levels']);
  });

  it('accepts nesting of exactly 200 levels', () => {
    const r = parseYamlText('['.repeat(200) + ']'.repeat(200), 'x.yml', new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
  });

  it('refuses a 50 MB file quickly, without reading it', async () => {
    const t = tempFiles();
    const f = t.write('big.yml', Buffer.alloc(50 * 1024 * 1024, 'a: b\n'));
    const r = await loadYaml(f, new SourceIndexImpl()); // time bound: npm run bench:inputs
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${f}: file is too big (52428800 bytes; the limit is 10485760 bytes, 10 MiB)`,
    ]);
    expect(r.sha256).toBeUndefined();
  });

  it('accepts a file of exactly the limit', async () => {
    const t = tempFiles();
    const f = t.write('edge.yml', Buffer.concat([Buffer.from('a: "'), Buffer.alloc(MAX_YAML_BYTES - 6, 'x'), Buffer.from('"\n')]));
    const r = await loadYaml(f, new SourceIndexImpl());
    expect(r.diagnostics).toEqual([]);
    expect((r.value as { a: string }).a).toHaveLength(MAX_YAML_BYTES - 6);
  });

  it('validates a 100,000-character underscore key quickly (no catastrophic regex)', () => {
    const index = new SourceIndexImpl();
    // YAML caps implicit keys at 1024 characters, so feed the data directly.
    const key = `a${'_'.repeat(100_000)}!`;
    // Load and compile the validators first (a one-time cost, not what is measured here).
    validateAgainstSchema('playbook', {}, 'warm.yml', index);
    const ds = validateAgainstSchema('playbook', { [key]: 1 }, 'x.yml', index);
    expect(ds).toHaveLength(1);
    expect(ds[0]!.message).toMatch(/^unknown key "a_+!" \(expected one of: inventory, /);
  });
});

describe('SourceIndexImpl.locate', () => {
  const text = ['nodes:', '  shop:', '    steps:', '      - put:', '          src: a', '      - run: &r { cmd: x }', 'alias: *r', ''].join('\n');
  const index = new SourceIndexImpl();
  parseYamlText(text, 'p.yml', index);
  it.each<[string, (string | number)[], [number, number]]>([
    ['a key: the key', ['nodes', 'shop', 'steps', 0, 'put'], [4, 9]],
    ['a missing key: the map lacking it (its key)', ['nodes', 'shop', 'steps', 0, 'put', 'dest'], [4, 9]],
    ['a list item', ['nodes', 'shop', 'steps', 1], [6, 9]],
    ['a missing index: the list', ['nodes', 'shop', 'steps', 7], [3, 5]],
    ['the root', [], [1, 1]],
    ['through an alias', ['alias', 'cmd'], [6, 19]],
  ])('%s', (_name, path, [line, col]) => {
    expect(index.locate('p.yml', path)).toEqual({ file: 'p.yml', line, col });
  });
  it('gives 1:1 for an unknown file', () => {
    expect(index.locate('other.yml', ['a'])).toEqual({ file: 'other.yml', line: 1, col: 1 });
  });
  it('lists keys in source order', () => {
    parseYamlText('b: 1\n"2": 1\na: 1\n', 'k.yml', index);
    expect(index.keysAt('k.yml', [])).toEqual(['b', '2', 'a']);
  });
});

describe('expandHome', () => {
  it.each([
    ['~', '/home/u'],
    ['~/.ssh/id', '/home/u/.ssh/id'],
    ['~other/x', '~other/x'],
    ['/abs/~/x', '/abs/~/x'],
    ['rel', 'rel'],
  ])('%s -> %s', (input, out) => {
    expect(expandHome(input, '/home/u')).toBe(out);
  });
});
