/** Behaviour of src/host/remove.sh under real bash (no services: those are proven on real machines, test/integration/server.test.ts). */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH, REMOVE_SH, SYSTEMD_SH } from '../../../src/host/embedded.generated.js';
import { formatStateJson } from '../../../src/state/state.js';
import { registryKey } from '../../../src/steps/remove.js';
import { runBash } from '../../harness/bash.js';
import { appRoot } from './helpers.js';

const LIBS = [PRELUDE_SH, SYSTEMD_SH, REMOVE_SH];

/** An installed app: versions 1 and 2 (current 2, previous 1), shared/data, .orch bookkeeping, a registry naming it and another app. */
function installed(): { root: string; reg: string } {
  const root = appRoot(['1', '2'], '2');
  symlinkSync('versions/1', path.join(root, 'previous'));
  mkdirSync(path.join(root, 'shared'));
  writeFileSync(path.join(root, 'shared/data'), 'keep me\n');
  for (const d of ['.orch/bundles', '.orch/objects', '.orch/trees', '.orch/channels']) mkdirSync(path.join(root, d), { recursive: true });
  writeFileSync(path.join(root, '.orch/state.json'), '{}\n');
  writeFileSync(path.join(root, '.orch/channels/stable'), 'mark\n');
  const reg = path.join(root, '..', `${path.basename(root)}-registry.json`);
  writeFileSync(reg, `${formatStateJson({ apps: { other: '/srv/other', 'sh"op': root, zed: '/srv/zed' } })}\n`);
  return { root, reg };
}

describe('remove.sh', () => {
  it('orch_remove runs the hooks stored with the current release (there and in the root), deletes releases and bookkeeping, keeps shared/ and channel marks, drops the app from the registry', () => {
    const { root, reg } = installed();
    // Each release keeps its own hooks: the current one's run (its own words), not the previous'.
    writeFileSync(path.join(root, 'versions/2/.orch-before-remove'), `pwd > ${JSON.stringify(`${root}.before`)}; echo release-2 >> ${JSON.stringify(`${root}.before`)}\n`);
    writeFileSync(path.join(root, 'versions/1/.orch-before-remove'), 'echo release-1 > /dev/stderr; exit 3\n');
    writeFileSync(path.join(root, 'versions/2/.orch-after-remove'), `ls -A > ${JSON.stringify(`${root}.after`)}; pwd >> ${JSON.stringify(`${root}.after`)}\n`);
    const r = runBash(LIBS, 'orch_remove "$1" "$2" 0 "$3"', [root, registryKey('sh"op'), reg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('before_remove (stored with ');
    expect(r.stdout.endsWith(`kept ${root}/shared\n::orch:: status=changed\n`)).toBe(true);
    expect(readFileSync(`${root}.before`, 'utf8')).toBe(`${path.join(root, 'versions/2')}\nrelease-2\n`);
    // after_remove ran in the root, after the releases were gone.
    expect(readFileSync(`${root}.after`, 'utf8')).toBe(`.orch\nshared\n${root}\n`);
    expect(readdirSync(root).sort()).toEqual(['.orch', 'shared']);
    expect(readdirSync(path.join(root, '.orch'))).toEqual(['channels']);
    expect(readFileSync(path.join(root, 'shared/data'), 'utf8')).toBe('keep me\n');
    expect(JSON.parse(readFileSync(reg, 'utf8'))).toEqual({ apps: { other: '/srv/other', zed: '/srv/zed' } });
    expect(readFileSync(reg, 'utf8')).toBe(`${formatStateJson({ apps: { other: '/srv/other', zed: '/srv/zed' } })}\n`);
    // Again: nothing of the app is left.
    expect(runBash(LIBS, 'orch_remove "$1" "$2" 0 "$3"', [root, registryKey('sh"op'), reg]).stdout).toBe('::orch:: status=ok\n');
    // --purge after a plain remove takes what it kept.
    expect(runBash(LIBS, 'orch_remove "$1" "$2" 1 "$3"', [root, registryKey('sh"op'), reg]).stdout).toBe(`purged ${root}\n::orch:: status=changed\n`);
    expect(existsSync(root)).toBe(false);
    expect(runBash(LIBS, 'orch_remove "$1" "$2" 1 "$3"', [root, registryKey('sh"op'), reg]).stdout).toBe('::orch:: status=ok\n');
  });

  it('a failing before_remove fails the step and removes nothing', () => {
    const { root, reg } = installed();
    writeFileSync(path.join(root, 'versions/2/.orch-before-remove'), 'false\necho not reached\n');
    const r = runBash(LIBS, 'orch_remove "$1" "$2" 1 "$3"', [root, registryKey('sh"op'), reg]);
    expect([r.code, r.stderr]).toEqual([1, 'before_remove failed (exit 1); nothing more was removed\n']);
    expect(r.stdout).not.toContain('not reached');
    expect(readdirSync(root).sort()).toEqual(['.orch', 'current', 'previous', 'shared', 'versions']);
    expect(JSON.parse(readFileSync(reg, 'utf8')).apps['sh"op']).toBe(root);
  });

  it('a hook file that is a symlink is not read; the last app leaves an empty registry', () => {
    const { root, reg } = installed();
    writeFileSync(path.join(root, 'evil'), `touch ${JSON.stringify(`${root}.pwned`)}\n`);
    symlinkSync(path.join(root, 'evil'), path.join(root, 'versions/2/.orch-before-remove'));
    writeFileSync(reg, `${formatStateJson({ apps: { only: root } })}\n`);
    const r = runBash(LIBS, 'orch_remove "$1" "$2" 1 "$3"', [root, registryKey('only'), reg]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(`${root}.pwned`)).toBe(false);
    expect(readFileSync(reg, 'utf8')).toBe(`${formatStateJson({ apps: {} })}\n`);
  });

  it('a hook file another user could write (group/other-writable, or owned by another user) is not run', () => {
    for (const spoil of ['writable', ...(process.getuid?.() === 0 ? ['owner'] : [])]) {
      const { root, reg } = installed();
      const hook = path.join(root, 'versions/2/.orch-after-remove');
      writeFileSync(hook, `touch ${JSON.stringify(`${root}.pwned`)}\n`);
      if (spoil === 'writable') chmodSync(hook, 0o666);
      else chownSync(hook, 65534, 65534);
      writeFileSync(reg, `${formatStateJson({ apps: { only: root } })}\n`);
      const r = runBash(LIBS, 'orch_remove "$1" "$2" 1 "$3"', [root, registryKey('only'), reg]);
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(`${root}.pwned`), spoil).toBe(false);
    }
  });
});
