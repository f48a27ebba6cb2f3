/**
 * `~/.ssh/config` support: what `ssh ADDRESS` would use for HostName, User, Port,
 * IdentityFile and ProxyJump, with the inventory's own values winning (like ssh's
 * command-line options beat ssh_config). Parsing and Host/Match evaluation come from the
 * `ssh-config` package (`compute`, first value wins as in ssh_config(5)).
 *
 * `Match exec` is NOT evaluated (`matchExec: false`): orch must not run shell commands
 * found in a config file as a side effect of connecting; such sections are skipped.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import SSHConfig from 'ssh-config';
import type { PlanHost } from '../model/plan.js';

/** A parsed ssh_config, or undefined when the file does not exist. */
export type ParsedSshConfig = SSHConfig | undefined;

/**
 * Reads and parses an ssh_config file. Missing file = undefined (no config).
 * @throws Error for other read errors (permissions), with the path in the message.
 */
export async function readSshConfig(file: string): Promise<ParsedSshConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return SSHConfig.parse(text);
}

/** One hop of a ProxyJump list: `[user@]host[:port]` as written in ssh_config. */
export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

/**
 * Parses a ProxyJump value: a comma list of `[user@]host[:port]` (also `[v6addr]:port`
 * and `ssh://[user@]host[:port]`), outermost hop first; `none` = no jump.
 * @throws Error on an unparsable hop or port.
 */
export function parseProxyJump(value: string): JumpSpec[] {
  if (value.trim().toLowerCase() === 'none') return [];
  return value.split(',').map((raw) => {
    let s = raw.trim().replace(/^ssh:\/\//, '');
    let user: string | undefined;
    const at = s.lastIndexOf('@');
    if (at >= 0) {
      user = s.slice(0, at);
      s = s.slice(at + 1);
    }
    let host = s;
    let port: number | undefined;
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
    if (v6) {
      host = v6[1] ?? '';
      if (v6[2]) port = Number(v6[2]);
    } else {
      const m = /^([^:]+):(\d+)$/.exec(s);
      if (m) {
        host = m[1] ?? '';
        port = Number(m[2]);
      } else if (s.includes(':')) throw new Error(`ProxyJump: cannot parse hop "${raw.trim()}"`);
    }
    if (!host) throw new Error(`ProxyJump: empty host in "${raw.trim()}"`);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new Error(`ProxyJump: bad port in "${raw.trim()}"`);
    const spec: JumpSpec = { host };
    if (user) spec.user = user;
    if (port !== undefined) spec.port = port;
    return spec;
  });
}

/** Connection settings of one SSH endpoint after ssh_config and inventory are combined. */
export interface ResolvedEndpoint {
  /** The address as asked for (inventory address, or a ProxyJump hop's host). */
  alias: string;
  /** What to connect to (ssh_config HostName, `%h` expanded), else `alias`. */
  hostname: string;
  port: number;
  user: string;
  /** Explicit identity files, `~`/`%d`/`%u`/`%h`/`%r` expanded; empty = default auth chain. */
  identityFiles: string[];
  /** ProxyJump hops from ssh_config (each resolved the same way), outermost first. */
  proxyJump: ResolvedEndpoint[];
}

/** Context for resolution: the current user's home and name (from ConnectOptions.env). */
export interface ResolveContext {
  home: string;
  localUser: string;
}

/** Home and user name from an environment, falling back to the OS account. */
export function resolveContextFromEnv(env: NodeJS.ProcessEnv): ResolveContext {
  let info: os.UserInfo<string> | undefined;
  const fallback = (): os.UserInfo<string> => (info ??= os.userInfo());
  return {
    home: env.HOME || fallback().homedir,
    localUser: env.USER || env.LOGNAME || fallback().username,
  };
}

/** Expands `~/`, and ssh_config tokens `%d` (home), `%u` (local user), `%h` (host name), `%r` (remote user), `%%`. */
export function expandPath(p: string, ctx: ResolveContext, host = '', remoteUser = ''): string {
  let out = p.replace(/%([%dhru])/g, (_, t: string) => ({ '%': '%', d: ctx.home, u: ctx.localUser, h: host, r: remoteUser })[t] ?? '');
  if (out === '~') out = ctx.home;
  else if (out.startsWith('~/')) out = path.join(ctx.home, out.slice(2));
  return out;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Resolves `alias` the way `ssh [-l user] [-p port] [-i identity] alias` would:
 * explicit values (`overrides`, i.e. the inventory) win, then ssh_config, then defaults
 * (current user, port 22). ProxyJump hops are resolved recursively through the same
 * config (ssh runs `ssh -W` for each hop, which reads the config too); a hop chain
 * deeper than 8 or revisiting a host is an error.
 *
 * @throws Error on a bad Port or ProxyJump value, or a ProxyJump loop.
 */
export function resolveEndpoint(
  config: ParsedSshConfig,
  alias: string,
  overrides: { user?: string; port?: number; identity?: string },
  ctx: ResolveContext,
  seen: string[] = [],
): ResolvedEndpoint {
  const computed = config ? config.compute(alias, { ignoreCase: true, matchExec: false }) : {};
  const hostname = (first(computed.hostname) ?? alias).replace(/%h/g, alias);
  const user = overrides.user ?? first(computed.user) ?? ctx.localUser;
  const portText = first(computed.port);
  let port = overrides.port;
  if (port === undefined && portText !== undefined) {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`ssh_config: bad Port "${portText}" for ${alias}`);
  }
  const rawIds = overrides.identity !== undefined ? [overrides.identity] : ([] as string[]).concat(computed.identityfile ?? []);
  const identityFiles = rawIds.map((f) => expandPath(f, ctx, hostname, user));
  const proxyJump: ResolvedEndpoint[] = [];
  const pj = first(computed.proxyjump);
  if (pj !== undefined) {
    if (seen.includes(alias) || seen.length >= 8) throw new Error(`ssh_config: ProxyJump loop or chain too deep at ${[...seen, alias].join(' -> ')}`);
    for (const hop of parseProxyJump(pj)) {
      const o: { user?: string; port?: number } = {};
      if (hop.user !== undefined) o.user = hop.user;
      if (hop.port !== undefined) o.port = hop.port;
      const resolved = resolveEndpoint(config, hop.host, o, ctx, [...seen, alias]);
      // A hop's own ProxyJump comes before it (ssh -J a,b: b is reached through a).
      proxyJump.push(...resolved.proxyJump, { ...resolved, proxyJump: [] });
    }
  }
  return { alias, hostname, port: port ?? 22, user, identityFiles, proxyJump };
}

/** Resolves a plan host: its `address` with its inventory user/port/identity as overrides. */
export function resolvePlanHost(config: ParsedSshConfig, host: PlanHost, ctx: ResolveContext): ResolvedEndpoint {
  const o: { user?: string; port?: number; identity?: string } = {};
  if (host.user !== undefined) o.user = host.user;
  if (host.port !== undefined) o.port = host.port;
  if (host.identity !== undefined) o.identity = host.identity;
  return resolveEndpoint(config, host.address, o, ctx);
}
