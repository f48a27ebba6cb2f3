/**
 * orch's few error classes, under one base.
 * Source: pyinfra `api/exceptions.py` — a small, closed hierarchy the CLI maps to exit codes.
 */
import type { Diagnostic } from './diagnostics.js';
import { formatDiagnostic } from './diagnostics.js';

/** Base of every error orch raises on purpose. */
export class OrchError extends Error {
  override name = 'OrchError';
}

/** Invalid user input (files, flags). Carries every diagnostic found; CLI exit code 1. */
export class ConfigError extends OrchError {
  override name = 'ConfigError';
  constructor(readonly diagnostics: Diagnostic[], summary?: string) {
    super(summary ?? diagnostics.map(formatDiagnostic).join('\n'));
  }
}

/** A host could not be reached or refused us (host key, auth, timeout). Fails that host only. */
export class ConnectError extends OrchError {
  override name = 'ConnectError';
  constructor(readonly host: string, message: string) {
    super(`${host}: ${message}`);
  }
}

/** A command on a host exited non-zero. `stderrTail` is the last lines of its stderr (masked). */
export class RemoteCommandError extends OrchError {
  override name = 'RemoteCommandError';
  constructor(
    readonly host: string,
    readonly step: string,
    readonly exitCode: number | null,
    readonly stderrTail: string,
  ) {
    super(`${host}: ${step}: exit ${exitCode ?? 'signal'}${stderrTail ? `: ${stderrTail}` : ''}`);
  }
}

/**
 * Another run holds the lock: a host lock (`host` set; message `locked by USER@HOST pid
 * N since T`) or the control machine's converge lock (`host` undefined). CLI exit code 3
 * when it ends a converge; a host lock fails that host only (exit 4).
 */
export class LockedError extends OrchError {
  override name = 'LockedError';
  constructor(message: string, readonly host?: string) {
    super(message);
  }
}

/** The run was interrupted (SIGINT): remote work was stopped. CLI exit code 130. */
export class InterruptedError extends OrchError {
  override name = 'InterruptedError';
  constructor(message = 'interrupted') {
    super(message);
  }
}

/** A bug in orch itself (an impossible state, a broken protocol). CLI exit code 70. */
export class InternalError extends OrchError {
  override name = 'InternalError';
}
