/**
 * The Transport interface: the engine knows only this (DESIGN: engine never imports ssh2).
 * Implementations: `ssh.ts` (ssh2, the only importer of ssh2) and `local.ts` (bash).
 */
import type { Readable } from 'node:stream';
import type { PlanHost } from '../model/plan.js';

/** Result of one remote command. stdout/stderr are complete buffers. */
export interface ExecResult {
  /** Exit code, or null when the command died by a signal / the channel closed without status. */
  code: number | null;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
}

export interface ExecOptions {
  /** Fed to the command's stdin, then stdin is closed. Without it stdin is closed at once. */
  stdin?: Buffer | Readable;
  /** Kill the command (and fail) after this many milliseconds. */
  timeoutMs?: number;
  /** Called with every stdout chunk as it arrives (live progress). */
  onStdout?: (chunk: Buffer) => void;
  /** Called with every stderr chunk as it arrives. */
  onStderr?: (chunk: Buffer) => void;
}

/**
 * A live connection to one host, opened once per run and reused by every step.
 * `exec` runs COMMAND through the host's shell (ssh: the login shell; local: `bash -c`).
 * Several `exec` calls may run at once (ssh: one channel each, at most MaxSessions).
 * Errors: rejects with ConnectError when the connection is lost.
 */
export interface Connection {
  readonly host: string;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Bytes sent as stdin payloads so far (for "uploaded nothing" checks and the bench). */
  readonly bytesSent: number;
  close(): Promise<void>;
}

/** Connection options common to every host of a run. */
export interface ConnectOptions {
  /** Every host of the plan (bastions are looked up here by name). */
  hosts: Record<string, PlanHost>;
  /** `--insecure-host-keys`: accept any host key (never the default). */
  insecureHostKeys?: boolean;
  /** TCP connect + SSH handshake budget, milliseconds (default 20000). */
  connectTimeoutMs?: number;
  /** Keepalive interval ms (default 5000) and count before the peer is declared dead (default 3). */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Path of ~/.ssh/config to read (default: ~/.ssh/config of the current user; tests override). */
  sshConfigFile?: string;
  /** Environment (SSH_AUTH_SOCK, HOME, USER); default process.env. Passed in, never read globally in transport internals. */
  env?: NodeJS.ProcessEnv;
}

/** Opens connections. Rejects with ConnectError (host key refused, auth failed, unreachable). */
export interface Transport {
  connect(host: PlanHost, options: ConnectOptions): Promise<Connection>;
}
