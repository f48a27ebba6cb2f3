/**
 * The day-to-day commands: `orch query` (audit what runs where), `orch rollback` (go
 * back safely), `orch converge` (apply from cron). docs/reference/cli.md.
 */
import { secretReadingOf } from './secret-flags.js';
import { createHash, randomInt } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { defaultCacheDir } from '../bundle/cache.js';
import { makeRemovePlan, startFollows } from '../compile/lifecycle.js';
import { makeRollbackPlan, narrowToRevoked, pickRollbackTarget, retargetRollback, targetMarker } from '../compile/rollback-plan.js';
import { checkPlanSyntax } from '../engine/check.js';
import type { RunSummary } from '../engine/events.js';
import { preparePlan } from '../engine/prepare.js';
import { ConfigError, OrchError } from '../model/errors.js';
import type { Inventory } from '../model/inventory.js';
import type { Plan } from '../steps/plan.js';
import { Masker } from '../shell/mask.js';
import { formatQueryTable, type QueryError, type QueryRow } from '../state/query.js';
import { LinesRenderer } from '../ui/lines.js';
import { EXIT, ExitRequest, exitCodeOf } from './exit-codes.js';
import { cmdlineError, connectionPlan, limitHosts, loadCommandInventory } from './targets.js';
import { queryHosts, wantedVersions } from '../library/query.js';
import { revokeRecordedBad, type AutoRevokeOptions } from './revoke.js';
import { applyPlan, moveEarlyConnections, parseDurationFlag, parseExtraVars, parseLockWait, pickRenderer, prepare, runOptions, type ApplyMode, type CommonOpts } from './run.js';

const out = (s: string): void => void process.stdout.write(s);
const err = (s: string): void => void process.stderr.write(s);

/** `orch query [PLAYBOOK | -i INVENTORY] [--limit P] [--app NAME] [--json]`. */
export async function runQuery(playbook: string | undefined, opts: CommonOpts & { app?: string }): Promise<void> {
  let inventory: Inventory;
  let names: string[];
  let plan: Plan | undefined;
  let masker = new Masker();
  if (playbook) {
    const prepared = await preparePlan({
      secrets: await secretReadingOf(opts),
      playbook, inventories: opts.inventory ?? [], extraVars: parseExtraVars(opts.extraVar), env: process.env,
      now: () => new Date(), skipSyntaxCheck: true, ...(opts.limit !== undefined && { limit: opts.limit }),
      warn: (l: string) => void process.stderr.write(`orch: warning: ${l}\n`),
    });
    if (!prepared.plan || !prepared.inventory) throw new ConfigError(prepared.diagnostics);
    ({ plan, masker } = prepared);
    inventory = prepared.inventory;
    names = prepared.plan.targets;
  } else {
    if (!opts.inventory?.length) throw cmdlineError('-i', 'give a playbook or -i INVENTORY');
    ({ inventory } = await loadCommandInventory(undefined, opts.inventory));
    names = limitHosts(inventory, opts.limit);
  }
  const rows = await queryHosts(connectionPlan(inventory, names), names, masker, wantedVersions(plan), { ...runOptions(opts), ...(opts.app !== undefined && { app: opts.app }), insecureHostKeys: opts.insecureHostKeys === true });
  // --json is exactly docs/reference/cli.md's shape; the table also shows incomplete, bad and drift.
  const spec = (r: QueryRow | QueryError): unknown =>
    'error' in r ? { host: r.host, error: r.error } : { host: r.host, app: r.app, root: r.root, current: r.current, previous: r.previous, versions: r.versions, deployed_at: r.deployed_at, deployed_by: r.deployed_by, sha256: r.sha256 };
  if (opts.json) out(`${JSON.stringify(rows.map(spec))}\n`);
  else out(formatQueryTable(rows, plan !== undefined));
  if (rows.some((r) => 'error' in r)) throw new ExitRequest(EXIT.FAILED);
  if (opts.detailedExitcodes && rows.some((r) => 'drift' in r)) throw new ExitRequest(EXIT.CHANGED);
}

/**
 * `orch rollback PLAYBOOK [--to VERSION [--force]]`: a planned operation like any apply.
 * `--to` a version a host records bad is refused there (the plan says so, exit 4) unless
 * `--force`; a failing service or healthcheck puts the host back on the release it ran.
 */
export async function runRollback(playbook: string, opts: CommonOpts & { to?: string; force?: boolean; yes?: boolean; lockWait?: string }): Promise<void> {
  // A rollback installs nothing: a channel whose release is revoked does not stop it (src/store/revoke.ts),
  // but going back --to a revoked release does.
  const { plan, masker } = await prepare(playbook, { ...opts, keepRevoked: true });
  const revokedTo = Object.values(plan.bundles).find((b) => b.store?.revoked && b.version === opts.to);
  if (revokedTo) throw new OrchError(`rollback refused: ${revokedTo.package} ${revokedTo.version} is revoked in its channel (${revokedTo.store!.revoked!.reason}); pick another --to VERSION`);
  if (opts.force && opts.to === undefined) throw cmdlineError('--force', 'goes with --to VERSION (rollback without --to never picks a release recorded bad)');
  const rb = makeRollbackPlan(plan, opts.to, opts.force === true);
  if (typeof rb === 'string') throw new OrchError(rb);
  moveEarlyConnections(plan, rb);
  const problems = await checkPlanSyntax(rb);
  if (problems.length) throw new OrchError(`rollback scripts fail bash -n: ${problems[0]!.message}`);
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const renderer = await pickRenderer(rb, opts);
  const summary = await applyPlan(rb, masker, opts, renderer, {
    confirm: tty && !opts.yes, showPlan: true, lockWait: parseLockWait(opts.lockWait),
    precheck: (session, facts) => {
      const missing: string[] = [];
      for (const host of rb.targets) {
        if (session.isFailed(host)) continue;
        const f = facts.byHost.get(host);
        const roots = rb.phases.flatMap((p) => p.steps.map((s) => s.tasks[host]?.check)).filter((c) => c?.kind === 'rollback');
        for (const c of roots) {
          if (c?.kind !== 'rollback') continue;
          if (opts.to === undefined) {
            // The last good release: newest complete one older than current, not recorded bad.
            const target = pickRollbackTarget(f?.get(`read:${c.root.replace(/\/+$/, '')}/.orch/state.json`));
            if (target === undefined) missing.push(`${host} (${c.root})`);
            else for (const p of rb.phases) for (const s of p.steps) {
              const t = s.tasks[host];
              if (t?.check.kind === 'rollback' && t.check.root === c.root) retargetRollback(t, target, startFollows(p.steps));
            }
          } else if (!f?.get(`read:${targetMarker(c.root, opts.to)}`)) missing.push(`${host} (${c.root})`);
        }
      }
      if (missing.length) {
        err(`orch: rollback refused: ${opts.to !== undefined ? `version ${opts.to}` : 'a release older than current that is not recorded bad'} is not installed and complete on ${missing.join(', ')}; nothing was changed\n`);
        throw new ExitRequest(EXIT.INVALID);
      }
    },
  });
  const code = exitCodeOf(summary, opts.detailedExitcodes === true);
  if (code !== EXIT.OK) throw new ExitRequest(code);
}

/**
 * `orch remove PLAYBOOK [--purge]`: takes the playbook's apps off their hosts as a
 * planned run like apply (plan printed, confirmation, host locks, exit codes): the
 * stored before_remove, services stopped and disabled, unit files deleted, releases
 * deleted, the app dropped from `orch query`, the stored after_remove; `--purge` also
 * deletes the root (shared/ too). The plan is src/compile/lifecycle.ts makeRemovePlan.
 */
export async function runRemove(playbook: string, opts: CommonOpts & { purge?: boolean; yes?: boolean; lockWait?: string }): Promise<void> {
  const { plan, masker } = await prepare(playbook, opts);
  const rm = makeRemovePlan(plan, opts.purge === true);
  if (typeof rm === 'string') throw new OrchError(rm);
  moveEarlyConnections(plan, rm);
  const problems = await checkPlanSyntax(rm);
  if (problems.length) throw new OrchError(`remove scripts fail bash -n: ${problems[0]!.message}`);
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const renderer = await pickRenderer(rm, opts);
  const summary = await applyPlan(rm, masker, opts, renderer, { confirm: tty && !opts.yes, showPlan: true, lockWait: parseLockWait(opts.lockWait) });
  const code = exitCodeOf(summary, opts.detailedExitcodes === true);
  if (code !== EXIT.OK) throw new ExitRequest(code);
}

/** One JSON line per converge run (`--log`). */
interface ConvergeLogLine {
  playbook: string;
  start: string;
  end: string;
  exit: number;
  status: 'ok' | 'changed' | 'failed' | 'changed+failed' | 'skipped' | 'invalid';
  hosts?: { host: string; status: string; changed_steps: string[]; error?: string }[];
  aborted?: string;
  error?: string;
}

function appendLog(file: string | undefined, line: ConvergeLogLine, masker: Masker): void {
  if (!file) return;
  mkdirSync(dirname(resolve(file)), { recursive: true });
  appendFileSync(file, `${masker.mask(JSON.stringify(line))}\n`);
}

const STATUS_OF: Record<number, ConvergeLogLine['status']> = { 0: 'ok', 2: 'changed', 4: 'failed', 6: 'changed+failed' };

/**
 * `orch converge PLAYBOOK [--log FILE] [--splay DURATION]`: apply for cron. No prompt, no
 * TTY UI, detailed exit codes always (0/2/4/6; 1 could not run; 3 another converge of the
 * same playbook holds the control-machine lock), quiet unless something changed or
 * failed, one JSON line per run appended to --log.
 */
export async function runConverge(playbook: string, opts: CommonOpts & AutoRevokeOptions & { log?: string; splay?: string; lockWait?: string }): Promise<void> {
  const masker = new Masker();
  const abs = resolve(playbook);
  const start = new Date();
  const splay = parseDurationFlag('--splay', opts.splay);
  const lockDir = join(defaultCacheDir(process.env), 'locks');
  mkdirSync(lockDir, { recursive: true });
  let release: (() => Promise<void>) | undefined;
  try {
    release = await lockfile.lock(abs, {
      lockfilePath: join(lockDir, `converge-${createHash('sha256').update(abs).digest('hex').slice(0, 16)}.lock`),
      realpath: false, stale: 30_000, update: 10_000, retries: 0,
    });
  } catch (e) {
    if ((e as { code?: string }).code !== 'ELOCKED') throw e;
    err(`orch: converge skipped: another converge of ${playbook} is running\n`);
    appendLog(opts.log, { playbook: abs, start: start.toISOString(), end: new Date().toISOString(), exit: EXIT.LOCKED, status: 'skipped', error: 'another converge of this playbook holds the lock' }, masker);
    throw new ExitRequest(EXIT.LOCKED);
  }
  try {
    if (splay > 0) await new Promise((r) => setTimeout(r, randomInt(0, Math.ceil(splay * 1000) + 1)));
    let buffered = '';
    const write = (s: string): void => void (buffered += s);
    let summary: RunSummary;
    let logMasker = masker;
    try {
      const prepared = await prepare(playbook, { ...opts, keepRevoked: true, lockEarly: true }, parseExtraVars(opts.extraVar), true);
      // A channel release revoked fleet-wide (src/store/revoke.ts) is never installed; the
      // hosts that run it go back to their last good release instead.
      const revoked = Object.values(prepared.plan.bundles).filter((b) => b.store?.revoked);
      let plan = prepared.plan;
      let precheck: ApplyMode['precheck'];
      if (revoked.length) {
        for (const b of revoked) write(`orch: ${b.package} ${b.version} (sha256 ${b.sha256}) is revoked (${b.store!.revoked!.reason}): not installed; hosts running it roll back\n`);
        const rb = makeRollbackPlan(prepared.plan, undefined);
        if (typeof rb === 'string') throw new OrchError(rb);
        moveEarlyConnections(prepared.plan, rb);
        plan = rb;
        const shas = new Set(revoked.map((b) => b.sha256));
        precheck = (_session, facts) => {
          const stuck = narrowToRevoked(rb, shas, (host, root) => facts.byHost.get(host)?.get(`read:${root.replace(/\/+$/, '')}/.orch/state.json`));
          if (stuck.length) write(`orch: a revoked release runs on ${stuck.join(', ')} with no good release to go back to\n`);
        };
      }
      const renderer = opts.json ? await pickRenderer(plan, opts) : new LinesRenderer(write);
      summary = await applyPlan(plan, prepared.masker, opts, renderer, { confirm: false, showPlan: false, lockWait: parseLockWait(opts.lockWait), skipBad: true, ...(precheck && { precheck }), ...(prepared.hooks && { hooks: prepared.hooks }) }, write);
      // A release from a signed channel that failed on this host is revoked fleet-wide.
      if (summary.recordedBad?.length) await revokeRecordedBad(plan, summary, opts, (l) => err(`${prepared.masker.mask(l)}\n`));
      logMasker = prepared.masker;
    } catch (e) {
      const msg = e instanceof ConfigError ? e.message : (e as Error).message;
      appendLog(opts.log, { playbook: abs, start: start.toISOString(), end: new Date().toISOString(), exit: EXIT.INVALID, status: 'invalid', error: msg }, masker);
      throw e;
    }
    const code = exitCodeOf(summary, true);
    if (code !== EXIT.OK) out(buffered);
    appendLog(opts.log, {
      playbook: abs, start: start.toISOString(), end: new Date().toISOString(), exit: code, status: STATUS_OF[code] ?? 'failed',
      hosts: summary.hosts.map((h) => ({ host: h.host, status: h.status, changed_steps: h.changedSteps, ...(h.error !== undefined && { error: h.error }) })),
      ...(summary.aborted !== undefined && { aborted: summary.aborted }),
    }, logMasker);
    if (code !== EXIT.OK) throw new ExitRequest(code);
  } finally {
    await release?.().catch(() => undefined);
  }
}
