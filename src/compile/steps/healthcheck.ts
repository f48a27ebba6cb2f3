/**
 * `healthcheck: {cmd | http, expect_status, retries, interval, timeout, rollback}` —
 * polls until healthy (Kamal's "a broken deploy keeps the old version serving"). With
 * `rollback: true` (default) a failure makes the engine switch `current` back to
 * `previous`, record the bad version in state.json (a later converge skips it until its
 * sha256 changes), re-run the node's service steps, and fail the host.
 *
 * `http` URLs are fetched on the host with curl when present, else through bash's
 * `/dev/tcp` (http:// only), so hosts need no extra tools.
 */
import type { Task } from '../../model/plan.js';
import { quote } from '../../shell/quote.js';
import type { StepContext } from './common.js';
import { appName, qpath, requireRoot, script } from './common.js';

export const HEALTHCHECK_DEFAULTS = { retries: 5, interval: 2, timeout: 10, expect_status: 200 } as const;

function num(ctx: StepContext, key: keyof typeof HEALTHCHECK_DEFAULTS, min: number): number | undefined {
  const raw = ctx.step.args[key] ?? HEALTHCHECK_DEFAULTS[key];
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    ctx.fail(key, `${key} must be a number >= ${min} (got ${JSON.stringify(raw)})`);
    return undefined;
  }
  return n;
}

export function buildHealthcheck(ctx: StepContext): Task | undefined {
  const a = ctx.step.args;
  if ((a.cmd === undefined) === (a.http === undefined)) return void ctx.fail(undefined, 'healthcheck needs exactly one of "cmd" or "http"');
  const retries = num(ctx, 'retries', 0);
  const interval = num(ctx, 'interval', 0);
  const timeout = num(ctx, 'timeout', 0.1);
  const expect = num(ctx, 'expect_status', 100);
  if (retries === undefined || interval === undefined || timeout === undefined || expect === undefined) return undefined;
  let probe: string;
  if (a.cmd !== undefined) {
    const cmd = ctx.render('cmd', 'shell');
    if (cmd === undefined) return undefined;
    probe = `timeout ${timeout} bash -c ${quote(cmd)} >/dev/null 2>"$err"`;
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
    const path = `${url.pathname}${url.search}`;
    const viaTcp = url.protocol === 'http:'
      ? `timeout ${timeout} bash -c ${quote(`exec 3<>/dev/tcp/"$1"/"$2" && printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' "$3" "$1" >&3 && IFS=' ' read -r _ code _ <&3 && printf '%s' "$code"`)} orch ${quote(host)} ${quote(port)} ${quote(path)} 2>"$err"`
      : `{ echo "curl is needed for https healthchecks" >"$err"; echo 000; }`;
    probe = [
      'code=$(if command -v curl >/dev/null; then',
      `  curl -s -o /dev/null -w '%{http_code}' --max-time ${timeout} -- ${quote(url.toString())} 2>"$err" || true`,
      'else',
      `  ${viaTcp} || true`,
      'fi)',
      `[ "$code" = ${expect} ] || { printf 'HTTP status %s, expected ${expect}\\n' "\${code:-none}" >>"$err"; false; }`,
    ].join('\n');
  }
  const body = script(
    'err=$(mktemp)',
    'trap \'rm -f -- "$err"\' EXIT',
    `attempts=${retries + 1}`,
    'i=0',
    'while :; do',
    '  i=$((i+1))',
    `  if ${probe.includes('\n') ? `{ ${probe}\n  }` : probe}; then orch_status ok; exit 0; fi`,
    '  [ "$i" -lt "$attempts" ] || break',
    `  sleep ${interval}`,
    'done',
    'printf \'unhealthy after %s attempts: %s\\n\' "$attempts" "$(tail -c 500 -- "$err" | tr \'\\n\' \' \')" >&2',
    'exit 3',
  );
  const task: Task = { script: body, probes: [], check: { kind: 'healthcheck' } };
  if (a.rollback !== false) {
    const root = requireRoot(ctx);
    const app = appName(ctx, ctx.bundle);
    if (root === undefined) return undefined;
    if (!app) return void ctx.fail(undefined, 'healthcheck with rollback needs var "app" when the node installs no bundle');
    task.rollback = {
      root, app, version: ctx.bundle?.version ?? '', sha256: ctx.bundle?.sha256 ?? '',
      script: rollbackScript(root),
    };
  }
  return task;
}

/**
 * Switches `current` back to `previous` (and `previous` to the version it left), both
 * atomically; prints `::orch:: rolledback=V`. Refuses when `previous` is not complete.
 */
export function rollbackScript(root: string): string {
  return script(
    `root=${qpath(root)}`,
    'prev=$(readlink -- "$root/previous" 2>/dev/null || true)',
    'cur=$(readlink -- "$root/current" 2>/dev/null || true)',
    '[ -n "$prev" ] && [ -f "$root/$prev/.orch-installed" ] || orch_fail "cannot roll back $root: no complete previous version"',
    'ln -sfn -- "$prev" "$root/.current.tmp.$$"',
    'mv -T -f -- "$root/.current.tmp.$$" "$root/current"',
    'if [ -n "$cur" ]; then ln -sfn -- "$cur" "$root/.previous.tmp.$$"; mv -T -f -- "$root/.previous.tmp.$$" "$root/previous"; fi',
    '[ -z "${2:-}" ] || orch_write "$root/.orch/state.json" "$2"',
    'printf \'::orch:: rolledback=%s\\n\' "${prev#versions/}"',
    'orch_status changed',
  );
}
