/**
 * Hosts alike share one compile of a step (src/compile/compile-plan.ts): the task is the
 * same as each host's own compile would be, and a step that reads anything of its host
 * (directly, through a var, through a var cached by an earlier step) compiles per host.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { plainDataKey } from '../../../src/compile/compile-plan.js';
import { STEP_KINDS } from '../../../src/steps/index.js';
import { compileYaml } from './helpers.js';

const HOSTS = 40;
const inventory = (extra = ''): string => `hosts:\n${Array.from({ length: HOSTS }, (_, i) => `  h${i + 1}: { address: 10.0.${i >> 8}.${(i & 255) + 1} }\n`).join('')}${extra}`;
const runScript = (res: Awaited<ReturnType<typeof compileYaml>>, step: number, host: string): string => res.plan!.phases[0]!.steps[step]!.tasks[host]!.script;

afterEach(() => vi.restoreAllMocks());

describe('compilePlan: hosts alike share a step\'s compile', () => {
  it('builds a step once for hosts with the same vars, and once per distinct vars', async () => {
    const build = vi.spyOn(STEP_KINDS.run, 'build');
    const inv = inventory().replace('h7: {', 'h7: { vars: { tier: b },').replace('h9: {', 'h9: { vars: { tier: b },');
    const res = await compileYaml({
      inventory: `defaults:\n  vars: { tier: a }\n${inv}`,
      playbook: 'inventory: inventory.yml\nvars: { root: "/srv/{{tier}}" }\nsteps:\n  - run: { cmd: "ls {{root}}" }\n  - run: { cmd: "echo {{tier}}" }\n',
    });
    expect(res.diagnostics).toEqual([]);
    // 2 steps x 2 classes of alike hosts (tier a, tier b), not 2 x 40.
    expect(build).toHaveBeenCalledTimes(4);
    expect(runScript(res, 0, 'h1')).toContain('ls /srv/a');
    expect(runScript(res, 0, 'h40')).toContain('ls /srv/a');
    expect(runScript(res, 0, 'h7')).toContain('ls /srv/b');
    expect(runScript(res, 1, 'h9')).toContain('echo b');
    expect(Object.keys(res.plan!.phases[0]!.steps[0]!.tasks)).toHaveLength(HOSTS);
    // Each host has its own task object (a change to one never shows in another).
    expect(res.plan!.phases[0]!.steps[0]!.tasks.h2).not.toBe(res.plan!.phases[0]!.steps[0]!.tasks.h3);
  });

  it('compiles per host a step that reads host.* directly, through a var, or through a var an earlier step rendered', async () => {
    const build = vi.spyOn(STEP_KINDS.run, 'build');
    const res = await compileYaml({
      inventory: inventory(),
      playbook: [
        'inventory: inventory.yml',
        'vars: { dir: "/srv/{{host.name}}", addr: "{{host.address}}" }',
        'steps:',
        '  - run: { cmd: "ls {{dir}}" }', // renders (and caches) dir
        '  - run: { cmd: "cat {{dir}}/x" }', // dir from the cache: still per host
        '  - run: { cmd: "ping {{addr}}" }',
        '  - run: { cmd: "echo same" }',
        '  - { run: { cmd: "echo named" }, name: "to {{host.address}}" }',
        '',
      ].join('\n'),
    });
    expect(res.diagnostics).toEqual([]);
    for (const h of ['h1', 'h2', 'h40']) {
      expect(runScript(res, 0, h)).toContain(`ls /srv/${h}\n`);
      expect(runScript(res, 1, h)).toContain(`cat /srv/${h}/x\n`);
    }
    expect(runScript(res, 2, 'h40')).toContain('ping 10.0.0.40\n');
    const named = res.plan!.phases[0]!.steps[4]!;
    expect(named.name).toBe('to 10.0.0.1');
    expect(named.tasks.h2!.label).toBe('to 10.0.0.2');
    // 4 per-host steps, one shared.
    expect(build).toHaveBeenCalledTimes(4 * HOSTS + 1);
  });

  it('reports a failing template once per host list, as per-host compiles do', async () => {
    const res = await compileYaml({ inventory: inventory(), playbook: 'inventory: inventory.yml\nsteps:\n  - run: { cmd: "ls {{nope}}" }\n' });
    expect(res.diagnostics).toHaveLength(1);
    expect(res.diagnostics[0]!.message).toMatch(/nope/);
    expect(res.diagnostics[0]!.message).not.toMatch(/\(hosts? h/); // every host failed: no host list
  });

  it('still masks a secret var of every host when hosts share a compile', async () => {
    const inv = inventory().replace('h5: {', 'h5: { vars: { token: only-h5-secret-value },');
    const res = await compileYaml({ inventory: `defaults:\n  vars: { token: common-secret-value }\n${inv}`, playbook: 'inventory: inventory.yml\nsecret: [token]\nsteps:\n  - run: { cmd: "echo {{token}}" }\n' });
    expect(res.masker.mask('a only-h5-secret-value b common-secret-value')).toBe('a *** b ***');
    // A secret that differs per host while the step (which does not use it) is shared.
    const per = await compileYaml({ inventory: inventory(), playbook: 'inventory: inventory.yml\nsecret: [pw]\nvars: { pw: "pw-{{host.name}}-long-enough" }\nsteps:\n  - run: { cmd: "echo hi" }\n' });
    expect(per.masker.mask('pw-h33-long-enough pw-h1-long-enough')).toBe('*** ***');
  });

  it('masks a secret in the label of the first host of a class (its secrets are known before its label is made)', async () => {
    const res = await compileYaml({ inventory: inventory(), playbook: 'inventory: inventory.yml\nvars: { pw: first-host-secret-1 }\nsecret: [pw]\nsteps:\n  - run: { cmd: "echo {{pw}} {{host.name}}" }\n  - run: { cmd: "echo {{pw}}" }\n' });
    expect(res.diagnostics).toEqual([]);
    // (The scripts hold the value: the host needs it. Labels are printed everywhere.)
    for (const step of res.plan!.phases[0]!.steps) {
      const labels = [step.name, ...Object.values(step.tasks).map((t) => t.label ?? step.name)];
      expect(labels.filter((l) => l.includes('first-host-secret-1'))).toEqual([]);
      expect(step.name).toContain('***');
    }
  });
});

describe('plainDataKey', () => {
  it('keys plain data and refuses anything else', () => {
    expect(plainDataKey({ a: [1, 'x', null, true], b: { c: 2 } })).toBe('{"a":[1,"x",null,true],"b":{"c":2}}');
    expect(plainDataKey({ a: undefined })).toBeNull();
    expect(plainDataKey({ a: new Date(0) })).toBeNull();
    expect(plainDataKey({ a: -0 })).toBeNull();
    expect(plainDataKey({ a: NaN })).toBeNull();
    expect(plainDataKey({ a: () => 1 })).toBeNull();
  });
});
