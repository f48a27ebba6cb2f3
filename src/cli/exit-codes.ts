/**
 * Exit codes (docs/reference/cli.md; Puppet's detailed exit codes) and the one place that maps
 * an error to one (only src/cli exits the process, from one top-level catch, as changesets does). Every command module imports these from
 * here, never from `main.ts`, so no two files of src/cli import each other.
 */
import type { RunSummary } from '../engine/events.js';
import { formatDiagnostic } from '../model/diagnostics.js';
import { ConfigError, ConnectError, InternalError, InterruptedError, LockedError, OrchError, RemoteCommandError } from '../model/errors.js';

/**
 * 0 success; 1 nothing ran (invalid input, usage, stale plan); 2 changes (detailed);
 * 3 converge skipped (lock held); 4 host failures; 6 changes and failures (detailed);
 * 70 internal error (a bug; `EX_SOFTWARE` of sysexits.h); 130 interrupted (SIGINT, 128+2).
 */
export const EXIT = { OK: 0, INVALID: 1, CHANGED: 2, LOCKED: 3, FAILED: 4, CHANGED_AND_FAILED: 6, INTERNAL: 70, INTERRUPTED: 130 } as const;

/** Raised by commands to end with a given exit code after printing. */
export class ExitRequest extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Exit code of a finished run (docs/reference/cli.md): failures, changes, `--detailed-exitcodes`. */
export function exitCodeOf(summary: RunSummary, detailed: boolean): number {
  if (summary.interrupted) return EXIT.INTERRUPTED;
  const failed = summary.failed + summary.unreachable > 0 || summary.aborted !== undefined;
  const changed = summary.changed > 0;
  if (failed) return detailed && changed ? EXIT.CHANGED_AND_FAILED : EXIT.FAILED;
  return detailed && changed ? EXIT.CHANGED : EXIT.OK;
}

/** Diagnostics printed by {@link exitCodeFor} before the rest are summarized as a count. */
export const MAX_PRINTED_DIAGNOSTICS = 200;

/**
 * Maps an error to its exit code and writes what the user must see on `writeErr`
 * (the CLI's one top-level catch). ConfigError prints its diagnostics (the first
 * MAX_PRINTED_DIAGNOSTICS, then a count of the rest); other OrchErrors
 * print `orch: MESSAGE`; anything else is a bug and prints its stack.
 */
export function exitCodeFor(err: unknown, writeErr: (s: string) => void): number {
  if (err instanceof ExitRequest) return err.code;
  const ce = err as { code?: string };
  if (typeof ce?.code === 'string' && ce.code.startsWith('commander.')) {
    return ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version' || ce.code === 'commander.help' ? EXIT.OK : EXIT.INVALID;
  }
  if (err instanceof ConfigError) {
    // One write for the lot, and at most MAX_PRINTED_DIAGNOSTICS lines: a generated file with
    // 100,000 bad entries must not take longer to report than to check (`--json` lists all).
    const ds = err.diagnostics;
    const shown = ds.slice(0, MAX_PRINTED_DIAGNOSTICS).map((d) => `${formatDiagnostic(d)}\n`);
    const rest = ds.length - shown.length;
    if (rest > 0) shown.push(`orch: ${rest} more problem${rest === 1 ? '' : 's'} not shown (${ds.length} in all; --json lists every one where the command has it)\n`);
    writeErr(shown.join(''));
    return EXIT.INVALID;
  }
  if (err instanceof InterruptedError) {
    writeErr('orch: interrupted\n');
    return EXIT.INTERRUPTED;
  }
  if (err instanceof InternalError) {
    writeErr(`orch: internal error: ${err.stack ?? err.message}\n`);
    return EXIT.INTERNAL;
  }
  if (err instanceof LockedError) {
    writeErr(`orch: ${err.message}\n`);
    return EXIT.LOCKED;
  }
  if (err instanceof ConnectError || err instanceof RemoteCommandError) {
    writeErr(`orch: ${err.message}\n`);
    return EXIT.FAILED;
  }
  if (err instanceof OrchError) {
    writeErr(`orch: ${err.message}\n`);
    return EXIT.INVALID;
  }
  writeErr(`orch: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.INTERNAL;
}
