/**
 * orch outside its checkout, as on a fresh machine (docs/install.md): `npm pack` makes the
 * tarball, `npm install -g --prefix DIR` installs it (dependencies from the npm cache that
 * `npm ci` filled, else the registry), and the installed `orch` — found on PATH, run
 * from another folder with another HOME — prints its version and applies a playbook there
 * (local transport, real bash).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

describe('installed with npm pack + npm install -g, run outside the checkout', () => {
  let tmp: string;
  let prefix: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'orch-install-'));
    prefix = join(tmp, 'prefix');
    // The build is there already (npm test builds first): pack it as is.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: REPO });
    expect(pack.code, pack.stderr).toBe(0);
    const tgz = readdirSync(tmp).filter((f) => /^orch-.*\.tgz$/.test(f));
    expect(tgz).toEqual([`orch-${VERSION}.tgz`]);
    const inst = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(tmp, tgz[0]!)], { cwd: tmp });
    expect(inst.code, inst.stdout + inst.stderr).toBe(0);
    // A fresh shell: orch from PATH only, another HOME, no repository around.
    const home = join(tmp, 'home');
    mkdirSync(home);
    env = { PATH: `${join(prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin`, HOME: home, XDG_CACHE_HOME: join(home, '.cache'), LANG: 'C.UTF-8' };
  }, 300_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('orch --version prints the package version', async () => {
    expect(existsSync(join(prefix, 'bin', 'orch'))).toBe(true);
    const r = await run('orch', ['--version'], { cwd: tmp, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
  });

  it('orch apply of a playbook in another folder (local transport) installs a release there', async () => {
    const project = join(tmp, 'project');
    mkdirSync(join(project, 'app'), { recursive: true });
    writeFileSync(join(project, 'app', 'VERSION'), '1.0.0\n');
    writeFileSync(join(project, 'app', 'hello.txt'), 'hello\n');
    writeFileSync(join(project, 'inventory.yml'), 'hosts:\n  local: { transport: local }\n');
    const root = join(tmp, 'srv');
    writeFileSync(join(project, 'deploy.yml'), `
inventory: inventory.yml
vars: { app: hello, root: ${root} }
bundles:
  hello: { source: app }
steps:
  - install: { bundle: hello }
  - symlink: {}
  - put: { dest: "{{root}}/shared/greeting", content: "hi from {{host.name}}\\n" }
`);
    const r = await run('orch', ['apply', 'deploy.yml', '--yes'], { cwd: project, env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(join(root, 'current', 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(readFileSync(join(root, 'shared', 'greeting'), 'utf8')).toBe('hi from local\n');
    const again = await run('orch', ['plan', 'deploy.yml', '--detailed-exitcodes'], { cwd: project, env });
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });
});
