/** Editing crontab text by `# orch:` marker: add, replace, remove, list; other lines byte for byte. */
import { describe, expect, it } from 'vitest';
import { listOrchEntries, removeOrchEntry, upsertOrchEntry } from '../../../src/cron/crontab-text.js';

const A = '/srv/a.yml';
const B = '/srv/b.yml';
const blockA = (job = '*/15 * * * * run-a'): [string, string] => [`# orch:${A}`, job];
const blockB: [string, string] = [`# orch:${B}`, '5 */2 * * * run-b'];

const USER = 'MAILTO=ops@example.com\n# m h dom mon dow command\n0 4 * * *   /usr/local/bin/backup  --all\t# nightly\n';

describe('upsertOrchEntry', () => {
  it.each([
    ['into an empty crontab', '', blockA(), `# orch:${A}\n*/15 * * * * run-a\n`, 'added'],
    ['after the user\'s lines, which stay as they were', USER, blockA(), `${USER}# orch:${A}\n*/15 * * * * run-a\n`, 'added'],
    ['after a last line without newline', '0 4 * * * backup', blockA(), `0 4 * * * backup\n# orch:${A}\n*/15 * * * * run-a\n`, 'added'],
    ['in place of the old job, keeping its position', `${USER}# orch:${A}\n*/5 * * * * old\n@daily tail\n`, blockA(), `${USER}# orch:${A}\n*/15 * * * * run-a\n@daily tail\n`, 'replaced'],
    ['under a marker whose job line was deleted by hand', `# orch:${A}\n# a comment\n`, blockA(), `# orch:${A}\n*/15 * * * * run-a\n# a comment\n`, 'replaced'],
    ['removing hand-made duplicates', `# orch:${A}\n1 * * * * x\nKEEP=1\n# orch:${A}\n2 * * * * y\n`, blockA(), `# orch:${A}\n*/15 * * * * run-a\nKEEP=1\n`, 'replaced'],
    ['without touching another playbook', `# orch:${B}\n5 */2 * * * run-b\n`, blockA(), `# orch:${B}\n5 */2 * * * run-b\n# orch:${A}\n*/15 * * * * run-a\n`, 'added'],
    ['not matching a playbook whose path only starts the same', `# orch:${A}.bak\n1 * * * * z\n`, blockA(), `# orch:${A}.bak\n1 * * * * z\n# orch:${A}\n*/15 * * * * run-a\n`, 'added'],
  ])('%s', (_name, before, block, after, action) => {
    expect(upsertOrchEntry(before, A, block)).toEqual({ text: after, action });
  });

  it('is idempotent: the second run changes nothing', () => {
    const once = upsertOrchEntry(USER, A, blockA()).text;
    expect(upsertOrchEntry(once, A, blockA())).toEqual({ text: once, action: 'unchanged' });
    expect(listOrchEntries(once).filter((e) => e.playbook === A)).toHaveLength(1);
  });
});

describe('removeOrchEntry', () => {
  const both = `${USER}# orch:${A}\n*/15 * * * * run-a\n# orch:${B}\n5 */2 * * * run-b\n`;
  it.each([
    ['the marker and its job, nothing else', both, A, `${USER}# orch:${B}\n5 */2 * * * run-b\n`, 1],
    ['the other playbook', both, B, `${USER}# orch:${A}\n*/15 * * * * run-a\n`, 1],
    ['a marker with no job under it, keeping the comment below', `# orch:${A}\n# keep me\n`, A, '# keep me\n', 1],
    ['every duplicate', `# orch:${A}\n1 * * * * x\n# orch:${A}\n2 * * * * y\n`, A, '', 2],
    ['nothing when absent, text returned as is', '0 4 * * * backup', A, '0 4 * * * backup', 0],
    ['nothing from an empty crontab', '', A, '', 0],
  ])('%s', (_name, before, playbook, after, removed) => {
    expect(removeOrchEntry(before, playbook)).toEqual({ text: after, removed });
  });
});

describe('listOrchEntries', () => {
  it('finds every orch block with its schedule and command, ignoring other lines', () => {
    const text = `${USER}# orch:${A}\n*/15 * * * * cd /srv && node orch.js converge ${A}\n# orch:${B}\n@daily   run-b --x\n# orch:/srv/c.yml\n\n`;
    expect(listOrchEntries(text)).toEqual([
      { playbook: A, schedule: '*/15 * * * *', command: `cd /srv && node orch.js converge ${A}`, line: 4 },
      { playbook: B, schedule: '@daily', command: 'run-b --x', line: 6 },
      { playbook: '/srv/c.yml', schedule: null, command: null, line: 8 },
    ]);
  });

  it('reads back what upsert wrote', () => {
    const text = upsertOrchEntry(upsertOrchEntry(USER, A, blockA()).text, B, blockB).text;
    expect(listOrchEntries(text).map((e) => [e.playbook, e.schedule, e.command])).toEqual([
      [A, '*/15 * * * *', 'run-a'],
      [B, '5 */2 * * *', 'run-b'],
    ]);
  });
});
