/**
 * `orch secrets` with real age files: the CLI round trip (init, encrypt, view, edit with a
 * scripted $EDITOR, rekey), interoperability with Debian's `age`/`age-keygen` both ways, and
 * the plaintext temp file of `edit` removed after Ctrl-C in the editor (a tmux pty).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ORCH, orch } from './cli.js';
import { Pty, haveTmux } from './terminal-pty.js';

const work = mkdtempSync(join(tmpdir(), 'orch-secrets-age-'));
const home = join(work, 'home');
const tmp = join(work, 'tmp');
spawnSync('mkdir', ['-p', home, tmp]);
const env = { HOME: home, TMPDIR: tmp };
const pties: Pty[] = [];
afterAll(() => pties.forEach((p) => p.close()));

const run = (args: string[], extra: Record<string, string> = {}) => orch(['secrets', ...args], { ...env, ...extra }, { cwd: work });

describe('orch secrets (age)', () => {
  let recipient = '';
  const value = `s3cret-${randomBytes(12).toString('hex')}`;

  it('init writes a 0600 identity and prints its recipient; encrypt/view round-trip via .orch-recipients', async () => {
    const r = await run(['init']);
    expect(r.code, r.stderr).toBe(0);
    recipient = r.stdout.trim();
    expect(recipient).toMatch(/^age1[a-z0-9]{58}$/);
    const idFile = join(home, '.config/orch/age.txt');
    expect(statSync(idFile).mode & 0o777).toBe(0o600);
    // age-keygen -y derives the same recipient from orch's identity file
    expect(spawnSync('age-keygen', ['-y', idFile], { encoding: 'utf8' }).stdout.trim()).toBe(recipient);
    expect((await run(['init'])).code).toBe(1); // refuses to overwrite

    writeFileSync(join(work, '.orch-recipients'), `# team\n${recipient}\n`);
    writeFileSync(join(work, 'secrets.yml'), `db_password: ${value}\n`);
    const e = await run(['encrypt', 'secrets.yml']);
    expect(e.code, e.stderr).toBe(0);
    const enc = readFileSync(join(work, 'secrets.yml.age'), 'utf8');
    expect(enc).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    expect(enc).not.toContain(value);
    const v = await run(['view', 'secrets.yml.age']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toBe(`db_password: ${value}\n`);
  });

  it('interoperates with Debian age both ways (armored and binary)', async () => {
    const idFile = join(home, '.config/orch/age.txt');
    // age CLI encrypts (binary), orch decrypts
    const other = `other-${randomBytes(8).toString('hex')}\n`;
    writeFileSync(join(work, 'p.txt'), other);
    expect(spawnSync('age', ['-r', recipient, '-o', join(work, 'p.bin.age'), join(work, 'p.txt')]).status).toBe(0);
    const v = await run(['view', 'p.bin.age']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toBe(other);
    // orch encrypts (armored and binary), age -d decrypts
    for (const bin of [false, true]) {
      const out = join(work, `o${bin ? 'b' : 'a'}.age`);
      expect((await run(['encrypt', 'p.txt', '-o', out, ...(bin ? ['--binary'] : [])])).code).toBe(0);
      const d = spawnSync('age', ['-d', '-i', idFile, out], { encoding: 'utf8' });
      expect(d.status, d.stderr).toBe(0);
      expect(d.stdout).toBe(other);
    }
  });

  it('view with a wrong identity: exit 1 naming the file', async () => {
    const wrong = join(work, 'wrong.txt');
    spawnSync('age-keygen', ['-o', wrong]);
    const v = await run(['view', 'secrets.yml.age', '--age-identity', wrong]);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('secrets.yml.age');
    expect(v.stdout).not.toContain(value);
    const e = await run(['view', 'secrets.yml.age'], { ORCH_AGE_IDENTITY: wrong });
    expect(e.code).toBe(1);
  });

  it('edit with a scripted $EDITOR re-encrypts; no plaintext left in TMPDIR', async () => {
    const editor = join(work, 'ed.sh');
    writeFileSync(editor, '#!/bin/sh\nprintf "api_key: added\\n" >> "$1"\n', { mode: 0o755 });
    const r = await run(['edit', 'secrets.yml.age'], { EDITOR: editor });
    expect(r.code, r.stderr).toBe(0);
    const v = await run(['view', 'secrets.yml.age']);
    expect(v.stdout).toBe(`db_password: ${value}\napi_key: added\n`);
    expect(readFileSync(join(work, 'secrets.yml.age'), 'utf8')).toMatch(/^-----BEGIN AGE/);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('rekey to a new recipient: the old identity no longer decrypts, the new one does', async () => {
    const id2 = join(work, 'id2.txt');
    spawnSync('age-keygen', ['-o', id2]);
    const r2 = spawnSync('age-keygen', ['-y', id2], { encoding: 'utf8' }).stdout.trim();
    expect((await run(['rekey', 'secrets.yml.age', '-r', r2])).code).toBe(0);
    expect((await run(['view', 'secrets.yml.age'])).code).toBe(1);
    const v = await run(['view', 'secrets.yml.age', '--age-identity', id2]);
    expect(v.stdout).toContain(value);
    expect((await run(['rekey', 'secrets.yml.age', '--age-identity', id2])).code).toBe(0); // back to .orch-recipients
    expect((await run(['view', 'secrets.yml.age'])).stdout).toContain(value);
  });

  it.skipIf(!haveTmux())('Ctrl-C in the editor (pty): the plaintext temp file is removed, the file unchanged', async () => {
    const before = readFileSync(join(work, 'secrets.yml.age'));
    const editor = join(work, 'slow-ed.sh');
    // The editor announces the temp path, then waits (as a user in vi would) until interrupted.
    writeFileSync(editor, '#!/bin/sh\necho "EDITING $1"\nsleep 300\n', { mode: 0o755 });
    const p = new Pty([process.execPath, ORCH, 'secrets', 'edit', 'secrets.yml.age'], { ...env, EDITOR: editor }, { cwd: work });
    pties.push(p);
    const screen = await p.waitFor(/EDITING \S+/, 30_000);
    const path = /EDITING (\S+)/.exec(screen)![1]!;
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path, 'utf8')).toContain(value);
    p.keys('C-c');
    const { code } = await p.exit(30_000);
    expect(code).not.toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
    expect(readFileSync(join(work, 'secrets.yml.age')).equals(before)).toBe(true);
  });
});
