/**
 * The speculative facts' memo (src/engine/facts-memo.ts): the probes of a playbook's last
 * run per host survive a save and load; only read-only probes are kept, never a path that
 * holds a secret; a damaged or tampered file counts as empty or loses only what is not
 * valid; and the script rebuilt from it quotes every path (real bash runs it).
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { factsScript, parseFacts } from '../../../src/engine/facts.js';
import { FactsMemo, factsMemoFile } from '../../../src/engine/facts-memo.js';
import type { Probe } from '../../../src/model/task.js';
import { runBash } from '../../harness/bash.js';

const dir = (): string => mkdtempSync(path.join(tmpdir(), 'orch-facts-memo-'));
const none = (): boolean => false;

describe('FactsMemo', () => {
  it('keeps each host\'s probes across a save and load; the script is the one the plan would build', async () => {
    const file = factsMemoFile(dir(), '/srv/pb/deploy.yml');
    const a: Probe[] = [{ kind: 'link', path: '/srv/app/current' }, { kind: 'versions', path: '/srv/app' }, { kind: 'package', path: 'nginx' }];
    const b: Probe[] = [{ kind: 'exists', path: '~/x' }];
    const m = FactsMemo.load(file);
    expect(m.scriptFor('h1')).toBeUndefined();
    m.record('h1', a, none);
    m.record('h2', a, none);
    m.record('h3', b, none);
    await m.save();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    // Hosts alike share one set in the file.
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ v: 1, sets: [a.map((p) => [p.kind, p.path]), [['exists', '~/x']]], hosts: { h1: 0, h2: 0, h3: 1 } });
    const again = FactsMemo.load(file);
    expect(again.scriptFor('h1')).toBe(factsScript(a));
    expect(again.scriptFor('h3')).toBe(factsScript(b));
    expect(again.scriptFor('h4')).toBeUndefined();
  });

  it('one memo per playbook and inventories; any host name, __proto__ too', async () => {
    const d = dir();
    expect(factsMemoFile(d, '/pb.yml', ['/staging.yml'])).not.toBe(factsMemoFile(d, '/pb.yml', ['/prod.yml']));
    expect(factsMemoFile(d, '/pb.yml')).not.toBe(factsMemoFile(d, '/pb.yml', ['/prod.yml']));
    const file = factsMemoFile(d, '/pb.yml', ['/prod.yml']);
    const m = FactsMemo.load(file);
    m.record('__proto__', [{ kind: 'link', path: '/p' }], none);
    await m.save();
    expect(FactsMemo.load(file).scriptFor('__proto__')).toBe(factsScript([{ kind: 'link', path: '/p' }]));
  });

  it('forgets a host whose facts run a command (`unless`) or read a path holding a secret; writes nothing when nothing changed', async () => {
    const file = factsMemoFile(dir(), '/pb.yml');
    const m = FactsMemo.load(file);
    m.record('h1', [{ kind: 'link', path: '/a/current' }], none);
    m.record('h2', [{ kind: 'link', path: '/a/current' }], none);
    await m.save();
    const m2 = FactsMemo.load(file);
    m2.record('h1', [{ kind: 'link', path: '/a/current' }, { kind: 'unless', path: 'test -f /etc/x' }], none);
    m2.record('h2', [{ kind: 'read', path: '/etc/app/s3cr3t-token.conf' }], (t) => t.includes('s3cr3t'));
    await m2.save();
    const m3 = FactsMemo.load(file);
    expect(m3.scriptFor('h1')).toBeUndefined();
    expect(m3.scriptFor('h2')).toBeUndefined();
    expect(readFileSync(file, 'utf8')).not.toContain('s3cr3t');
    // The same probes again: no write (the file's time stays).
    const m4 = FactsMemo.load(file);
    m4.record('h5', [{ kind: 'stat', path: '/x' }], none);
    await m4.save();
    const t = statSync(file).mtimeMs;
    const m5 = FactsMemo.load(file);
    m5.record('h5', [{ kind: 'stat', path: '/x' }], none);
    await new Promise((r) => setTimeout(r, 20));
    await m5.save();
    expect(statSync(file).mtimeMs).toBe(t);
  });

  it('a damaged file is empty; a set naming a command probe or another shape is dropped, the rest kept', () => {
    const d = dir();
    const file = path.join(d, 'm.json');
    for (const text of ['', '{', '[]', '{"v":2,"sets":[],"hosts":{}}', '{"v":1,"sets":{},"hosts":{}}']) {
      writeFileSync(file, text);
      expect(FactsMemo.load(file).scriptFor('h1')).toBeUndefined();
    }
    writeFileSync(file, JSON.stringify({ v: 1, sets: [[['unless', 'rm -rf ~']], [['link', 1]], [['nope', '/x']], [['link', '/ok']], [['link', '/a\0b']]], hosts: { a: 0, b: 1, c: 2, d: 3, e: 9, f: 'x', g: 4 } }));
    const m = FactsMemo.load(file);
    expect(['a', 'b', 'c', 'e', 'f', 'g'].map((h) => m.scriptFor(h))).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    expect(m.scriptFor('d')).toBe(factsScript([{ kind: 'link', path: '/ok' }]));
    expect(existsSync(path.join(d, 'facts'))).toBe(false);
  });

  it('a path from the file is data, never code: a tampered path with quotes and $(...) is read as a path by real bash', () => {
    const d = dir();
    const marker = path.join(d, 'pwned');
    const evil = `/nope'; touch ${marker}; echo '$(touch ${marker})\`touch ${marker}\``;
    const file = path.join(d, 'm.json');
    writeFileSync(file, JSON.stringify({ v: 1, sets: [[['exists', evil], ['link', evil]]], hosts: { h: 0 } }));
    const script = FactsMemo.load(file).scriptFor('h')!;
    const r = runBash([], script);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(marker)).toBe(false);
    const facts = parseFacts([{ kind: 'exists', path: evil }, { kind: 'link', path: evil }], r.stdout);
    expect(facts.size).toBe(2);
  });
});
