/**
 * Differential test: orch's ssh_config resolution against OpenSSH's own (`ssh -G -F FILE
 * HOST`, which prints the configuration ssh would use without connecting), over a seeded
 * random corpus of config files with Host/Match blocks, Include (globs, inside blocks),
 * `Key=value` forms, canonicalization's final pass, several IdentityFile and ProxyJump
 * lists. Compared: HostName, User, Port, IdentityFile (as written: `ssh -G` does not
 * expand tokens), ProxyJump, and the jump chain (each hop as ssh itself resolves it when
 * it runs `ssh -J REST LAST -W target`).
 *
 * No network: CanonicalizeHostname appears without CanonicalDomains, so ssh looks nothing
 * up (the lookup path is covered in ssh-config.test.ts with an injected resolver);
 * `Match exec` is left out (orch refuses to run it: ssh-config.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProxyJump, readSshConfig, resolveEndpoint, type EndpointOverrides, type ResolvedEndpoint } from '../../../src/transport/ssh-config.js';
import { seededRandom } from '../../harness/random.js';

const SEED = Number(process.env.ORCH_SSHCFG_SEED ?? 4242);
const CONFIGS = 80;
const haveSsh = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'orch-sshcfg-diff-'));
afterAll(() => (process.env.ORCH_KEEP_CORPUS ? console.log(`corpus kept in ${dir}`) : rmSync(dir, { recursive: true, force: true })));

const rng = seededRandom;

const ALIASES = ['web1', 'web2', 'db', 'bastion', 'jump.example', 'a', 'b', 'x.y.z', '10.1.2.3', 'WEB1', 'Db'];

function generate(seed: number): { main: string; aliases: string[] }[] {
  const r = rng(seed);
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const kw = (k: string): string => (r() < 0.2 ? k.toLowerCase() : r() < 0.1 ? k.toUpperCase() : k);
  const line = (k: string, v: string): string => (r() < 0.2 ? `${kw(k)}=${v}` : `${kw(k)} ${v}`);
  const directive = (): string => {
    const x = r();
    if (x < 0.18) return line('HostName', pick(['h-%h.example', '10.0.0.9', 'real.example', '%h', 'db.internal', 'web1']));
    if (x < 0.34) return line('User', pick(['deploy', 'ops', 'root', 'u1', '"quoted user"']));
    if (x < 0.5) return line('Port', pick(['2222', '22', '2200', '8022']));
    if (x < 0.68) return line('IdentityFile', pick(['~/.ssh/id_a', '~/.ssh/k_%h_%r', '/keys/%u/%n', '"/keys/with space"', '~/.ssh/id_b', '%d/.ssh/id_c_%p']));
    if (x < 0.82) {
      const hop = (): string => `${r() < 0.3 ? 'j@' : ''}${pick(['bastion', 'jump.example', 'a', 'b', 'web2'])}${r() < 0.3 ? ':2201' : ''}`;
      return line('ProxyJump', r() < 0.1 ? 'none' : Array.from({ length: 1 + Math.floor(r() * 3) }, hop).join(','));
    }
    if (x < 0.9) return line('CanonicalizeHostname', pick(['yes', 'no', 'always']));
    return line('CanonicalizeMaxDots', pick(['0', '1', '2']));
  };
  const header = (): string => {
    if (r() < 0.7) {
      const pats = Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(['web*', 'web1', 'db', '*', '?', 'a,b', 'a', 'b', '*.example', '!web2', '!db', 'x.*', '10.1.*', 'h-*', 'real.example', 'db.internal', 'WEB*', 'D?']));
      return `Host ${pats.join(' ')}`;
    }
    const crit = pick([
      'all', 'host web*', 'host db.internal,real.example', 'originalhost a,b', '!host web1', 'user deploy', 'user ops,root',
      `localuser ${os.userInfo().username}`, 'localuser nobody', 'final', 'canonical', 'host WEB*', 'originalhost D*', 'host *.example final', '!originalhost db',
    ]);
    return `Match ${crit}`;
  };
  const out: { main: string; aliases: string[] }[] = [];
  for (let n = 0; n < CONFIGS; n++) {
    const sub = join(dir, `c${n}`);
    mkdirSync(join(sub, 'conf.d'), { recursive: true });
    const block = (depth: number): string => {
      let text = '';
      const blocks = 1 + Math.floor(r() * 4);
      for (let b = 0; b < blocks; b++) {
        if (r() < 0.8) text += `${header()}\n`;
        const lines = 1 + Math.floor(r() * 4);
        for (let i = 0; i < lines; i++) {
          if (depth < 2 && r() < 0.12) {
            const k = Math.floor(r() * 1000);
            writeFileSync(join(sub, 'conf.d', `inc${depth}_${k}.conf`), block(depth + 1));
            // conf.d/*.conf also includes the including file: ssh's "too many recursive includes"
            const any = r() < 0.05 ? `${sub}/conf.d/*.conf` : `${sub}/conf.d/missing*.conf ${sub}/conf.d/inc${depth}_${k}.conf`;
            text += `  Include ${pick([`${sub}/conf.d/inc${depth}_${k}.conf`, `${sub}/conf.d/inc${depth}_*.conf`, any])}\n`;
          } else text += `  ${directive()}\n`;
        }
      }
      return text;
    };
    const main = join(sub, 'config');
    writeFileSync(main, (r() < 0.5 ? `${directive()}\n` : '') + block(0));
    out.push({ main, aliases: ALIASES.filter(() => r() < 0.6) });
  }
  return out;
}

const DEFAULT_IDS = ['~/.ssh/id_rsa', '~/.ssh/id_ecdsa', '~/.ssh/id_ecdsa_sk', '~/.ssh/id_ed25519', '~/.ssh/id_ed25519_sk', '~/.ssh/id_xmss', '~/.ssh/id_dsa'];

interface SshG {
  hostname: string;
  user: string;
  port: number;
  identityfile: string[];
  proxyjump?: string;
  error?: string;
}

function sshG(file: string, alias: string, o: EndpointOverrides = {}): SshG {
  const args = ['-G', '-F', file];
  if (o.user !== undefined) args.push('-l', o.user);
  if (o.port !== undefined) args.push('-p', String(o.port));
  if (o.jump !== undefined) args.push('-J', o.jump);
  const res = spawnSync('ssh', [...args, alias], { encoding: 'utf8', timeout: 10_000 });
  if (res.status !== 0) return { hostname: '', user: '', port: 0, identityfile: [], error: res.stderr.trim() };
  const g: SshG = { hostname: '', user: '', port: 0, identityfile: [] };
  for (const l of res.stdout.split('\n')) {
    const sp = l.indexOf(' ');
    const k = l.slice(0, sp);
    const v = l.slice(sp + 1);
    if (k === 'hostname') g.hostname = v;
    else if (k === 'user') g.user = v;
    else if (k === 'port') g.port = Number(v);
    else if (k === 'identityfile') g.identityfile.push(v);
    else if (k === 'proxyjump') g.proxyjump = v;
  }
  return g;
}

/** The hops ssh runs for `alias`: for ProxyJump a,b,c it runs `ssh -J a,b c -W target`. */
function sshChain(file: string, alias: string, o: EndpointOverrides = {}, depth = 0): string[] {
  const g = sshG(file, alias, o);
  if (!g.proxyjump || depth > 8) return [];
  const hops = parseProxyJump(g.proxyjump);
  const last = hops[hops.length - 1]!;
  const rest = g.proxyjump.split(',').slice(0, -1).join(',');
  const o2: EndpointOverrides = {};
  if (last.user) o2.user = last.user;
  if (last.port) o2.port = last.port;
  if (rest) o2.jump = rest;
  const lg = sshG(file, last.host, o2);
  return [...sshChain(file, last.host, o2, depth + 1), `${lg.user}@${lg.hostname}:${lg.port}`];
}

describe.skipIf(!haveSsh)(`ssh_config agrees with ssh -G (seed ${SEED}; ORCH_SSHCFG_SEED=N to vary)`, () => {
  it(`${CONFIGS} generated configs`, async () => {
    console.log(`ssh_config differential seed: ${SEED}`);
    const ctx = { home: os.userInfo().homedir, localUser: os.userInfo().username, env: {} };
    const mismatches: string[] = [];
    let compared = 0;
    let withJump = 0;
    let included = 0;
    let bothFail = 0;
    for (const c of generate(SEED)) {
      const cfg = await readSshConfig(c.main, ctx);
      const text = (f: { lines: { included?: unknown[] }[] }): boolean => f.lines.some((l) => (l.included?.length ?? 0) > 0);
      if (cfg.files.some(text)) included++;
      for (const alias of c.aliases) {
        const g = sshG(c.main, alias);
        let mine: ResolvedEndpoint | undefined;
        let err: string | undefined;
        try {
          mine = await resolveEndpoint(cfg, alias, {}, ctx);
        } catch (e) {
          err = (e as Error).message;
        }
        compared++;
        const where = `${c.main} ${alias}`;
        if (g.error !== undefined || err !== undefined) {
          // Both refuse; or orch refuses a ProxyJump loop, which ssh -G prints (ssh itself would loop when connecting).
          if (g.error !== undefined && err === undefined) mismatches.push(`${where}: ssh fails (${g.error}), orch resolves`);
          if (err !== undefined && g.error === undefined && !/ProxyJump loop|jumphost loop/.test(err)) mismatches.push(`${where}: orch fails (${err}), ssh resolves`);
          if (err !== undefined && g.error !== undefined) bothFail++;
          continue;
        }
        const m = mine!;
        const got = { hostname: m.hostname, user: m.user, port: m.port, identityfile: m.identityFilesRaw.length ? m.identityFilesRaw : DEFAULT_IDS, proxyjump: m.proxyJumpRaw };
        const want = { hostname: g.hostname, user: g.user, port: g.port, identityfile: g.identityfile, proxyjump: g.proxyjump };
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${where}: ssh ${JSON.stringify(want)} orch ${JSON.stringify(got)}`);
        if (m.proxyJump.length) {
          withJump++;
          const chain = sshChain(c.main, alias);
          const mineChain = m.proxyJump.map((h) => `${h.user}@${h.hostname}:${h.port}`);
          if (JSON.stringify(chain) !== JSON.stringify(mineChain)) mismatches.push(`${where}: ssh chain ${chain.join(' > ')} orch ${mineChain.join(' > ')}`);
        }
      }
    }
    console.log(`${compared} resolutions compared, ${withJump} with a jump chain, ${included} configs with Includes, ${bothFail} refused by both`);
    if (mismatches.length) console.log(`${mismatches.length} mismatches:\n${mismatches.slice(0, 25).join('\n')}`);
    expect(compared).toBeGreaterThan(CONFIGS * 3);
    expect(withJump).toBeGreaterThan(10);
    expect(included).toBeGreaterThan(5);
    expect(mismatches).toEqual([]);
  }, 120_000);
});
