/** Behaviour of src/host/switch.sh (the one switch of current/previous) under real bash. */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH, SWITCH_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';
import { appRoot } from './helpers.js';

const LIBS = [PRELUDE_SH, VERSIONS_SH, SWITCH_SH];
describe('switch.sh', () => {
  it('orch_link_of puts a link target into VAR, nothing for a missing link or a folder', () => {
    const root = appRoot(['1'], '1');
    const r = runBash(LIBS, 'a=x b=x c=x; orch_link_of "$1/current" a; orch_link_of "$1/nope" b; orch_link_of "$1/versions" c; printf "%s|%s|%s\\n" "$a" "$b" "$c"', [root]);
    expect(r.stdout, r.stderr).toBe('versions/1||\n');
  });
  it('orch_relink replaces a link atomically and leaves no temp link', () => {
    const root = appRoot(['1', '2'], '1');
    expect(runBash(LIBS, 'orch_relink "$1/current" versions/2', [root]).code).toBe(0);
    expect(readlinkSync(path.join(root, 'current'))).toBe('versions/2');
    expect(readdirSync(root).sort()).toEqual(['current', 'versions']);
  });
  it('orch_switch: current -> target, previous -> the old current, state written, changed', () => {
    const root = appRoot(['1', '2'], '1');
    const r = runBash(LIBS, 'orch_switch "$1" versions/2 "" "$2"', [root, '{"s":1}']);
    expect(r).toEqual({ code: 0, stdout: '::orch:: status=changed\n', stderr: '' });
    expect([readlinkSync(path.join(root, 'current')), readlinkSync(path.join(root, 'previous'))]).toEqual(['versions/2', 'versions/1']);
    expect(readFileSync(path.join(root, '.orch/state.json'), 'utf8')).toBe('{"s":1}\n');
  });
  it('orch_switch on a fresh root makes no previous link', () => {
    const root = appRoot(['1']);
    expect(runBash(LIBS, 'orch_switch "$1" versions/1 "" ""', [root]).stdout).toBe('::orch:: status=changed\n');
    expect(existsSync(path.join(root, 'previous'))).toBe(false);
  });
  it('orch_switch when already there: ok, or changed while a restart is pending; writes the marker before switching', () => {
    const root = appRoot(['1', '2'], '2');
    expect(runBash(LIBS, 'orch_switch "$1" versions/2 .orch/restart-pending ""', [root]).stdout).toBe('::orch:: status=ok\n');
    expect(runBash(LIBS, 'orch_switch "$1" versions/1 .orch/restart-pending ""', [root]).stdout).toBe('::orch:: status=changed\n');
    expect(existsSync(path.join(root, '.orch/restart-pending'))).toBe(true);
    expect(runBash(LIBS, 'orch_switch "$1" versions/1 .orch/restart-pending ""', [root]).stdout).toBe('::orch:: status=changed\n');
  });
  it('orch_switch with current already at the target: rewrites a state.json that names another current (changed), else ok', () => {
    const root = appRoot(['1', '2'], '2');
    mkdirSync(path.join(root, '.orch'), { recursive: true });
    writeFileSync(path.join(root, '.orch/state.json'), '{\n  "current": "1"\n}\n');
    const state = '{\n  "current": "2"\n}';
    expect(runBash(LIBS, 'orch_switch "$1" versions/2 "" "$2"', [root, state]).stdout).toBe('::orch:: status=changed\n');
    expect(readFileSync(path.join(root, '.orch/state.json'), 'utf8')).toBe(`${state}\n`);
    expect(runBash(LIBS, 'orch_switch "$1" versions/2 "" "$2"', [root, state]).stdout).toBe('::orch:: status=ok\n');
  });
  it('orch_cleanup (run by orch_switch) removes what dead runs left and keeps current, previous and complete versions', () => {
    const root = appRoot(['1', '2', '3'], '2');
    runBash([], 'cd "$1" && ln -s versions/1 previous && ln -s versions/3 .current.tmp.77 && mkdir -p .orch/unpack.x1 .orch/bundles versions/4 versions/5/f && : > .orch/.orch-tmp.1.2 && : > .orch/state.json.tmp.9 && : > .orch/bundles/.upload.abc && : > versions/3/.orch-installed.tmp', [root]);
    const r = runBash(LIBS, 'orch_switch "$1" versions/3 "" ""', [root]);
    expect(r).toEqual({ code: 0, stdout: '::orch:: status=changed\n', stderr: 'cleanup: 8 leftovers of an interrupted run\n' });
    expect(readdirSync(path.join(root, 'versions')).sort()).toEqual(['1', '2', '3']);
    expect(readdirSync(path.join(root, '.orch')).sort()).toEqual(['bundles']);
    expect(readdirSync(path.join(root, '.orch/bundles'))).toEqual([]);
    expect(readdirSync(root).sort()).toEqual(['.orch', 'current', 'previous', 'versions']);
    expect(existsSync(path.join(root, 'versions/3/.orch-installed.tmp'))).toBe(false);
  });
});
