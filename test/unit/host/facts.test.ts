/** Behaviour of src/host/facts.sh under real bash, through factsScript/parseFacts (the engine's entry points). */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { factsScript, parseFacts, READ_LIMIT } from '../../../src/engine/facts.js';
import { parseDeltaFact } from '../../../src/engine/payloads.js';
import { FACTS_SH } from '../../../src/host/embedded.generated.js';
import { factKey } from '../../../src/steps/common.js';
import type { Probe } from '../../../src/model/plan.js';

const run = (probes: Probe[], home?: string) => parseFacts(probes, execFileSync('bash', ['-c', factsScript(probes)], { encoding: 'utf8', env: { ...process.env, ...(home && { HOME: home }) } }));

describe('facts.sh', () => {
  const d = mkdtempSync(path.join(tmpdir(), 'orch-facts-'));
  writeFileSync(path.join(d, 'f'), 'hello\n');
  chmodSync(path.join(d, 'f'), 0o640);
  symlinkSync('versions/1', path.join(d, 'link'));
  mkdirSync(path.join(d, 'dir'));
  chmodSync(path.join(d, 'dir'), 0o750);
  for (const [v, t] of [['1', 1000], ['2', 2000]] as const) {
    mkdirSync(path.join(d, 'versions', v), { recursive: true });
    writeFileSync(path.join(d, 'versions', v, '.orch-installed'), 'x');
    utimesSync(path.join(d, 'versions', v, '.orch-installed'), t, t);
  }
  const uid = process.getuid!();
  const gid = process.getgid!();
  const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
  const p = (kind: Probe['kind'], rel: string): Probe => ({ kind, path: path.join(d, rel) });

  it.each<[string, Probe, string | null]>([
    ['sha256 of a file', p('sha256', 'f'), createHash('sha256').update('hello\n').digest('hex')],
    ['sha256 of nothing', p('sha256', 'nope'), null],
    ['link target', p('link', 'link'), 'versions/1'],
    ['link of a file', p('link', 'f'), null],
    ['read a file', p('read', 'f'), 'hello\n'],
    ['read a folder', p('read', 'dir'), null],
    ['exists', p('exists', 'dir'), '1'],
    ['exists not', p('exists', 'nope'), null],
    ['stat of a file', p('stat', 'f'), `f 640 ${user} ${group} ${uid} ${gid}`],
    ['stat of a folder', p('stat', 'dir'), `d 750 ${user} ${group} ${uid} ${gid}`],
    ['stat of nothing', p('stat', 'nope'), null],
    ['versions, newest first', { kind: 'versions', path: d }, '2\n1'],
    ['versions of an empty root', p('versions', 'dir'), ''],
  ])('%s', (_n, probe, want) => {
    expect(run([probe]).get(`${probe.kind}:${probe.path}`)).toBe(want);
  });
  it('reads many probes in one script, ~/ paths against $HOME', () => {
    const f = run([p('exists', 'f'), { kind: 'read', path: '~/f' }, p('link', 'link')], d);
    expect([...f.values()]).toEqual(['1', 'hello\n', 'versions/1']);
  });
  it('read gives the first READ_LIMIT bytes of any file, whether or not it is small enough to skip head (NULs, UTF-8, 32 KiB + 1, over the limit)', () => {
    const files: Record<string, Buffer> = {
      empty: Buffer.alloc(0),
      utf8: Buffer.from('héllo — wörld\n'),
      nul: Buffer.from('a\0b\n'),
      lead0: Buffer.concat([Buffer.alloc(1), Buffer.from('x')]),
      k32: Buffer.alloc(32 * 1024, 'x'),
      k32p: Buffer.alloc(32 * 1024 + 1, 'y'),
      big: randomBytes(READ_LIMIT + 7),
      zeros: Buffer.alloc(READ_LIMIT * 2),
    };
    const probes: Probe[] = Object.entries(files).map(([name, body]) => {
      writeFileSync(path.join(d, `r-${name}`), body);
      return { kind: 'read', path: path.join(d, `r-${name}`) };
    });
    const out = execFileSync('bash', ['-c', factsScript(probes)], { encoding: 'utf8', env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, maxBuffer: 64 << 20 });
    const lines = out.split('\n').filter((l) => /^[FT] /.test(l));
    // Small files without a NUL come as escaped text (no process), the rest as base64.
    const esc = (t: string): string => t.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
    expect(lines).toEqual(Object.values(files).map((b, i) => (b.length <= 32 * 1024 && !b.includes(0) ? `T ${i} ${esc(b.toString('utf8'))}` : `F ${i} ${b.subarray(0, READ_LIMIT).toString('base64')}`)));
    const facts = parseFacts(probes, out);
    probes.forEach((pr, i) => expect(facts.get(factKey(pr))).toBe(Object.values(files)[i]!.subarray(0, READ_LIMIT).toString('utf8')));
  });
  it('text facts keep backslashes, newlines, CR and a line that looks like the protocol (escaped on one line, parsed back)', () => {
    const body = 'a\\nb\\\\\nEND\n::orch:: end\r\n\\\n\n\n';
    writeFileSync(path.join(d, 'esc'), body);
    const probes: Probe[] = [{ kind: 'read', path: path.join(d, 'esc') }, p('leftovers', 'nothing-here')];
    const out = execFileSync('bash', ['-c', factsScript(probes)], { encoding: 'utf8' });
    expect(out.split('\n')).toHaveLength(4);
    const facts = parseFacts(probes, out);
    expect(facts.get(factKey(probes[0]!))).toBe(body);
    expect(facts.get(factKey(probes[1]!))).toBe('0');
  });
  it('a link read twice in one script (the link and delta probes of a root) gives its target both times, one readlink', () => {
    const probes = [p('link', 'link'), p('link', 'link'), p('link', 'f')];
    const r = spawnSync('bash', ['-c', factsScript(probes).replace('set -u\n', 'set -u\nreadlink() { echo called >&2; command readlink "$@"; }\n')], { encoding: 'utf8' });
    expect(r.stdout).toBe('T 0 versions/1\nT 1 versions/1\nF 2 -\nEND\n');
    expect(r.stderr).toBe('called\n');
  });
  it('leftovers counts what dead runs left under a root (temp files, scratch folders, incomplete versions), not current or previous', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-left-'));
    for (const v of ['1', '2', '3', '4']) mkdirSync(path.join(root, 'versions', v), { recursive: true });
    writeFileSync(path.join(root, 'versions', '1', '.orch-installed'), 'x');
    mkdirSync(path.join(root, '.orch', 'unpack.123'), { recursive: true });
    writeFileSync(path.join(root, '.orch', '.orch-tmp.1.2'), '');
    symlinkSync('versions/1', path.join(root, 'current'));
    symlinkSync('versions/2', path.join(root, 'previous'));
    const probes: Probe[] = [{ kind: 'leftovers', path: root }, { kind: 'leftovers', path: path.join(root, 'versions', '1') }];
    // versions/3 and versions/4 (incomplete, neither current nor previous), unpack.123, .orch-tmp.1.2.
    expect([...run(probes).values()]).toEqual(['4', '0']);
  });
  it.each([
    ['a small info.json goes as escaped text (K, read by the builtin)', Buffer.from('{\n  "a": "b\\\\c",\n  "ü": "\\n"\n}\n'), 'K '],
    ['a larger one (over 32 KiB) as base64 (J)', Buffer.from(`{"x":"${'y'.repeat(40_000)}"}\n`), 'J '],
  ])('delta: %s; parseDeltaFact gives its bytes, the objects and the base', (_n, info, kind) => {
    const root = mkdtempSync(path.join(tmpdir(), 'orch-facts-delta-'));
    const sha = 'a'.repeat(64);
    mkdirSync(path.join(root, '.orch', 'objects'), { recursive: true });
    writeFileSync(path.join(root, '.orch', 'objects', sha), 'x');
    mkdirSync(path.join(root, '.orch', 'trees', '1'), { recursive: true });
    writeFileSync(path.join(root, '.orch', 'trees', '1', 'info.json'), info);
    mkdirSync(path.join(root, 'versions', '1'), { recursive: true });
    writeFileSync(path.join(root, 'versions', '1', '.orch-manifest'), 'm1\nm2\n');
    symlinkSync('versions/1', path.join(root, 'current'));
    const fact = run([{ kind: 'delta', path: root }]).get(`delta:${root}`)!;
    expect(fact.split('\n').filter((l) => /^[KJ] /.test(l)).map((l) => l.slice(0, 2))).toEqual([kind]);
    const d = parseDeltaFact(fact);
    expect([...d.have]).toEqual([sha]);
    expect(d.base?.version).toBe('1');
    expect(d.base?.manifest).toBe('m1\nm2\n');
    expect(d.base?.infoJson?.equals(info)).toBe(true);
  });
  it('output cut short is an error', () => {
    expect(() => parseFacts([p('exists', 'f')], 'F 0 MQ==\n')).toThrow('facts output was cut short');
  });
  it('the read limit in the script is READ_LIMIT, from protocol.sh', () => {
    expect(FACTS_SH).toContain('head -c "$ORCH_READ_BYTES" ');
    expect(factsScript([])).toContain(`\nORCH_READ_BYTES=${READ_LIMIT}\n`);
  });
});
