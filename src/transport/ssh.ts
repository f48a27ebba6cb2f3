/**
 * The SSH transport, on `ssh2` (the only module of orch importing ssh2).
 *
 * - One `Client` per host per run; `exec` opens one session channel per call on it.
 *   OpenSSH's default `MaxSessions` is 10 per connection, so at most 8 channels run at
 *   once and further calls queue (p-limit).
 * - Host keys are verified against OpenSSH known_hosts (`./known-hosts.ts`) with the
 *   host's `hostKeyPolicy` (or `off` through `insecureHostKeys`), during key exchange:
 *   a refused host never gets as far as authentication, so nothing runs there.
 * - ssh_config (`./ssh-config.ts`: `~/.ssh/config` and `/etc/ssh/ssh_config` with their
 *   Includes, or `options.sshConfigFile` alone) supplies HostName/User/Port/IdentityFile/
 *   ProxyJump as `ssh` resolves them; inventory values win.
 * - Auth (docs/reference/inventory.md): the identity files (inventory `identity`, else every
 *   IdentityFile of ssh_config, in order; a file that does not exist is skipped, as ssh
 *   skips it), then ssh-agent (`SSH_AUTH_SOCK` of `options.env`); with no identity file
 *   given: ssh-agent then `~/.ssh/id_ed25519`, `~/.ssh/id_rsa` (those that exist); tried
 *   in order through ssh2's `authHandler`.
 * - Jump hosts (inventory `jump` chains, or ssh_config ProxyJump when the inventory has
 *   none): each hop is a Client whose `forwardOut` stream is the next Client's `sock`;
 *   every hop's host key is verified. Hop connections are shared by the connections of
 *   one transport that go through the same chain (ref-counted, so 50 hosts behind one
 *   bastion make one bastion connection, not 50 — bastions keep OpenSSH's default
 *   `MaxStartups 10:30:100`); the last connection using a hop closes it.
 * - Keepalives (`keepaliveIntervalMs` x `keepaliveCountMax`) detect a dead peer; a lost
 *   connection rejects every pending and later `exec` with ConnectError.
 */
import { readFile, access } from 'node:fs/promises';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import pLimit from 'p-limit';
import type { AnyAuthMethod, Client, ClientChannel, ConnectConfig, FileEntryWithStats, SFTPWrapper, Stats, utils as Ssh2Utils } from 'ssh2';
// ssh2's client and key parser, required by path: its index (`require('ssh2')`) also loads
// its HTTP agents (Node's http, https and tls), its server and its key generator, about
// 14 ms of every run's start on a 2-core host that orch never uses. ssh2 has no
// `exports` map, so these paths are its public files (node_modules/ssh2/lib/index.js).
const requireSsh2 = createRequire(import.meta.url);
// Loaded on first use: a run whose connections its control master holds
// (ORCH_SSH_PERSIST, ./control-master.ts) never loads ssh2 (about 30 ms of CPU at start).
let ssh2Loaded: { Client: typeof Client; parseKey: typeof Ssh2Utils.parseKey } | undefined;
function ssh2(): NonNullable<typeof ssh2Loaded> {
  return (ssh2Loaded ??= {
    Client: requireSsh2('ssh2/lib/client.js') as typeof Client,
    parseKey: (requireSsh2('ssh2/lib/protocol/keyParser.js') as { parseKey: typeof Ssh2Utils.parseKey }).parseKey,
  });
}
import { ConnectError, RemoteCommandError } from '../model/errors.js';
import type { HostKeyPolicy } from '../model/inventory.js';
import type { PlanHost } from '../model/plan.js';
import { appendKnownHost, checkHostKey, decideHostKey, knownHostsName, knownKeyTypes, readKnownHosts } from './known-hosts.js';
import { feedStdin, tailLines } from './local.js';
import { capInFlight } from './upload-window.js';
import { connectViaMaster, PERSIST_ENV, persistSeconds } from './control-master.js';
import { expandPath, loadSshConfig, resolveContextFromEnv, resolvePlanHost, type ParsedSshConfig, type ResolveContext, type ResolvedEndpoint } from './ssh-config.js';
import type { ConnectOptions, Connection, ExecOptions, ExecResult, PtyOptions, PtySession, RemoteFileInfo, RemoteFiles, Transport } from './transport.js';

/** Channels open at once per connection (OpenSSH MaxSessions defaults to 10; keep headroom). */
export const MAX_CHANNELS_PER_CONNECTION = 8;

/** Times a refused channel open is retried (backoff 25, 50, 100, 200, 400 ms). */
const OPEN_RETRIES = 5;

/** ssh2's default host key algorithms, in its order (used to put known types first). */
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * Host key algorithms to offer for a host known under `knownTypes`: those first (an
 * `ssh-rsa` key is offered as rsa-sha2-512/256), then the rest. OpenSSH does the same so
 * that a host known by its ECDSA key is not asked for its ed25519 key.
 */
export function orderHostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  const first: string[] = [];
  for (const t of knownTypes) {
    const algs = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of algs) if (HOST_KEY_ALGORITHMS.includes(a) && !first.includes(a)) first.push(a);
  }
  return [...first, ...HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

/** One SSH endpoint to reach, with how to verify it. */
interface HopSpec {
  /** Name used in messages: the inventory host name, or the ssh_config alias. */
  label: string;
  endpoint: ResolvedEndpoint;
  knownHosts: string;
  policy: HostKeyPolicy;
}

/** A ref-counted shared hop (bastion) connection. */
interface SharedHop {
  key: string;
  ready: Promise<Client>;
  refs: number;
  dead: boolean;
}

type AuthAttempt = { label: string; method: AnyAuthMethod };

/** Describes an ssh2 client error in orch's words. */
function describeClientError(err: Error & { level?: string; code?: string }, spec: HopSpec, timeoutMs: number): string {
  const where = `${spec.endpoint.hostname}:${spec.endpoint.port}`;
  if (err.level === 'client-timeout' && /handshake/i.test(err.message)) return `no SSH handshake with ${where} within ${timeoutMs} ms`;
  if (err.level === 'client-socket') return `cannot connect to ${where}: ${err.code ?? err.message}`;
  return err.message;
}

/**
 * Opens ssh2 connections for plan hosts. Keep one instance per run: it caches the parsed
 * ssh_config, serialises known_hosts updates per file, and shares bastion connections.
 */
export class SshTransport implements Transport {
  #configs = new Map<string, Promise<ParsedSshConfig>>();
  #fileLocks = new Map<string, Promise<unknown>>();
  #hops = new Map<string, SharedHop>();
  /** The control master this transport started (ORCH_SSH_PERSIST), at most one per run. */
  #master: { p?: Promise<void> } = {};

  /**
   * Connects to `host` (through its jump chain) and authenticates.
   * @throws ConnectError(host.name, message) when the host or a hop is unreachable, its
   *   host key is refused (messages of `decideHostKey`, prefixed `jump host NAME: ` for a
   *   hop), or authentication fails.
   */
  async connect(host: PlanHost, options: ConnectOptions): Promise<Connection> {
    const env = options.env ?? process.env;
    let persist: number | undefined;
    try {
      persist = persistSeconds(env);
    } catch (e) {
      throw new ConnectError(host.name, (e as Error).message);
    }
    if (persist !== undefined) {
      const direct = (): Promise<Connection> => this.connect(host, { ...options, env: { ...env, [PERSIST_ENV]: '' } });
      return connectViaMaster(host, options, env, persist, this.#master, direct);
    }
    const ctx = resolveContextFromEnv(env);
    let hops: HopSpec[];
    let target: HopSpec;
    try {
      const key = options.sshConfigFile ?? `default:${ctx.home}`;
      let cfgP = this.#configs.get(key);
      if (!cfgP) this.#configs.set(key, (cfgP = loadSshConfig(ctx, options.sshConfigFile)));
      const config = await cfgP;
      target = await this.#hopSpec(config, host, ctx);
      if (host.jump.length > 0) {
        hops = await Promise.all(host.jump.map((name) => {
          const b = options.hosts[name];
          if (!b) throw new Error(`jump host ${name} is not a host of the plan`);
          return this.#hopSpec(config, b, ctx);
        }));
      } else {
        hops = target.endpoint.proxyJump.map((ep) => ({ label: ep.alias, endpoint: ep, knownHosts: target.knownHosts, policy: target.policy }));
      }
    } catch (e) {
      throw new ConnectError(host.name, (e as Error).message);
    }

    let via: SharedHop | undefined;
    try {
      let sock: Duplex | undefined;
      if (hops.length > 0) {
        via = this.#acquireHop(hops, hops.length - 1, options, env, ctx);
        const bastion = await via.ready;
        sock = await this.#forward(bastion, hops[hops.length - 1]!, target);
      }
      const client = await this.#openClient(target, sock, options, env, ctx);
      const release = via ? this.#releaser(via) : () => {};
      return new SshConnection(host.name, client, release);
    } catch (e) {
      if (via) this.#releaser(via)();
      throw new ConnectError(host.name, (e as Error).message);
    }
  }

  async #hopSpec(config: ParsedSshConfig, h: PlanHost, ctx: ResolveContext): Promise<HopSpec> {
    return {
      label: h.name,
      endpoint: await resolvePlanHost(config, h, ctx),
      knownHosts: expandPath(h.knownHosts ?? '~/.ssh/known_hosts', ctx),
      policy: h.hostKeyPolicy,
    };
  }

  /** Gets (or opens) the shared connection to hops[0..i]; the caller owns one reference. */
  #acquireHop(hops: HopSpec[], i: number, options: ConnectOptions, env: NodeJS.ProcessEnv, ctx: ResolveContext): SharedHop {
    const key = JSON.stringify([hops.slice(0, i + 1).map((h) => [h.endpoint, h.knownHosts, h.policy]), options.insecureHostKeys === true]);
    const existing = this.#hops.get(key);
    if (existing && !existing.dead) {
      existing.refs++;
      return existing;
    }
    const spec = hops[i]!;
    const shared: SharedHop = { key, refs: 1, dead: false, ready: Promise.resolve(undefined as unknown as Client) };
    const parent = i > 0 ? this.#acquireHop(hops, i - 1, options, env, ctx) : undefined;
    const releaseParent = parent ? this.#releaser(parent) : () => {};
    const prefix = `jump host ${spec.label}: `;
    shared.ready = (async () => {
      let sock: Duplex | undefined;
      if (parent) sock = await this.#forward(await parent.ready, hops[i - 1]!, spec);
      try {
        const client = await this.#openClient(spec, sock, options, env, ctx);
        client.on('close', () => {
          shared.dead = true;
          if (this.#hops.get(key) === shared) this.#hops.delete(key);
          releaseParent();
        });
        return client;
      } catch (e) {
        throw new Error(prefix + (e as Error).message);
      }
    })();
    shared.ready.catch(() => {
      shared.dead = true;
      if (this.#hops.get(key) === shared) this.#hops.delete(key);
      releaseParent();
    });
    this.#hops.set(key, shared);
    return shared;
  }

  /** A once-only function dropping one reference of `hop`; the last one closes it. */
  #releaser(hop: SharedHop): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--hop.refs > 0) return;
      hop.dead = true;
      if (this.#hops.get(hop.key) === hop) this.#hops.delete(hop.key);
      hop.ready.then(
        (c) => c.end(),
        () => {},
      );
    };
  }

  /** Opens a direct-tcpip channel from `bastion` to `next`'s address. */
  #forward(bastion: Client, bastionSpec: HopSpec, next: HopSpec): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      bastion.forwardOut('127.0.0.1', 0, next.endpoint.hostname, next.endpoint.port, (err, stream) => {
        if (err) reject(new Error(`jump host ${bastionSpec.label} cannot reach ${next.endpoint.hostname}:${next.endpoint.port}: ${err.message}`));
        else resolve(stream);
      });
    });
  }

  /** Runs `fn` after every earlier `fn` for the same file finished (known_hosts read-check-append). */
  #withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#fileLocks.get(file) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.#fileLocks.set(
      file,
      next.catch(() => {}),
    );
    return next;
  }

  async #authAttempts(spec: HopSpec, env: NodeJS.ProcessEnv, ctx: ResolveContext): Promise<AuthAttempt[]> {
    const username = spec.endpoint.user;
    const attempts: AuthAttempt[] = [];
    if (spec.endpoint.identityFiles.length > 0) {
      const missing: string[] = [];
      for (const file of spec.endpoint.identityFiles) {
        let data: Buffer;
        try {
          data = await readFile(file);
        } catch (e) {
          // ssh skips an IdentityFile that does not exist and tries the next one.
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
            missing.push(file);
            continue;
          }
          throw new Error(`cannot read identity ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const parsed = ssh2().parseKey(data);
        if (parsed instanceof Error) throw new Error(`identity ${file}: ${parsed.message} (a passphrase-protected key must be loaded into ssh-agent and the identity key left unset)`);
        attempts.push({ label: `identity ${file}`, method: { type: 'publickey', username, key: data } });
      }
      if (env.SSH_AUTH_SOCK) attempts.push({ label: `ssh-agent ${env.SSH_AUTH_SOCK}`, method: { type: 'agent', username, agent: env.SSH_AUTH_SOCK } });
      if (attempts.length === 0) throw new Error(`no SSH credentials for ${username}@${spec.endpoint.hostname}: identity file${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found and no ssh-agent (SSH_AUTH_SOCK)`);
      return attempts;
    }
    if (env.SSH_AUTH_SOCK) attempts.push({ label: `ssh-agent ${env.SSH_AUTH_SOCK}`, method: { type: 'agent', username, agent: env.SSH_AUTH_SOCK } });
    for (const f of ['id_ed25519', 'id_rsa']) {
      const file = path.join(ctx.home, '.ssh', f);
      try {
        await access(file);
      } catch {
        continue;
      }
      const data = await readFile(file).catch(() => undefined);
      if (!data || ssh2().parseKey(data) instanceof Error) continue;
      attempts.push({ label: file, method: { type: 'publickey', username, key: data } });
    }
    if (attempts.length === 0) {
      throw new Error(`no SSH credentials for ${username}@${spec.endpoint.hostname}: set identity, start ssh-agent (SSH_AUTH_SOCK), or create ~/.ssh/id_ed25519`);
    }
    return attempts;
  }

  /** Connects one ssh2 Client (over `sock` when given), verifying the host key and authenticating. */
  async #openClient(spec: HopSpec, sock: Duplex | undefined, options: ConnectOptions, env: NodeJS.ProcessEnv, ctx: ResolveContext): Promise<Client> {
    const ep = spec.endpoint;
    const name = knownHostsName(ep.hostname, ep.port);
    const policy: HostKeyPolicy = options.insecureHostKeys ? 'off' : spec.policy;
    const timeoutMs = options.connectTimeoutMs ?? 20000;
    const attempts = await this.#authAttempts(spec, env, ctx);
    const known = policy === 'off' ? [] : knownKeyTypes((await readKnownHosts(spec.knownHosts)).entries, name);

    return new Promise<Client>((resolve, reject) => {
      const client = new (ssh2().Client)();
      let refusal: string | undefined;
      let settled = false;
      let next = 0;
      const fail = (msg: string): void => {
        if (settled) return;
        settled = true;
        client.end();
        sock?.destroy();
        reject(new Error(msg));
      };
      const config: ConnectConfig = {
        host: ep.hostname,
        port: ep.port,
        username: ep.user,
        readyTimeout: timeoutMs,
        keepaliveInterval: options.keepaliveIntervalMs ?? 5000,
        keepaliveCountMax: options.keepaliveCountMax ?? 3,
        algorithms: { serverHostKey: orderHostKeyAlgorithms(known) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          this.#withFileLock(spec.knownHosts, async () => {
            if (policy === 'off') return true;
            const { entries } = await readKnownHosts(spec.knownHosts);
            const d = decideHostKey(checkHostKey(entries, name, key), policy, { name, knownHostsFile: spec.knownHosts, key });
            if (!d.accept) {
              refusal = d.message;
              return false;
            }
            if (d.record) await appendKnownHost(spec.knownHosts, name, key);
            return true;
          }).then(verify, (e: Error) => {
            refusal = `cannot use known_hosts ${spec.knownHosts}: ${e.message}`;
            verify(false);
          });
        },
        authHandler: (_left, _partial, cb) => {
          const a = attempts[next++];
          cb(a ? a.method : (false as unknown as AnyAuthMethod));
        },
      };
      if (sock) config.sock = sock as ConnectConfig['sock'];
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (refusal) return fail(refusal);
        if (err.level === 'client-authentication') {
          return fail(`authentication failed for ${ep.user}@${name} (tried: ${attempts.map((a) => a.label).join(', ')})`);
        }
        fail(describeClientError(err, spec, timeoutMs));
      });
      client.on('close', () => fail(refusal ?? `connection to ${name} closed during handshake`));
      try {
        client.connect(config);
        // No Nagle delay on small packets (an agent's frames: a segment's header, a data
        // frame's end, `locked`): ssh2 leaves the TCP socket's default, which holds a small
        // write back until the one before it is acknowledged, and the host may delay that
        // ACK (RFC 1122 4.2.3.2). OpenSSH does the same for interactive sessions
        // (packet.c ssh_packet_set_interactive).
        client.setNoDelay(true);
      } catch (e) {
        fail((e as Error).message);
      }
    });
  }
}

/**
 * Sends an SSH `signal` channel request (RFC 4254 6.9; OpenSSH's sshd does `killpg` on
 * the session's process group). ssh2's public `Channel.signal` silently drops the
 * request once stdin was closed (EOF sent), which is always the case for orch's execs,
 * so this goes through ssh2's protocol object directly (ssh2 1.x internals, checked
 * against 1.17: `channel.outgoing.{id,state}`, `client._protocol.signal(id, name)`).
 */
function sendSignal(ch: ClientChannel, name: string): void {
  const c = ch as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, sig: string): void } } };
  const state = c.outgoing?.state;
  if (c.outgoing && (state === 'open' || state === 'eof')) {
    try {
      c._client?._protocol?.signal(c.outgoing.id, name);
    } catch {
      /* connection gone; nothing to signal */
    }
  }
}

/** A pending exec, so a lost connection can reject it. */
interface Pending {
  reject(e: Error): void;
}

/**
 * A live ssh2 connection to one host (see `SshTransport`). `exec` resolves after the
 * channel closed and stdout/stderr were fully drained. Errors:
 * - connection lost (keepalive timeout, sshd killed, hop gone) or closed: ConnectError;
 * - `timeoutMs` passed: the remote command's process group is sent SIGKILL (SSH `signal`
 *   request; note OpenSSH refuses signals for root logins — "session signalling requires
 *   privilege separation" — so a root session's command is only cut off from its
 *   channel and dies on its next write), the channel closed, and the call rejects at once with `RemoteCommandError(host, "timed out after N ms", null, stderrTail)`;
 * - a failing stdin stream: RemoteCommandError(host, "stdin stream failed: ...").
 */
export class SshConnection implements Connection {
  #bytesSent = 0;
  #limit = pLimit(MAX_CHANNELS_PER_CONNECTION);
  #pending = new Set<Pending>();
  #lost: string | undefined;
  #closedP: Promise<void>;

  constructor(
    readonly host: string,
    private readonly client: Client,
    private readonly release: () => void,
  ) {
    let reason: string | undefined;
    client.on('error', (err: Error) => {
      reason ??= err.message === 'Keepalive timeout' ? 'keepalive timeout (peer not answering)' : err.message;
    });
    this.#closedP = new Promise((resolve) => {
      const onGone = (): void => {
        this.#markLost(reason ?? 'connection closed by peer');
        this.release();
        resolve();
      };
      client.once('close', onGone);
    });
    client.on('end', () => this.#markLost(reason ?? 'connection closed by peer'));
  }

  get bytesSent(): number {
    return this.#bytesSent;
  }

  get alive(): boolean {
    return this.#lost === undefined;
  }

  #markLost(reason: string): void {
    this.#lost ??= reason;
    // An error (and its stack) only for commands still waiting: a no-op's close has none.
    if (!this.#pending.size) return;
    const err = new ConnectError(this.host, `connection lost: ${this.#lost}`);
    for (const p of this.#pending) p.reject(err);
    this.#pending.clear();
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      // The p-limit slot is held until the channel is really closed (not merely until the
      // promise settles), so a timed-out command still counts against MaxSessions.
      void this.#limit(() => new Promise<void>((freeSlot) => this.#execOne(command, options, resolve, reject, freeSlot)));
    });
  }

  #execOne(command: string, options: ExecOptions, resolve: (r: ExecResult) => void, reject: (e: Error) => void, freeSlot: () => void): void {
    if (this.#lost !== undefined) {
      freeSlot();
      reject(new ConnectError(this.host, `connection lost: ${this.#lost}`));
      return;
    }
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const pending: Pending = {
      reject: (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      },
    };
    const ok = (r: ExecResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#pending.delete(pending);
      resolve(r);
    };
    const fail = (e: Error): void => {
      this.#pending.delete(pending);
      pending.reject(e);
    };
    this.#pending.add(pending);

    const onChannel = (err: Error | undefined, ch: ClientChannel, attempt: number): void => {
      if (err) {
        // sshd counts a session until its main loop has garbage-collected the closed
        // channel, so right after a burst of channels closed an open can be refused
        // ("open failed", MaxSessions) although fewer than 8 are live: retry with backoff.
        if (this.#lost === undefined && !settled && attempt < OPEN_RETRIES && /open failed|administratively prohibited/i.test(err.message)) {
          setTimeout(() => open(attempt + 1), 25 * 2 ** attempt);
          return;
        }
        freeSlot();
        fail(this.#lost !== undefined ? new ConnectError(this.host, `connection lost: ${this.#lost}`) : new ConnectError(this.host, `cannot open a session channel: ${err.message}`));
        return;
      }
      if (settled) {
        ch.once('close', freeSlot);
        ch.close();
        return;
      }
      // Little stdin in flight: sshd copies its whole pending buffer per packet (upload-window.ts).
      if (options.stdin !== undefined) capInFlight(ch, (this.client as unknown as { _remoteVer?: string })._remoteVer);
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let exitCode: number | null = null;
      let exitSignal: string | undefined;
      let stdinError: Error | undefined;
      ch.on('data', (c: Buffer) => {
        out.push(c);
        options.onStdout?.(c);
      });
      ch.stderr.on('data', (c: Buffer) => {
        errOut.push(c);
        options.onStderr?.(c);
      });
      ch.on('exit', (code: number | null, signal?: string) => {
        exitCode = code;
        if (signal) exitSignal = signal;
      });
      ch.on('error', () => {});
      const stderrEnded = new Promise<void>((r) => {
        if (ch.stderr.readableEnded) r();
        else {
          ch.stderr.once('end', () => r());
          ch.stderr.once('close', () => r());
        }
      });
      ch.once('close', () => {
        freeSlot();
        void stderrEnded.then(() => {
          if (this.#lost !== undefined) return fail(new ConnectError(this.host, `connection lost: ${this.#lost}`));
          const stderr = Buffer.concat(errOut);
          if (stdinError) return fail(new RemoteCommandError(this.host, `stdin stream failed: ${stdinError.message}`, exitCode, tailLines(stderr)));
          const r: ExecResult = { code: exitCode, stdout: Buffer.concat(out), stderr };
          if (exitSignal) r.signal = exitSignal;
          ok(r);
        });
      });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          sendSignal(ch, 'KILL');
          ch.close();
          fail(new RemoteCommandError(this.host, `timed out after ${options.timeoutMs} ms`, null, tailLines(Buffer.concat(errOut))));
          // If the server never closes the channel, give the slot back anyway.
          setTimeout(freeSlot, 5000).unref();
        }, options.timeoutMs);
      }
      const signal = options.signal;
      if (signal) {
        // Only the channel is closed, as when a connection drops: the agent reads the end of
        // its stdin and stops its steps gracefully (TERM, then KILL after the grace).
        const onAbort = (): void => {
          ch.close();
          fail(new ConnectError(this.host, 'the command was cancelled'));
        };
        if (signal.aborted) onAbort();
        else {
          signal.addEventListener('abort', onAbort, { once: true });
          ch.once('close', () => signal.removeEventListener('abort', onAbort));
        }
      }
      feedStdin(ch, options.stdin, (n) => (this.#bytesSent += n)).catch((e: Error) => {
        stdinError = e;
        sendSignal(ch, 'KILL');
        ch.close();
      });
    };
    const open = (attempt: number): void => {
      try {
        this.client.exec(command, (e, c) => onChannel(e, c, attempt));
      } catch (e) {
        freeSlot();
        fail(new ConnectError(this.host, `connection lost: ${this.#lost ?? (e as Error).message}`));
      }
    };
    open(0);
  }

  /** An interactive pty session: ssh2 `shell` (or `exec` with a pty for `command`); window changes through `setWindow`. */
  pty(options: PtyOptions): Promise<PtySession> {
    return new Promise((resolve, reject) => {
      if (this.#lost !== undefined) return reject(new ConnectError(this.host, `connection lost: ${this.#lost}`));
      const win = { term: options.term, rows: options.rows, cols: options.cols, height: 0, width: 0 };
      const done = (err: Error | undefined, ch: ClientChannel): void => {
        if (err) return reject(new ConnectError(this.host, `cannot open a terminal session: ${err.message}`));
        let code: number | null = null;
        ch.on('exit', (c: number | null) => (code = c));
        resolve({ stream: ch, resize: (rows, cols) => ch.setWindow(rows, cols, 0, 0), exited: new Promise((r) => ch.once('close', () => r(code))) });
      };
      try {
        if (options.command !== undefined) this.client.exec(options.command, { pty: win }, done);
        else this.client.shell(win, done);
      } catch (e) {
        reject(new ConnectError(this.host, `connection lost: ${this.#lost ?? (e as Error).message}`));
      }
    });
  }

  /** An SFTP session (ssh2 `sftp`); the caller closes it. */
  sftp(): Promise<RemoteFiles> {
    return new Promise((resolve, reject) => {
      try {
        this.client.sftp((err, sftp) => (err ? reject(new ConnectError(this.host, `cannot start SFTP: ${err.message}`)) : resolve(sftpFiles(sftp))));
      } catch (e) {
        reject(new ConnectError(this.host, `connection lost: ${this.#lost ?? (e as Error).message}`));
      }
    });
  }

  /** Ends the connection (pending execs reject with ConnectError) and releases its jump hops. */
  async close(): Promise<void> {
    if (this.#lost === undefined) this.#markLost('connection closed by orch');
    this.client.end();
    await Promise.race([this.#closedP, new Promise((r) => setTimeout(r, 2000).unref())]);
    this.release();
  }
}

/** RemoteFileInfo of SFTP attributes. */
function fileInfo(name: string, st: Stats): RemoteFileInfo {
  const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other';
  return { name, type, mode: st.mode & 0o7777, size: st.size, uid: st.uid, gid: st.gid, mtime: st.mtime };
}

/** Promise adapter over ssh2's SFTPWrapper (RemoteFiles). */
function sftpFiles(sftp: SFTPWrapper): RemoteFiles {
  const p = <T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
  return {
    realpath: (path) => p((cb) => sftp.realpath(path, cb)),
    list: async (path) => {
      const list = await p<FileEntryWithStats[]>((cb) => sftp.readdir(path, cb));
      return list.filter((e) => e.filename !== '.' && e.filename !== '..').map((e) => fileInfo(e.filename, e.attrs as unknown as Stats)).sort((a, b) => (a.name < b.name ? -1 : 1));
    },
    stat: async (path) => fileInfo(path.split('/').pop() || path, await p<Stats>((cb) => sftp.stat(path, cb))),
    download: (remote, local) => p((cb) => sftp.fastGet(remote, local, cb)),
    upload: async (local, remote, mode) => {
      // Exclusive create ('wx': SSH_FXF_CREAT|SSH_FXF_EXCL, so open(2) with O_CREAT|O_EXCL
      // in OpenSSH's sftp-server): a name another user planted, symlink or not, is never
      // opened. The mode is set on the handle (fsetstat = fchmod), never by path.
      const data = await readFile(local);
      const handle = await p<Buffer>((cb) => sftp.open(remote, 'wx', { mode: 0o600 }, cb));
      try {
        const limit = pLimit(16);
        const chunk = 32 * 1024;
        const writes: Promise<void>[] = [];
        for (let off = 0; off < data.length; off += chunk) {
          const len = Math.min(chunk, data.length - off);
          writes.push(limit(() => p<void>((cb) => sftp.write(handle, data, off, len, off, cb))));
        }
        await Promise.all(writes);
        await p<void>((cb) => sftp.fchmod(handle, mode, cb));
        // fsync@openssh.com where the server has it (OpenSSH >= 6.5).
        await p<void>((cb) => sftp.ext_openssh_fsync(handle, cb)).catch(() => undefined);
      } finally {
        await p<void>((cb) => sftp.close(handle, cb)).catch(() => undefined);
      }
    },
    rename: (from, to) => p((cb) => sftp.ext_openssh_rename(from, to, cb)),
    chmod: (path, mode) => p((cb) => sftp.chmod(path, mode, cb)),
    remove: (path) => p((cb) => sftp.unlink(path, cb)),
    close: () => sftp.end(),
  };
}
