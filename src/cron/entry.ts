/**
 * The crontab entry `orch cron install` writes (docs/reference/cli.md): a marker comment naming
 * the playbook, then one line running `orch converge` with absolute paths only, because
 * cron starts jobs in the user's home with a minimal environment (`PATH=/usr/bin:/bin`).
 * Pure: every path comes in as a parameter.
 *
 * Source: the marker-comment idea is Ansible's `cron` module (`#Ansible: NAME` above the
 * job it owns); cron convergence is from "The Ultimate Python Deployment System".
 */
import { posix } from 'node:path';
import { quote } from '../shell/quote.js';
import { cmdlineDiagnostic, type Diagnostic } from '../model/diagnostics.js';

/** Prefix of orch's marker comments: the line is `# orch:<absolute playbook path>`. */
export const MARKER_PREFIX = '# orch:';

/** The directories cron jobs need besides node's own: Debian's default root PATH. */
export const BASE_PATH: readonly string[] = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** What goes into one converge entry. Every path must be absolute. */
export interface ConvergeEntrySpec {
  /** Absolute path of the playbook; the job `cd`s into its folder first. */
  playbook: string;
  /** Crontab schedule (five fields or a macro), e.g. from `resolveSchedule`. */
  schedule: string;
  /** Absolute path of the node binary (`process.execPath`); its folder leads PATH. */
  node: string;
  /** Absolute path of orch's `bin/orch.js`. */
  orch: string;
  /** Absolute path of the converge log (`--log`). */
  log: string;
  /** `--limit` pattern passed on to converge, if any. */
  limit?: string;
  /** Absolute paths of Ansible Vault password files, passed on as `--vault-password-file` (paths, never passwords). */
  vaultPasswordFiles?: string[];
  /** `[label@]FILE` vault ids with absolute FILE, passed on as `--vault-id`. */
  vaultIds?: string[];
  /** Absolute path of the age identity, passed on as `--age-identity`. */
  ageIdentity?: string;
}

/** `# orch:<playbook>` — the marker line for `playbook` (absolute path). */
export function markerFor(playbook: string): string {
  return `${MARKER_PREFIX}${playbook}`;
}

/**
 * Checks what cannot go into a crontab line: relative paths, and newlines or NUL bytes
 * (a crontab entry is one line). Returns diagnostics at `<command line>`, path the flag.
 */
export function checkEntrySpec(spec: ConvergeEntrySpec): Diagnostic[] {
  const out: Diagnostic[] = [];
  const fields: [string, string | undefined, boolean][] = [
    ['PLAYBOOK', spec.playbook, true], ['--log', spec.log, true], ['node', spec.node, true], ['orch', spec.orch, true], ['--limit', spec.limit, false],
    ...(spec.vaultPasswordFiles ?? []).map((f): [string, string, boolean] => ['--vault-password-file', f, true]),
    ...(spec.vaultIds ?? []).map((f): [string, string, boolean] => ['--vault-id', vaultIdFile(f), true]),
    ['--age-identity', spec.ageIdentity, true],
  ];
  for (const [flag, v, abs] of fields) {
    if (v === undefined) continue;
    if (/[\n\r\0]/.test(v)) out.push(cmdlineDiagnostic(flag, `${JSON.stringify(v)} contains a line break or NUL byte, which a crontab line cannot hold`));
    else if (abs && !v.startsWith('/')) out.push(cmdlineDiagnostic(flag, `${JSON.stringify(v)} is not an absolute path`));
  }
  return out;
}

/** The FILE of a `[label@]FILE` vault id (Ansible's `--vault-id` syntax). */
export function vaultIdFile(id: string): string {
  const at = id.indexOf('@');
  return at < 0 ? id : id.slice(at + 1);
}

/**
 * The shell command of a converge entry, as cron's `/bin/sh -c` will run it:
 *
 * `cd DIR && PATH=NODEDIR:/usr/local/sbin:…:/bin NODE ORCH converge PLAYBOOK [--limit P]
 *  [--vault-password-file F]… [--vault-id [L@]F]… [--age-identity F] --log LOG`
 *
 * Every value is shell-quoted (`shell/quote.ts`), then each `%` is written `\%`, since
 * cron turns a bare `%` in the command into a newline (crontab(5)).
 */
export function renderConvergeCommand(spec: ConvergeEntrySpec): string {
  const nodeDir = posix.dirname(spec.node);
  const path = [nodeDir, ...BASE_PATH.filter((d) => d !== nodeDir)].join(':');
  const words = [
    'cd', quote(posix.dirname(spec.playbook)), '&&',
    `PATH=${quote(path)}`, quote(spec.node), quote(spec.orch), 'converge', quote(spec.playbook),
    ...(spec.limit !== undefined ? ['--limit', quote(spec.limit)] : []),
    ...(spec.vaultPasswordFiles ?? []).flatMap((f) => ['--vault-password-file', quote(f)]),
    ...(spec.vaultIds ?? []).flatMap((f) => ['--vault-id', quote(f)]),
    ...(spec.ageIdentity !== undefined ? ['--age-identity', quote(spec.ageIdentity)] : []),
    '--log', quote(spec.log),
  ];
  return words.join(' ').replaceAll('%', '\\%');
}

/**
 * The two crontab lines (without trailing newline) of a converge entry:
 * `[markerFor(playbook), "<schedule> <command>"]`.
 */
export function renderCronEntry(spec: ConvergeEntrySpec): [marker: string, entry: string] {
  return [markerFor(spec.playbook), `${spec.schedule} ${renderConvergeCommand(spec)}`];
}
