import { mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashSource, RACY_MS, sourceStatCacheFile } from '../../../src/bundle/cache.js';
import { listSourceFiles } from '../../../src/bundle/dir-builder.js';

/** A source tree whose files were last changed `ageMs` ago (older than the racy window unless told). */
function tree(ageMs = 10 * RACY_MS): string {
  const dir = mkdtempSync(join(tmpdir(), 'orch-srchash-'));
  mkdirSync(join(dir, 'lib'));
  writeFileSync(join(dir, 'VERSION'), '1.0.0\n');
  writeFileSync(join(dir, 'lib', 'a.txt'), 'alpha\n');
  writeFileSync(join(dir, 'lib', 'b.txt'), 'bravo\n');
  const t = (Date.now() - ageMs) / 1000;
  for (const f of ['VERSION', 'lib/a.txt', 'lib/b.txt']) utimesSync(join(dir, f), t, t);
  return dir;
}

const cacheOf = (file: string): Record<string, [string, string]> => (JSON.parse(readFileSync(file, 'utf8')) as { files: Record<string, [string, string]> }).files;

describe('hashSource with the stat cache (git index style)', () => {
  it('gives the same hash as without the cache, and records every file it may trust next time', async () => {
    const src = tree();
    const cache = sourceStatCacheFile(mkdtempSync(join(tmpdir(), 'orch-cache-')), src);
    const plain = await hashSource(src, await listSourceFiles(src));
    expect(await hashSource(src, await listSourceFiles(src), cache)).toBe(plain);
    expect(Object.keys(cacheOf(cache)).sort()).toEqual(['VERSION', 'lib/a.txt', 'lib/b.txt']);
    // Second run: same hash from the records.
    expect(await hashSource(src, await listSourceFiles(src), cache)).toBe(plain);
  });

  it('uses a record only while the file\'s fingerprint is unchanged: an edit that keeps size and mtime is still seen (ctime)', async () => {
    const src = tree();
    const cache = sourceStatCacheFile(mkdtempSync(join(tmpdir(), 'orch-cache-')), src);
    const first = await hashSource(src, await listSourceFiles(src), cache);
    // A record is trusted: a forged sha256 under the file's real fingerprint changes the result.
    const files = cacheOf(cache);
    files['lib/a.txt'] = [files['lib/a.txt']![0], 'f'.repeat(64)];
    writeFileSync(cache, JSON.stringify({ v: 1, files }));
    expect(await hashSource(src, await listSourceFiles(src), cache)).not.toBe(first);
    // Same size, mtime put back: ctime moved, so the record no longer applies and the real bytes count.
    const a = join(src, 'lib', 'a.txt');
    const st = statSync(a);
    writeFileSync(a, 'ALPHA\n');
    utimesSync(a, st.atime, st.mtime);
    const edited = await hashSource(src, await listSourceFiles(src));
    expect(edited).not.toBe(first);
    expect(await hashSource(src, await listSourceFiles(src), cache)).toBe(edited);
  });

  it('never records a file changed within the racy window, so its next change cannot hide', async () => {
    const src = tree(0);
    const cache = sourceStatCacheFile(mkdtempSync(join(tmpdir(), 'orch-cache-')), src);
    await hashSource(src, await listSourceFiles(src), cache);
    let recorded: string[] = [];
    try {
      recorded = Object.keys(cacheOf(cache));
    } catch {
      /* nothing recorded: no file written */
    }
    expect(recorded).toEqual([]);
  });

  it('a damaged cache file counts as empty', async () => {
    const src = tree();
    const cache = sourceStatCacheFile(mkdtempSync(join(tmpdir(), 'orch-cache-')), src);
    const plain = await hashSource(src, await listSourceFiles(src));
    mkdirSync(join(cache, '..'), { recursive: true });
    writeFileSync(cache, '{"v":1,"files":{"VERSION":["x","not-a-sha"]');
    expect(await hashSource(src, await listSourceFiles(src), cache)).toBe(plain);
    expect(Object.keys(cacheOf(cache)).length).toBe(3);
  });
});
