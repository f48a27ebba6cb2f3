/** "Did you mean" (edit distance) and Ansible pointers for unknown keys: full messages. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closestKey, unknownKeyHint } from '../../../src/config/suggest.js';
import { loadPlaybook } from '../../../src/config/playbook.js';
import { SourceIndexImpl } from '../../../src/config/source-index.js';
import { STEP_KIND_NAMES } from '../../../src/steps/index.js';

describe('closestKey', () => {
  it.each([
    ['serail', ['serial', 'steps', 'nodes'], 'serial'],
    ['heathcheck', ['healthcheck', 'service'], 'healthcheck'],
    ['unles', ['unless', 'creates'], 'unless'],
    ['Steps', ['steps'], 'steps'],
    ['xyz', ['serial', 'steps'], undefined],
    ['steps', ['steps'], undefined],
    ['ab', ['on'], undefined],
  ])('%s -> %s', (key, known, want) => {
    expect(closestKey(key, known)).toBe(want);
  });
});

describe('unknownKeyHint', () => {
  it('a close key wins; else an Ansible pointer; else nothing', () => {
    expect(unknownKeyHint('serail', ['serial'])).toBe('did you mean "serial"?');
    expect(unknownKeyHint('apt', ['run', 'put'])).toBe('packages are the `package` step: - package: { name: nginx }');
    expect(unknownKeyHint('user', ['run', 'put'])).toBe('accounts are the `user` step: - user: { name: deploy }');
    expect(unknownKeyHint('become', ['steps', 'nodes'])).toBe('privilege is `become: true` in the inventory (defaults: or a host) or on the playbook or a node');
    expect(unknownKeyHint('frobnicate', ['steps'])).toBeUndefined();
  });
});

describe('playbook messages for unknown keys', () => {
  it('a typo in a node key, a step kind, a step argument; apt and become where Ansible puts them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orch-suggest-'));
    writeFileSync(join(dir, 'inv.yml'), 'hosts:\n  l1: { transport: local }\n');
    writeFileSync(join(dir, 'pb.yml'), [
      'inventory: inv.yml',
      'nodes:',
      '  web:',
      '    serail: 1',
      '    steps:',
      '      - heathcheck: { cmd: "true" }',
      '      - apt: { name: nginx }',
      '      - user: { name: deploy }',
      '      - run: { cmd: x, unles: y }',
      '      - run: { cmd: y, become: true }',
      '',
    ].join('\n'));
    const r = await loadPlaybook(join(dir, 'pb.yml'), new SourceIndexImpl());
    const KINDS = STEP_KIND_NAMES.join(', '); // the registry's order (src/steps/index.ts)
    const RUN_KEYS = 'cmd, creates, unless, sudo, user, changed_when, failed_when, name, on, once, when';
    expect(r.diagnostics.map((d) => `${d.line}:${d.col}: ${d.path}: ${d.message}`)).toEqual([
      '4:5: nodes.web.serail: unknown key "serail": did you mean "serial"? (expected one of: extends, roles, vars, required, steps, nodes, serial, max_fail, max_fail_percentage, bake, rollback, shared, on, actions, drain, undrain, maintenance, or an override key like child__var)',
      `6:9: nodes.web.steps[0].heathcheck: unknown key "heathcheck": did you mean "healthcheck"? (expected one of: name, on, once, when, ${KINDS})`,
      `7:9: nodes.web.steps[1].apt: unknown key "apt": packages are the \`package\` step: - package: { name: nginx } (expected one of: name, on, once, when, ${KINDS})`,
      `9:24: nodes.web.steps[3].run.unles: unknown key "unles": did you mean "unless"? (expected one of: ${RUN_KEYS})`,
      `10:24: nodes.web.steps[4].run.become: unknown key "become": privilege is \`become: true\` in the inventory (defaults: or a host) or on the playbook or a node (expected one of: ${RUN_KEYS})`,
    ]);
  });
});
