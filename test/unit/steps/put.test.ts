/** The `put` step kind: exact script, probes, label and its prediction table. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { META_SH, PUT_SH } from '../../../src/host/embedded.generated.js';
import { put } from '../../../src/steps/put.js';
import { buildStep, facts, scriptOf } from './helpers.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const HI = sha('hi web1\n');

describe('put', () => {
  it('builds prelude + meta.sh + put.sh and one call line with quoted arguments', () => {
    const { task, problems, label } = buildStep(put, { content: 'hi {{host.name}}\n', dest: '{{root}}/shared/a b.conf', mode: '0640', owner: 'shop', group: 'www' });
    expect(problems).toEqual([]);
    expect(label).toBe('put /srv/shop/shared/a b.conf');
    expect(task!.script).toBe(scriptOf([META_SH, PUT_SH], `orch_put "$1" '/srv/shop/shared/a b.conf' ${HI} 0640 shop www`));
    expect(task!.probes).toEqual([{ kind: 'sha256', path: '/srv/shop/shared/a b.conf' }, { kind: 'stat', path: '/srv/shop/shared/a b.conf' }]);
    expect(task!.check).toEqual({ kind: 'put', dest: '/srv/shop/shared/a b.conf', sha256: HI, mode: '0640', owner: 'shop', group: 'www' });
    expect(task!.payload).toEqual({ kind: 'content', base64: Buffer.from('hi web1\n').toString('base64'), sha256: HI, size: 8 });
  });

  it('without mode/owner/group: empty arguments, no stat probe; ~/ paths expand on the host', () => {
    const { task } = buildStep(put, { src: 'files/x', dest: '~/x.txt' }, { files: { 'files/x': 'x' } });
    expect(task!.script).toBe(scriptOf([META_SH, PUT_SH], `orch_put "$1" "$HOME"/x.txt ${sha('x')} '' '' ''`));
    expect(task!.probes).toEqual([{ kind: 'sha256', path: '~/x.txt' }]);
    expect(task!.payload).toEqual({ kind: 'file', path: '/play/files/x', sha256: sha('x'), size: 1 });
  });

  it.each([
    [{ dest: '/x' }, ['(step): put needs exactly one of "src", "content", "template" (got none)']],
    [{ dest: 'rel/x', content: '' }, ['dest: dest must be an absolute path or start with ~/ (got "rel/x")']],
    [{ dest: '/x', content: '', mode: '644x' }, ['mode: mode must be octal like "0644" (got "644x")']],
    [{ dest: '/x', content: '', owner: 'a b' }, ['owner: owner must be a user or group name or a numeric id (got "a b")']],
  ])('refuses %j', (args, want) => {
    expect(buildStep(put, args as never).problems).toEqual(want);
  });

  const managed = buildStep(put, { content: 'hi {{host.name}}\n', dest: '/etc/a', mode: '0640', owner: 'shop', group: 'www' }).task!;
  const plain = buildStep(put, { content: 'hi {{host.name}}\n', dest: '/etc/a' }).task!;
  it.each([
    ['plain: no facts', plain, {}, 'maybe'],
    ['plain: absent', plain, { 'sha256:/etc/a': null }, 'changed'],
    ['plain: other content', plain, { 'sha256:/etc/a': sha('old') }, 'changed'],
    ['plain: same content', plain, { 'sha256:/etc/a': HI }, 'ok'],
    ['managed: same content, meta unknown', managed, { 'sha256:/etc/a': HI }, 'maybe'],
    ['managed: same content and meta (names)', managed, { 'sha256:/etc/a': HI, 'stat:/etc/a': 'f 640 shop www 1001 33' }, 'ok'],
    ['managed: other mode', managed, { 'sha256:/etc/a': HI, 'stat:/etc/a': 'f 644 shop www 1001 33' }, 'changed'],
    ['managed: other owner', managed, { 'sha256:/etc/a': HI, 'stat:/etc/a': 'f 640 root www 0 33' }, 'changed'],
    ['managed: other group', managed, { 'sha256:/etc/a': HI, 'stat:/etc/a': 'f 640 shop root 1001 0' }, 'changed'],
    ['managed: a folder there', managed, { 'sha256:/etc/a': null, 'stat:/etc/a': 'd 640 shop www 1001 33' }, 'changed'],
    ['managed: other content', managed, { 'sha256:/etc/a': sha('old'), 'stat:/etc/a': 'f 640 shop www 1001 33' }, 'changed'],
  ])('predicts %s', (_name, task, f, want) => {
    expect(put.predict(facts(f as Record<string, string | null>), task as never)).toBe(want);
  });

  it('matches owner and group by numeric id too', () => {
    const byId = buildStep(put, { content: 'hi {{host.name}}\n', dest: '/etc/a', owner: '1001', group: '33' }).task!;
    expect(put.predict(facts({ 'sha256:/etc/a': HI, 'stat:/etc/a': 'f 600 shop www 1001 33' }), byId as never)).toBe('ok');
  });

  it('a predicted change updates the facts: the same put again predicts ok', () => {
    const f = facts({ 'sha256:/etc/a': null, 'stat:/etc/a': null });
    expect(put.predict(f, managed as never)).toBe('changed');
    expect(put.predict(f, managed as never)).toBe('ok');
  });

  it('has the payload when the remote sha256 matches', () => {
    expect(put.hasPayload!(facts({ 'sha256:/etc/a': HI }), plain as never)).toBe(true);
    expect(put.hasPayload!(facts({ 'sha256:/etc/a': null }), plain as never)).toBe(false);
  });
});
