/** The `run` step kind: exact script, label and its prediction table. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { COMMAND_SH, RUN_SH } from '../../../src/host/embedded.generated.js';
import { run } from '../../../src/steps/run.js';
import { buildStep, facts, scriptOf } from './helpers.js';

describe('run', () => {
  it('the command is a function the library runs in a subshell; {{x}} is shell-quoted', () => {
    const r = buildStep(run, { cmd: 'echo {{who}} > /tmp/x\necho done' }, { vars: { who: "it's me" } });
    expect(r.problems).toEqual([]);
    expect(r.label).toBe("run echo it's me > /tmp/x");
    expect(r.task!.script).toBe(scriptOf([COMMAND_SH, RUN_SH], "orch_cmd() { :\necho 'it'\\''s me' > /tmp/x\necho done\n}", "orch_run '' '' orch_cmd"));
    expect(r.task!.probes).toEqual([]);
  });

  it('creates, unless and sudo', () => {
    const r = buildStep(run, { cmd: 'make-cert', creates: '~/cert.pem', unless: 'test -f /etc/x', sudo: true });
    expect(r.task!.script).toBe(scriptOf([COMMAND_SH, RUN_SH],
      'orch_unless() { :\ntest -f /etc/x\n}',
      "orch_cmd() { sudo -n bash -c make-cert; }",
      'orch_run "$HOME"/cert.pem orch_unless orch_cmd'));
    // unless is a probe too: the plan runs it once in the facts round trip.
    expect(r.task!.probes).toEqual([{ kind: 'exists', path: '~/cert.pem' }, { kind: 'unless', path: 'test -f /etc/x' }]);
    expect(r.task!.check).toEqual({ kind: 'run', creates: '~/cert.pem', hasUnless: true, unless: 'test -f /etc/x' });
  });

  it('user: the command and unless run as that user (orch_as_user), as text', () => {
    const r = buildStep(run, { cmd: 'echo {{app}} > ~/x', unless: 'test -f ~/x', user: '{{app}}' });
    expect(r.problems).toEqual([]);
    expect(r.task!.script).toBe(scriptOf([COMMAND_SH, RUN_SH],
      "orch_unless() { orch_as_user shop 'test -f ~/x'; }",
      "orch_cmd() { orch_as_user shop 'echo shop > ~/x'; }",
      "orch_run '' orch_unless orch_cmd"));
    expect(buildStep(run, { cmd: 'x', user: 'a b' }).problems).toEqual(['user: "a b" is not a user name: a lowercase letter or _ first, then lowercase letters, digits, _ . - (at most 32), like "shop"']);
    expect(buildStep(run, { cmd: 'x', user: 'shop', sudo: true }).problems).toEqual(['user: user: and sudo: true exclude each other (user: already runs the command through sudo when orch is not root)']);
  });

  it('orch_as_user runs as that user with its HOME under real bash (runuser as root)', () => {
    const r = spawnSync('bash', ['-c', `set -euo pipefail\n${COMMAND_SH}\norch_as_user nobody 'echo "$(id -un) $HOME"'`], { encoding: 'utf8' });
    if (process.getuid?.() !== 0) return;
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`nobody ${spawnSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).stdout.split(':')[5]}\n`);
  });

  it('refuses a relative creates', () => {
    expect(buildStep(run, { cmd: 'x', creates: 'x' }).problems).toEqual(['creates: creates must be an absolute path or start with ~/ (got "x")']);
  });

  const plain = buildStep(run, { cmd: 'x' }).task!;
  const creates = buildStep(run, { cmd: 'x', creates: '/done' }).task!;
  const unless = buildStep(run, { cmd: 'x', creates: '/done', unless: 'true' }).task!;
  const judged = buildStep(run, { cmd: 'x', unless: 'true', changed_when: false }).task!;
  it.each([
    ['plain', plain, {}, 'changed'],
    ['creates: unknown', creates, {}, 'changed'],
    ['creates: absent', creates, { 'exists:/done': null }, 'changed'],
    ['creates: present', creates, { 'exists:/done': '1' }, 'skipped'],
    ['unless: not read (offline, old facts)', unless, { 'exists:/done': null }, 'maybe'],
    ['unless exits 0', unless, { 'exists:/done': null, 'unless:true': '0' }, 'skipped'],
    ['unless exits 1', unless, { 'exists:/done': null, 'unless:true': '1' }, 'changed'],
    ['unless exits 0, but an earlier step may change the host first', unless, { 'exists:/done': null, 'unless:true': '0', 'predict:earlier-change': '1' }, 'maybe'],
    ['unless, creates present', unless, { 'exists:/done': '1' }, 'skipped'],
    ['unless exits 1, changed_when: the host decides', judged, { 'unless:true': '1' }, 'maybe'],
    ['unless exits 0, changed_when', judged, { 'unless:true': '0' }, 'skipped'],
  ])('predicts %s', (_n, t, f, want) => {
    expect(run.predict(facts(f), t as never)).toBe(want);
  });
});
