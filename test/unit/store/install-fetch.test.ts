/**
 * The install step of a store bundle (SPEC section 7): the script carries the fetch
 * library and its call line passes MODE URL SIZE, so orch_install (src/host/install.sh)
 * runs `orch_fetch_bundle` instead of "exit 99" (test/unit/host/install.test.ts); `host`
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
    expect(t.script.endsWith(` shop-1.2.0-any '' '' ${fetch} 'http://store/shop/shop-1.2.0-any.tar.gz?x='\\''y'\\''' 100\n`)).toBe(true);
    expect(t.script).toContain('\norch_fetch() {');
  });

  it('an S3 bundle: the presigned query is set before the call (quoted), the call line names the URL without it', async () => {
    const query = "X-Amz-Credential=AKID%2F20261206&X-Amz-Signature=0ab'c";
    const t = await installTask({ ...BUNDLE, path: '', store: { url: 'https://s3.example.com/releases/shop/shop-1.2.0-any.tar.gz', fetch: 'host', query } });
    expect(t.script).toContain("\nORCH_FETCH_QUERY='X-Amz-Credential=AKID%2F20261206&X-Amz-Signature=0ab'\\''c'\norch_install ");
    expect(t.script.endsWith(" shop-1.2.0-any '' '' host https://s3.example.com/releases/shop/shop-1.2.0-any.tar.gz 100\n")).toBe(true);
  });

  it('fetch: control (and any pushed bundle): no fetch library, the payload is sent when the host lacks it', async () => {
    for (const b of [{ ...BUNDLE, store: { url: URL, fetch: 'control' as const } }, BUNDLE]) {
      const t = await installTask(b);
      expect(t.payload).toEqual({ kind: 'bundle', bundle: 'shop', sha256: 'a'.repeat(64), size: 100 });
      expect(t.script.endsWith(" shop-1.2.0-any '' ''\n")).toBe(true);
      expect(t.script).not.toContain('\norch_fetch() {'); // no fetch library (install.sh only names orch_fetch_bundle)
    }
  });
});
