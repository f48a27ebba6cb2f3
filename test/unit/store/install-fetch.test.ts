/**
 * The install step of a store bundle (SPEC section 7): the script carries the fetch
 * library and one `orch_fetch_bundle MODE URL ...` line instead of "exit 99"; `host`
 * has no payload, `auto` a lazy one (sent only when the script exits 99), `control` is
 * a plain pushed bundle. The behaviour runs under real hosts in test/integration/store.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { PlanBundle } from '../../../src/model/plan.js';
import { BUNDLE, compileYaml } from '../compile/helpers.js';

const INVENTORY = 'hosts:\n  web1: { address: 10.0.0.1 }\n';
const PLAYBOOK = 'vars: { root: /srv/shop }\nbundles:\n  shop: { url: http://store/shop/shop-1.2.0-any.tar.gz, sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa }\nnodes:\n  shop:\n    steps:\n      - install: { bundle: shop }\n';
const URL = "http://store/shop/shop-1.2.0-any.tar.gz?x='y'";

async function installTask(bundle: PlanBundle) {
  const res = await compileYaml({ inventory: INVENTORY, playbook: PLAYBOOK, bundles: { shop: bundle } });
  expect(res.diagnostics).toEqual([]);
  return res.plan!.phases[0]!.steps[0]!.tasks.web1!;
}

describe('install of a store bundle', () => {
  it.each([
    ['host', undefined],
    ['auto', { kind: 'bundle', bundle: 'shop', sha256: 'a'.repeat(64), size: 100, lazy: true }],
  ] as const)('fetch: %s: the host fetches (quoted URL, known size), payload %j', async (fetch, payload) => {
    const t = await installTask({ ...BUNDLE, path: fetch === 'host' ? '' : '/dev/null', store: { url: URL, fetch } });
    expect(t.payload).toEqual(payload);
    expect(t.script).toContain(`\nelse\n  orch_fetch_bundle ${fetch} 'http://store/shop/shop-1.2.0-any.tar.gz?x='\\''y'\\''' "$bfile" "$sha" 100\nfi\n`);
    expect(t.script).toContain('\norch_fetch() {');
    expect(t.script).not.toContain('|| exit 99');
  });

  it('fetch: control (and any pushed bundle): no fetch library, the payload is sent when the host lacks it', async () => {
    for (const b of [{ ...BUNDLE, store: { url: URL, fetch: 'control' as const } }, BUNDLE]) {
      const t = await installTask(b);
      expect(t.payload).toEqual({ kind: 'bundle', bundle: 'shop', sha256: 'a'.repeat(64), size: 100 });
      expect(t.script).toContain('\nelse\n  [ -f "$bfile" ] || exit 99\n');
      expect(t.script).not.toContain('orch_fetch');
    }
  });
});
