/**
 * The playbook's secret sources, read on the control machine before any host is
 * contacted: `vars_files:` (plain YAML, age, Ansible Vault) and `secret_commands:`
 * (Kamal's secret adapters, colmena's `keyCommand`). Their vars rank above the playbook's
 * `vars` and below node vars (Ansible's `vars_files` also beats play `vars`).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Diagnostic } from '../model/diagnostics.js';
import { diagAt } from '../model/diagnostics.js';
import { ConfigError, OrchError } from '../model/errors.js';
import type { Vars } from '../model/inventory.js';
import type { Playbook, SrcRef } from '../model/playbook.js';
import { decryptAge, identityPath, isAgeFile, readIdentities } from '../secrets/age.js';
import { isVaultText } from '../secrets/vault.js';
import type { Masker } from '../shell/mask.js';
import { isTooShortSecret, shortSecretMessage } from '../shell/mask.js';
import { displayPath, loadYaml, parseYamlText } from './load-yaml.js';
import { readVaultText, recordSecretLeaves } from './secret-values.js';
import { SECRET_PLACEHOLDER, type SourceIndexImpl } from './source-index.js';

/** Result of {@link loadSecretVars}. */
export interface SecretVars {
  /** The vars of `vars_files` (in order, later files win) then of `secret_commands`. */
  vars: Vars;
  /** Names of the vars that are secret: from encrypted files and from secret commands. */
  secretNames: string[];
  /** Absolute path -> sha256 (hex) of every vars file read, for a saved plan's staleness check. */
  fileHashes: Record<string, string>;
  diagnostics: Diagnostic[];
}

/** Options of {@link loadSecretVars}. */
export interface SecretVarsOptions {
  env: NodeJS.ProcessEnv;
  /**
   * `orch validate`: secret commands are not run and encrypted files that cannot be read
   * are skipped; each secret var gets {@link SECRET_PLACEHOLDER}.
   */
  placeholders?: boolean;
  /** Time limit of one secret command, in ms (default 120000). */
  commandTimeoutMs?: number;
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Reads `playbook.varsFiles` and runs `playbook.secretCommands` (one after the other, in
 * file order, through `/bin/sh -c` in the playbook's folder, stdin inherited so a password
 * manager may ask; trimmed stdout is the value). Every decrypted value and every command
 * output is recorded in `index.secretValues`.
 *
 * Diagnostics (at the `vars_files[i]` / `secret_commands.NAME` entry): a file that cannot
 * be read or decrypted (`secrets/prod.yml.age: cannot decrypt ...: wrong identity?`), a
 * file that is not a map of vars, a failing command (`secret command of "db_password"
 * failed (exit 1): <its stderr>`), a command that prints nothing.
 */
export async function loadSecretVars(playbook: Playbook, index: SourceIndexImpl, opts: SecretVarsOptions): Promise<SecretVars> {
  const out: SecretVars = { vars: {}, secretNames: [], fileHashes: {}, diagnostics: [] };
  const at = (src: SrcRef, message: string): void => void out.diagnostics.push(diagAt(index, src.file, src.path, message));
  const secret = new Set<string>();
  for (const vf of playbook.varsFiles ?? []) {
    const name = displayPath(vf.file);
    let bytes: Buffer;
    try {
      bytes = await readFile(vf.file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      at(vf.src, `cannot read vars file ${name}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
      continue;
    }
    out.fileHashes[vf.file] = createHash('sha256').update(bytes).digest('hex');
    let value: unknown;
    let encrypted = false;
    if (isVaultText(bytes)) {
      encrypted = true;
      const r = readVaultText(bytes.toString('utf8'), index);
      if ('error' in r) {
        at(vf.src, `${name}: cannot decrypt: ${r.error}`);
        continue;
      }
      if (r.text === SECRET_PLACEHOLDER) continue; // validate without the password: its names are unknown
      const p = parseYamlText(r.text, name, index);
      out.diagnostics.push(...p.diagnostics.map(hidePlaintext));
      value = p.value;
    } else if (isAgeFile(bytes)) {
      encrypted = true;
      let text: string;
      try {
        const ids = readIdentities(identityPath(index.secretReading?.ageIdentity, opts.env));
        text = Buffer.from(await decryptAge(bytes, ids, name)).toString('utf8');
      } catch (e) {
        if (!(e instanceof OrchError)) throw e;
        if (opts.placeholders) continue;
        at(vf.src, e instanceof ConfigError && e.diagnostics[0] ? e.diagnostics[0].message : e.message);
        continue;
      }
      const p = parseYamlText(text, name, index);
      out.diagnostics.push(...p.diagnostics.map(hidePlaintext));
      value = p.value;
    } else {
      const l = await loadYaml(vf.file, index);
      out.diagnostics.push(...l.diagnostics);
      value = l.value;
    }
    if (value === undefined || value === null) continue;
    if (!isMap(value)) {
      at(vf.src, `${name} must hold a map of vars (name: value), not ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}`);
      continue;
    }
    if (encrypted) recordSecretLeaves(value, index, name);
    for (const [k, v] of Object.entries(value)) {
      out.vars[k] = v;
      if (encrypted) secret.add(k);
      else secret.delete(k);
    }
  }
  const cwd = dirname(playbook.file);
  for (const c of playbook.secretCommands ?? []) {
    secret.add(c.name);
    if (opts.placeholders) {
      out.vars[c.name] = SECRET_PLACEHOLDER;
      index.secretValues.set(SECRET_PLACEHOLDER, `secret_commands.${c.name}`);
      continue;
    }
    const r = await runSecretCommand(c.command, cwd, opts.env, opts.commandTimeoutMs ?? 120_000);
    if (r.error !== undefined) {
      at(c.src, `secret command of "${c.name}" (${c.command}) failed: ${r.error}`);
      continue;
    }
    const value = r.stdout.trim();
    if (value === '') {
      at(c.src, `secret command of "${c.name}" (${c.command}) printed nothing; its trimmed stdout is the value`);
      continue;
    }
    out.vars[c.name] = value;
    index.secretValues.set(value, `secret command of "${c.name}"`);
  }
  out.secretNames = [...secret];
  return out;
}

/**
 * A YAML problem in decrypted text, without the text: YAML messages may quote what they
 * read, and the values of a file that did not parse are not masked yet.
 */
function hidePlaintext(d: Diagnostic): Diagnostic {
  return { ...d, path: '', message: `the decrypted content is not valid YAML at line ${d.line}, column ${d.col} (fix it with orch secrets edit or ansible-vault edit)` };
}

/**
 * Runs `command` with `/bin/sh -c` in `cwd`: stdin inherited, stdout and stderr captured
 * (1 MiB each at most). @returns stdout, or `error` = `exit N: <last lines of stderr>` /
 * `killed after N s` / the spawn error.
 */
function runSecretCommand(command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ stdout: string; error?: string }> {
  const LIMIT = 1 << 20;
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, stdio: ['inherit', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < LIMIT) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < LIMIT) err.push(b);
      errLen += b.length;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ stdout: '', error: e.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) return resolve({ stdout });
      const tail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-5).join('\n');
      const why = timedOut ? `killed after ${timeoutMs / 1000} s` : code !== null ? `exit ${code}` : `killed by ${signal}`;
      resolve({ stdout: '', error: tail ? `${why}: ${tail}` : `${why} (nothing on stderr)` });
    });
  });
}

/**
 * Adds every value of `index.secretValues` to `masker`. A value of 1 to 3 characters
 * cannot be masked: it gives a diagnostic naming where it came from (`<command line>:1:1:
 * secrets: a secret value of group_vars/all/vault.yml is 2 characters long; ...`).
 */
export function maskSecretValues(masker: Masker, index: SourceIndexImpl): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [v, origin] of index.secretValues) {
    if (isTooShortSecret(v)) out.push({ file: origin.replace(/^.* in /, ''), line: 1, col: 1, path: '', message: shortSecretMessage(`a secret value of ${origin}`, v.length) });
    else masker.add(v);
  }
  return out;
}

/** The playbook with the secret sources' vars merged above its `vars`, and their names added to `secret`. */
export function withSecretVars(playbook: Playbook, sv: SecretVars): Playbook {
  return { ...playbook, vars: { ...playbook.vars, ...sv.vars }, secret: [...new Set([...playbook.secret, ...sv.secretNames])] };
}
