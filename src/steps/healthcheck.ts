/**
 * `healthcheck: {cmd | http, expect_status, retries, interval, timeout, rollback}` —
 * `interval` and `timeout` are durations (seconds or `500ms`/`2s`/`1m`/`1h`) —
 * polls until healthy (Kamal's "a broken deploy keeps the old version serving";
 * src/host/healthcheck.sh). With `rollback: true` (default) a failure makes the engine
 * switch `current` back to `previous` (src/host/rollback.sh), record the bad version in
 * state.json (a later converge skips it until its sha256 changes), re-run the node's
 * service steps, and fail the host.
 *
 * A check, not a change: planned `ok` (a converged host plans clean), and still run by
 * every apply. `http` URLs are fetched on the host with curl when present, else
 * through bash's `/dev/tcp` (http:// only), so hosts need no extra tools.
 */
import { HEALTHCHECK_SH, ROLLBACK_SH, SWITCH_SH, VERSIONS_SH } from '../host/embedded.generated.js';
import { parseDuration } from '../model/duration.js';
import type { TaskOf } from '../model/task.js';
import type { StepKind } from './kind.js';
import { appName, firstLine, hostPath, hostScript, requireRoot, shCall, STATE_ARG } from './common.js';

export const HEALTHCHECK_DEFAULTS = { retries: 5, interval: 2, timeout: 10, expect_status: 200 } as const;

export interface HealthcheckArgs {
  cmd?: string;
  http?: string;
  expect_status?: number;
  retries?: number;
  /** Duration: seconds or `500ms` / `2s` / `1m` / `1h`. */
  interval?: number | string;
  timeout?: number | string;
  rollback?: boolean;
}
export interface HealthcheckCheck {
  kind: 'healthcheck';
}

/**
 * The script that switches `current` back to `previous` (and `previous` to the version
 * it left), both atomically; prints `::orch:: rolledback=V`. Refuses when `previous` is
 * not complete. `$2` = the new state.json text (or empty).
 */
export function rollbackScript(root: string, memo: Map<string, string> = new Map()): string {
  return hostScript({ memo }, [VERSIONS_SH, SWITCH_SH, ROLLBACK_SH], shCall('orch_rollback_previous', hostPath(root), STATE_ARG));
}

export const healthcheck: StepKind<HealthcheckArgs, HealthcheckCheck> = {
  name: 'healthcheck',
  schema: {
    description: 'Polls `cmd` or `http` until healthy; with rollback (default true) a failure switches current back to previous, restarts, and fails the host.',
    examples: [{ http: 'http://127.0.0.1:8000/health', retries: 10, interval: '2s' }, { cmd: 'curl -fsS localhost:8000/health', rollback: false }],
    type: 'object',
    additionalProperties: false,
    properties: {
      cmd: { $ref: '#/$defs/command', description: 'Command that exits 0 when healthy.', examples: ['curl -fsS localhost:8000/health'] },
      http: { description: 'URL fetched on the host; healthy when it answers `expect_status`.', examples: ['http://127.0.0.1:8000/health'], type: 'string', minLength: 1 },
      expect_status: { description: 'HTTP status meaning healthy (default 200).', examples: [200, 204], type: 'integer', minimum: 100, maximum: 599 },
      retries: { description: 'Attempts after the first before giving up.', examples: [10], type: 'integer', minimum: 0 },
      interval: { $ref: '#/$defs/duration', description: 'Time between attempts: seconds or 500ms / 2s / 1m / 1h (default 2s).', examples: [2, '500ms', '5s'] },
      timeout: { $ref: '#/$defs/duration', description: 'Time one attempt may take: seconds or 500ms / 2s / 1m / 1h (default 10s, at least 100ms).', examples: [5, '2s'] },
      rollback: { description: 'On failure switch current back to previous and restart (default true).', examples: [true, false], type: 'boolean' },
    },
    oneOf: [{ required: ['cmd'] }, { required: ['http'] }],
  },
  lifecycle: 'verify',
  defaultWhen: 'always',
  runsWhenOk: true,
  describe: (ctx) => `healthcheck ${ctx.args.http !== undefined ? ctx.label('http') : firstLine(ctx.label('cmd') ?? '')}`,
  build(ctx) {
    const a = ctx.args;
    if ((a.cmd === undefined) === (a.http === undefined)) return void ctx.fail(undefined, 'healthcheck needs exactly one of "cmd" or "http"');
    const num = (key: keyof typeof HEALTHCHECK_DEFAULTS, min: number): number | undefined => {
      const rawValue = a[key] ?? HEALTHCHECK_DEFAULTS[key];
      const n = Number(rawValue);
      if (!Number.isFinite(n) || n < min) return void ctx.fail(key, `${key} must be a number >= ${min} (got ${JSON.stringify(rawValue)})`);
      return n;
    };
    // interval/timeout: seconds or 500ms / 2s / 1m / 1h (model/duration.ts), as seconds for sleep/timeout.
    const duration = (key: 'interval' | 'timeout', min: number): number | undefined => {
      const r = parseDuration(a[key] ?? HEALTHCHECK_DEFAULTS[key]);
      if (!r.ok) return void ctx.fail(key, r.message);
      if (r.seconds < min) return void ctx.fail(key, `${key} must be at least ${min * 1000}ms (got ${JSON.stringify(a[key])})`);
      return r.seconds;
    };
    const retries = num('retries', 0);
    const interval = duration('interval', 0);
    const timeout = duration('timeout', 0.1);
    const expect = num('expect_status', 100);
    if (retries === undefined || interval === undefined || timeout === undefined || expect === undefined) return undefined;
    let call: string;
    if (a.cmd !== undefined) {
      const cmd = ctx.render('cmd', 'shell');
      if (cmd === undefined) return undefined;
      call = shCall('orch_healthcheck', retries, interval, 'orch_probe_cmd', timeout, cmd);
    } else {
      const urlText = ctx.render('http', 'text');
      if (urlText === undefined) return undefined;
      let url: URL;
      try {
        url = new URL(urlText);
      } catch {
        return void ctx.fail('http', `not a URL: ${JSON.stringify(urlText)}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return void ctx.fail('http', `only http:// and https:// URLs (got ${url.protocol})`);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = url.port || (url.protocol === 'https:' ? '443' : '80');
      call = shCall('orch_healthcheck', retries, interval, 'orch_probe_http', timeout, expect, url.toString(), host, port, `${url.pathname}${url.search}`);
    }
    const task: TaskOf<HealthcheckCheck> = { script: hostScript(ctx, [HEALTHCHECK_SH], call), probes: [], check: { kind: 'healthcheck' } };
    if (a.rollback ?? ctx.nodeRollback) {
      const root = requireRoot(ctx, 'healthcheck');
      const app = appName(ctx, ctx.bundle);
      if (root === undefined) return undefined;
      if (!app) return void ctx.fail(undefined, 'healthcheck with rollback needs var "app" when the node installs no bundle');
      task.rollback = { root, app, version: ctx.bundle?.version ?? '', sha256: ctx.bundle?.sha256 ?? '', script: rollbackScript(root, ctx.memo), afterSwitch: true };
    }
    return task;
  },
  predict: () => 'ok',
};
