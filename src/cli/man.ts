/**
 * The man page `orch(1)`, built from the same commander metadata as `--help` (so the two
 * never disagree): every visible command with its usage, description, arguments and
 * options, then exit status and environment. `npm run build` writes it to `man/orch.1`
 * (scripts/build-man.mjs); package.json's `man` field installs it with the package.
 */
import type { Command } from 'commander';

/** Escapes text for roff: backslashes, hyphens, and a leading `.` or `'`. */
export function roff(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1');
}

/** Visible commands, depth first, with their full names (`cron install`). */
function commandsOf(cmd: Command, prefix = ''): { name: string; cmd: Command }[] {
  const help = cmd.createHelp();
  return help.visibleCommands(cmd).filter((c) => c.name() !== 'help').flatMap((c) => {
    const name = `${prefix}${c.name()}`;
    const subs = commandsOf(c, `${name} `);
    return subs.length ? subs : [{ name, cmd: c }];
  });
}

const EXIT_STATUS: [string, string][] = [
  ['0', 'every targeted host succeeded (with --detailed-exitcodes: and nothing changed / nothing pending)'],
  ['1', 'nothing ran: invalid input or usage, a script failing bash -n, no host matched, plan file stale, the confirmation declined'],
  ['2', 'with --detailed-exitcodes (always for converge): changes were applied / are pending, no failure'],
  ['3', 'converge only: skipped, another converge of the same playbook holds the lock'],
  ['4', 'one or more hosts failed or were unreachable (the others completed)'],
  ['6', 'with --detailed-exitcodes: changes and failures'],
  ['130', 'interrupted (Ctrl-C)'],
];

/** orch's environment variables and what they do (the man page's ENVIRONMENT, the end of `orch --help`). */
export const ENVIRONMENT: [string, string][] = [
  ['ORCH_SSH_PERSIST', 'seconds (1-86400): keep SSH connections open that long after their last use, in a control master, so later runs skip the handshake (like ControlPersist; docs/reference/cli.md, "Persistent connections")'],
  ['NO_COLOR', 'set and non-empty: no colours (https://no-color.org)'],
  ['FORCE_COLOR', 'set and not 0: colours even when stdout is not a terminal; --no-color still wins'],
  ['XDG_CACHE_HOME', 'the bundle build cache is $XDG_CACHE_HOME/orch (default ~/.cache/orch)'],
  ['SSH_AUTH_SOCK', 'ssh-agent used for keys when the inventory names no identity'],
];

/** The roff text of orch(1). */
export function formatManPage(program: Command, version: string): string {
  const help = program.createHelp();
  const out: string[] = [
    `.TH ORCH 1 "" "orch ${roff(version)}" "User Commands"`,
    '.SH NAME',
    `orch \\- ${roff(help.commandDescription(program).replace(/\.$/, ''))}`,
    '.SH SYNOPSIS',
    '.B orch',
    '\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]',
    '.SH DESCRIPTION',
    roff('orch builds release bundles, compiles a plan from an inventory and a playbook (YAML), checks every script with bash -n, reads each host\'s state in one round trip, prints what would change, and applies it to many hosts in parallel over SSH, each host isolated from the others\' failures. Run orch COMMAND --help for the options of one command.'),
    '.SH COMMANDS',
  ];
  for (const { name, cmd } of commandsOf(program)) {
    const h = cmd.createHelp();
    const usage = `orch ${name} ${h.commandUsage(cmd).split(' ').filter((w) => /^[[<]/.test(w)).join(' ')}`.trimEnd();
    out.push('.SS', `.B ${roff(usage)}`, '.PP', roff(h.commandDescription(cmd)));
    for (const a of h.visibleArguments(cmd)) out.push('.TP', `\\fI${roff(h.argumentTerm(a))}\\fR`, roff(h.argumentDescription(a)));
    for (const o of h.visibleOptions(cmd)) out.push('.TP', `\\fB${roff(h.optionTerm(o))}\\fR`, roff(h.optionDescription(o)));
  }
  out.push('.SH EXIT STATUS');
  for (const [code, text] of EXIT_STATUS) out.push('.TP', `.B ${code}`, roff(text));
  out.push('.SH ENVIRONMENT');
  for (const [name, text] of ENVIRONMENT) out.push('.TP', `.B ${name}`, roff(text));
  out.push('.SH FILES', '.TP', '.B ~/.orch/registry.json, <root>/.orch/state.json', roff('what orch records on each host (see docs/how-it-works.md, "What orch leaves on a host")'));
  out.push('.SH SEE ALSO', roff('ssh(1), crontab(1); the README.md of the orch package and docs/ (docs/reference/cli.md), and orch COMMAND --help.'));
  return `${out.join('\n')}\n`;
}
