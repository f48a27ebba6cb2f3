/**
 * `orch plan` and `orch apply`: prepare (load, build bundles, compile, bash -n), read
 * facts (one round trip per host), print the plan, then (apply) execute and report.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { Session, type GatheredFacts } from '../engine/apply-plan.js';
import type { RunHooks } from '../library/notify.js';
import { loadProjectWith, takeEarlyConnections, type Project, type ProjectInternals } from '../library/project.js';
import { applyWith, planWith, type ApplyResult, type PlanResult, type RunEvent, type RunOptions } from '../library/run.js';
import { OrchError } from '../model/errors.js';
import type { Plan, PlanHost } from '../steps/plan.js';
import type { Masker } from '../shell/mask.js';
import { TRANSPORTS, transportsFor } from '../transport/registry.js';
import { JsonRenderer } from '../ui/json.js';
import { paletteFor, PLAIN, type Palette } from '../ui/color.js';
import { LinesRenderer } from '../ui/lines.js';
import { countFailing, countPending, formatPlan, plural, type PlanDiffs } from '../ui/plan-text.js';
import { bundleFilesReader, diffProbes, diffTask, type StepDiff } from '../ui/diff.js';
import type { Facts, HostPrediction } from '../compile/predict.js';
import { StatusLine } from '../ui/progress.js';
import type { Renderer } from '../ui/renderer.js';
import type { EngineEvent, RunSummary } from '../engine/events.js';
import { EXIT, ExitRequest, exitCodeOf } from './exit-codes.js';
import { cmdlineError } from './targets.js';
import { parseDuration } from '../model/duration.js';
import { now, span, timed } from '../engine/trace.js';
import { secretReadingOf, type SecretFlags } from './secret-flags.js';
import { revokeRecordedBad, type AutoRevokeOptions } from './revoke.js';

/** Parsed common options. */
export interface CommonOpts extends SecretFlags {
  inventory?: string[];
  limit?: string;
  node?: string;
  extraVar?: string[];
  json?: boolean;
  detailedExitcodes?: boolean;
  insecureHostKeys?: boolean;
  /** `--allow-downgrade`: a channel may name an older release than the newest accepted. */
  allowDowngrade?: boolean;
  /** converge (internal): keep a revoked channel release in the plan (src/store/revoke.ts). */
  keepRevoked?: boolean;
  forks?: string;
  timeout?: string;
  /** `--verbose`: every step's output. */
  verbose?: boolean;
  /** `--no-color` sets this to false. */
  color?: boolean;
  /** `--diff`: read the files `put` would change and show diffs in the plan. */
  diff?: boolean;
  /** `--diff-private`: implies `diff`; also show old contents of files not world-readable on the host. */
  diffPrivate?: boolean;
  /** `--give-up SECONDS`: the host agents' dead-man's switch. */
  giveUp?: string;
}

/** `--diff` of every predicted change: host -> `phase:step` -> diff (ui/diff.ts). */
function planDiffs(plan: Plan, predictions: Map<string, HostPrediction>, facts: Map<string, Facts>, masker: Masker, showPrivate = false): PlanDiffs {
  const out: PlanDiffs = new Map();
  const bundleFiles = bundleFilesReader(plan);
  for (const [host, pred] of predictions) {
    const m = new Map<string, StepDiff>();
    for (const p of pred) {
      if (p.status !== 'changed' && p.status !== 'maybe') continue;
      const task = plan.phases[p.phase]?.steps.find((s) => s.index === p.step)?.tasks[host];
      const d = task && diffTask(task, facts.get(host), masker, bundleFiles, { showPrivate });
      if (d) m.set(`${p.phase}:${p.step}`, d);
    }
    if (m.size) out.set(host, m);
  }
  return out;
}

const out = (s: string): void => void process.stdout.write(s);
const err = (s: string): void => void process.stderr.write(s);

/** `-e key=value` list -> map. Throws ConfigError on a malformed entry. */
export function parseExtraVars(list: string[] | undefined): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw cmdlineError('-e', `expected key=value, got ${JSON.stringify(kv)}`);
    vars[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return vars;
}

function parseForks(v: string | undefined): number {
  const n = Number(v ?? 50);
  if (!Number.isInteger(n) || n < 1) throw cmdlineError('--forks', `expected a whole number >= 1, got ${JSON.stringify(v)}`);
  return n;
}

/** True when both stdin and stdout are a terminal (prompts, live progress). */
export function isInteractive(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/** The live status line of the stages before the plan: on stderr, only when stdout and stderr are a terminal and not --json. */
function statusLine(opts: CommonOpts, quiet: boolean): StatusLine {
  return new StatusLine(process.stderr, !quiet && opts.json !== true && process.stderr.isTTY === true && process.stdout.isTTY === true);
}

/** Colours of text written to stdout (NO_COLOR, FORCE_COLOR, --no-color; ui/color.ts). */
export function stdoutPalette(opts: CommonOpts): Palette {
  return paletteFor(process.stdout, process.env, opts.color === false);
}

export { moveEarlyConnections } from '../library/project.js';

/**
 * Loads, builds bundles and compiles (src/library/project.ts), with the status line. Unless
 * `--offline`, connections to the run's hosts start as soon as the inventory is loaded
 * (at most `--forks` of them), so the handshakes overlap the bundle checks and the
 * compile; they are closed when the input turns out invalid, and nothing runs over
 * them before the plan exists. The first session of the returned plan takes them.
 * @throws ConfigError with the diagnostics.
 */
export async function prepare(playbook: string, opts: CommonOpts & { offline?: boolean; lockEarly?: boolean }, extraVars = parseExtraVars(opts.extraVar), quiet = opts.json === true, more: ProjectInternals = {}): Promise<Project> {
  // In a terminal, bundle builds show as one status line that is cleared before the plan; elsewhere their log lines go to stderr.
  // Asked (--ask-vault-pass) before the status line starts, which would draw over the prompt.
  const secrets = await secretReadingOf(opts);
  const status = statusLine(opts, quiet);
  status.set('Loading the playbook and building bundles');
  let connectEarly = 0;
  try {
    connectEarly = parseForks(opts.forks);
  } catch {
    // the session reports a bad --forks
  }
  try {
    return await timed('prepare', () => loadProjectWith(playbook, {
      secrets,
      inventories: opts.inventory ?? [],
      ...(opts.limit !== undefined && { limit: opts.limit }),
      ...(opts.node !== undefined && { node: opts.node }),
      extraVars,
      env: process.env,
      ...(!quiet && { log: status.enabled ? (l: string) => status.set(`Building bundles: ${l}`) : (l: string) => err(`${l}\n`) }),
      // --offline never connects: build_on bundles are described, not built.
      ...(opts.offline === true && { offline: true }),
      ...(opts.allowDowngrade === true && { allowDowngrade: true }),
      ...(opts.keepRevoked === true && { keepRevoked: true }),
      // A warning ends the status line first, so it stays on screen.
      warn: (l: string) => {
        status.clear();
        err(`orch: warning: ${l}\n`);
      },
      insecureHostKeys: opts.insecureHostKeys === true,
      connectEarly,
      // apply: the lock too is taken while the playbook compiles (ProjectOptions.lockEarly).
      ...(opts.lockEarly === true && { lockEarly: { by: `${userInfo().username}@${hostname()}` } }),
    }, more));
  } finally {
    status.clear();
  }
}

/** The library's run options from the common flags. @throws ConfigError for a bad `--forks`, `--timeout` or `--give-up`. */
export function runOptions(opts: CommonOpts): RunOptions {
  const giveUp = parseGiveUp(opts.giveUp);
  const forks = parseForks(opts.forks);
  const timeout = parseTimeout(opts.timeout);
  return {
    forks,
    ...(timeout !== undefined && { stepTimeoutSeconds: timeout }),
    ...(giveUp !== undefined && { giveUpSeconds: giveUp }),
  };
}

export async function newSession(plan: Plan, masker: Masker, opts: CommonOpts, renderer: Renderer | ((e: EngineEvent) => void) | undefined, lock?: { waitSeconds: number }): Promise<Session> {
  const emit = typeof renderer === 'function' ? renderer : renderer ? (e: EngineEvent) => renderer.onEvent(e) : undefined;
  const giveUp = parseGiveUp(opts.giveUp);
  const early = takeEarlyConnections(plan);
  return new Session(plan, {
    ...(early && { early }),
    ...(lock && { lock }),
    ...(giveUp !== undefined && { giveUpSeconds: giveUp }),
    sameMachine: (h: PlanHost) => TRANSPORTS[h.transport]?.sameMachine === true,
    ...((opts.diff || opts.diffPrivate) && { extraProbes: (host: string) => diffProbes(plan, host) }),
    forks: parseForks(opts.forks),
    transportFor: await transportsFor(plan.hosts),
    connect: { hosts: plan.hosts, insecureHostKeys: opts.insecureHostKeys === true, env: process.env },
    ...(parseTimeout(opts.timeout) !== undefined && { stepTimeoutMs: parseTimeout(opts.timeout)! * 1000 }),
    emit: (e) => emit?.(e),
    masker,
    now: () => new Date(),
    by: `${userInfo().username}@${hostname()}`,
  });
}

/** What a saved plan holds: the plan, masked, without payload contents. */
export function planForSaving(plan: Plan, masker: Masker): Plan {
  const copy = masker.maskDeep(structuredClone(plan));
  for (const phase of copy.phases) {
    for (const step of phase.steps) {
      for (const t of Object.values(step.tasks)) if (t.payload?.kind === 'content') t.payload.base64 = '';
    }
  }
  return copy;
}

/** `orch plan PLAYBOOK`. */
export async function runPlanCommand(playbook: string, opts: CommonOpts & { offline?: boolean; remoteCheck?: boolean; out?: string }): Promise<void> {
  const project = await prepare(playbook, opts);
  const { plan, masker, notes } = project;
  if (opts.out) {
    const tmp = `${opts.out}.tmp.${process.pid}`;
    // 0600: a plan names hosts, paths and store users; secrets in it are masked, but it is nobody else's business.
    writeFileSync(tmp, `${JSON.stringify(planForSaving(plan, masker), null, 1)}\n`, { mode: 0o600 });
    renameSync(tmp, opts.out);
  }
  const status = statusLine(opts, false);
  const run = runOptions(opts);
  const progress = opts.offline ? undefined : factsProgress(plan, status, opts.remoteCheck === true);
  let planned: PlanResult;
  try {
    planned = await planWith(project, { ...run, ...(progress && { onEvent: progress }), ...(opts.remoteCheck && { remoteCheck: true }) }, {
      ...((opts.diff || opts.diffPrivate) && { extraProbes: (host: string) => diffProbes(plan, host) }),
    });
  } finally {
    status.clear();
  }
  const { facts, unreachable, remoteProblems, refused } = planned;
  const refusedOrWarned = new Map([...refused, ...planned.warnings]);
  const predictions = planned.hosts;
  const bytes = await planned.payloadBytes();
  const diffs = (opts.diff || opts.diffPrivate) && !opts.offline ? planDiffs(plan, predictions, facts.byHost, masker, opts.diffPrivate === true) : undefined;
  // A refused host's steps never run: they are not pending (apply fails that host instead).
  const counted = refused.size ? new Map([...predictions].filter(([h]) => !refused.has(h))) : predictions;
  if (opts.json) {
    const steps = (h: string): unknown[] => (predictions.get(h) ?? []).map((p) => {
      const d = diffs?.get(h)?.get(`${p.phase}:${p.step}`);
      const b = bytes.get(h)?.steps.find((x) => x.phase === p.phase && x.step === p.step);
      return { ...p, ...(b && { bytes: b.bytes, send: b.how, ...(b.fullBytes !== undefined && { fullBytes: b.fullBytes }) }), ...(d && { diff: d }) };
    });
    out(`${masker.mask(JSON.stringify({
      type: 'plan',
      offline: opts.offline === true,
      hosts: plan.targets.map((h) => ({ host: h, ...(unreachable.has(h) ? { error: unreachable.get(h) } : { ...(bytes.has(h) && { bytes: bytes.get(h)!.bytes }), ...(refused.has(h) && { refused: refused.get(h)!.message }), steps: steps(h) }) })),
      pending: countPending(counted),
      ...(notes && { notes }),
      // Rolling nodes: their batches in order and the bake after each (ms), as apply runs them.
      ...(plan.phases.some((ph) => ph.batches.length > 1 || ph.bake) && {
        stages: plan.phases.filter((ph) => ph.batches.length > 1 || ph.bake).map((ph) => ({ node: ph.node, batches: ph.batches, ...(ph.bake && { bake: ph.bake }) })),
      }),
    }))}\n`);
  } else {
    out(masker.mask(formatPlan(plan, predictions, unreachable, opts.offline === true, stdoutPalette(opts), diffs, bytes, refusedOrWarned)));
  }
  if (notes && !opts.json) for (const n of notes) err(`${masker.mask(n)}\n`);
  if (opts.out && !opts.json) err(`Saved plan to ${opts.out}; apply it with: orch apply ${opts.out}\n`);
  if (remoteProblems.length) {
    for (const p of remoteProblems) err(`${p}\n`);
    throw new ExitRequest(EXIT.INVALID);
  }
  const pending = countPending(counted) > 0;
  // A step refused from the facts (same version, other bundle) or a host refused for a bad
  // release fails its host at apply: 4, like unreachable.
  if (unreachable.size || refused.size || countFailing(counted) > 0) throw new ExitRequest(opts.detailedExitcodes && pending ? EXIT.CHANGED_AND_FAILED : EXIT.FAILED);
  if (opts.detailedExitcodes && pending) throw new ExitRequest(EXIT.CHANGED);
}

/** Loads a saved plan and re-prepares it from its recorded inputs; refuses a stale plan. */
async function loadSavedPlan(file: string, opts: CommonOpts): Promise<Project> {
  let saved: Plan;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as Plan;
  } catch (e) {
    throw new OrchError(`cannot read plan ${file}: ${(e as Error).message}`);
  }
  if (saved.planVersion !== 1) throw new OrchError(`${file}: unsupported planVersion ${String(saved.planVersion)} (this orch reads 1)`);
  const stale = (why: string): never => {
    throw new OrchError(`plan ${file} is stale: ${why}; make a new plan with orch plan`);
  };
  for (const [path, sum] of Object.entries(saved.inputs.files)) {
    let now: string;
    try {
      now = createHash('sha256').update(readFileSync(path)).digest('hex');
    } catch {
      return stale(`${path} is gone`);
    }
    if (now !== sum) stale(`${path} changed since the plan was made`);
  }
  const extra = { ...saved.inputs.extraVars, ...parseExtraVars(opts.extraVar) };
  for (const [k, v] of Object.entries(extra)) if (v.includes('***')) throw new OrchError(`plan ${file} was made with a secret -e ${k}=...: give it again with -e ${k}=VALUE`);
  const prepared = await prepare(saved.inputs.playbook, {
    ...opts,
    inventory: saved.inputs.inventories,
    ...(saved.inputs.limit !== undefined && { limit: saved.inputs.limit }),
    ...(saved.inputs.node !== undefined && { node: saved.inputs.node }),
  }, extra);
  for (const [name, sum] of Object.entries(saved.inputs.bundles)) {
    if (prepared.plan.bundles[name]?.sha256 !== sum) stale(`bundle ${name} changed (sha256 ${sum.slice(0, 12)}... -> ${prepared.plan.bundles[name]?.sha256.slice(0, 12) ?? 'gone'}...)`);
  }
  const again = planForSaving(prepared.plan, prepared.masker);
  again.inputs = saved.inputs;
  if (JSON.stringify(again) !== JSON.stringify({ ...saved })) stale('the compiled plan differs from the saved one');
  return prepared;
}

/**
 * Asks on the terminal and waits for the answer: `y`/`yes` = true; anything else, end of
 * input (Ctrl-D) = false; Ctrl-C = `interrupted`.
 */
export async function confirm(question: string): Promise<boolean | 'interrupted'> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await new Promise<boolean | 'interrupted'>((resolve) => {
      let answered = false;
      const answer = (a: boolean | 'interrupted', newline: boolean): void => {
        if (answered) return;
        answered = true;
        if (newline) process.stdout.write('\n');
        resolve(a);
      };
      rl.on('SIGINT', () => answer('interrupted', true));
      rl.on('close', () => answer(false, true)); // end of input (Ctrl-D)
      rl.question(question).then((text) => answer(/^y(es)?$/i.test(text.trim()), false), () => answer(false, true));
    });
  } finally {
    rl.close();
  }
}

/**
 * Facts progress on the status line: `Reading the state of 5 hosts: 2 of 5 done` (every
 * target reports one `facts` event); with `remoteCheck`, the `bash -n` stage after the last.
 */
function factsProgress(plan: Plan, status: StatusLine, remoteCheck = false): ((e: RunEvent) => void) | undefined {
  if (!status.enabled) return undefined;
  const n = plan.targets.length;
  let done = 0;
  status.set(`Connecting to ${plural(n, 'host')} and reading their state`);
  return (e) => {
    if (e.type !== 'facts') return;
    done++;
    status.set(`Reading the state of ${plural(n, 'host')}: ${done} of ${n} done`);
    if (remoteCheck && done === n) status.set(`Checking scripts with bash -n on ${plural(n, 'host')}`);
  };
}

/** How a run is shown and driven. */
export interface ApplyMode {
  /** Ask before applying (terminal only, without --yes). */
  confirm: boolean;
  /** Print the plan before applying. */
  showPlan: boolean;
  /** Seconds to wait for another run's host lock. */
  lockWait: number;
  /** converge: a release recorded bad is skipped quietly (cron), not a failed host. */
  skipBad?: boolean;
  /** The playbook's `hooks:` and `notify:` (apply and converge; src/library/notify.ts). */
  hooks?: RunHooks;
  /** Called after facts were read, before anything changes; may throw ExitRequest to refuse. */
  precheck?: (session: Pick<Session, 'isFailed'>, facts: GatheredFacts) => void;
}

/** Picks the renderer: JSON Lines, listr2 in a terminal, else plain lines. */
export async function pickRenderer(plan: Plan, opts: CommonOpts, write: (s: string) => void = out): Promise<Renderer> {
  if (opts.json) return new JsonRenderer(write);
  const ropts = { palette: write === out ? stdoutPalette(opts) : PLAIN, verbose: opts.verbose === true };
  if (isInteractive() && (process.stdout.columns ?? 0) >= 40 && write === out) {
    const { TtyRenderer } = await import('../ui/tty.js');
    return new TtyRenderer(write, plan, ropts);
  }
  return new LinesRenderer(write, false, ropts);
}

/**
 * The core of apply, rollback and converge: lock + facts, plan shown, execute, summary.
 * Ctrl-C (SIGINT): the first stops new steps, tells every host agent to stop its
 * children (TERM, KILL after a grace), prints `interrupted` and a partial summary, and
 * the run exits 130; a second one exits at once (the agents still stop through their
 * dead-man's switch).
 */
export async function applyPlan(plan: Plan, masker: Masker, opts: CommonOpts, renderer: Renderer, mode: ApplyMode, write: (s: string) => void = out): Promise<RunSummary> {
  // Stages never overlap: facts progress (cleared) -> the plan -> the prompt -> live progress.
  const status = statusLine(opts, write !== out);
  const run = runOptions(opts);
  // Events go to the facts progress until the renderer starts (with --json, to the renderer from the first).
  let sink: ((e: RunEvent) => void) | undefined = opts.json ? (e) => renderer.onEvent(e as EngineEvent) : factsProgress(plan, status);
  let started = false;
  const start = (unreachable: Map<string, string>): void => {
    if (started) return;
    started = true;
    renderer.start?.(unreachable);
    sink = (e) => renderer.onEvent(e as EngineEvent);
  };
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) {
      err('orch: interrupted again: exiting now\n');
      process.exit(EXIT.INTERRUPTED);
    }
    err('\norch: interrupted: stopping the remote work (Ctrl-C again to exit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  let result: ApplyResult;
  try {
    result = await applyWith({
      plan, masker,
      options: { insecureHostKeys: opts.insecureHostKeys === true, warn: (l: string) => err(`orch: warning: ${l}\n`) },
      ...(mode.hooks && { hooks: mode.hooks }),
    }, {
      ...run,
      lockWaitSeconds: mode.lockWait,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type !== 'summary') sink?.(e);
      },
      beforeExecute: async (planned) => {
        status.clear();
        const { facts, unreachable } = planned;
        mode.precheck?.({ isFailed: (h) => unreachable.has(h) }, facts);
        const diffs = opts.diff || opts.diffPrivate ? planDiffs(plan, planned.hosts, facts.byHost, masker, opts.diffPrivate === true) : undefined;
        if (mode.showPlan && !opts.json) write(masker.mask(formatPlan(plan, planned.hosts, unreachable, false, write === out ? stdoutPalette(opts) : PLAIN, diffs, await planned.payloadBytes(), mode.skipBad ? undefined : new Map([...planned.refused, ...planned.warnings]))));
        if (mode.confirm && !opts.json && countPending(planned.hosts) > 0) {
          const answer = await confirm('Apply these changes? [y/N] ');
          if (answer !== true) {
            err('Cancelled; nothing was changed.\n');
            throw new ExitRequest(answer === 'interrupted' ? EXIT.INTERRUPTED : EXIT.INVALID);
          }
        }
        start(unreachable);
      },
    }, {
      ...((opts.diff || opts.diffPrivate) && { extraProbes: (host: string) => diffProbes(plan, host) }),
      ...(mode.skipBad && { skipBad: true }),
    });
  } finally {
    status.clear();
    process.off('SIGINT', onSigint);
  }
  start(result.planned.unreachable);
  const t = now();
  const summary = result.summary;
  await renderer.finish(summary);
  span('record', t);
  if (summary.interrupted) err('interrupted\n');
  return summary;
}

/**
 * A duration flag (`--timeout`, `--lock-wait`, `--splay`): seconds or `500ms`/`2s`/`1m`/`1h`
 * (model/duration.ts), as seconds. @throws ConfigError `--lock-wait: "2 sec": expected ...`.
 */
export function parseDurationFlag(flag: string, v: string | undefined): number {
  const r = parseDuration(v ?? '0');
  if (!r.ok) throw cmdlineError(flag, r.message);
  return r.seconds;
}

/** `--timeout DURATION` -> seconds, undefined when unset or 0. */
export function parseTimeout(v: string | undefined): number | undefined {
  return v === undefined ? undefined : parseDurationFlag('--timeout', v) || undefined;
}

/** `--give-up DURATION` -> seconds (>= 1), undefined when unset. */
export function parseGiveUp(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = parseDurationFlag('--give-up', v);
  if (n < 1) throw cmdlineError('--give-up', `expected at least 1 s, got ${JSON.stringify(v)}`);
  return n;
}

/** `--lock-wait DURATION` -> seconds. */
export function parseLockWait(v: string | undefined): number {
  return parseDurationFlag('--lock-wait', v);
}

/** `orch apply PLAYBOOK|PLAN.json`. */
export async function runApplyCommand(target: string, opts: CommonOpts & AutoRevokeOptions & { yes?: boolean; lockWait?: string }): Promise<void> {
  const isPlanFile = target.endsWith('.json');
  const { plan, masker, hooks } = isPlanFile ? await loadSavedPlan(target, opts) : await prepare(target, { ...opts, lockEarly: true });
  const renderer = await pickRenderer(plan, opts);
  const summary = await applyPlan(plan, masker, opts, renderer, { confirm: isInteractive() && !opts.yes, showPlan: true, lockWait: parseLockWait(opts.lockWait), ...(hooks && { hooks }) });
  // A release from a signed channel that failed here is revoked fleet-wide (src/store/revoke.ts).
  if (summary.recordedBad?.length) await revokeRecordedBad(plan, summary, opts, (l) => err(`${masker.mask(l)}\n`));
  const code = exitCodeOf(summary, opts.detailedExitcodes === true);
  if (code !== EXIT.OK) throw new ExitRequest(code);
}
