/**
 * `orch shell PLAYBOOK`: python-deployer's interactive shell over the playbook's node
 * tree. The prompt shows the current node; `cd`/`ls`/`pwd`/`find` move around it like
 * bash; `inspect`, `source`, `hosts` show it; `plan`, `apply`, `sandbox`, `query` and the
 * node's actions run as orch commands on the current subtree; `exec`/`sudo` run a
 * command on the node's hosts; `connect` opens a login shell on one of them and `files`
 * an SFTP subshell. Line editing, completion and history (`~/.orch/shell_history`) are
 * Node's `readline`.
 *
 * - One connection per host (exec, sudo, connect, files), opened on first use and kept
 *   until the shell exits (`ConnectionPool`); an unreachable host is reported and the
 *   shell goes on. `plan`/`apply`/`sandbox`/`query`/actions run as a child `orch`
 *   process with the shell's `-i`/`-e`/`--limit` (their own connections and host locks,
 *   exactly the batch command's behaviour and exit code).
 * - Ctrl-C at the prompt clears the line; while a command runs it stops that command
 *   (a child orch gets SIGINT; exec's connections are closed, so sshd hangs up the
 *   remote command), never the shell. Ctrl-D or `exit` leaves.
 * - Without a terminal on stdin, commands are read from stdin, one per line, run in
 *   order, and the shell exits with the last command's exit code.
 */
import { secretReadingOf, type SecretFlags } from '../secret-flags.js';
import { orchBin } from '../package-path.js';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { actionNames } from '../../compile/actions.js';
import { planHostsFor } from '../../compile/plan-hosts.js';
import { flattenNodes, type ResolvedNode } from '../../compile/resolve-nodes.js';
import { buildScope, getVar } from '../../compile/vars.js';
import type { SourceIndexImpl } from '../../config/source-index.js';
import { preparePlan } from '../../engine/prepare.js';
import { formatDiagnostic } from '../../model/diagnostics.js';
import { ConfigError } from '../../model/errors.js';
import type { Inventory, Vars } from '../../model/inventory.js';
import type { Plan } from '../../steps/plan.js';
import { describeAsWritten } from '../../steps/index.js';
import type { Playbook } from '../../model/playbook.js';
import { MASK, type Masker } from '../../shell/mask.js';
import { quote } from '../../shell/quote.js';
import { EXIT, ExitRequest } from '../exit-codes.js';
import { parseExtraVars } from '../run.js';
import { limitHosts } from '../targets.js';
import { runFiles } from './files.js';
import { ConnectionPool } from './pool.js';
import { attachPty, runLocalShell } from './terminal.js';
import { splitWords } from './words.js';

/** Options of `orch shell`. */
export interface ShellOpts extends SecretFlags {
  inventory?: string[];
  limit?: string;
  extraVar?: string[];
  insecureHostKeys?: boolean;
}

/** Streams of a shell (process streams in the CLI; tests pass their own). */
export interface ShellIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WritableStream;
  /** True when stdin and stdout are a terminal (prompt, completion, history, connect). */
  interactive: boolean;
}

/** What the shell knows about the playbook (loaded once at start). */
export interface ShellModel {
  playbookFile: string;
  playbook: Playbook;
  inventory: Inventory;
  tree: ResolvedNode;
  masker: Masker;
  index: SourceIndexImpl;
  /** The compiled plan, when the whole playbook compiles (rendered step names per host). */
  plan?: Plan;
  /** Hosts the shell may act on (`--limit`). */
  limited: Set<string>;
  extraVars: Record<string, string>;
}

/** One shell command: `usage` for help, `run` returns the exit code. */
interface Command {
  usage: string;
  help: string;
  run(args: string[], rest: string): Promise<number>;
}

/** What `execute` returns for `exit`: leave the shell (with the previous command's code). */
export const LEAVE = -1;


/**
 * Loads the playbook for the shell (bundles resolved as for a plan, no `bash -n`).
 * @throws ConfigError when the playbook or inventory cannot be loaded.
 */
export async function loadShellModel(playbookFile: string, opts: ShellOpts, log: (l: string) => void): Promise<{ model: ShellModel; problems: string[] }> {
  let index: SourceIndexImpl | undefined;
  const extraVars = parseExtraVars(opts.extraVar);
  const prepared = await preparePlan({
    secrets: await secretReadingOf(opts),
    playbook: playbookFile, inventories: opts.inventory ?? [], extraVars, env: process.env, now: () => new Date(),
    ...(opts.limit !== undefined && { limit: opts.limit }),
    skipSyntaxCheck: true,
    log,
    selectPlaybook: (pb, ix) => {
      index = ix;
      return { playbook: pb, diagnostics: [] };
    },
  });
  if (!prepared.tree || !prepared.playbook || !prepared.inventory || !index) throw new ConfigError(prepared.diagnostics);
  const limited = new Set(limitHosts(prepared.inventory, opts.limit));
  return {
    model: {
      playbookFile, playbook: prepared.playbook, inventory: prepared.inventory, tree: prepared.tree, masker: prepared.masker, index,
      ...(prepared.plan && { plan: prepared.plan }), limited, extraVars,
    },
    problems: prepared.diagnostics.map((d) => formatDiagnostic({ ...d, message: prepared.masker.mask(d.message) })),
  };
}

/** `/shop/db` for node path `shop.db`, `/` for the root. */
export function slashPath(n: ResolvedNode): string {
  return `/${n.path.replaceAll('.', '/')}`;
}

/** The shell: state (current node), commands and completion. */
export class Shell {
  cwd: ResolvedNode;
  private previous: ResolvedNode;
  readonly pool: ConnectionPool;
  /** Set while a command runs: called on Ctrl-C. */
  private interrupt?: () => void;
  readonly commands: Record<string, Command>;

  constructor(readonly model: ShellModel, readonly io: ShellIo, private readonly orchArgs: string[]) {
    this.cwd = model.tree;
    this.previous = model.tree;
    this.pool = new ConnectionPool(planHostsFor(model.inventory, [...model.inventory.hosts.keys()]), orchArgs.includes('--insecure-host-keys'));
    this.commands = this.makeCommands();
  }

  private out(s: string): void {
    this.io.stdout.write(s);
  }

  private err(s: string): void {
    this.io.stderr.write(s);
  }

  prompt(): string {
    return `orch:${slashPath(this.cwd)}> `;
  }

  /** Resolves a node argument (`child`, `a/b`, `a.b`, `..`, `/x`) from the current node. */
  resolve(arg: string | undefined, from: ResolvedNode = this.cwd): ResolvedNode | string {
    if (arg === undefined || arg === '' || arg === '.') return from;
    let n: ResolvedNode = arg.startsWith('/') ? this.model.tree : from;
    const segs = arg.split('/').filter(Boolean).flatMap((s) => (s === '..' || s === '.' ? [s] : s.split('.').filter(Boolean)));
    for (const seg of segs) {
      if (seg === '..') n = n.parent ?? n;
      else if (seg === '.') continue;
      else {
        const c = n.children.find((k) => k.name === seg);
        if (!c) return `no node "${seg}" under ${slashPath(n)} (children: ${n.children.map((k) => k.name).join(', ') || '(none)'})`;
        n = c;
      }
    }
    return n;
  }

  /** The node's hosts the shell acts on (after --limit), sorted. */
  hostsOf(n: ResolvedNode): string[] {
    return n.hosts.filter((h) => this.model.limited.has(h));
  }

  /** Runs one command line; returns its exit code. Never throws for user errors. */
  async execute(line: string): Promise<number> {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) return EXIT.OK;
    let words: string[];
    try {
      words = splitWords(trimmed);
    } catch (e) {
      this.err(`${(e as Error).message}\n`);
      return EXIT.INVALID;
    }
    const name = words[0]!;
    const rest = trimmed.slice(trimmed.indexOf(name) + name.length).trim();
    const cmd = Object.hasOwn(this.commands, name) ? this.commands[name] : undefined;
    try {
      if (cmd) return await cmd.run(words.slice(1), rest);
      if (actionNames(this.cwd.spec).includes(name)) return await this.runAction(name, words.slice(1));
      this.err(`unknown command "${name}" (type help; actions here: ${actionNames(this.cwd.spec).join(', ') || '(none)'})\n`);
      return EXIT.INVALID;
    } catch (e) {
      if (e instanceof ExitRequest) return e.code;
      if (e instanceof ConfigError) {
        for (const d of e.diagnostics) this.err(`${formatDiagnostic(d)}\n`);
        return EXIT.INVALID;
      }
      this.err(`${this.model.masker.mask((e as Error).message)}\n`);
      return EXIT.INVALID;
    }
  }

  /** Called on Ctrl-C while a command runs. */
  onInterrupt(): boolean {
    if (!this.interrupt) return false;
    this.interrupt();
    return true;
  }

  /** Runs `fn` with `stop` as the Ctrl-C handler. */
  private async interruptible<T>(stop: () => void, fn: () => Promise<T>): Promise<T> {
    this.interrupt = stop;
    try {
      return await fn();
    } finally {
      this.interrupt = undefined;
    }
  }

  /** Runs `orch ARGS` plus this shell's inputs (`-i`, `-e`, `--limit`, `--insecure-host-keys`) as a child process; resolves with its exit code. */
  private runOrch(args: string[], ownLimit = false): Promise<number> {
    // `ownLimit`: ARGS narrow the hosts themselves (already within the shell's --limit).
    const inputs = ownLimit ? this.orchArgs.filter((a, i, all) => a !== '--limit' && all[i - 1] !== '--limit') : this.orchArgs;
    // In a terminal the child gets it (apply's confirmation and live progress, Ctrl-C from
    // the terminal itself); otherwise its output goes through the shell's streams.
    const child = spawn(process.execPath, [orchBin(), ...args, ...inputs], {
      stdio: this.io.interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => this.out(d.toString()));
    child.stderr?.on('data', (d: Buffer) => this.err(d.toString()));
    return this.interruptible(
      () => {
        if (!this.io.interactive) child.kill('SIGINT');
      },
      () => new Promise<number>((resolve) => {
        child.on('error', (e) => {
          this.err(`cannot start orch: ${e.message}\n`);
          resolve(EXIT.INVALID);
        });
        child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : EXIT.FAILED)));
      }),
    );
  }

  private nodeArgs(n: ResolvedNode): string[] {
    return n.path ? ['--node', n.path] : [];
  }

  private async runAction(action: string, args: string[]): Promise<number> {
    const extra: string[] = [];
    for (const a of args) {
      if (!/^[^=]+=/.test(a)) {
        this.err(`action parameters are key=value, got ${JSON.stringify(a)}\n`);
        return EXIT.INVALID;
      }
      extra.push('-e', a);
    }
    const ref = this.cwd.path ? `${this.cwd.path}.${action}` : action;
    return this.runOrch(['run', this.model.playbookFile, ref, ...extra]);
  }

  /** Runs `command` on every host of the current node in parallel and prints each host's result. */
  private async execOnHosts(command: string): Promise<number> {
    const hosts = this.hostsOf(this.cwd);
    if (!hosts.length) {
      this.err(`node ${slashPath(this.cwd)} has no hosts\n`);
      return EXIT.INVALID;
    }
    let interrupted = false;
    const rows = await this.interruptible(
      () => {
        interrupted = true;
        for (const h of hosts) void this.pool.drop(h);
      },
      () => Promise.all(hosts.map(async (host) => {
        try {
          const conn = await this.pool.get(host);
          const res = await conn.exec('bash -s', { stdin: Buffer.from(`${command}\n`, 'utf8') });
          return { host, code: res.code, text: `${res.stdout.toString('utf8')}${res.stderr.toString('utf8')}` };
        } catch (e) {
          return { host, code: null, text: '', error: interrupted ? 'interrupted' : (e as Error).message.replace(`${host}: `, '') };
        }
      })),
    );
    for (const r of rows) {
      this.out(`${r.host} | ${r.error ? `${r.error === 'interrupted' ? 'INTERRUPTED' : `UNREACHABLE: ${r.error}`}` : r.code === 0 ? 'ok' : `FAILED (exit ${r.code ?? 'signal'})`}\n`);
      const lines = this.model.masker.mask(r.text).split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      for (const l of lines) this.out(`  ${l}\n`);
    }
    if (interrupted) return 130;
    return rows.some((r) => r.code !== 0) ? EXIT.FAILED : EXIT.OK;
  }

  /** Picks a host of the current node: the named one, the only one, or from a numbered menu. */
  private async pickHost(arg: string | undefined): Promise<string | undefined> {
    const hosts = this.hostsOf(this.cwd);
    if (arg !== undefined) {
      if (hosts.includes(arg)) return arg;
      if (/^\d+$/.test(arg) && hosts[Number(arg) - 1]) return hosts[Number(arg) - 1];
      this.err(`${arg} is not a host of ${slashPath(this.cwd)} (hosts: ${hosts.join(', ') || '(none)'})\n`);
      return undefined;
    }
    if (!hosts.length) {
      this.err(`node ${slashPath(this.cwd)} has no hosts\n`);
      return undefined;
    }
    if (hosts.length === 1) return hosts[0];
    hosts.forEach((h, i) => this.out(`  ${String(i + 1).padStart(2)}) ${h}\n`));
    const answer = (await this.ask(`Host [1-${hosts.length}]: `)).trim();
    const pick = hosts[Number(answer) - 1] ?? (hosts.includes(answer) ? answer : undefined);
    if (!pick) this.err(answer ? `no host ${JSON.stringify(answer)}\n` : 'cancelled\n');
    return pick;
  }

  /** Asks a question (menus); null at end of input. */
  private async ask(question: string): Promise<string> {
    return (await this.nextLine(question, () => [[], ''], false)) ?? '';
  }

  /** Lines still to run when stdin is not a terminal. */
  queue?: string[];
  private history = loadHistory();
  /** The terminal's readline, kept between prompts (paused, cooked mode while a command runs). */
  private rl?: Interface;
  /** Lines typed ahead while a command ran. */
  private typedAhead: (string | null)[] = [];
  private waiting?: (line: string | null) => void;
  private completer: (line: string) => [string[], string] | Promise<[string[], string]> = () => [[], ''];
  private saveHistory = false;

  private openReadline(): Interface {
    if (this.rl) return this.rl;
    const rl = createInterface({
      input: this.io.stdin, output: this.io.stdout, terminal: true, history: this.history, historySize: 1000, removeHistoryDuplicates: true,
      completer: (line: string, cb: (err: Error | null, r: [string[], string]) => void) => {
        Promise.resolve(this.completer(line)).then((r) => cb(null, r), () => cb(null, [[], line]));
      },
    });
    rl.on('history', (h: string[]) => (this.history = h));
    rl.on('SIGINT', () => {
      // Like bash: Ctrl-C at the prompt drops the line being typed.
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
      this.io.stdout.write('^C\n');
      rl.prompt();
    });
    const deliver = (line: string | null): void => {
      const w = this.waiting;
      this.waiting = undefined;
      if (w) w(line);
      else this.typedAhead.push(line);
    };
    rl.on('line', (line) => {
      if (this.saveHistory && line.trim()) saveHistoryLine(line);
      deliver(line);
    });
    rl.on('close', () => {
      if (this.rl !== rl) return;
      this.rl = undefined;
      this.io.stdout.write('\n');
      deliver(null);
    });
    this.rl = rl;
    return rl;
  }

  /**
   * Gives the terminal to a command that needs it raw (connect, $EDITOR): closes the
   * readline; the next prompt opens a new one (history kept).
   */
  releaseTerminal(): void {
    const rl = this.rl;
    if (!rl) return;
    this.rl = undefined;
    rl.close();
  }

  /**
   * Reads one line: from the terminal through the shell's readline (completion with
   * `completer`; for the main prompt, history saved to ~/.orch/shell_history), or the
   * next queued line without a terminal. Between prompts the readline is paused and the
   * terminal in cooked mode, so Ctrl-C reaches the running command as SIGINT and lines
   * typed ahead are kept. Resolves null at end of input (Ctrl-D).
   */
  nextLine(prompt: string, completer: (line: string) => [string[], string] | Promise<[string[], string]>, main: boolean): Promise<string | null> {
    if (!this.io.interactive) {
      const line = this.queue?.shift();
      return Promise.resolve(line === undefined ? null : line);
    }
    const rl = this.openReadline();
    this.completer = completer;
    this.saveHistory = main;
    rl.setPrompt(prompt);
    return new Promise<string | null>((resolve) => {
      const done = (line: string | null): void => {
        if (this.rl) {
          this.rl.pause();
          if (this.io.stdin.isTTY) this.io.stdin.setRawMode(false);
        }
        resolve(line);
      };
      if (this.typedAhead.length) {
        rl.prompt();
        const line = this.typedAhead.shift()!;
        if (line !== null) this.io.stdout.write(`${line}\n`);
        return done(line);
      }
      this.waiting = done;
      if (this.io.stdin.isTTY) this.io.stdin.setRawMode(true);
      rl.resume();
      rl.prompt();
    });
  }

  /** Shell-visible value of a var: secrets masked. */
  private showValue(name: string, v: unknown): string {
    if (this.model.playbook.secret.includes(name)) return MASK;
    return this.model.masker.mask(typeof v === 'string' ? v : JSON.stringify(v));
  }

  /** Effective vars of a node on a host (compile's precedence), rendered where they render. */
  effectiveVars(n: ResolvedNode, hostName: string | undefined): [string, string][] {
    const host = hostName ? this.model.inventory.hosts.get(hostName) : undefined;
    const chain: ResolvedNode[] = [];
    for (let c: ResolvedNode | undefined = n; c; c = c.parent) chain.unshift(c);
    const layers: Vars[] = [];
    for (const c of chain) {
      if (c.spec.vars) layers.push(c.spec.vars);
      layers.push(c.overrideVars);
    }
    const raw: Vars = Object.assign({}, host?.vars ?? {}, this.model.playbook.vars, ...layers, this.model.extraVars);
    const extras = {
      host: host ? { name: host.name, address: host.address, roles: host.roles, groups: host.groups, vars: host.vars } : {},
      node: { name: n.name, path: n.path },
    };
    const scope = buildScope(raw, extras, { env: process.env, masker: this.model.masker });
    return Object.keys(raw).sort().map((k) => {
      let v: unknown;
      try {
        v = getVar(scope, k);
      } catch (e) {
        return [k, `(cannot render: ${this.model.masker.mask((e as Error).message)})`];
      }
      return [k, this.showValue(k, v)];
    });
  }

  private where(n: ResolvedNode): string {
    const pos = this.model.index.locate(n.spec.src.file, n.spec.src.path);
    return `${pos.file}:${pos.line}`;
  }

  private ls(n: ResolvedNode): string {
    const lines: string[] = [];
    if (n.children.length) lines.push(`nodes:   ${n.children.map((c) => `${c.name}/`).join('  ')}`);
    const steps = n.spec.steps ?? [];
    if (steps.length) lines.push(`steps:   ${steps.map((s, i) => `${i + 1}:${s.name ?? s.kind}`).join('  ')}`);
    const acts = actionNames(n.spec);
    if (acts.length) lines.push(`actions: ${acts.join('  ')}`);
    const roles = [...n.roles.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    const hosts = this.hostsOf(n);
    lines.push(`hosts:   ${hosts.join(', ') || '(none)'}`);
    for (const [role, hs] of roles) {
      const mine = hs.filter((h) => this.model.limited.has(h));
      lines.push(`  role ${role}: ${mine.join(', ') || '-'}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private inspect(n: ResolvedNode): string {
    const lines: string[] = [`node ${n.path || '(root)'}  (${this.where(n)})`];
    if (n.spec.extends) lines.push(`extends: ${n.spec.extends}`);
    const hosts = this.hostsOf(n);
    lines.push(`hosts: ${hosts.join(', ') || '(none)'}`);
    for (const [role, hs] of [...n.roles.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) lines.push(`  role ${role}: ${hs.filter((h) => this.model.limited.has(h)).join(', ') || '-'}`);
    const first = hosts[0];
    lines.push(`vars${first ? ` (on ${first})` : ''}:`);
    for (const [k, v] of this.effectiveVars(n, first)) lines.push(`  ${k} = ${v}`);
    const steps = n.spec.steps ?? [];
    const phase = this.model.plan?.phases.find((p) => p.node === n.path);
    if (steps.length) {
      lines.push('steps:');
      steps.forEach((s, i) => {
        const ps = phase?.steps.find((p) => p.index === i);
        const on = s.on ?? n.spec.on;
        const label = ps ? this.model.masker.mask(ps.name) : `${s.name ?? s.kind}`;
        lines.push(`  ${i + 1}. ${label}${ps ? `  [${Object.keys(ps.tasks).join(', ') || 'no hosts'}]` : ''}${on ? `  on ${on}` : ''}${s.once ? '  once' : ''}`);
      });
    }
    const acts = n.spec.actions ?? [];
    if (acts.length) {
      lines.push('actions:');
      for (const [a, list] of acts) lines.push(`  ${a}: ${list.map((s) => s.name ?? describeAsWritten(s.kind, s.args)).join('; ')}`);
    }
    if (n.children.length) lines.push(`children: ${n.children.map((c) => c.name).join(', ')}`);
    return `${lines.join('\n')}\n`;
  }

  /** The YAML text of a node, with line numbers (from its key to the end of its block). */
  private source(n: ResolvedNode): string {
    const pos = this.model.index.locate(n.spec.src.file, n.spec.src.path);
    let text: string;
    try {
      text = readFileSync(n.spec.src.file === this.model.playbookFile ? this.model.playbookFile : n.spec.src.file, 'utf8');
    } catch {
      text = readFileSync(this.model.playbook.file, 'utf8');
    }
    const all = text.split('\n');
    let from = 0;
    let to = all.length;
    if (n.path) {
      from = pos.line - 1;
      const indent = all[from]!.search(/\S/);
      to = from + 1;
      while (to < all.length && (all[to]!.trim() === '' || all[to]!.search(/\S/) > indent)) to++;
      while (to > from + 1 && all[to - 1]!.trim() === '') to--;
    } else if (all[to - 1] === '') to--;
    const w = String(to).length;
    return `${pos.file}\n${all.slice(from, to).map((l, i) => `${String(from + i + 1).padStart(w)}  ${l}`).join('\n')}\n`;
  }

  private makeCommands(): Record<string, Command> {
    const node = (arg: string | undefined): ResolvedNode => {
      const n = this.resolve(arg);
      if (typeof n === 'string') throw new Error(n);
      return n;
    };
    const cmds: Record<string, Command> = {
      help: {
        usage: 'help', help: 'this list',
        run: async () => {
          const w = Math.max(...Object.values(cmds).map((c) => c.usage.length));
          for (const c of Object.values(cmds)) this.out(`  ${c.usage.padEnd(w)}  ${c.help}\n`);
          const acts = actionNames(this.cwd.spec);
          this.out(`  ${'ACTION [k=v ...]'.padEnd(w)}  run an action of this node${acts.length ? ` (${acts.join(', ')})` : ''}\n`);
          return EXIT.OK;
        },
      },
      ls: { usage: 'ls [NODE]', help: 'children, steps, actions and hosts by role', run: async (a) => (this.out(this.ls(node(a[0]))), EXIT.OK) },
      cd: {
        usage: 'cd [NODE|..|/|-]', help: 'go to a node (no argument: the root)',
        run: async (a) => {
          const target = a[0] === '-' ? this.previous : node(a[0] ?? '/');
          this.previous = this.cwd;
          this.cwd = target;
          if (a[0] === '-') this.out(`${slashPath(target)}\n`);
          return EXIT.OK;
        },
      },
      pwd: { usage: 'pwd', help: 'the current node', run: async () => (this.out(`${slashPath(this.cwd)}\n`), EXIT.OK) },
      find: {
        usage: 'find [TEXT]', help: 'nodes below this one (whose path contains TEXT)',
        run: async (a) => {
          for (const n of flattenNodes(this.cwd)) {
            if (n === this.cwd) continue;
            const rel = relative(slashPath(this.cwd), slashPath(n));
            if (a[0] === undefined || rel.includes(a[0])) this.out(`${rel}\n`);
          }
          return EXIT.OK;
        },
      },
      inspect: { usage: 'inspect [NODE]', help: 'where it is defined, hosts by role, effective vars (secrets masked), steps, actions', run: async (a) => (this.out(this.inspect(node(a[0]))), EXIT.OK) },
      source: { usage: 'source [NODE]', help: 'the node\'s YAML with line numbers', run: async (a) => (this.out(this.source(node(a[0]))), EXIT.OK) },
      hosts: {
        usage: 'hosts', help: 'the hosts of this node with address, roles and groups',
        run: async () => {
          for (const h of this.hostsOf(this.cwd)) {
            const host = this.model.inventory.hosts.get(h)!;
            const roles = [...this.cwd.roles.entries()].filter(([, hs]) => hs.includes(h)).map(([r]) => r);
            this.out(`${h}  ${host.transport === 'local' ? '(local)' : `${host.user ? `${host.user}@` : ''}${host.address}`}  roles: ${roles.join(',') || '-'}  groups: ${host.groups.join(',') || '-'}${this.pool.has(h) ? '  (connected)' : ''}\n`);
          }
          return EXIT.OK;
        },
      },
      plan: { usage: 'plan', help: 'orch plan of this subtree', run: async () => this.runOrch(['plan', this.model.playbookFile, ...this.nodeArgs(this.cwd)]) },
      sandbox: { usage: 'sandbox', help: 'plan plus bash -n of every script on the hosts (--remote-check)', run: async () => this.runOrch(['plan', this.model.playbookFile, ...this.nodeArgs(this.cwd), '--remote-check']) },
      apply: { usage: 'apply [--yes]', help: 'orch apply of this subtree (asks for confirmation in a terminal)', run: async (a) => this.runOrch(['apply', this.model.playbookFile, ...this.nodeArgs(this.cwd), ...(a.includes('--yes') || a.includes('-y') ? ['--yes'] : [])]) },
      query: {
        usage: 'query', help: 'what orch installed on this node\'s hosts',
        run: async () => {
          const hosts = this.hostsOf(this.cwd);
          if (!hosts.length) return this.err(`node ${slashPath(this.cwd)} has no hosts\n`), EXIT.INVALID;
          return this.runOrch(['query', this.model.playbookFile, '--limit', hosts.join(',')], true);
        },
      },
      exec: { usage: 'exec CMD', help: 'run CMD on every host of this node', run: async (_a, rest) => (rest ? this.execOnHosts(rest) : (this.err('exec needs a command\n'), EXIT.INVALID)) },
      sudo: { usage: 'sudo CMD', help: 'run CMD with sudo -n on every host of this node', run: async (_a, rest) => (rest ? this.execOnHosts(`sudo -n bash -c ${quote(rest)}`) : (this.err('sudo needs a command\n'), EXIT.INVALID)) },
      connect: {
        usage: 'connect [HOST]', help: 'interactive login shell on a host of this node (exit returns here)',
        run: async (a) => {
          if (!this.io.interactive) return this.err('connect needs a terminal\n'), EXIT.INVALID;
          const host = await this.pickHost(a[0]);
          if (!host) return EXIT.INVALID;
          if (this.model.inventory.hosts.get(host)?.transport === 'local') {
            this.releaseTerminal();
            this.out(`${host} is this machine (transport: local): starting your login shell; exit it to come back.\n`);
            return (await runLocalShell()) ?? EXIT.FAILED;
          }
          let conn;
          try {
            conn = await this.pool.get(host);
          } catch (e) {
            this.err(`${(e as Error).message}\n`);
            return EXIT.FAILED;
          }
          this.releaseTerminal();
          try {
            this.out(`Connected to ${host}; exit the remote shell to come back.\n`);
            const code = await attachPty(conn, { stdin: this.io.stdin, stdout: this.io.stdout });
            return code ?? EXIT.FAILED;
          } catch (e) {
            if ((e as Error).message.includes('connection lost')) void this.pool.drop(host);
            throw e;
          }
        },
      },
      files: {
        usage: 'files [HOST]', help: 'SFTP subshell on a host of this node: ls cd pwd stat cat get put edit lls lcd lpwd',
        run: async (a) => {
          const host = await this.pickHost(a[0]);
          if (!host) return EXIT.INVALID;
          let conn;
          try {
            conn = await this.pool.get(host);
          } catch (e) {
            this.err(`${(e as Error).message}\n`);
            return EXIT.FAILED;
          }
          return runFiles(this, conn);
        },
      },
      clear: { usage: 'clear', help: 'clear the screen', run: async () => (this.out('\x1b[2J\x1b[H'), EXIT.OK) },
      exit: { usage: 'exit', help: 'leave the shell (also Ctrl-D)', run: async () => LEAVE },
    };
    return cmds;
  }

  /** Completion candidates for `line` (readline completer shape: [candidates, word]). */
  complete(line: string): [string[], string] {
    const m = /^(\s*)(\S*)$/.exec(line);
    if (m) {
      const word = m[2]!;
      const names = [...Object.keys(this.commands), ...actionNames(this.cwd.spec)].sort();
      return [names.filter((c) => c.startsWith(word)), word];
    }
    const words = line.trimStart().split(/\s+/);
    const cmd = words[0]!;
    const word = words[words.length - 1]!;
    if (['cd', 'ls', 'inspect', 'source'].includes(cmd)) {
      const slash = word.lastIndexOf('/');
      const dir = slash >= 0 ? word.slice(0, slash + 1) : '';
      const base = this.resolve(dir || '.');
      if (typeof base === 'string') return [[], word];
      const cands = [...base.children.map((c) => `${dir}${c.name}/`), ...(dir ? [] : ['../'])].filter((c) => c.startsWith(word));
      return [cands, word];
    }
    if (cmd === 'connect' || cmd === 'files') return [this.hostsOf(this.cwd).filter((h) => h.startsWith(word)), word];
    if (actionNames(this.cwd.spec).includes(cmd) && !word.includes('=')) {
      // Action parameters are -e vars: offer the node's var names.
      const names = this.effectiveVars(this.cwd, this.hostsOf(this.cwd)[0]).map(([k]) => `${k}=`);
      return [names.filter((n) => n.startsWith(word)), word];
    }
    return [[], word];
  }
}

function historyFile(): string {
  return join(process.env.HOME ?? homedir(), '.orch', 'shell_history');
}

function loadHistory(): string[] {
  try {
    return readFileSync(historyFile(), 'utf8').split('\n').filter(Boolean).slice(-1000).reverse();
  } catch {
    return [];
  }
}

function saveHistoryLine(line: string): void {
  try {
    mkdirSync(dirname(historyFile()), { recursive: true, mode: 0o700 });
    appendFileSync(historyFile(), `${line}\n`, { mode: 0o600 });
  } catch {
    /* history is a convenience */
  }
}

/** Reads all of a stream as text. */
function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (text += d));
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

/** The prompt loop: resolves with the last command's exit code when the user leaves. */
async function promptLoop(shell: Shell): Promise<number> {
  let last = 0;
  for (;;) {
    const line = await shell.nextLine(shell.prompt(), (l) => shell.complete(l), true);
    if (line === null) return last;
    if (!line.trim()) continue;
    const code = await shell.execute(line);
    if (code === LEAVE) return last;
    last = code;
  }
}

/** `orch shell PLAYBOOK`. */
export async function runShell(playbook: string, opts: ShellOpts): Promise<void> {
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const { model, problems } = await loadShellModel(playbook, opts, (l) => void process.stderr.write(`${l}\n`));
  for (const p of problems) process.stderr.write(`warning: ${p}\n`);
  const orchArgs = [
    ...(opts.inventory ?? []).flatMap((i) => ['-i', i]),
    ...(opts.extraVar ?? []).flatMap((e) => ['-e', e]),
    ...(opts.limit !== undefined ? ['--limit', opts.limit] : []),
    ...(opts.insecureHostKeys ? ['--insecure-host-keys'] : []),
  ];
  const shell = new Shell(model, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, interactive }, orchArgs);
  // Ctrl-C while a command runs (the terminal is in cooked mode then) stops the command, never the shell.
  const onSigint = (): void => {
    if (!shell.onInterrupt() && !interactive) process.exitCode = 130;
  };
  process.on('SIGINT', onSigint);
  let code = 0;
  try {
    if (interactive) {
      process.stdout.write(`orch shell: ${model.playbookFile} (${model.tree.hosts.length} hosts). Type help; Tab completes; Ctrl-D leaves.\n`);
      code = await promptLoop(shell);
    } else {
      shell.queue = (await readAll(process.stdin)).split('\n');
      for (let line = shell.queue.shift(); line !== undefined; line = shell.queue.shift()) {
        if (!line.trim()) continue;
        const c = await shell.execute(line);
        if (c === LEAVE) break;
        code = c;
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
    shell.releaseTerminal();
    await shell.pool.closeAll();
  }
  if (code !== 0) throw new ExitRequest(code);
}
