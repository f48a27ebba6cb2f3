/**
 * The `files` subshell of `orch shell` (python-deployer's SCP shell), over SFTP on the
 * host's shell connection: remote `ls`, `cd`, `pwd`, `stat`, `cat`; `get REMOTE [LOCAL]`,
 * `put LOCAL [REMOTE]`; `edit REMOTE` (`$VISUAL`/`$EDITOR`, default `vi`, on a local
 * copy, uploaded back only if it changed); local `lls`, `lcd`, `lpwd`; `exit` returns
 * to orch's prompt. Tab completes remote paths (and local ones after `put`/`lls`/`lcd`).
 *
 * Every upload (`put`, `edit`) goes to a temp name in the destination's folder and is
 * renamed over the destination (OpenSSH posix-rename), keeping the old file's mode, so
 * a reader sees the old or the new file, never a partial one. Downloads do the same locally.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, posix, resolve as resolveLocal, join } from 'node:path';
import type { Connection, RemoteFileInfo, RemoteFiles } from '../../transport/transport.js';
import { EXIT } from '../exit-codes.js';
import { splitWords } from './words.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** `drwxr-xr-x`-style text of a mode. */
function modeText(info: RemoteFileInfo): string {
  const t = info.type === 'dir' ? 'd' : info.type === 'link' ? 'l' : info.type === 'file' ? '-' : '?';
  let s = '';
  for (let i = 8; i >= 0; i--) s += info.mode & (1 << i) ? 'rwx'[(8 - i) % 3] : '-';
  return t + s;
}

/** What the file subshell needs of the orch shell (structural, so files.ts never imports shell.ts). */
export interface FilesHost {
  io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } };
  model: { masker: { mask(s: string): string } };
  releaseTerminal(): void;
  nextLine(prompt: string, completer: (line: string) => [string[], string] | Promise<[string[], string]>, main: boolean): Promise<string | null>;
}

/** Runs the subshell until `exit` or end of input; returns the last command's code. */
export async function runFiles(shell: FilesHost, conn: Connection): Promise<number> {
  const out = (s: string): void => void shell.io.stdout.write(s);
  const err = (s: string): void => void shell.io.stderr.write(s);
  if (!conn.sftp) {
    err(`${conn.host}: files needs an SSH host (local hosts: use your own shell)\n`);
    return EXIT.INVALID;
  }
  let sftp: RemoteFiles;
  try {
    sftp = await conn.sftp();
  } catch (e) {
    err(`${(e as Error).message}\n`);
    return EXIT.FAILED;
  }
  let rcwd = await sftp.realpath('.');
  let lcwd = process.cwd();
  const r = (p: string | undefined): string => (p === undefined || p === '' ? rcwd : posix.resolve(rcwd, p));
  const l = (p: string | undefined): string => (p === undefined || p === '' ? lcwd : resolveLocal(lcwd, p));
  const tempName = (dest: string): string => posix.join(posix.dirname(dest), `.${posix.basename(dest)}.orch-${randomBytes(4).toString('hex')}`);

  /**
   * Uploads `local` to `dest` through a temp name created exclusively (never a name
   * another user planted), with `mode` set on the open handle, then a rename.
   */
  const uploadAtomic = async (local: string, dest: string, mode: number): Promise<void> => {
    const tmp = tempName(dest);
    try {
      await sftp.upload(local, tmp, mode);
      await sftp.rename(tmp, dest);
    } catch (e) {
      await sftp.remove(tmp).catch(() => undefined);
      throw e;
    }
  };
  const statOrNull = (p: string): Promise<RemoteFileInfo | null> => sftp.stat(p).catch(() => null);

  const cmds: Record<string, (a: string[]) => Promise<number>> = {
    help: async () => {
      out('  ls [PATH]  cd [PATH]  pwd  stat PATH  cat PATH          remote (this host)\n');
      out('  get REMOTE [LOCAL]  put LOCAL [REMOTE]  edit REMOTE       transfer (atomic rename at the destination)\n');
      out('  lls [PATH]  lcd PATH  lpwd                                  local\n');
      out('  exit                                                         back to orch\n');
      return EXIT.OK;
    },
    pwd: async () => (out(`${rcwd}\n`), EXIT.OK),
    lpwd: async () => (out(`${lcwd}\n`), EXIT.OK),
    cd: async (a) => {
      const p = a[0] === undefined ? await sftp.realpath('.') : r(a[0]);
      const st = await sftp.stat(p);
      if (st.type !== 'dir') throw new Error(`${p}: not a folder`);
      rcwd = await sftp.realpath(p);
      return EXIT.OK;
    },
    lcd: async (a) => {
      const p = l(a[0] ?? process.env.HOME ?? '/');
      if (!statSync(p).isDirectory()) throw new Error(`${p}: not a folder`);
      lcwd = p;
      return EXIT.OK;
    },
    ls: async (a) => {
      const p = r(a[0]);
      const st = await sftp.stat(p);
      const list = st.type === 'dir' ? await sftp.list(p) : [{ ...st, name: a[0]! }];
      for (const e of list) out(`${modeText(e)} ${String(e.size).padStart(10)} ${new Date(e.mtime * 1000).toISOString().slice(0, 16).replace('T', ' ')} ${e.name}${e.type === 'dir' ? '/' : ''}\n`);
      return EXIT.OK;
    },
    lls: async (a) => {
      for (const e of readdirSync(l(a[0]), { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) out(`${e.name}${e.isDirectory() ? '/' : ''}\n`);
      return EXIT.OK;
    },
    stat: async (a) => {
      if (!a[0]) throw new Error('stat PATH');
      const st = await sftp.stat(r(a[0]));
      out(`${r(a[0])}: ${st.type}, ${st.size} bytes, mode ${st.mode.toString(8).padStart(4, '0')} (${modeText(st)}), uid ${st.uid}, gid ${st.gid}, modified ${new Date(st.mtime * 1000).toISOString()}\n`);
      return EXIT.OK;
    },
    cat: async (a) => {
      if (!a[0]) throw new Error('cat PATH');
      const dir = mkdtempSync(join(tmpdir(), 'orch-cat-'));
      try {
        await sftp.download(r(a[0]), join(dir, 'f'));
        out(shell.model.masker.mask(readFileSync(join(dir, 'f'), 'utf8')));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return EXIT.OK;
    },
    get: async (a) => {
      if (!a[0]) throw new Error('get REMOTE [LOCAL]');
      const src = r(a[0]);
      let dest = l(a[1] ?? posix.basename(src));
      try {
        if (statSync(dest).isDirectory()) dest = join(dest, posix.basename(src));
      } catch {
        /* a new file */
      }
      const tmp = `${dest}.orch-${randomBytes(4).toString('hex')}`;
      try {
        await sftp.download(src, tmp);
        renameSync(tmp, dest);
      } finally {
        rmSync(tmp, { force: true });
      }
      out(`${src} -> ${dest} (${statSync(dest).size} bytes)\n`);
      return EXIT.OK;
    },
    put: async (a) => {
      if (!a[0]) throw new Error('put LOCAL [REMOTE]');
      const src = l(a[0]);
      let dest = r(a[1] ?? basename(src));
      const st = await statOrNull(dest);
      if (st?.type === 'dir') dest = posix.join(dest, basename(src));
      const old = st?.type === 'dir' ? await statOrNull(dest) : st;
      await uploadAtomic(src, dest, old?.mode ?? (statSync(src).mode & 0o7777));
      out(`${src} -> ${dest} (${statSync(src).size} bytes)\n`);
      return EXIT.OK;
    },
    edit: async (a) => {
      if (!a[0]) throw new Error('edit REMOTE');
      const dest = r(a[0]);
      const st = await statOrNull(dest);
      const dir = mkdtempSync(join(tmpdir(), 'orch-edit-'));
      const local = join(dir, posix.basename(dest));
      try {
        if (st) await sftp.download(dest, local);
        else rmSync(local, { force: true });
        const before = st ? sha256(readFileSync(local)) : '';
        const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
        shell.releaseTerminal();
        const code = await new Promise<number | null>((resolve) => {
          // Through the shell, as git does: EDITOR may carry arguments ("code --wait").
          const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, 'orch-edit', local], { stdio: 'inherit' });
          child.on('error', () => resolve(null));
          child.on('close', (c) => resolve(c));
        });
        if (code !== 0) throw new Error(`editor ${editor} exited ${code ?? 'abnormally'}; ${dest} left unchanged`);
        let after: string;
        try {
          after = sha256(readFileSync(local));
        } catch {
          out(`${dest}: no file was written; nothing uploaded\n`);
          return EXIT.OK;
        }
        if (after === before) {
          out(`${dest}: unchanged; nothing uploaded\n`);
          return EXIT.OK;
        }
        await uploadAtomic(local, dest, st?.mode ?? 0o644);
        out(`${dest}: saved (${statSync(local).size} bytes)\n`);
        return EXIT.OK;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };

  /** Remote (or local) path completion of the last word. */
  const complete = async (line: string): Promise<[string[], string]> => {
    const words = line.trimStart().split(/\s+/);
    const word = words[words.length - 1] ?? '';
    if (words.length <= 1) return [[...Object.keys(cmds), 'exit'].filter((c) => c.startsWith(word)), word];
    const localSide = ['lls', 'lcd'].includes(words[0]!) || (words[0] === 'put' && words.length === 2) || (words[0] === 'get' && words.length === 3);
    const slash = word.lastIndexOf('/');
    const dirPart = slash >= 0 ? word.slice(0, slash + 1) : '';
    if (localSide) {
      const entries = readdirSync(l(dirPart || '.'), { withFileTypes: true });
      return [entries.map((e) => `${dirPart}${e.name}${e.isDirectory() ? '/' : ''}`).filter((c) => c.startsWith(word)), word];
    }
    const entries = await sftp.list(r(dirPart || '.'));
    return [entries.map((e) => `${dirPart}${e.name}${e.type === 'dir' ? '/' : ''}`).filter((c) => c.startsWith(word)), word];
  };

  let last: number = EXIT.OK;
  try {
    for (;;) {
      const line = await shell.nextLine(`files ${conn.host}:${rcwd}> `, complete, false);
      if (line === null) break;
      let words: string[];
      try {
        words = splitWords(line.trim());
      } catch (e) {
        err(`${(e as Error).message}\n`);
        last = EXIT.INVALID;
        continue;
      }
      if (!words.length) continue;
      if (words[0] === 'exit' || words[0] === 'quit') break;
      const fn = Object.hasOwn(cmds, words[0]!) ? cmds[words[0]!] : undefined;
      if (!fn) {
        err(`unknown files command "${words[0]}" (type help)\n`);
        last = EXIT.INVALID;
        continue;
      }
      try {
        last = await fn(words.slice(1));
      } catch (e) {
        err(`${words[0]}: ${shell.model.masker.mask((e as Error).message)}\n`);
        last = EXIT.FAILED;
      }
    }
  } finally {
    sftp.close();
  }
  return last;
}
