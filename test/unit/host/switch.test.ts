/** Behaviour of src/host/switch.sh (the one switch of current/previous) under real bash. */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRELUDE_SH, SWITCH_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';
import { appRoot } from './helpers.js';

const LIBS = [PRELUDE_SH, SWITCH_SH];
describe('switch.sh', () => {
  it('orch_link_of prints a link target, nothing for a missing link', () => {
    const root = appRoot(['1'], '1');
    expect(runBash(LIBS, 'orch_link_of "$1/current"; orch_link_of "$1/nope"', [root]).stdout).toBe('versions/1\n');
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
});
