/**
 * Differential test: orch's `--limit` against ansible-core's own pattern code
 * (test/unit/limit/ansible-ref.py, InventoryManager.subset + get_hosts, one Python
 * process for the whole corpus), over a seeded random corpus of Ansible INI and YAML
 * inventories (read by orch's Ansible loader) and patterns. Needs Debian's ansible-core
 * (installed by .ci/run); skipped with a message without it.
 *
 * Deliberate differences (docs/reference/cli.md, `--limit`): a pattern Ansible resolves to no host is an error in
 * orch; Ansible's crashes (`web:!`) are errors in orch.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { limitUniverse, selectHosts } from '../../../src/compile/limit.js';
import { loadInventory } from '../../../src/config/inventory.js';
import { SourceIndexImpl } from '../../../src/config/source-index.js';
import { seededRandom } from '../../harness/random.js';

const SEED = Number(process.env.ORCH_LIMIT_SEED ?? 20261201);
const INVENTORIES = 60;
const PATTERNS_PER_INVENTORY = 40;

/** The interpreter of Debian's `ansible` (its shebang): the python3 that has ansible-core. */
function ansiblePython(): string | undefined {
  const r = spawnSync('sh', ['-c', 'head -1 "$(command -v ansible)"'], { encoding: 'utf8' });
  const m = /^#!\s*(\S+)/.exec(r.stdout ?? '');
  if (!m) return undefined;
  return spawnSync(m[1]!, ['-c', 'import ansible.inventory.manager'], { encoding: 'utf8' }).status === 0 ? m[1] : undefined;
}
const python = ansiblePython();
const haveAnsible = python !== undefined;
if (!haveAnsible) console.log('ansible-core not found (apt-get install ansible-core): limit differential test skipped');
const dir = mkdtempSync(join(tmpdir(), 'orch-limit-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rng = seededRandom;

const HOST_POOL = ['web1', 'web2', 'web10', 'db1', 'db2', 'db', 'lb', 'a.b', 'axb', 'x-y', 'Web3', 'cache_1', 'ungrouped', 'prod1'];
const GROUP_POOL = ['web', 'db', 'prod', 'eu', 'us', 'lb_pool', 'staging', 'app'];

interface Case {
  inventory: string;
  patterns: string[];
}

function generate(seed: number): { cases: Case[]; texts: string[] } {
  const r = rng(seed);
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const cases: Case[] = [];
  const texts: string[] = [];
  for (let n = 0; n < INVENTORIES; n++) {
    const hosts = HOST_POOL.filter(() => r() < 0.6);
    if (hosts.length === 0) hosts.push('web1');
    const groups = GROUP_POOL.filter(() => r() < 0.6);
    const members = new Map<string, string[]>();
    const children = new Map<string, string[]>();
    groups.forEach((g, i) => {
      members.set(g, hosts.filter(() => r() < 0.35));
      // children only point at later groups: no cycles
      children.set(g, groups.slice(i + 1).filter(() => r() < 0.25));
    });
    // A host named like a group that ends up in no group crashes Ansible's reconcile
    // (add_child('ungrouped', NAME) takes the group): keep such hosts in a group.
    for (const h of [...hosts]) {
      if (h !== 'ungrouped' && !groups.includes(h)) continue;
      const inSome = [...members.values()].some((m) => m.includes(h));
      if (inSome) continue;
      if (groups.length) members.get(groups[0]!)!.push(h);
      else hosts.splice(hosts.indexOf(h), 1);
    }
    const ungrouped = hosts.filter((h) => h !== 'ungrouped' && !groups.includes(h) && r() < 0.3);
    const useRange = r() < 0.5;
    const yaml = r() < 0.5;
    let text = '';
    if (!yaml) {
      text += ungrouped.map((h) => `${h}\n`).join('');
      if (useRange) text += 'rng[1:3]\n';
      for (const g of groups) {
        text += `[${g}]\n${members.get(g)!.map((h) => `${h}\n`).join('')}`;
      }
      for (const g of groups) if (children.get(g)!.length) text += `[${g}:children]\n${children.get(g)!.join('\n')}\n`;
    } else {
      const hostMap = (hs: string[]) => (hs.length ? `{ ${hs.map((h) => `"${h}": null`).join(', ')} }` : '{}');
      const own = [...ungrouped, ...(useRange ? ['rng[1:3]'] : [])];
      text += `all:\n  hosts: ${hostMap(own)}\n  children:\n`;
      for (const g of groups) {
        const kids = children.get(g)!;
        text += `    ${g}:\n      hosts: ${hostMap(members.get(g)!)}\n`;
        if (kids.length) text += `      children: { ${kids.map((k) => `${k}: {}`).join(', ')} }\n`;
      }
    }
    const file = join(dir, `inv${n}.${yaml ? 'yml' : 'ini'}`);
    writeFileSync(file, text);
    texts.push(text);

    const names = [...hosts, ...groups, 'all', 'ungrouped', ...(useRange ? ['rng1', 'rng2'] : []), 'nosuch', 'hh2'];
    const globs = ['w*', '*1', '?b*', '[wd]*', '[!w]*', 'web?', '*', 'a.b', 'a?b', '*.*', 'd[a-c]*', 'W*', 'al*', 'ung*', '[z-a]*', 'x-*'];
    const regexes = ['~w', '~(?i)W', '~.*1\\Z', '~.*1$', '~[a-c]', '~d|w', '~web\\d+', '~(web|db)[12]', '~u', '~.b', '~x-y', '~[^w]', '~db\\b', '~(?P<n>w)eb', '~e', '~.{3}$', '~a\\.b', '~cache_\\d'];
    const subs = ['[0]', '[1]', '[-1]', '[0:1]', '[1:]', '[0:0]', '[2:1]', '[9]'];
    const term = (): string => {
      const x = r();
      let t: string;
      if (x < 0.4) t = pick(names);
      else if (x < 0.6) t = pick(globs);
      else if (x < 0.8) t = pick(regexes);
      else t = pick([...groups, 'all', 'ungrouped', ...hosts, 'w*']) + pick(subs);
      const y = r();
      return y < 0.15 ? `!${t}` : y < 0.25 ? `&${t}` : t;
    };
    const patterns: string[] = [];
    for (let p = 0; p < PATTERNS_PER_INVENTORY; p++) {
      const k = 1 + Math.floor(r() * 3);
      const terms = Array.from({ length: k }, term);
      // ',' always works; ':' only between terms without ':' or regex chars Ansible would split
      const sep = terms.some((t) => /[~:]/.test(t)) || r() < 0.6 ? ',' : ':';
      patterns.push(terms.join(sep));
    }
    patterns.push('web:22', 'db1 web1', 'web1,hh2', ' , web1 ,', 'web[0-1]');
    cases.push({ inventory: file, patterns });
  }
  return { cases, texts };
}

describe.skipIf(!haveAnsible)(`--limit agrees with ansible-core (seed ${SEED}; ORCH_LIMIT_SEED=N to vary)`, () => {
  it(`${INVENTORIES} inventories x ${PATTERNS_PER_INVENTORY + 5} patterns`, async () => {
    console.log(`limit differential seed: ${SEED}`);
    const { cases, texts } = generate(SEED);
    const ref = spawnSync(python!, [join(import.meta.dirname, 'ansible-ref.py')], {
      input: JSON.stringify(cases),
      encoding: 'utf8',
      env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false' },
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(ref.status, ref.stderr).toBe(0);
    const expected = JSON.parse(ref.stdout) as { results: (string[] | string)[]; order: Record<string, string[]>; hosts: string[] }[];
    const mismatches: string[] = [];
    let compared = 0;
    let selecting = 0;
    for (const [i, c] of cases.entries()) {
      const loaded = await loadInventory([c.inventory], new SourceIndexImpl());
      if (!loaded.inventory) {
        mismatches.push(`inv${i}: orch cannot load it: ${loaded.diagnostics.map((d) => d.message).join('; ')}\n${texts[i]}`);
        continue;
      }
      const exp = expected[i]!;
      // orch's loader keeps Ansible's host order and every group's get_hosts() order.
      expect([...loaded.inventory.hosts.keys()], `inv${i} host order`).toEqual(exp.hosts);
      const order = Object.fromEntries(loaded.inventory.patternOrder!);
      expect(order, `inv${i} group order`).toEqual(exp.order);
      const u = limitUniverse(loaded.inventory);
      c.patterns.forEach((p, j) => {
        const want = exp.results[j]!;
        const got = selectHosts(p, u);
        compared++;
        const wantHosts = typeof want === 'string' || want.length === 0 ? 'ERROR' : JSON.stringify(want);
        const gotHosts = 'error' in got ? 'ERROR' : JSON.stringify(got.hosts);
        if (gotHosts !== 'ERROR') selecting++;
        if (wantHosts !== gotHosts) mismatches.push(`inv${i} ${JSON.stringify(p)}: ansible ${JSON.stringify(want)}, orch ${JSON.stringify('error' in got ? got.error : got.hosts)}`);
      });
    }
    if (mismatches.length) console.log(`${mismatches.length} mismatches:\n${mismatches.slice(0, 30).join('\n')}`);
    console.log(`${compared} patterns compared, ${selecting} of them selecting hosts`);
    expect(compared).toBeGreaterThan(INVENTORIES * PATTERNS_PER_INVENTORY);
    expect(selecting).toBeGreaterThan(compared / 2); // the corpus mostly selects something
    expect(mismatches).toEqual([]);
  }, 60_000);
});
