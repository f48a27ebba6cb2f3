import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/compile/predict.js';
import type { Task } from '../../../src/steps/plan.js';
import { Masker } from '../../../src/shell/mask.js';
import { diffTask, formatDiff } from '../../../src/ui/diff.js';

const DEST = '/srv/app/app.conf';
const put = (text: string | Buffer, extra: { mode?: string; owner?: string; group?: string } = {}): Task => {
  const b = Buffer.isBuffer(text) ? text : Buffer.from(text);
  return {
    script: '', probes: [], payload: { kind: 'content', base64: b.toString('base64'), sha256: 'new', size: b.length },
    check: { kind: 'put', dest: DEST, sha256: 'new', ...extra },
  };
};
const facts = (content: string | null, sha = 'old'): Facts => new Map([[`content:${DEST}`, content], [`sha256:${DEST}`, content === null ? null : sha]]);
const masker = (...secrets: string[]): Masker => {
  const m = new Masker();
  for (const s of secrets) m.add(s);
  return m;
};

describe('--diff of a put', () => {
  it('a unified diff of the changed lines, coloured lines formatted under the step', () => {
    const d = diffTask(put('a\nb=2\nc\n'), facts('644 root:root 8\na\nb=1\nc\n'), masker());
    expect(d).toEqual({ kind: 'put', path: DEST, unified: '@@ -1,3 +1,3 @@\n a\n-b=1\n+b=2\n c' });
    expect(formatDiff(d!)).toEqual([
      `      --- ${DEST} (on the host)`, `      +++ ${DEST} (new)`, '      @@ -1,3 +1,3 @@', '       a', '      -b=1', '      +b=2', '       c',
    ]);
  });

  it.each([
    ['new contents hold a secret', put('PW=hunter2\n'), facts('644 root:root 6\nPW=x\n'), ['hunter2'], 'hidden: uses a secret'],
    ['a new file', put('x\n'), facts(null), [], 'new file'],
    ['a binary file on the host', put('x\n'), facts('644 root:root 3\n\0\x01\x02'), [], 'binary differs'],
    ['binary new contents', put(Buffer.from([0xff, 0xfe, 0])), facts('644 root:root 2\nx\n'), [], 'binary differs'],
    ['a host file over 256 KiB', put('x\n'), facts(`644 root:root ${300 * 1024}\n`), [], 'too large to diff'],
  ])('%s: %s', (_what, task, f, secrets, contents) => {
    const d = diffTask(task, f, masker(...secrets));
    expect(d).toEqual({ kind: 'put', path: DEST, contents });
    expect(JSON.stringify(d)).not.toContain('hunter2');
  });

  it('old contents of a file not world-readable on the host are hidden unless showPrivate', () => {
    const f = facts('600 root:root 12\nDB_PASSWORD=x\n');
    const d = diffTask(put('DB_PASSWORD=y\n'), f, masker());
    expect(d).toEqual({ kind: 'put', path: DEST, contents: 'hidden: private on the host', hostMode: '600' });
    expect(formatDiff(d!)).toEqual(['      (old contents hidden: mode 0600 on the host)']);
    expect(diffTask(put('DB_PASSWORD=y\n'), f, masker(), undefined, { showPrivate: true })).toEqual({ kind: 'put', path: DEST, unified: '@@ -1,1 +1,1 @@\n-DB_PASSWORD=x\n+DB_PASSWORD=y' });
    // o+r (0644, 0604): shown as before.
    expect(diffTask(put('b\n'), facts('604 root:root 2\na\n'), masker())).toMatchObject({ unified: '@@ -1,1 +1,1 @@\n-a\n+b' });
  });

  it('a secret in the host\'s old contents is masked in the diff', () => {
    const d = diffTask(put('a=1\n'), facts('644 root:root 9\npw=hunter2\n'), masker('hunter2'));
    expect(d).toMatchObject({ unified: '@@ -1,1 +1,1 @@\n-pw=***\n+a=1' });
  });

  it('mode and owner changes; equal contents give no unified diff', () => {
    const d = diffTask(put('same\n', { mode: '0640', owner: 'app' }), facts('644 root:root 5\nsame\n', 'new'), masker());
    expect(d).toEqual({ kind: 'put', path: DEST, mode: { from: '644', to: '640' }, owner: { from: 'root:root', to: 'app:root' } });
    expect(formatDiff(d!)).toEqual(['      mode 644 -> 640', '      owner root:root -> app:root']);
    expect(diffTask(put('same\n', { mode: '644' }), facts('644 root:root 5\nsame\n', 'new'), masker())).toBeUndefined();
  });
});

describe('--diff of a symlink', () => {
  it('current X -> Y, nothing when already there', () => {
    const task: Task = { script: '', probes: [], check: { kind: 'symlink', root: '/srv/app', version: '1.1.0' } };
    const f: Facts = new Map([['link:/srv/app/current', 'versions/1.0.0']]);
    expect(formatDiff(diffTask(task, f, masker())!)).toEqual(['      current 1.0.0 -> 1.1.0']);
    expect(diffTask(task, new Map([['link:/srv/app/current', 'versions/1.1.0']]), masker())).toBeUndefined();
    expect(diffTask(task, new Map([['link:/srv/app/current', null]]), masker())).toEqual({ kind: 'symlink', current: { from: null, to: '1.1.0' } });
  });
});

describe('the content probe under real bash', () => {
  it('reads mode, owner, size and bytes; only the metadata over 256 KiB; absent for a missing file', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync, chmodSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { factsScript, parseFacts } = await import('../../../src/engine/facts.js');
    const dir = mkdtempSync(join(tmpdir(), 'orch-content-'));
    writeFileSync(join(dir, 'small'), 'a\nb\n');
    chmodSync(join(dir, 'small'), 0o640);
    writeFileSync(join(dir, 'big'), Buffer.alloc(256 * 1024 + 1, 0x61));
    chmodSync(join(dir, 'big'), 0o644);
    const probes = ['small', 'big', 'missing'].map((f) => ({ kind: 'content' as const, path: join(dir, f) }));
    const r = spawnSync('bash', ['-c', factsScript(probes)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const f = parseFacts(probes, r.stdout);
    const user = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
    const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
    expect(f.get(`content:${join(dir, 'small')}`)).toBe(`640 ${user}:${group} 4\na\nb\n`);
    expect(f.get(`content:${join(dir, 'big')}`)).toBe(`644 ${user}:${group} ${256 * 1024 + 1}\n`);
    expect(f.get(`content:${join(dir, 'missing')}`)).toBeNull();
  });
});

describe('--diff of an install', () => {
  it('added, removed and changed files of the new release against current, from both info.json files maps', () => {
    const task: Task = {
      script: '', probes: [], payload: { kind: 'bundle', bundle: 'app', sha256: 'b', size: 2048 },
      check: { kind: 'install', root: '/srv/app', version: '1.1.0', sha256: 'b', bundleFile: '/srv/app/.orch/bundles/b.tar.gz' },
    };
    const f: Facts = new Map([
      ['link:/srv/app/current', 'versions/1.0.0'],
      ['read:/srv/app/current/info.json', JSON.stringify({ files: { 'bin/run': '1', 'lib/old.py': '2', VERSION: '3' } })],
    ]);
    const d = diffTask(task, f, masker(), () => ({ 'bin/run': '1', 'lib/new.py': '4', VERSION: '5' }));
    expect(d).toEqual({ kind: 'install', from: '1.0.0', to: '1.1.0', added: ['lib/new.py'], removed: ['lib/old.py'], changed: ['VERSION'], bytes: 2048 });
    expect(formatDiff(d!)).toEqual([
      '      release 1.0.0 -> 1.1.0: 1 added, 1 removed, 1 changed files; bundle 2.0 KiB',
      '        + lib/new.py', '        - lib/old.py', '        ~ VERSION',
    ]);
    // A first install: everything is added.
    expect(diffTask(task, new Map(), masker(), () => ({ a: '1' }))).toMatchObject({ from: null, added: ['a'] });
  });
});
