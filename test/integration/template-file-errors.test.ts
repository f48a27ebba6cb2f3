/**
 * A template file's error is reported at the template's own line and column (and the
 * playbook field that names it), not at the playbook line: CLI, local transport.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeWork, orch } from './cli.js';

describe('errors in a put template file', () => {
  it('point at the template line and column, inside blocks too', async () => {
    const { dir, env } = makeWork('tplfile');
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'inventory.yml'), 'hosts:\n  l1: { transport: local }\n');
    writeFileSync(join(dir, 'templates', 'app.conf.hbs'), 'listen = 80\nname = {{app}}\nport = {{prot}}\n{{#if app}}\n  owner = {{ownr}}\n{{/if}}\n');
    writeFileSync(join(dir, 'playbook.yml'), `inventory: inventory.yml
vars: { app: shop, port: 8000, owner: shop }
steps:
  - put: { template: templates/app.conf.hbs, dest: "${dir}/out.conf" }
`);
    const r = await orch(['plan', 'playbook.yml'], env, { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe([
      'templates/app.conf.hbs:3:10: steps[0].put.template: undefined variable "prot"',
      '',
    ].join('\n'));
    // The first error stops rendering that template; fix it and the next one shows, in the block.
    writeFileSync(join(dir, 'templates', 'app.conf.hbs'), 'listen = 80\nname = {{app}}\nport = {{port}}\n{{#if app}}\n  owner = {{ownr}}\n{{/if}}\n');
    const r2 = await orch(['plan', join(dir, 'playbook.yml')], env);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toBe(`${dir}/templates/app.conf.hbs:5:13: steps[0].put.template: undefined variable "ownr"\n`);
  });
});
