/** The `package` step kind: exact script, name syntax checks and its prediction table. */
import { describe, expect, it } from 'vitest';
import { PACKAGE_SH } from '../../../src/host/embedded.generated.js';
import { pkg } from '../../../src/steps/package.js';
import { buildStep, facts, scriptOf } from './helpers.js';

describe('package', () => {
  it('builds prelude + package.sh and one call line; probes each package', () => {
    const r = buildStep(pkg, { name: ['nginx', 'python3-venv', 'libc6:amd64'], update_cache: '1h', lock_timeout: '30s' });
    expect(r.problems).toEqual([]);
    expect(r.label).toBe('package nginx python3-venv libc6:amd64');
    expect(r.task!.script).toBe(scriptOf([PACKAGE_SH], 'orch_package present 0 30 3600 nginx python3-venv libc6:amd64'));
    expect(r.task!.probes).toEqual([{ kind: 'package', path: 'nginx' }, { kind: 'package', path: 'python3-venv' }, { kind: 'package', path: 'libc6:amd64' }]);
    expect(r.task!.check).toEqual({ kind: 'package', state: 'present', packages: [{ name: 'nginx' }, { name: 'python3-venv' }, { name: 'libc6:amd64' }] });
  });
  it('defaults: update only when the lists are missing, lock timeout 300 s; a pin; sudo; templates', () => {
    const r = buildStep(pkg, { name: '{{app}}-web=1:2.3-1', sudo: true });
    expect(r.problems).toEqual([]);
    expect(r.task!.script).toBe(scriptOf([PACKAGE_SH], "orch_package present 1 300 missing shop-web=1:2.3-1"));
    expect(r.task!.check).toEqual({ kind: 'package', state: 'present', packages: [{ name: 'shop-web', version: '1:2.3-1' }] });
  });
  it.each([
    [{ name: 'x', update_cache: true, state: 'latest' }, "orch_package latest 0 300 always x"],
    [{ name: 'xy', update_cache: false, state: 'absent' }, "orch_package absent 0 300 never xy"],
  ])('update_cache and state %j', (args, line) => {
    const r = buildStep(pkg, args as never);
    // `x` alone is too short for a Debian name.
    if (args.name === 'x') return expect(r.problems).toEqual(['name: "x" is not a Debian package name: lowercase letters, digits, + - . (at least two, starting with a letter or digit), optionally NAME=VERSION or NAME:ARCH, like "python3-venv" or "nginx=1.22.1-9"']);
    expect(r.task!.script).toBe(scriptOf([PACKAGE_SH], line));
  });
  it('latest probes the candidate too', () => {
    expect(buildStep(pkg, { name: 'nginx', state: 'latest' }).task!.probes).toEqual([{ kind: 'package', path: 'nginx' }, { kind: 'candidate', path: 'nginx' }]);
  });
  it.each([
    [{ name: 'nginx; rm -rf /' }, ['name: "nginx; rm -rf /" is not a Debian package name: lowercase letters, digits, + - . (at least two, starting with a letter or digit), optionally NAME=VERSION or NAME:ARCH, like "python3-venv" or "nginx=1.22.1-9"']],
    [{ name: ['ok-pkg', '$(id)'] }, ['name.1: "$(id)" is not a Debian package name: lowercase letters, digits, + - . (at least two, starting with a letter or digit), optionally NAME=VERSION or NAME:ARCH, like "python3-venv" or "nginx=1.22.1-9"']],
    [{ name: '-oAPT::x=1' }, ['name: "-oAPT::x=1" is not a Debian package name: lowercase letters, digits, + - . (at least two, starting with a letter or digit), optionally NAME=VERSION or NAME:ARCH, like "python3-venv" or "nginx=1.22.1-9"']],
    [{ name: 'nginx=1.0 x' }, ['name: "1.0 x" is not a Debian version: digits first, then letters, digits, . + ~ : - (like "1.22.1-9" or "1:2.3-1")']],
    [{ name: 'nginx=1.0', state: 'absent' }, ['name: a pinned version (nginx=1.0) needs state: present (got absent)']],
    [{ name: 'nginx', update_cache: '1 day' }, ['update_cache: update_cache "1 day": expected a number of seconds or 500ms / 2s / 1m / 1h, or true / false']],
    [{ name: 'nginx', lock_timeout: 'soon' }, ['lock_timeout: lock_timeout "soon": expected a number of seconds or 500ms / 2s / 1m / 1h']],
  ])('refuses %j', (args, want) => {
    expect(buildStep(pkg, args as never).problems).toEqual(want);
  });

  const present = buildStep(pkg, { name: ['nginx', 'curl'] }).task!;
  const pinned = buildStep(pkg, { name: 'nginx=1.22.1-9' }).task!;
  const absent = buildStep(pkg, { name: 'nginx', state: 'absent' }).task!;
  const latest = buildStep(pkg, { name: 'nginx', state: 'latest', update_cache: false }).task!;
  const latestUpd = buildStep(pkg, { name: 'nginx', state: 'latest', update_cache: '1h' }).task!;
  it.each([
    ['no facts', present, {}, 'maybe'],
    ['one fact unknown', present, { 'package:nginx': '1.22.1-9' }, 'maybe'],
    ['all installed', present, { 'package:nginx': '1.22.1-9', 'package:curl': '7.88.1-10' }, 'ok'],
    ['one missing', present, { 'package:nginx': '1.22.1-9', 'package:curl': null }, 'changed'],
    ['pinned, same version', pinned, { 'package:nginx': '1.22.1-9' }, 'ok'],
    ['pinned, other version', pinned, { 'package:nginx': '1.22.1-8' }, 'changed'],
    ['absent: not installed', absent, { 'package:nginx': null }, 'ok'],
    ['absent: installed', absent, { 'package:nginx': '1.22.1-9' }, 'changed'],
    ['latest: at the candidate', latest, { 'package:nginx': '1.22.1-9', 'candidate:nginx': '1.22.1-9' }, 'ok'],
    ['latest: older than the candidate', latest, { 'package:nginx': '1.22.1-8', 'candidate:nginx': '1.22.1-9' }, 'changed'],
    ['latest: not installed', latest, { 'package:nginx': null, 'candidate:nginx': '1.22.1-9' }, 'changed'],
    ['latest with a cache update: the lists may bring a newer one', latestUpd, { 'package:nginx': '1.22.1-9', 'candidate:nginx': '1.22.1-9' }, 'maybe'],
  ])('predicts %s', (_n, t, f, want) => {
    expect(pkg.predict(facts(f), t as never)).toBe(want);
  });
  it('a predicted change updates the facts: the same step again predicts ok; absent after it predicts changed', () => {
    const f = facts({ 'package:nginx': null, 'package:curl': '7' });
    expect(pkg.predict(f, present as never)).toBe('changed');
    expect(pkg.predict(f, present as never)).toBe('ok');
    expect(pkg.predict(f, absent as never)).toBe('changed');
    expect(f.get('package:nginx')).toBe(null);
  });
});
