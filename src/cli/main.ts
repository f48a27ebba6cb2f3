/**
 * orch's command line: argv parsing (commander), one top-level catch, exit codes
 * (docs/reference/cli.md). Only this folder prints to the terminal's streams directly and
 * exits the process. Command modules are imported lazily so `orch --version` stays fast.
 */
import { Argument, Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { ENVIRONMENT } from './man.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Adds the options every run command shares (`common` in docs/reference/cli.md). */
function common(cmd: Command): Command {
  cmd
    .option('-i, --inventory <file>', 'inventory file (repeatable; later files win key by key; Ansible INI/YAML accepted, or forced with ansible:FILE); default: the playbook\'s inventory:', collect, [])
    .option('-l, --limit <pattern>', 'only hosts matching this Ansible host pattern: web*,db1:!db2, role:&group, ~regex, web[0], web[1:3]')
    .option('--node <path>', 'only this node subtree (e.g. shop or shop.db)')
    .option('-e, --extra-var <key=value>', 'set a variable, highest precedence (repeatable)', collect, [])
    .option('--json', 'machine-readable output (JSON Lines events and a summary)')
    .option('--detailed-exitcodes', '0 = no changes, 2 = changes, 4 = failures, 6 = both')
    .option('--insecure-host-keys', 'accept any SSH host key (dangerous; never the default)')
    .option('--allow-downgrade', 'accept a signed channel manifest older than the newest this machine accepted for that channel (going back on purpose)')
    .option('--timeout <duration>', 'fail a host whose step (or facts read) runs longer than this: seconds or 500ms, 2s, 1m, 1h (default: no limit)')
    .option('-v, --verbose', 'show every step\'s output (failed steps always show the last 20 lines of stderr and stdout)')
    .option('--no-color', 'no colours (also: NO_COLOR=1; FORCE_COLOR=1 forces them)')
    .option('--give-up <seconds>', 'dead-man\'s switch: a host stops this run\'s work (and frees its lock) after hearing nothing from orch for this long (default: the inventory\'s give_up, else 30s)');
  return secretFlags(cmd);
}

/** The flags that unlock encrypted input: Ansible Vault passwords and the age identity. */
function secretFlags(cmd: Command): Command {
  return cmd
    .option('--vault-password-file <file>', 'Ansible Vault password file (repeatable; an executable file is run and its stdout is the password); default: ANSIBLE_VAULT_PASSWORD_FILE', collect, [])
    .option('--vault-id <[label@]file>', 'Ansible Vault password with a vault id (repeatable; 1.2 files of that id try it first)', collect, [])
    .option('--ask-vault-pass', 'ask for the Ansible Vault password on the terminal')
    .option('--age-identity <file>', 'age identity for .age vars files (default: ORCH_AGE_IDENTITY, else ~/.config/orch/age.txt)');
}

/**
 * The `Environment:` block at the end of `orch --help`: ENVIRONMENT (man.ts) laid out as
 * commander lays out options, wrapped to `columns` (the terminal's width; 80 without one).
 */
export function environmentHelp(columns: number | undefined): string {
  const help = new Command().createHelp();
  help.helpWidth = columns || 80;
  const width = Math.max(...ENVIRONMENT.map(([name]) => name.length));
  return `\nEnvironment:\n${ENVIRONMENT.map(([name, text]) => help.formatItem(name, width, text, help)).join('\n')}`;
}

/**
 * Every command and option of orch (commander). Also the source of `--help`, shell
 * completion (`orch completion`) and the man page (`npm run man`).
 */
export function buildProgram(): Command {
  const program = new Command('orch')
    .description('Declarative, YAML-driven deployments: bundle, plan and apply releases over SSH.')
    .version(version(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .exitOverride()
    .addHelpText('after', (ctx) => environmentHelp(ctx.error ? process.stderr.columns : process.stdout.columns));

  common(program.command('plan').argument('<playbook>', 'playbook file'))
    .description('compile the playbook, check every script with bash -n, read each host\'s state and print what would change')
    .option('--offline', 'do not connect to hosts; steps show as "may change"')
    .option('--remote-check', 'also run bash -n on every host')
    .option('--diff', 'show what each change does: a unified diff of every file put would change (secrets hidden), mode/owner changes, current X -> Y')
    .option('--diff-private', 'with --diff (implied), also show the old contents of files that are not world-readable on the host (hidden by default)')
    .option('-o, --out <plan.json>', 'save the plan; `orch apply PLAN.json` applies exactly it')
    .option('--forks <n>', 'hosts worked on in parallel', '50')
    .action(async (playbook: string, opts: Record<string, unknown>) => {
      const { runPlanCommand } = await import('./run.js');
      return runPlanCommand(playbook, opts);
    });

  common(program.command('apply').argument('<playbook|plan.json>', 'playbook file, or a plan saved with plan -o'))
    .description('plan, then apply to every targeted host in parallel (each host isolated from the others\' failures)')
    .option('--forks <n>', 'hosts worked on in parallel', '50')
    .option('--lock-wait <duration>', 'wait this long for another run\'s host lock: seconds or 500ms, 2s, 1m, 1h', '0')
    .option('-y, --yes', 'do not ask for confirmation (only asked when stdin and stdout are a terminal)')
    .option('--diff', 'show diffs of the changes in the plan before applying (see plan --diff)')
    .option('--diff-private', 'with --diff (implied), also show the old contents of files that are not world-readable on the host')
    .option('--revoke-key <key>', 'a release from a signed channel that fails here is revoked fleet-wide, signed with this key (the channel\'s signing key; default: ORCH_REVOKE_KEY)')
    .option('--no-revoke', 'do not revoke a failed channel release (it stays recorded bad only on the hosts where it failed)')
    .action(async (target: string, opts: Record<string, unknown>) => {
      const { runApplyCommand } = await import('./run.js');
      return runApplyCommand(target, opts);
    });

  common(program.command('converge').argument('<playbook>', 'playbook file'))
    .description('apply for cron: no prompt, detailed exit codes (0 none, 2 changed, 4 failed, 6 both, 3 another converge runs), quiet unless something changed or failed')
    .option('--log <file>', 'append one JSON line per run to this file')
    .option('--splay <duration>', 'wait a random time up to this long first (spreads cron load): seconds or 30s, 5m', '0')
    .option('--forks <n>', 'hosts worked on in parallel', '50')
    .option('--lock-wait <duration>', 'wait this long for another run\'s host lock: seconds or 500ms, 2s, 1m, 1h', '0')
    .option('--revoke-key <key>', 'a release from a signed channel that fails here is revoked fleet-wide, signed with this key (default: ORCH_REVOKE_KEY)')
    .option('--no-revoke', 'do not revoke a failed channel release')
    .action(async (playbook: string, opts: Record<string, unknown>) => {
      const { runConverge } = await import('./lifecycle.js');
      return runConverge(playbook, opts);
    });

  common(program.command('rollback').argument('<playbook>', 'playbook file'))
    .description('switch current back to the last good release (the newest complete one older than current, not recorded bad; or --to VERSION), restart and run the node\'s healthchecks (a failure puts the host back on the release it ran), as a planned run')
    .option('--to <version>', 'the version to switch to (must be installed and complete on every selected host)')
    .option('--force', 'with --to: switch even where that version is recorded bad (the plan warns); a failing healthcheck still puts the host back')
    .option('--forks <n>', 'hosts worked on in parallel', '50')
    .option('--lock-wait <duration>', 'wait this long for another run\'s host lock: seconds or 500ms, 2s, 1m, 1h', '0')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (playbook: string, opts: Record<string, unknown>) => {
      const { runRollback } = await import('./lifecycle.js');
      return runRollback(playbook, opts);
    });

  common(program.command('remove').argument('<playbook>', 'playbook file'))
    .description('take the playbook\'s apps off their hosts, as a planned run: runs the before_remove and after_remove kept with the current release, stops and disables the node\'s services, deletes the unit files orch wrote and every release; keeps shared/ (and packages, users) unless --purge')
    .option('--purge', 'also delete the app\'s root, shared/ included (also after a plain remove)')
    .option('--forks <n>', 'hosts worked on in parallel', '50')
    .option('--lock-wait <duration>', 'wait this long for another run\'s host lock: seconds or 500ms, 2s, 1m, 1h', '0')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (playbook: string, opts: Record<string, unknown>) => {
      const { runRemove } = await import('./lifecycle.js');
      return runRemove(playbook, opts);
    });

  secretFlags(program.command('query')).argument('[playbook]', 'playbook file (adds the DRIFT column: version the playbook would deploy)')
    .description('list every app orch installed on each host: current, previous, versions, when and by whom')
    .option('-i, --inventory <file>', 'inventory file (repeatable)', collect, [])
    .option('-l, --limit <pattern>', 'only hosts matching this pattern')
    .option('--app <name>', 'only this app')
    .option('-e, --extra-var <key=value>', 'set a variable (with a playbook)', collect, [])
    .option('--json', 'JSON array: {host, app, root, current, previous, versions, deployed_at, deployed_by, sha256}')
    .option('--detailed-exitcodes', 'exit 2 when a host drifts from the playbook')
    .option('--forks <n>', 'hosts queried in parallel', '50')
    .option('--insecure-host-keys', 'accept any SSH host key (dangerous; never the default)')
    .action(async (playbook: string | undefined, opts: Record<string, unknown>) => {
      const { runQuery } = await import('./lifecycle.js');
      return runQuery(playbook, opts);
    });

  secretFlags(program.command('logs')).argument('<playbook>', 'playbook file (its service steps name the logs)')
    .description('print the last lines of each selected host\'s service logs, prefixed by host, hosts in parallel (journalctl for systemd, supervisorctl tail, the daemon manager\'s <root>/shared/log/NAME.log)')
    .option('-i, --inventory <file>', 'inventory file (repeatable)', collect, [])
    .option('-l, --limit <pattern>', 'only hosts matching this pattern')
    .option('--node <path>', 'only the services of this node subtree')
    .option('-e, --extra-var <key=value>', 'set a variable', collect, [])
    .option('-n, --lines <n>', 'lines per service and host', '100')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--forks <n>', 'hosts read in parallel', '50')
    .option('--insecure-host-keys', 'accept any SSH host key (dangerous; never the default)')
    .action(async (playbook: string, opts: Record<string, unknown>) => {
      const { runLogs } = await import('./logs.js');
      return runLogs(playbook, opts);
    });

  program.command('exec').argument('[playbook]', 'a playbook (for its inventory); or give -i').argument('[command...]', 'after --: the command to run')
    .description('run an ad-hoc command on the selected hosts in parallel: orch exec -i inv.yml --limit web -- uptime')
    .option('-i, --inventory <file>', 'inventory file (repeatable)', collect, [])
    .option('-l, --limit <pattern>', 'hosts to run on (required; "all" for every host)')
    .option('--json', 'JSON array: {host, code, stdout, stderr, error} (error only when the host failed: exit N, or why it was unreachable)')
    .option('--forks <n>', 'hosts worked on in parallel', '50')
    .option('--timeout <duration>', 'fail a host whose command runs longer than this: seconds or 500ms, 2s, 1m, 1h')
    .option('--insecure-host-keys', 'accept any SSH host key (dangerous; never the default)')
    .action(async (playbook: string | undefined, command: string[], opts: Record<string, unknown>) => {
      const { runExec } = await import('./exec.js');
      return runExec([...(playbook !== undefined ? [playbook] : []), ...command], opts);
    });

  common(program.command('run').argument('<playbook>', 'playbook file').argument('<node.action>', 'the action: NODE.ACTION (e.g. shop.migrate), or ACTION of the root node'))
    .description('run a node action (actions: in the playbook; never part of apply) on the node\'s hosts, with its vars and roles')
    .option('--forks <n>', 'hosts worked on in parallel', '50')
    .option('--lock-wait <duration>', 'wait this long for another run\'s host lock: seconds or 500ms, 2s, 1m, 1h', '0')
    .action(async (playbook: string, ref: string, opts: Record<string, unknown>) => {
      const { runActionCommand } = await import('./run-action.js');
      return runActionCommand(playbook, ref, opts);
    });

  common(program.command('maintenance').argument('<on|off>', 'on: put the hosts in maintenance; off: take them out').argument('<playbook>', 'playbook file'))
    .description('run the nodes\' maintenance: on or off step lists (e.g. an nginx 503 page and a reload) on their hosts; planned and confirmed like apply')
    .option('--forks <n>', 'hosts worked on in parallel', '50')
    .option('--lock-wait <duration>', 'wait this long for another run\'s host lock: seconds or 500ms, 2s, 1m, 1h', '0')
    .option('-y, --yes', 'do not ask for confirmation (only asked when stdin and stdout are a terminal)')
    .action(async (mode: string, playbook: string, opts: Record<string, unknown>) => {
      const { runMaintenanceCommand } = await import('./maintenance.js');
      return runMaintenanceCommand(mode, playbook, opts);
    });

  program.command('ssh').argument('<args...>', '[PLAYBOOK] HOST [-- COMMAND...]: an optional playbook (for its inventory), the inventory host, then -- and a command')
    .usage('[options] [playbook] <host> [-- command...]')
    .description('open a login shell (or run -- COMMAND) on an inventory host, with its user, key, bastions and host-key rules')
    .option('-i, --inventory <file>', 'inventory file (repeatable)', collect, [])
    .option('--insecure-host-keys', 'accept any SSH host key (dangerous; never the default)')
    .action(async (args: string[], opts: Record<string, unknown>) => {
      const { runSsh } = await import('./ssh.js');
      return runSsh(args, opts);
    });

  secretFlags(program.command('shell')).argument('<playbook>', 'playbook file')
    .description('interactive shell over the playbook\'s node tree: cd, ls, inspect, plan, apply, actions, exec, connect, files (type help); reads commands from stdin when it is not a terminal')
    .option('-i, --inventory <file>', 'inventory file (repeatable)', collect, [])
    .option('-l, --limit <pattern>', 'only hosts matching this pattern')
    .option('-e, --extra-var <key=value>', 'set a variable, highest precedence (repeatable)', collect, [])
    .option('--insecure-host-keys', 'accept any SSH host key (dangerous; never the default)')
    .action(async (playbook: string, opts: Record<string, unknown>) => {
      const { runShell } = await import('./shell/shell.js');
      return runShell(playbook, opts);
    });

  program.command('validate').argument('<files...>', 'inventory or playbook files')
    .description('check files offline as plan would (YAML, schemas, rules, then each playbook compiled against its inventory and every script checked with bash -n); never connects, never builds')
    .option('-i, --inventory <file>', 'compile playbooks against this inventory (repeatable); default: each playbook\'s inventory:, else the inventory files given', collect, [])
    .option('-e, --extra-var <key=value>', 'set a variable, as for plan (repeatable)', collect, [])
    .option('--json', 'one JSON object: {valid, files: [{file, kind, compiled, inventories, hosts, note}], diagnostics: [{file, line, col, path, message}]}')
    .option('--vault-password-file <file>', 'Ansible Vault password file (repeatable); without one, vault values are not decrypted (each secret only needs a source)', collect, [])
    .option('--vault-id <[label@]file>', 'Ansible Vault password with a vault id (repeatable)', collect, [])
    .option('--age-identity <file>', 'age identity for .age vars files; without one they are not read')
    .action(async (files: string[], opts: Record<string, unknown>) => {
      const { runValidate } = await import('./validate.js');
      return runValidate(files, opts);
    });

  program.command('hosts').argument('[playbook]', 'playbook file')
    .description('list the hosts a playbook or inventory targets, with roles and groups (--json: also vars and the resolved connection)')
    .option('-i, --inventory <file>', 'inventory file (repeatable; orch YAML, or Ansible INI/YAML, forced with ansible:FILE)', collect, [])
    .option('-l, --limit <pattern>', 'only hosts matching this pattern')
    .option('--json', 'JSON: [{host, address, transport, user, port, roles, groups, vars, connection}], connection = what orch resolved and where each value came from')
    .option('--ssh-config <file>', 'read only this ssh_config file (like ssh -F; default ~/.ssh/config and /etc/ssh/ssh_config)')
    .action(async (playbook: string | undefined, opts: Record<string, unknown>) => {
      const { runHosts } = await import('./info.js');
      return runHosts(playbook, opts);
    });

  program.command('ssh-config').argument('<args...>', '[PLAYBOOK] HOST: an inventory host (with a playbook or -i), else an ssh_config alias')
    .description('show the connection orch would open to HOST, like ssh -G: address, user, port, identity files, jump chain, known_hosts, host-key policy, each with its source')
    .option('-i, --inventory <file>', 'inventory file (repeatable)', collect, [])
    .option('--json', 'JSON: {host, connection}')
    .option('--ssh-config <file>', 'read only this ssh_config file (like ssh -F; default ~/.ssh/config and /etc/ssh/ssh_config)')
    .action(async (args: string[], opts: Record<string, unknown>) => {
      const { runSshConfig } = await import('./info.js');
      return runSshConfig(args, opts);
    });

  common(program.command('tree').argument('<playbook>', 'playbook file'))
    .description('show nodes, role mapping resolved to hosts (narrowed by --limit), the vars each node sets and its steps with rendered labels; --node for a subtree, --json for data')
    .action(async (playbook: string, opts: Record<string, unknown>) => {
      const { runTree } = await import('./info.js');
      return runTree(playbook, opts);
    });

  program.command('bundle').argument('<source>', 'the app\'s source folder')
    .description('build a platter-style release tarball: dist/<package>-<version>-<platform>.tar.gz')
    .addOption(new Option('--builder <builder>', 'how to build').choices(['python', 'node', 'dir']).default('dir'))
    .option('--out <dir>', 'output folder', 'dist')
    .addOption(new Option('--format <format>', 'tarball or folder').choices(['tar.gz', 'dir']).default('tar.gz'))
    .option('-p, --python <python>', 'python builder: interpreter for the build virtualenv (default python3)')
    .option('-r, --requirements <file>', 'python builder: extra requirements file built into the bundle')
    .option('--pip-option <option>', 'python builder: option passed to pip wheel (repeatable), e.g. --pip-option=--no-index', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--prebuild-script <file>', 'bash script run before data/ is filled (HERE, DATA_DIR, SOURCE_DIR, SCRATCHPAD, INSTALL_SCRIPT, VIRTUAL_ENV)')
    .option('--postbuild-script <file>', 'bash script run after data/ is complete')
    .option('--package <name>', 'package name (default: package.json / pyproject.toml name, else the folder name)')
    .addOption(new Option('--version-scheme <scheme>', 'release id: file = VERSION as is; git = VERSION+g<sha>[.dirty]; timestamp = VERSION+<UTC yyyymmddHHMMSS>').choices(['file', 'git', 'timestamp']).default('file'))
    .option('--no-cache', 'neither read nor write the build cache')
    .option('--cache-dir <dir>', 'cache folder (default $XDG_CACHE_HOME/orch or ~/.cache/orch)')
    .option('--json', 'print the result as JSON')
    .action(async (source: string, opts: Record<string, unknown>) => {
      const { runBundle } = await import('./bundle.js');
      return runBundle(source, opts as unknown as Parameters<typeof runBundle>[1]);
    });

  program.command('publish').argument('<bundle|source>', 'a bundle tarball (.tar.gz), or a source folder built first as `orch bundle` would')
    .description('put a release into an artifact store (folder, file://, s3://, or http(s):// accepting PUT) and point a channel at it')
    .option('--to <store>', 'the store: a folder, file:///path, s3://BUCKET/PREFIX, or http(s)://server/path (WebDAV PUT + MOVE)')
    .option('--channel <name>', 'write <store>/<package>/<name>.json naming this release (e.g. stable)')
    .option('--sign <key>', 'sign the channel manifest with this SSH private key (ssh-keygen -Y sign -n orch-release)')
    .option('--base-url <url>', 'the store as hosts reach it, written into the manifest\'s url (default: --to)')
    .option('--expires <duration>', 'how long the signed channel manifest is valid: hosts refuse it afterwards (30d, 12h, 90m; default 30d)')
    .option('--s3-endpoint <url>', 's3:// store: an S3-compatible server (MinIO, Ceph...); default AWS, or $AWS_ENDPOINT_URL_S3')
    .option('--s3-region <region>', 's3:// store: its region; default $AWS_REGION or the AWS config files')
    .option('--json', 'print {url, manifest_url, manifest, signed, bytesUploaded}')
    .addOption(new Option('--builder <builder>', 'how to build a source folder').choices(['python', 'node', 'dir']).default('dir'))
    .option('--out <dir>', 'output folder of a build', 'dist')
    .option('-p, --python <python>', 'python builder: interpreter for the build virtualenv')
    .option('-r, --requirements <file>', 'python builder: extra requirements file')
    .option('--pip-option <option>', 'python builder: option passed to pip wheel (repeatable)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--prebuild-script <file>', 'bash script run before data/ is filled')
    .option('--postbuild-script <file>', 'bash script run after data/ is complete')
    .option('--no-cache', 'neither read nor write the build cache')
    .option('--cache-dir <dir>', 'cache folder (default $XDG_CACHE_HOME/orch or ~/.cache/orch)')
    .action(async (what: string, opts: Record<string, unknown>) => {
      const { runPublish } = await import('./publish.js');
      return runPublish(what, opts as unknown as Parameters<typeof runPublish>[1]);
    });

  program.command('revoke').argument('<channel>', 'the channel manifest: <store>/<package>/<channel>.json (a path, file:// or http(s):// URL)')
    .argument('<release>', 'the release to revoke: its sha256 (64 hex digits), or the version the channel names now')
    .description('revoke a release fleet-wide: append it to the channel\'s signed revocation list (<channel>.revoked); plan, apply and converge refuse it, hosts running it roll back at their next converge')
    .option('--sign <key>', 'the channel\'s signing key (SSH private key, as for orch publish --sign); required')
    .option('--reason <text>', 'why, kept in the list (default: revoked by hand)')
    .option('--json', 'print {url, added, entry}')
    .action(async (channel: string, release: string, opts: Record<string, unknown>) => {
      const { runRevoke } = await import('./revoke.js');
      return runRevoke(channel, release, opts as Parameters<typeof runRevoke>[2]);
    });

  program.command('clean-cache')
    .description('delete the bundle build cache (and the facts kept for speculative facts)')
    .option('--cache-dir <dir>', 'cache folder (default $XDG_CACHE_HOME/orch or ~/.cache/orch)')
    .action(async (opts: Record<string, unknown>) => {
      const { runCleanCache } = await import('./bundle.js');
      return runCleanCache(opts);
    });

  program.command('version').description('release versions')
    .command('bump').argument('<part>', 'major, minor or patch').argument('[source]', 'source folder', '.')
    .description('write the next semver version to SOURCE/VERSION and to the version field of its pyproject.toml / package.json / package-lock.json')
    .action(async (part: string, source: string) => {
      const { runVersionBump } = await import('./bundle.js');
      return runVersionBump(part, source);
    });

  const cron = program.command('cron').description('keep a playbook converged from the crontab (orch converge on a schedule)');
  cron.command('install').argument('<playbook>', 'playbook file')
    .description('add or replace the crontab entry that runs `orch converge PLAYBOOK` on a schedule (one entry per playbook)')
    .option('--every <interval>', 'Nm (N divides 60: 1,2,3,4,5,6,10,12,15,20,30), Nh (N divides 24: 1,2,3,4,6,8,12) or 1d')
    .option('--cron <expr>', 'a raw schedule instead of --every: "M H DOM MON DOW" or @hourly/@daily/...')
    .option('-l, --limit <pattern>', 'passed on to converge: only hosts matching this pattern')
    .option('--log <file>', 'converge log, one JSON line per run (default ~/.orch/converge-<playbook>.log)')
    .option('--vault-password-file <file>', 'passed on to converge: Ansible Vault password file (repeatable; its path goes into the crontab, never the password)', collect, [])
    .option('--vault-id <[label@]file>', 'passed on to converge: Ansible Vault id (repeatable)', collect, [])
    .option('--age-identity <file>', 'passed on to converge: age identity for .age vars files (default at run time: ORCH_AGE_IDENTITY, else ~/.config/orch/age.txt)')
    .action(async (playbook: string, opts: Record<string, unknown>) => {
      const { runCronInstall } = await import('./cron.js');
      return runCronInstall(playbook, opts);
    });
  cron.command('list')
    .description('list orch\'s crontab entries: playbook, schedule, command')
    .option('--json', 'JSON array of {playbook, schedule, command}')
    .action(async (opts: Record<string, unknown>) => {
      const { runCronList } = await import('./cron.js');
      return runCronList(opts);
    });
  cron.command('remove').argument('<playbook>', 'playbook file (need not exist any more)')
    .description('remove the playbook\'s crontab entry (nothing there is not an error)')
    .action(async (playbook: string) => {
      const { runCronRemove } = await import('./cron.js');
      return runCronRemove(playbook);
    });

  const secrets = program.command('secrets').description('age-encrypted files (https://age-encryption.org): init an identity, encrypt, view, edit, rekey');
  const ageId = (c: Command): Command => c.option('--age-identity <file>', 'age identity file (default: $ORCH_AGE_IDENTITY, else ~/.config/orch/age.txt)');
  secrets.command('init')
    .description('write a new age identity (mode 0600) and print its recipient age1... for .orch-recipients')
    .option('--identity <file>', 'where to write it (default: $ORCH_AGE_IDENTITY, else ~/.config/orch/age.txt)')
    .action(async (opts: Record<string, unknown>) => {
      const { runSecretsInit } = await import('./secrets.js');
      return runSecretsInit(opts);
    });
  secrets.command('encrypt').argument('<file>', 'plaintext file')
    .description('encrypt FILE to FILE.age (armored) for the recipients of the nearest .orch-recipients, or -r')
    .option('-o, --output <file>', 'encrypted file (default FILE.age)')
    .option('-r, --recipient <age1...>', 'recipient (repeatable; default: the nearest .orch-recipients file)', collect, [])
    .option('--binary', 'binary age output instead of armored text')
    .action(async (file: string, opts: Record<string, unknown>) => {
      const { runSecretsEncrypt } = await import('./secrets.js');
      return runSecretsEncrypt(file, opts);
    });
  ageId(secrets.command('view').argument('<file>', 'age-encrypted file'))
    .description('print the plaintext of an age file (armored or binary)')
    .action(async (file: string, opts: Record<string, unknown>) => {
      const { runSecretsView } = await import('./secrets.js');
      return runSecretsView(file, opts);
    });
  ageId(secrets.command('edit').argument('<file>', 'age-encrypted file'))
    .description('decrypt into a private temp file, run $VISUAL/$EDITOR, re-encrypt (atomic rename); the plaintext is removed even on Ctrl-C')
    .option('-r, --recipient <age1...>', 'recipient (repeatable; default: the nearest .orch-recipients file)', collect, [])
    .action(async (file: string, opts: Record<string, unknown>) => {
      const { runSecretsEdit } = await import('./secrets.js');
      return runSecretsEdit(file, opts);
    });
  ageId(secrets.command('rekey').argument('<file>', 'age-encrypted file'))
    .description('re-encrypt an age file for new recipients (-r, else the nearest .orch-recipients)')
    .option('-r, --recipient <age1...>', 'recipient (repeatable)', collect, [])
    .action(async (file: string, opts: Record<string, unknown>) => {
      const { runSecretsRekey } = await import('./secrets.js');
      return runSecretsRekey(file, opts);
    });

  program.command('completion').addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .description('print a shell completion script (commands, options, files, --limit host/role/group names, --node paths): source <(orch completion bash)')
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const { completionScript } = await import('./completion.js');
      process.stdout.write(completionScript(shell));
    });
  program.command('__complete', { hidden: true }).argument('[words...]').option('--line <text>', 'the command line up to the cursor')
    .allowUnknownOption().helpOption(false)
    .action(async (words: string[], opts: { line?: string }) => {
      const { completeWords, formatCompletions, splitLine } = await import('./completion.js');
      const w = opts.line !== undefined ? splitLine(opts.line).slice(1) : words;
      process.stdout.write(formatCompletions(await completeWords(program, w)));
    });
  return program;
}

/** Runs the CLI with `argv` (process.argv shape) and exits the process. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  let code: number = EXIT.OK;
  try {
    await program.parseAsync(argv);
  } catch (err) {
    code = exitCodeFor(err, (t) => void process.stderr.write(t));
  }
  // Pipes to stdout/stderr may still hold data: exit only once both are flushed.
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write('', () => r()))));
  process.exit(code);
}
