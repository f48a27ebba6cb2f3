/**
 * `orch cron install PLAYBOOK --every 15m|--cron EXPR [--limit P] [--log FILE]`,
 * `orch cron list [--json]`, `orch cron remove PLAYBOOK` (docs/reference/cli.md).
 *
 * The pure parts (schedule, entry, crontab text editing) live in `src/cron/`; this file
 * resolves paths, reads and writes the crontab through the `crontab` program, and prints.
 * Read-modify-write of the crontab is serialised with proper-lockfile on
 * `~/.orch/crontab.lock`, so two concurrent installs cannot drop each other's entry.
 */
import { orchBin } from './package-path.js';
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { loadPlaybook } from '../config/playbook.js';
import { SourceIndexImpl } from '../config/source-index.js';
import { checkEntrySpec, renderCronEntry, vaultIdFile } from '../cron/entry.js';
import type { ConvergeEntrySpec } from '../cron/entry.js';
import { listOrchEntries, removeOrchEntry, upsertOrchEntry } from '../cron/crontab-text.js';
import { findCrontab, readCrontab, writeCrontab } from '../cron/crontab.js';
import { resolveSchedule } from '../cron/schedule.js';
import { cmdlineDiagnostic } from '../model/diagnostics.js';
import { ConfigError } from '../model/errors.js';

const out = (s: string): void => void process.stdout.write(s);

/** Options of `orch cron install` as commander hands them over. */
export interface CronInstallOptions {
  every?: string;
  cron?: string;
  limit?: string;
  log?: string;
  /** Ansible Vault password files for converge (repeatable); relative paths resolve against the cwd. */
  vaultPasswordFile?: string[];
  /** `[label@]FILE` vault ids for converge (repeatable). */
  vaultId?: string[];
  /** age identity file for converge's `.age` vars files. */
  ageIdentity?: string;
  /** Accepted for clarity: the invoking user's crontab is the default (and only) target. */
}

/** `[label@]FILE` with FILE made absolute against the cwd. */
function absoluteVaultId(id: string): string {
  const at = id.indexOf('@');
  return at < 0 ? resolve(id) : `${id.slice(0, at)}@${resolve(id.slice(at + 1))}`;
}

/** Absolute playbook path as used in markers: resolved against the cwd, symlinks resolved when it exists. */
function playbookPath(playbook: string): string {
  const abs = resolve(playbook);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

/** Default converge log: `~/.orch/converge-<playbook file name without .yml/.yaml>.log`. */
export function defaultLogPath(playbook: string, home: string): string {
  const base = basename(playbook);
  const ext = extname(base);
  const stem = ext === '.yml' || ext === '.yaml' ? base.slice(0, -ext.length) : base;
  return join(home, '.orch', `converge-${stem}.log`);
}

/** Runs `edit` on the crontab text under the `~/.orch/crontab.lock` lock; writes only when the text changed. */
async function editCrontab<T>(edit: (text: string) => { text: string; result: T }): Promise<T> {
  const program = findCrontab(process.env.PATH);
  const dir = join(homedir(), '.orch');
  mkdirSync(dir, { recursive: true });
  const release = await lockfile.lock(dir, { lockfilePath: join(dir, 'crontab.lock'), realpath: false, stale: 10_000, retries: { retries: 50, minTimeout: 50, maxTimeout: 500 } });
  try {
    const before = await readCrontab(program);
    const { text, result } = edit(before);
    if (text !== before) await writeCrontab(program, text);
    return result;
  } finally {
    await release();
  }
}

/**
 * `orch cron install PLAYBOOK`: checks the playbook loads, resolves the schedule, and
 * adds or replaces the playbook's crontab entry. Prints `added|replaced|unchanged: SCHEDULE PLAYBOOK`
 * and the log path.
 * @throws ConfigError (bad schedule, unreadable or invalid playbook), OrchError (crontab missing or refusing).
 */
export async function runCronInstall(playbook: string, opts: CronInstallOptions): Promise<void> {
  const pb = playbookPath(playbook);
  if (!existsSync(pb) || !statSync(pb).isFile()) {
    throw new ConfigError([cmdlineDiagnostic('PLAYBOOK', `${playbook}: no such playbook file`)]);
  }
  const sched = resolveSchedule({ ...(opts.every !== undefined && { every: opts.every }), ...(opts.cron !== undefined && { cron: opts.cron }) }, pb);
  const spec: ConvergeEntrySpec = {
    playbook: pb,
    schedule: sched.expr ?? '',
    node: process.execPath,
    orch: orchBin(),
    log: opts.log !== undefined ? resolve(opts.log) : defaultLogPath(pb, homedir()),
    ...(opts.limit !== undefined && { limit: opts.limit }),
    ...(opts.vaultPasswordFile?.length && { vaultPasswordFiles: opts.vaultPasswordFile.map((f) => resolve(f)) }),
    ...(opts.vaultId?.length && { vaultIds: opts.vaultId.map(absoluteVaultId) }),
    ...(opts.ageIdentity !== undefined && { ageIdentity: resolve(opts.ageIdentity) }),
  };
  const problems = [...sched.diagnostics, ...checkEntrySpec(spec)];
  // A secret file cron cannot read fails every run in silence: refuse it now (its path only, never its contents).
  const secretFiles: [string, string][] = [
    ...(spec.vaultPasswordFiles ?? []).map((f): [string, string] => ['--vault-password-file', f]),
    ...(spec.vaultIds ?? []).map((f): [string, string] => ['--vault-id', vaultIdFile(f)]),
    ...(spec.ageIdentity !== undefined ? [['--age-identity', spec.ageIdentity] as [string, string]] : []),
  ];
  for (const [flag, f] of secretFiles) {
    if (!existsSync(f) || !statSync(f).isFile()) problems.push(cmdlineDiagnostic(flag, `${f}: no such file (converge reads it at every run)`));
  }
  if (problems.length) throw new ConfigError(problems);
  // A playbook that does not load would fail every run in silence: refuse it now.
  const loaded = await loadPlaybook(pb, new SourceIndexImpl());
  if (!loaded.playbook) throw new ConfigError(loaded.diagnostics);

  const block = renderCronEntry(spec);
  const action = await editCrontab((text) => {
    const r = upsertOrchEntry(text, pb, block);
    return { text: r.text, result: r.action };
  });
  mkdirSync(dirname(spec.log), { recursive: true });
  out(`${action}: ${spec.schedule} ${pb}\n  log: ${spec.log}\n`);
}

/** `orch cron list [--json]`: one line per orch entry (`PLAYBOOK  SCHEDULE  COMMAND`), or a JSON array of `{playbook, schedule, command}`. */
export async function runCronList(opts: { json?: boolean }): Promise<void> {
  const entries = listOrchEntries(await readCrontab(findCrontab(process.env.PATH)));
  if (opts.json) return void out(`${JSON.stringify(entries.map(({ playbook, schedule, command }) => ({ playbook, schedule, command })))}\n`);
  if (!entries.length) return void out('no orch entries in the crontab\n');
  for (const e of entries) out(`${e.playbook}  ${e.schedule ?? '(no job line under the marker)'}  ${e.command ?? ''}`.trimEnd() + '\n');
}

/** `orch cron remove PLAYBOOK`: removes the playbook's marker and entry; nothing there is not an error. */
export async function runCronRemove(playbook: string): Promise<void> {
  const pb = playbookPath(playbook);
  const removed = await editCrontab((text) => {
    const r = removeOrchEntry(text, pb);
    return { text: r.text, result: r.removed };
  });
  out(removed ? `removed: ${pb}\n` : `nothing to remove: no orch entry for ${pb}\n`);
}
