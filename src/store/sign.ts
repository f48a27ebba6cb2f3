/**
 * Manifest signatures with OpenSSH's own signing (`ssh-keygen -Y sign|find-principals|
 * verify`, OpenSSH >= 8.1): nothing to install, on the control machine or on a host.
 * Namespace {@link SIGN_NAMESPACE}, so a signature made for git commits or anything
 * else can never pass as a release signature. Trust is an `allowed_signers` file
 * (ssh-keygen(1) "ALLOWED SIGNERS": `principal [namespaces="orch-release"] ssh-ed25519 AAAA...`).
 * Source: git's `gpg.format=ssh` signing, which uses the same three commands.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from './store-error.js';

/** The `-n` namespace of every release signature. */
export const SIGN_NAMESPACE = 'orch-release';

interface Ran { code: number | null; stdout: string; stderr: string }

function runKeygen(args: string[], stdin: Buffer | string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh-keygen', args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(new StoreError(`cannot run ssh-keygen (OpenSSH >= 8.1 is needed for signatures): ${e.message}`)));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}

/**
 * Signs `data` with the private key `keyFile` (`ssh-keygen -Y sign -f KEY -n orch-release`).
 * @returns the armored signature text (`-----BEGIN SSH SIGNATURE-----...`).
 * @throws StoreError when ssh-keygen fails (missing key, passphrase without an agent...), with its message.
 */
export async function signData(data: Buffer | string, keyFile: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'orch-sign-'));
  try {
    const file = join(dir, 'manifest');
    await writeFile(file, data);
    const r = await runKeygen(['-Y', 'sign', '-f', keyFile, '-n', SIGN_NAMESPACE, file], '', env);
    if (r.code !== 0) throw new StoreError(`cannot sign with ${keyFile}: ${r.stderr.trim() || `ssh-keygen exit ${r.code}`}`);
    return await readFile(`${file}.sig`, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Verifies that `signature` is a valid {@link SIGN_NAMESPACE} signature of `data` by a
 * key listed in `allowedSigners` (a file): finds the signer's principal with
 * `-Y find-principals`, then checks with `-Y verify -I PRINCIPAL`.
 * @param origin the manifest's URL, for messages.
 * @returns the principal that signed.
 * @throws StoreError `<origin>: signature refused: ...` for a signature by an unknown
 *   key, of other bytes (a tampered manifest), of another namespace, or malformed.
 */
export async function verifyData(data: Buffer | string, signature: string, allowedSigners: string, origin: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'orch-verify-'));
  try {
    const sig = join(dir, 'manifest.sig');
    await writeFile(sig, signature);
    const found = await runKeygen(['-Y', 'find-principals', '-s', sig, '-f', allowedSigners], '', env);
    const principal = found.stdout.split('\n')[0]?.trim();
    if (found.code !== 0 || !principal) {
      throw new StoreError(`${origin}: signature refused: not made by a key in ${allowedSigners}${found.stderr.trim() ? ` (${found.stderr.trim()})` : ''}`);
    }
    const r = await runKeygen(['-Y', 'verify', '-f', allowedSigners, '-I', principal, '-n', SIGN_NAMESPACE, '-s', sig], data, env);
    if (r.code !== 0) {
      throw new StoreError(`${origin}: signature refused: the manifest does not match its signature by ${principal} (tampered, or signed for another namespace than ${SIGN_NAMESPACE}): ${(r.stderr || r.stdout).trim()}`);
    }
    return principal;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
