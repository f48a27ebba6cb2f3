/**
 * The Transport interface: the engine knows only this (the engine never imports ssh2; test/unit/engine/layers.test.ts keeps the layers).
 * Implementations: `ssh.ts` (ssh2, the only importer of ssh2) and `local.ts` (bash).
 */
import type { Duplex, Readable } from 'node:stream';
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
  /**
   * Aborting it ends the command as a dropped connection would (ssh: the channel is
   * closed, no signal sent) and rejects with ConnectError. Ignored by `local`.
   */
  signal?: AbortSignal;
  /**
   * The command reads its stdin before it does anything (orch's agent bootstrap,
   * src/engine/agent.ts): a transport that keeps connections between runs may hand over
   * one it started ahead of time, and start the next one when this one ends (the control
   * master, ./control-master-server.ts). Ignored elsewhere, and with `timeoutMs`.
   */
  spare?: boolean;
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
  /** False once the connection is known lost (peer closed, keepalive timeout); undefined when the transport cannot tell. */
  readonly alive?: boolean;
  close(): Promise<void>;
  /**
   * An interactive session on a remote pseudo-terminal: the login shell, or `command`
   * (`ssh -t HOST COMMAND`). ssh only (`orch ssh`, `connect` in `orch shell`).
   * Rejects with ConnectError when the channel cannot be opened.
   */
  pty?(options: PtyOptions): Promise<PtySession>;
  /** An SFTP session on this connection (ssh only; the host needs an sftp subsystem). */
  sftp?(): Promise<RemoteFiles>;
}

/** Terminal settings of a remote pty. */
export interface PtyOptions {
  /** TERM value, e.g. `xterm-256color`. */
  term: string;
  /** Size in characters. */
  rows: number;
  cols: number;
  /** Run this instead of the login shell. */
  command?: string;
}

/** A live pty session: `stream` carries the terminal's bytes both ways. */
export interface PtySession {
  stream: Duplex;
  /** Tells the remote pty the terminal's new size (characters; SSH window-change). */
  resize(rows: number, cols: number): void;
  /** Resolves with the remote exit status (null: killed by a signal or the connection was lost). */
  exited: Promise<number | null>;
}

/** A remote file's metadata (SFTP attributes). `mtime` in seconds since the epoch. */
export interface RemoteFileInfo {
  name: string;
  type: 'file' | 'dir' | 'link' | 'other';
  mode: number;
  size: number;
  uid: number;
  gid: number;
  mtime: number;
}

/** File operations over SFTP; paths are remote, absolute or relative to the login folder. Errors reject with the server's message. */
export interface RemoteFiles {
  realpath(path: string): Promise<string>;
  /** Entries of a folder, without `.` and `..`, sorted by name. */
  list(path: string): Promise<RemoteFileInfo[]>;
  /** Metadata of `path` (symlinks followed). */
  stat(path: string): Promise<RemoteFileInfo>;
  download(remotePath: string, localPath: string): Promise<void>;
  /**
   * Writes the local file to `remotePath`, which must not exist: created exclusively
   * (O_CREAT|O_EXCL on the server, so a planted name or symlink is never opened), its
   * mode (permission bits, e.g. 0o640) set on the open handle (fchmod), then fsynced.
   */
  upload(localPath: string, remotePath: string, mode: number): Promise<void>;
  /** Renames over an existing `to` atomically (OpenSSH posix-rename). */
  rename(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  remove(path: string): Promise<void>;
  close(): void;
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
