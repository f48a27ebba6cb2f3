/** The `install` step kind: exact script, probes, label and its prediction table. */
import { describe, expect, it } from 'vitest';
import { COMMAND_SH, DELTA_SH, INSTALL_SH, TAR_CHECK_SH } from '../../../src/host/embedded.generated.js';
import { install, sameVersionMessage } from '../../../src/steps/install.js';
import { BUNDLE, buildStep, facts, scriptOf } from './helpers.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const MARKER = 'read:/srv/shop/versions/1.2.0/.orch-installed';
const BFILE = `/srv/shop/.orch/bundles/${A}.tar.gz`;

describe('install', () => {
  it('builds prelude + tar-check.sh + install.sh and one call line', () => {
    const { task, problems, label } = buildStep(install, { bundle: 'shop' });
    expect(problems).toEqual([]);
    expect(label).toBe('install shop 1.2.0');
    expect(task!.script).toBe(scriptOf([COMMAND_SH, TAR_CHECK_SH, DELTA_SH, INSTALL_SH],
      `orch_install "$1" "\${2:-}" "\${3:-}" "$HOME"/.orch/registry.json /srv/shop 1.2.0 ${A} shop-1.2.0-any '' ''`));
    expect(task!.probes).toEqual([
      { kind: 'read', path: '/srv/shop/versions/1.2.0/.orch-installed' },
      { kind: 'exists', path: BFILE },
      { kind: 'read', path: '/srv/shop/.orch/state.json' },
      { kind: 'read', path: '~/.orch/registry.json' },
      { kind: 'delta', path: '/srv/shop' },
    ]);
    expect(task!.state).toEqual({ action: 'install', app: 'shop', root: '/srv/shop', version: '1.2.0', sha256: A });
    expect(task!.payload).toEqual({ kind: 'bundle', bundle: 'shop', sha256: A, size: 100 });
  });

  it('before/after become functions the library runs (so bash -n checks them at plan time); {{x}} is shell-quoted', () => {
    const { task } = buildStep(install, { before: 'systemctl stop {{app}}-worker', after: '{{release}}/bin/migrate' }, { vars: { release: '/srv/my app' } });
    expect(task!.script).toBe(scriptOf([COMMAND_SH, TAR_CHECK_SH, DELTA_SH, INSTALL_SH],
      'orch_before() { :\nsystemctl stop shop-worker\n}',
      "orch_after() { :\n'/srv/my app'/bin/migrate\n}",
      `orch_install "$1" "\${2:-}" "\${3:-}" "$HOME"/.orch/registry.json /srv/shop 1.2.0 ${A} shop-1.2.0-any orch_before orch_after`));
  });

  it.each([
    [{ bundle: 'nope' }, {}, ['bundle: unknown bundle "nope" (bundles: shop)']],
    [{}, { vars: { root: 'srv' } }, ['(step): var "root" must be an absolute path or start with ~/ (got "srv")']],
    [{}, { vars: { root: '' } }, ['(step): install needs var "root" (the app\'s folder on the host), e.g. vars: { root: /srv/app }']],
    [{}, { bundle: { ...BUNDLE, version: '../x' } }, ['bundle: bundle version "../x" is not a valid folder name']],
  ])('refuses %j with %j', (args, o, want) => {
    expect(buildStep(install, args, o).problems).toEqual(want);
  });

  const task = buildStep(install, null).task!;
  it.each([
    ['no facts', {}, 'maybe'],
    ['not installed', { [MARKER]: null }, 'changed'],
    ['installed from this bundle', { [MARKER]: `${A}\n` }, 'ok'],
    ['installed from another bundle (refused)', { [MARKER]: `${B}\n` }, 'failed'],
    ['recorded bad with this sha256', { [MARKER]: null, 'read:/srv/shop/.orch/state.json': JSON.stringify({ bad: { '1.2.0': A } }) }, 'skipped'],
    ['recorded bad with another sha256', { [MARKER]: null, 'read:/srv/shop/.orch/state.json': JSON.stringify({ bad: { '1.2.0': B } }) }, 'changed'],
  ])('predicts %s', (_n, f, want) => {
    expect(install.predict(facts(f), task as never)).toBe(want);
  });

  it('a predicted install makes the version the newest complete one and the bundle present', () => {
    const f = facts({ [MARKER]: null, 'versions:/srv/shop': '1.1.0\n1.0.0' });
    expect(install.predict(f, task as never)).toBe('changed');
    expect(f.get('versions:/srv/shop')).toBe('1.2.0\n1.1.0\n1.0.0');
    expect(install.hasPayload!(f, task as never)).toBe(true);
    expect(install.predict(f, task as never)).toBe('ok');
  });

  it('refuses, from the marker fact, a version installed from another bundle; nothing else', () => {
    expect(install.refuse!(facts({ [MARKER]: `${B}\n` }), task as never)).toBe(
      `version 1.2.0 is already installed in /srv/shop/versions/1.2.0 from another bundle (sha256 ${B.slice(0, 12)}…, this bundle ${A.slice(0, 12)}…); one version is one release: give a new build a new version (bump VERSION, or version: git | timestamp)`);
    expect(install.refuse!(facts({ [MARKER]: `${A}\n` }), task as never)).toBeUndefined();
    expect(install.refuse!(facts({ [MARKER]: null }), task as never)).toBeUndefined();
    expect(install.refuse!(facts({}), task as never)).toBeUndefined();
  });

  it('an uncommitted version: git id is told to commit', () => {
    expect(sameVersionMessage('/srv/shop/', '1.2.0+g1a2b3c4.dirty', B, A)).toBe(
      `version 1.2.0+g1a2b3c4.dirty is already installed in /srv/shop/versions/1.2.0+g1a2b3c4.dirty from another bundle (sha256 ${B.slice(0, 12)}…, this bundle ${A.slice(0, 12)}…); one version is one release: give a new build a new version (commit the changes, or use version: timestamp)`);
  });

  it('sends no payload to a refused install (the host fails before reading a byte)', () => {
    expect(install.hasPayload!(facts({ [MARKER]: `${B}\n`, [`exists:${BFILE}`]: null }), task as never)).toBe(true);
  });

  it('has the payload when the bundle file is there or the version is installed', () => {
    expect(install.hasPayload!(facts({ [`exists:${BFILE}`]: '1' }), task as never)).toBe(true);
    expect(install.hasPayload!(facts({ [MARKER]: `${A}\n` }), task as never)).toBe(true);
    expect(install.hasPayload!(facts({ [`exists:${BFILE}`]: null, [MARKER]: null }), task as never)).toBe(false);
  });
});
