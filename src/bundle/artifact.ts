/**
 * Checks a prebuilt `artifact:` bundle (or any bundle) WITHOUT extracting it: sha256,
 * member safety, platter layout, PACKAGE/VERSION/PLATFORM read from the stream.
 *
 * Source: the tar-slip / zip-slip advisories (absolute names, `..`, symlink-then-file
 * through it, hard links to host files) and GNU tar's own `--no-same-owner` advice;
 * the layout is platter's. `remote-check.ts` runs the same rules on hosts with GNU tar,
 * with the same reasons word for word.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { BundleError } from './bundle-error.js';
import { assertSafeName, formatBundleDir, sha256File } from './layout.js';
import type { BundleInfo } from './layout.js';

/** Most members a bundle may have (gzip-bomb guard). */
export const MAX_MEMBERS = 100_000;
/** Most total declared (uncompressed) size of a bundle's members, bytes: 1 GiB. */
export const MAX_TOTAL_SIZE = 1024 ** 3;
/** Most decompressed tar bytes read (members + headers + padding): 1 GiB + 256 MiB. */
export const MAX_STREAM_BYTES = MAX_TOTAL_SIZE + 256 * 1024 ** 2;

/** One archive member as a checker sees it. `type` uses GNU tar's one-letter listing codes. */
export interface MemberHeader {
  /** Name as stored in the archive. */
  path: string;
  /** `-` file, `d` folder, `l` symlink, `h` hard link, `c` char device, `b` block device, `p` FIFO, `?` anything else. */
  type: '-' | 'd' | 'l' | 'h' | 'c' | 'b' | 'p' | '?';
  /** Permission bits incl. setuid/setgid (0o7777 mask). */
  mode: number;
  /** Declared size in bytes. */
  size: number;
  /** Symlink / hard-link target. */
  linkpath?: string;
}

/** A refused member: `unsafe bundle member: PATH: REASON` (the host check prints the same). */
export class UnsafeMemberError extends BundleError {
  override name = 'UnsafeMemberError';
  constructor(
    readonly member: string,
    readonly reason: string,
  ) {
    super(`unsafe bundle member: ${member}: ${reason}`);
  }
}

/**
 * The member rules, fed one header at a time in archive order (pure, no I/O).
 * Rules, first match wins: more than {@link MAX_MEMBERS} members; absolute name;
 * a `..` segment; hard link, character/block device, FIFO or other special type;
 * setuid/setgid bit; outside the single top folder (`expectedTop`, else the first
 * member's); a duplicate name; a path through an earlier symlink member; a symlink
 * whose target, resolved lexically against the link's own folder, leaves the top
 * folder; total declared size over {@link MAX_TOTAL_SIZE}. Then {@link MemberChecker.finish}
 * (order-independent symlink rules) and {@link MemberChecker.checkLayout}.
 */
export class MemberChecker {
  /** The top folder, once known. */
  top: string | undefined;
  /** Normalised member names (no `./` prefix, no trailing `/`) -> header. */
  readonly members = new Map<string, MemberHeader>();
  private readonly symlinks = new Set<string>();
  private count = 0;
  private total = 0;

  constructor(expectedTop?: string) {
    this.top = expectedTop;
  }

  /**
   * Checks one member; returns its normalised name (undefined for the archive root `./`).
   * @throws UnsafeMemberError
   */
  check(h: MemberHeader): string | undefined {
    const fail = (reason: string): never => {
      throw new UnsafeMemberError(h.path, reason);
    };
    if (++this.count > MAX_MEMBERS) fail(`more than ${MAX_MEMBERS} members`);
    if (h.path.startsWith('/')) fail('absolute path');
    if (h.path.split('/').includes('..')) fail('parent directory segment (..)');
    const kind: Record<MemberHeader['type'], string | undefined> = {
      '-': undefined,
      d: undefined,
      l: undefined,
      h: 'hard link',
      c: 'character device',
      b: 'block device',
      p: 'fifo',
      '?': 'unsupported member type',
    };
    const bad = kind[h.type];
    if (bad) fail(bad);
    if (h.mode & 0o6000) fail('setuid/setgid bit');
    let name = h.path;
    while (name.startsWith('./')) name = name.slice(2);
    name = name.replace(/\/+$/, '');
    if (name === '' || name === '.') return undefined;
    const first = name.split('/')[0] ?? '';
    this.top ??= first;
    if (first !== this.top) fail(`outside the top folder ${this.top}/`);
    if (name === this.top && h.type !== 'd') fail('the top folder is not a folder');
    if (this.members.has(name)) fail('duplicate member');
    const segs = name.split('/');
    for (let i = 1; i < segs.length; i++) {
      const prefix = segs.slice(0, i).join('/');
      if (this.symlinks.has(prefix)) fail(`path goes through symlink ${prefix}`);
    }
    if (h.type === 'l') {
      const target = h.linkpath ?? '';
      const resolved = posix.normalize(posix.join(posix.dirname(name), target));
      if (target === '' || target.startsWith('/') || (resolved !== this.top && !resolved.startsWith(`${this.top}/`))) {
        fail(`symlink target "${target}" leaves the bundle folder`);
      }
      this.symlinks.add(name);
    }
    if (h.type === '-') {
      this.total += h.size;
      if (this.total > MAX_TOTAL_SIZE) fail('total size exceeds 1 GiB');
    }
    this.members.set(name, h);
    return name;
  }

  /**
   * After the last member, with every symlink known (archive order must not matter):
   * no member path goes through a symlink member, and no symlink target applies `..`
   * right after a symlink component (`d/up -> ..` then `esc -> d/up/../../x` is inside
   * lexically but outside once `d/up` is followed).
   * @throws UnsafeMemberError `path goes through symlink P` /
   *   `symlink target "T" passes through symlink P`
   */
  finish(): void {
    for (const [name, h] of this.members) {
      const segs = name.split('/');
      for (let i = 1; i < segs.length; i++) {
        const prefix = segs.slice(0, i).join('/');
        if (this.symlinks.has(prefix)) throw new UnsafeMemberError(h.path, `path goes through symlink ${prefix}`);
      }
      if (h.type !== 'l') continue;
      const target = h.linkpath ?? '';
      const stack = posix.dirname(name).split('/');
      for (const seg of target.split('/')) {
        if (seg === '' || seg === '.') continue;
        if (seg !== '..') {
          stack.push(seg);
          continue;
        }
        const at = stack.join('/');
        if (this.symlinks.has(at)) throw new UnsafeMemberError(h.path, `symlink target "${target}" passes through symlink ${at}`);
        stack.pop();
      }
    }
  }

  /**
   * After the last member: the platter layout must be there.
   * @throws BundleError `bundle layout incomplete: missing TOP/PACKAGE (a file)` etc.
   */
  checkLayout(): string {
    const top = this.top;
    if (top === undefined) throw new BundleError('bundle layout incomplete: the archive is empty');
    const want: [string, MemberHeader['type']][] = [
      ['PACKAGE', '-'],
      ['VERSION', '-'],
      ['PLATFORM', '-'],
      ['install.sh', '-'],
      ['data', 'd'],
    ];
    for (const [n, t] of want) {
      const m = this.members.get(`${top}/${n}`);
      if (!m || m.type !== t) throw new BundleError(`bundle layout incomplete: missing ${top}/${n} (a ${t === 'd' ? 'folder' : 'file'})`);
    }
    const sh = this.members.get(`${top}/install.sh`);
    if (sh && !(sh.mode & 0o100)) throw new BundleError(`bundle layout incomplete: ${top}/install.sh is not executable`);
    return top;
  }
}

const TYPE_CODES: Partial<Record<string, MemberHeader['type']>> = {
  File: '-',
  OldFile: '-',
  ContiguousFile: '-',
  Directory: 'd',
  SymbolicLink: 'l',
  Link: 'h',
  CharacterDevice: 'c',
  BlockDevice: 'b',
  FIFO: 'p',
};

/**
 * Inspects a bundle tarball without extracting it: sha256 and size of the file,
 * every member checked by {@link MemberChecker}, the platter layout present, and
 * `PACKAGE`/`VERSION`/`PLATFORM` (read from the stream, one line each) valid names
 * that agree with the top folder `<package>-<version>-<platform>`.
 * Reading stops at the first refused member; at most {@link MAX_STREAM_BYTES} are
 * decompressed.
 * @returns the bundle, `path` absolute.
 * @throws BundleError `<path>: unsafe bundle member: <member>: <reason>`,
 *   `<path>: bundle layout incomplete: ...`, `<path>: not a readable tar.gz: ...`,
 *   `<path>: top folder "<dir>" does not match PACKAGE-VERSION-PLATFORM "<ident>"`.
 */
export async function inspectArtifact(path: string): Promise<BundleInfo> {
  const file = resolve(path);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    throw new BundleError(`${file}: bundle artifact not found`);
  }
  const checker = new MemberChecker();
  const meta = new Map<string, string>();
  try {
    await scanMembers(file, checker, meta);
  } catch (err) {
    if (err instanceof BundleError) throw new BundleError(`${file}: ${err.message}`);
    throw new BundleError(`${file}: not a readable tar.gz: ${(err as Error).message}`);
  }
  let top: string;
  try {
    checker.finish();
    top = checker.checkLayout();
  } catch (err) {
    throw new BundleError(`${file}: ${(err as Error).message}`);
  }
  const line = (n: string): string => {
    const text = meta.get(n) ?? '';
    const v = text.replace(/\r?\n$/, '');
    if (v.includes('\n') || v !== v.trim() || v === '') {
      throw new BundleError(`${file}: ${top}/${n} must hold one line without surrounding spaces, got ${JSON.stringify(text)}`);
    }
    return v;
  };
  const pkg = line('PACKAGE');
  const version = line('VERSION');
  const platform = line('PLATFORM');
  assertSafeName('package name', pkg, `${file}: ${top}/PACKAGE`);
  assertSafeName('version', version, `${file}: ${top}/VERSION`);
  assertSafeName('platform', platform, `${file}: ${top}/PLATFORM`);
  const ident = formatBundleDir(pkg, version, platform);
  if (ident !== top) {
    throw new BundleError(`${file}: top folder ${JSON.stringify(top)} does not match PACKAGE-VERSION-PLATFORM ${JSON.stringify(ident)}`);
  }
  return { package: pkg, version, platform, sha256: await sha256File(file), size, path: file, dir: top };
}

/**
 * Checks every member of the tar.gz `file` by the {@link MemberChecker} rules (without
 * the platter layout): one top folder `expectedTop`, nothing absolute, no `..`, no hard
 * link, device or FIFO, no setuid bit, no path through or symlink out of the top
 * folder, size limits. For archives orch unpacks that are not bundles yet (the raw
 * result of a remote build).
 * @throws BundleError `unsafe bundle member: ...` or `not a readable tar.gz: ...`
 */
export async function checkArchiveMembers(file: string, expectedTop: string): Promise<void> {
  const checker = new MemberChecker(expectedTop);
  try {
    await scanMembers(file, checker, new Map());
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`not a readable tar.gz: ${(err as Error).message}`);
  }
  checker.finish();
}

/** Streams `file` through gunzip into node-tar's Parser, feeding every header to `checker`. */
function scanMembers(file: string, checker: MemberChecker, meta: Map<string, string>): Promise<void> {
  return new Promise<void>((res, rej) => {
    const input = createReadStream(file);
    const gunzip = createGunzip();
    const parser = new Parser({ strict: true });
    let done = false;
    let bytes = 0;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      input.destroy();
      gunzip.destroy();
      if (err) rej(err);
      else res();
    };
    parser.on('entry', (entry: ReadEntry) => {
      if (done) return entry.resume();
      try {
        const name = checker.check({
          path: entry.path,
          type: TYPE_CODES[entry.type] ?? '?',
          mode: (entry.mode ?? 0) & 0o7777,
          size: entry.size,
          linkpath: entry.linkpath,
        });
        const top = checker.top;
        const base = name && top && name.startsWith(`${top}/`) ? name.slice(top.length + 1) : undefined;
        if (base === 'PACKAGE' || base === 'VERSION' || base === 'PLATFORM') {
          const chunks: Buffer[] = [];
          let n = 0;
          entry.on('data', (c: Buffer) => {
            if (n < 4096) chunks.push(c);
            n += c.length;
          });
          entry.on('end', () => meta.set(base, Buffer.concat(chunks).subarray(0, 4096).toString('utf8')));
        } else {
          entry.resume();
        }
      } catch (err) {
        entry.resume();
        finish(err);
      }
    });
    parser.on('error', (err: Error) => finish(err));
    parser.on('end', () => finish());
    input.on('error', finish);
    gunzip.on('error', finish);
    gunzip.on('data', (chunk: Buffer) => {
      if (done) return;
      bytes += chunk.length;
      if (bytes > MAX_STREAM_BYTES) {
        finish(new UnsafeMemberError('(stream)', 'decompressed size exceeds 1 GiB'));
        return;
      }
      if (!parser.write(chunk)) {
        gunzip.pause();
        parser.once('drain', () => gunzip.resume());
      }
    });
    gunzip.on('end', () => {
      if (!done) parser.end();
    });
    input.pipe(gunzip);
  });
}
