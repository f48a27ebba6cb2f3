/**
 * The benchmark's workload, identical for every tool: a `dir` app of VERSION, bin/run and
 * a 5 MiB incompressible blob (random bytes), deployed to `/srv/app/versions/<V>` with
 * `/srv/app/current -> versions/<V>` and a restart that appends a line to
 * `/srv/app/restarts`. This module writes the inputs of each tool (orch playbook and
 * inventory, Ansible playbook/inventory/ansible.cfg, the bare ssh scripts) and checks a
 * host's result through its private folder on the control machine (`host.dir/srv/...`).
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';

/** The app's folder on every host. */
export const APP_ROOT = '/srv/app';
/** The release version deployed by every tool. */
export const APP_VERSION = '1.0.0';
/** Size of the random blob, bytes (5 MiB). */
export const BLOB_BYTES = 5 * 1024 * 1024;

/** One host as the tools address it (through the delay proxy, address/port differ). */
export interface Endpoint {
  name: string;
  address: string;
  port: number;
}

/**
 * Writes the app source `dir/app` (VERSION, bin/run, blob.bin of `BLOB_BYTES` random
 * bytes) and the bare script's tarball `dir/release.tar.gz` (`tar czf -C app .`).
 * @returns absolute paths of the app folder and the tarball.
 */
export async function writeApp(dir: string, tar: (args: string[]) => Promise<void>): Promise<{ app: string; tarball: string }> {
  const app = path.join(dir, 'app');
  await mkdir(path.join(app, 'bin'), { recursive: true });
  await writeFile(path.join(app, 'VERSION'), `${APP_VERSION}\n`);
  await writeFile(path.join(app, 'bin', 'run'), '#!/bin/sh\necho app\n', { mode: 0o755 });
  await writeFile(path.join(app, 'blob.bin'), randomBytes(BLOB_BYTES));
  const tarball = path.join(dir, 'release.tar.gz');
  await tar(['czf', tarball, '-C', app, '.']);
  return { app, tarball };
}

/**
 * orch's playbook for the workload: install (dir bundle) + symlink + `service` with
 * `manager: command`. `inventory` is relative to the playbook's folder.
 */
export function orchPlaybookYaml(inventory: string): string {
  return stringifyYaml({
    inventory,
    vars: { app: 'app', root: APP_ROOT },
    bundles: { app: { source: 'app', builder: 'dir' } },
    nodes: {
      app: {
        steps: [
          { install: { bundle: 'app' } },
          { symlink: {} },
          { service: { name: 'app', manager: 'command', command: `echo restarted >> ${APP_ROOT}/restarts` } },
        ],
      },
    },
  });
}

/**
 * orch inventory YAML for `endpoints` (user root, the fleet's key and a known_hosts file).
 */
export function orchInventoryYaml(endpoints: readonly Endpoint[], identityFile: string, knownHosts: string): string {
  return stringifyYaml({
    defaults: { user: 'root', identity: identityFile, known_hosts: knownHosts },
    hosts: Object.fromEntries(endpoints.map((e) => [e.name, { address: e.address, port: e.port }])),
  });
}

/**
 * An inventory of `count` SSH hosts `n1..nCOUNT` at 198.18.0.0/15 (RFC 2544's benchmarking
 * range) for `orch plan --offline`, which never connects: no packet goes anywhere.
 */
export function bigInventoryYaml(count: number, identityFile: string, knownHosts: string): string {
  const lines = ['defaults:', `  user: root`, `  identity: ${JSON.stringify(identityFile)}`, `  known_hosts: ${JSON.stringify(knownHosts)}`, 'hosts:'];
  for (let i = 1; i <= count; i++) lines.push(`  n${i}: { address: 198.18.${(i >> 8) & 255}.${i & 255} }`);
  return `${lines.join('\n')}\n`;
}

/**
 * The equivalent Ansible play: mkdir, copy the tarball, unarchive it on the host, link
 * `current`, restart (copy/unarchive/link/command). No fact gathering, strategy free.
 */
export function ansiblePlaybookYaml(tarball: string): string {
  const v = APP_VERSION;
  return stringifyYaml([
    {
      hosts: 'fleet',
      gather_facts: false,
      strategy: 'free',
      tasks: [
        { name: 'versions dir', file: { path: `${APP_ROOT}/versions/${v}`, state: 'directory', mode: '0755' } },
        { name: 'upload release', copy: { src: tarball, dest: `${APP_ROOT}/release-${v}.tar.gz`, mode: '0644' } },
        { name: 'unpack release', unarchive: { src: `${APP_ROOT}/release-${v}.tar.gz`, dest: `${APP_ROOT}/versions/${v}`, remote_src: true } },
        { name: 'switch current', file: { src: `versions/${v}`, dest: `${APP_ROOT}/current`, state: 'link', force: true } },
        { name: 'restart', command: `sh -c 'echo restarted >> ${APP_ROOT}/restarts'` },
      ],
    },
  ]);
}

/** Ansible INI inventory: group `fleet`, user root, the fleet's key. */
export function ansibleInventoryIni(endpoints: readonly Endpoint[], identityFile: string): string {
  return [
    '[fleet]',
    ...endpoints.map((e) => `${e.name} ansible_host=${e.address} ansible_port=${e.port}`),
    '',
    '[fleet:vars]',
    'ansible_user=root',
    `ansible_ssh_private_key_file=${identityFile}`,
    'ansible_python_interpreter=/usr/bin/python3',
    '',
  ].join('\n');
}

/**
 * Tuned ansible.cfg: pipelining, forks = hosts, no fact gathering, strategy free, host
 * key checking against the fleet's known_hosts, ControlPersist (Ansible's default) but
 * no `-C` (the payload is incompressible), no retry files.
 */
export function ansibleCfg(forks: number, knownHosts: string, localTmp: string): string {
  return [
    '[defaults]',
    `forks = ${forks}`,
    'gathering = explicit',
    'host_key_checking = True',
    'strategy = free',
    'retry_files_enabled = False',
    'interpreter_python = /usr/bin/python3',
    `local_tmp = ${localTmp}`,
    'deprecation_warnings = False',
    '',
    '[ssh_connection]',
    'pipelining = True',
    `ssh_args = -F /dev/null -o ControlMaster=auto -o ControlPersist=60s -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${knownHosts}`,
    '',
  ].join('\n');
}

/** Lines `ADDRESS PORT` read by the bare scripts. */
export function hostListText(endpoints: readonly Endpoint[]): string {
  return endpoints.map((e) => `${e.address} ${e.port}\n`).join('');
}

/** Bash line defining `opts` for the bare scripts' `ssh` (ControlMaster off, host keys checked; KNOWN_HOSTS and IDENTITY from the environment). */
export const SSH_OPTS = `opts=(-F /dev/null -o BatchMode=yes -o ControlMaster=no -o ControlPath=none -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o IdentitiesOnly=yes -i "$IDENTITY" -o LogLevel=ERROR -o ConnectTimeout=20)`;

/**
 * Bash lines that run `ssh … REMOTE < INPUT` on every host of the list file LIST
 * (`ADDRESS PORT` lines) at once and wait for all of them, leaving `rc` 0 or 1 (any
 * failed). REMOTE and INPUT are inserted as bash words (quote them as needed); needs
 * {@link SSH_OPTS}' `opts` array before it.
 */
export function sshFanOut(list: string, remote: string, input: string): string {
  return `pids=()
while read -r addr port; do
  ssh "\${opts[@]}" -p "$port" "root@$addr" ${remote} < ${input} &
  pids+=($!)
done < ${list}
rc=0
for p in "\${pids[@]}"; do wait "$p" || rc=1; done`;
}

/**
 * The bare parallel ssh deploy, as one would write it by hand:
 * `ssh host 'mkdir; tar xz; ln -sfn; mv -T; restart' < release.tar.gz` for every host
 * at once (ControlMaster off). Usage: `bash bare-deploy.sh HOSTLIST TARBALL` with
 * KNOWN_HOSTS and IDENTITY in the environment; exits 1 when any host failed.
 */
export function bareDeployScript(): string {
  const v = APP_VERSION;
  const remote = `set -e; mkdir -p ${APP_ROOT}/versions/${v}; tar xzf - -C ${APP_ROOT}/versions/${v}; ln -sfn versions/${v} ${APP_ROOT}/current.tmp; mv -T ${APP_ROOT}/current.tmp ${APP_ROOT}/current; echo restarted >> ${APP_ROOT}/restarts`;
  return `#!/bin/bash
set -u
${SSH_OPTS}
${sshFanOut('"$1"', `'${remote}'`, '"$2"')}
exit $rc
`;
}

/** `ssh HOST true` for every host at once (the no-op floor). Usage: `bash ssh-true.sh HOSTLIST`. */
export function sshTrueScript(): string {
  return `#!/bin/bash
set -u
${SSH_OPTS}
${sshFanOut('"$1"', 'true', '/dev/null')}
exit $rc
`;
}

/** Removes the app folder and orch's registry from a host (through its private folder). */
export async function wipeHost(hostDir: string): Promise<void> {
  await rm(path.join(hostDir, 'srv', 'app'), { recursive: true, force: true });
  await rm(path.join(hostDir, 'root', '.orch'), { recursive: true, force: true });
}

/**
 * Checks that a host has the release: `current -> versions/<V>`, the blob at full size
 * and `restarts` holding `restarts` lines. Resolves with a problem text, or undefined.
 */
export async function checkHost(hostDir: string, restarts: number): Promise<string | undefined> {
  const root = path.join(hostDir, 'srv', 'app');
  try {
    const link = await readlink(path.join(root, 'current'));
    if (link !== `versions/${APP_VERSION}` && link !== `${APP_ROOT}/versions/${APP_VERSION}`) return `current -> ${link}`;
    if (!(await lstat(path.join(root, 'current'))).isSymbolicLink()) return 'current is not a symlink';
    const size = (await stat(path.join(root, 'versions', APP_VERSION, 'blob.bin'))).size;
    if (size !== BLOB_BYTES) return `blob.bin has ${size} bytes, want ${BLOB_BYTES}`;
    const lines = (await readFile(path.join(root, 'restarts'), 'utf8')).split('\n').filter(Boolean).length;
    if (lines !== restarts) return `restarts has ${lines} lines, want ${restarts}`;
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

