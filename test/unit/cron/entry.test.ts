/** The crontab entry `orch cron install` writes: exact text, and that /bin/sh runs it with the right argv, cwd and PATH. */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkEntrySpec, markerFor, renderConvergeCommand, renderCronEntry } from '../../../src/cron/entry.js';
import type { ConvergeEntrySpec } from '../../../src/cron/entry.js';
import { formatDiagnostic } from '../../../src/model/diagnostics.js';

const BASE: ConvergeEntrySpec = {
  playbook: '/srv/ops/site.yml',
  schedule: '*/15 * * * *',
  node: '/opt/node/bin/node',
  orch: '/opt/orch/bin/orch.js',
  log: '/root/.orch/converge-site.log',
};
const PATH_TAIL = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe('renderCronEntry', () => {
  it.each([
    ['plain paths', BASE, [
      '# orch:/srv/ops/site.yml',
      `*/15 * * * * cd /srv/ops && PATH=/opt/node/bin:${PATH_TAIL} /opt/node/bin/node /opt/orch/bin/orch.js converge /srv/ops/site.yml --log /root/.orch/converge-site.log`,
    ]],
    ['a limit pattern is quoted', { ...BASE, limit: 'web*:!web3' }, [
      '# orch:/srv/ops/site.yml',
      `*/15 * * * * cd /srv/ops && PATH=/opt/node/bin:${PATH_TAIL} /opt/node/bin/node /opt/orch/bin/orch.js converge /srv/ops/site.yml --limit 'web*:!web3' --log /root/.orch/converge-site.log`,
    ]],
    ['secret flags pass on file paths only', { ...BASE, vaultPasswordFiles: ['/root/.vault pass'], vaultIds: ['prod@/root/prod.pw'], ageIdentity: '/root/age.txt' }, [
      '# orch:/srv/ops/site.yml',
      `*/15 * * * * cd /srv/ops && PATH=/opt/node/bin:${PATH_TAIL} /opt/node/bin/node /opt/orch/bin/orch.js converge /srv/ops/site.yml --vault-password-file '/root/.vault pass' --vault-id prod@/root/prod.pw --age-identity /root/age.txt --log /root/.orch/converge-site.log`,
    ]],
    ['node in /usr/bin is not listed twice', { ...BASE, node: '/usr/bin/node', schedule: '7 3 * * *' }, [
      '# orch:/srv/ops/site.yml',
      '7 3 * * * cd /srv/ops && PATH=/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/bin /usr/bin/node /opt/orch/bin/orch.js converge /srv/ops/site.yml --log /root/.orch/converge-site.log',
    ]],
    ['spaces, quotes and % are quoted and %-escaped', { ...BASE, playbook: "/srv/my ops/it's 100%.yml", log: '/var/log/orch %d.log' }, [
      "# orch:/srv/my ops/it's 100%.yml",
      `*/15 * * * * cd '/srv/my ops' && PATH=/opt/node/bin:${PATH_TAIL} /opt/node/bin/node /opt/orch/bin/orch.js converge '/srv/my ops/it'\\''s 100\\%.yml' --log '/var/log/orch \\%d.log'`,
    ]],
  ])('%s', (_name, spec, lines) => {
    expect(renderCronEntry(spec)).toEqual(lines);
    expect(markerFor(spec.playbook)).toBe(lines[0]);
  });
});

describe('renderConvergeCommand run by /bin/sh as cron would', () => {
  it('reaches node with the playbook folder as cwd, node first on PATH, and every argument intact', () => {
    const work = mkdtempSync(join(tmpdir(), 'orch-cron-entry-'));
    const pbDir = join(work, "my ops 100% 'x'");
    const binDir = join(work, 'node bin');
    mkdirSync(pbDir);
    mkdirSync(binDir);
    const record = join(work, 'record.json');
    // A stand-in for node that records what it was started with.
    const node = join(binDir, 'node');
    writeFileSync(node, `#!/bin/sh\nprintf '%s\\n' "$PWD" "$PATH" "$@" > '${record}'\n`);
    chmodSync(node, 0o755);
    const spec: ConvergeEntrySpec = { ...BASE, playbook: join(pbDir, 'site $HOME.yml'), node, log: join(work, 'log %s.jsonl'), limit: 'web*&prod' };
    // cron passes the command to /bin/sh after turning `\%` into `%` (crontab(5)).
    const command = renderConvergeCommand(spec).replaceAll('\\%', '%');
    execFileSync('/bin/sh', ['-c', command], { env: { PATH: '/usr/bin:/bin' } });
    expect(readFileSync(record, 'utf8').split('\n').slice(0, -1)).toEqual([
      pbDir, `${binDir}:${PATH_TAIL}`, '/opt/orch/bin/orch.js', 'converge', spec.playbook, '--limit', 'web*&prod', '--log', spec.log,
    ]);
  });
});

describe('checkEntrySpec', () => {
  it.each([
    [{ ...BASE }, []],
    [{ ...BASE, log: 'logs/x.log' }, ['<command line>:1:1: --log: "logs/x.log" is not an absolute path']],
    [{ ...BASE, playbook: '/srv/a\nb.yml', limit: 'web\n* * * * * rm -rf /' }, [
      '<command line>:1:1: PLAYBOOK: "/srv/a\\nb.yml" contains a line break or NUL byte, which a crontab line cannot hold',
      '<command line>:1:1: --limit: "web\\n* * * * * rm -rf /" contains a line break or NUL byte, which a crontab line cannot hold',
    ]],
  ])('%j', (spec, messages) => {
    expect(checkEntrySpec(spec).map(formatDiagnostic)).toEqual(messages);
  });
});
