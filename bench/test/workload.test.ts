/**
 * The workload's scripts and checks, with real bash and tar: the bare scripts parse,
 * a release unpacked the way the bare script does it passes `checkHost`, and each kind
 * of wrong result is named.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, appendFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP_VERSION, BLOB_BYTES, ansibleCfg, ansibleInventoryIni, ansiblePlaybookYaml, bareDeployScript, bigInventoryYaml, checkHost,
  orchPlaybookYaml, sshTrueScript, wipeHost, writeApp,
} from '../workload.js';

let work: string;
let tarball: string;

const tar = async (args: string[]): Promise<void> => {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
};

/** Makes `hostDir/srv/app` the way the bare script's remote command does, with real tar. */
function deployLikeBare(hostDir: string): void {
  const root = path.join(hostDir, 'srv', 'app');
  const v = path.join(root, 'versions', APP_VERSION);
  mkdirSync(v, { recursive: true });
  const r = spawnSync('tar', ['xzf', tarball, '-C', v], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  symlinkSync(`versions/${APP_VERSION}`, path.join(root, 'current'));
  writeFileSync(path.join(root, 'restarts'), 'restarted\n');
  mkdirSync(path.join(hostDir, 'root', '.orch'), { recursive: true });
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'orch-bench-test-'));
  ({ tarball } = await writeApp(work, tar));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('workload', () => {
  it('the tarball holds VERSION, bin/run and a blob of incompressible random bytes', () => {
    const list = spawnSync('tar', ['tzvf', tarball], { encoding: 'utf8' }).stdout;
    expect(list).toMatch(new RegExp(` ${BLOB_BYTES} .* \\./blob\\.bin\\n`));
    expect(list).toContain('./VERSION\n');
    expect(list).toContain('./bin/run\n');
    const size = Number(spawnSync('stat', ['-c', '%s', tarball], { encoding: 'utf8' }).stdout);
    expect(size).toBeGreaterThan(BLOB_BYTES); // gzip cannot shrink random bytes
  });

  it.each([
    ['bare-deploy.sh', bareDeployScript()],
    ['ssh-true.sh', sshTrueScript()],
  ])('%s passes bash -n and turns ControlMaster off', (_name, text) => {
    const r = spawnSync('bash', ['-n'], { input: text, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(text).toContain('-o ControlMaster=no -o ControlPath=none');
  });

  it('checkHost accepts a host deployed like the bare script, and wipeHost removes it', async () => {
    const host = path.join(work, 'h-ok');
    deployLikeBare(host);
    expect(await checkHost(host, 1)).toBeUndefined();
    await wipeHost(host);
    expect(await checkHost(host, 1)).toMatch(/^ENOENT: no such file or directory, readlink '.*\/h-ok\/srv\/app\/current'$/);
  });

  it.each([
    ['a wrong link', (root: string) => {
      rmSync(path.join(root, 'current'));
      symlinkSync('versions/0.9.0', path.join(root, 'current'));
    }, 'current -> versions/0.9.0'],
    ['a short blob', (root: string) => truncateSync(path.join(root, 'versions', APP_VERSION, 'blob.bin'), 1000), `blob.bin has 1000 bytes, want ${BLOB_BYTES}`],
    ['a second restart', (root: string) => appendFileSync(path.join(root, 'restarts'), 'restarted\n'), 'restarts has 2 lines, want 1'],
  ])('checkHost names %s', async (name, spoil, message) => {
    const host = path.join(work, `h-${name.replace(/\W/g, '')}`);
    deployLikeBare(host);
    spoil(path.join(host, 'srv', 'app'));
    expect(await checkHost(host, 1)).toBe(message);
  });

  it('the tool inputs describe the same deploy', () => {
    const orch = parseYaml(orchPlaybookYaml('inv.yml'));
    expect(orch.nodes.app.steps.map((s: object) => Object.keys(s)[0])).toEqual(['install', 'symlink', 'service']);
    const play = parseYaml(ansiblePlaybookYaml('/x/release.tar.gz'))[0];
    expect(play).toMatchObject({ gather_facts: false, strategy: 'free' });
    expect(play.tasks.map((t: { name: string }) => t.name)).toEqual(['versions dir', 'upload release', 'unpack release', 'switch current', 'restart']);
    expect(ansibleCfg(8, '/k', '/t')).toMatch(/forks = 8\n[\s\S]*pipelining = True\n[\s\S]*UserKnownHostsFile=\/k/);
    expect(ansibleInventoryIni([{ name: 'h1', address: '10.0.0.1', port: 22 }], '/id')).toContain('h1 ansible_host=10.0.0.1 ansible_port=22\n');
  });

  it('the big inventory has COUNT hosts in 198.18.0.0/15', () => {
    const inv = parseYaml(bigInventoryYaml(300, '/id', '/kh'));
    const names = Object.keys(inv.hosts);
    expect(names).toHaveLength(300);
    expect(inv.hosts.n1).toEqual({ address: '198.18.0.1' });
    expect(inv.hosts.n300).toEqual({ address: '198.18.1.44' });
  });
});
