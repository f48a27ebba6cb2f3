/** The `healthcheck` step kind: exact script, rollback script, label and its prediction. */
import { describe, expect, it } from 'vitest';
import { HEALTHCHECK_SH, ROLLBACK_SH, SWITCH_SH, VERSIONS_SH } from '../../../src/host/embedded.generated.js';
import { healthcheck } from '../../../src/steps/healthcheck.js';
import { buildStep, facts, scriptOf } from './helpers.js';

describe('healthcheck', () => {
  it('http: the rendered URL is the label; host, port and path go to the /dev/tcp fallback', () => {
    const r = buildStep(healthcheck, { http: 'http://{{host.address}}:8000/health?x=1', retries: 2, interval: 0.5 });
    expect(r.problems).toEqual([]);
    expect(r.label).toBe('healthcheck http://10.0.0.5:8000/health?x=1');
    expect(r.task!.script).toBe(scriptOf([HEALTHCHECK_SH], "orch_healthcheck 2 0.5 orch_probe_http 10 200 'http://10.0.0.5:8000/health?x=1' 10.0.0.5 8000 '/health?x=1'"));
    expect(r.task!.rollback).toEqual({
      root: '/srv/shop', app: 'shop', version: '1.2.0', sha256: 'a'.repeat(64),
      script: scriptOf([VERSIONS_SH, SWITCH_SH, ROLLBACK_SH], 'orch_rollback_previous /srv/shop "${2:-}"'), afterSwitch: true,
    });
  });

  it('cmd, no rollback', () => {
    const r = buildStep(healthcheck, { cmd: 'curl -fsS localhost:{{port}}/', rollback: false, timeout: 3 }, { vars: { port: 81 } });
    expect(r.label).toBe('healthcheck curl -fsS localhost:81/');
    expect(r.task!.script).toBe(scriptOf([HEALTHCHECK_SH], "orch_healthcheck 5 2 orch_probe_cmd 3 'curl -fsS localhost:81/'"));
    expect(r.task!.rollback).toBeUndefined();
  });

  it.each([
    [{}, ['(step): healthcheck needs exactly one of "cmd" or "http"']],
    [{ http: 'ftp://x/' }, ['http: only http:// and https:// URLs (got ftp:)']],
    [{ http: 'nope' }, ['http: not a URL: "nope"']],
    [{ cmd: 'x', retries: -1 }, ['retries: retries must be a number >= 0 (got -1)']],
  ])('refuses %j', (args, want) => {
    expect(buildStep(healthcheck, args as never).problems).toEqual(want);
  });

  const task = buildStep(healthcheck, { cmd: 'true' }).task!;
  it.each([
    ['no facts', {}],
    ['any facts', { 'link:/srv/shop/current': 'versions/1.2.0' }],
  ])('predicts ok with %s (a check changes nothing), and apply still runs it', (_n, f) => {
    expect(healthcheck.predict(facts(f), task as never)).toBe('ok');
    expect(healthcheck.runsWhenOk).toBe(true);
  });
});
