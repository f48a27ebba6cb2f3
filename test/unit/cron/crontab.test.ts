/**
 * The `crontab` runner against shims on a temp PATH (the real program is exercised by
 * test/integration/cron.test.ts): finding it, "no crontab for USER" as empty, errors passed on.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { findCrontab, readCrontab, writeCrontab } from '../../../src/cron/crontab.js';

let work: string;

/** A `crontab` stand-in keeping its table in `store`, like crontab(1): -l prints it, - replaces it. */
function shim(dir: string, store: string): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, 'crontab');
  writeFileSync(p, `#!/bin/bash
case "$1" in
  -l) [ -f '${store}' ] || { echo "no crontab for $(id -un)" >&2; exit 1; }; cat '${store}' ;;
  -) t=$(mktemp); cat > "$t"; grep -q '^bad' "$t" && { echo '"-":1: bad minute' >&2; echo 'errors in crontab file, can'"'"'t install.' >&2; exit 1; }; mv "$t" '${store}' ;;
  *) exit 2 ;;
esac
`);
  chmodSync(p, 0o755);
  return p;
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'orch-crontab-'));
});

describe('findCrontab', () => {
  it('returns the first executable crontab on PATH', () => {
    const p = shim(join(work, 'b'), join(work, 'store'));
    writeFileSync(join(work, 'crontab'), 'not executable');
    expect(findCrontab(`${join(work, 'empty')}::${work}:${join(work, 'b')}`)).toBe(p);
  });

  it.each([[undefined], [''], ['/nonexistent:/also/not']])('PATH=%j: names the package to install', (pathVar) => {
    expect(() => findCrontab(pathVar)).toThrow('crontab not found: install cron (Debian: apt-get install cron)');
  });
});

describe('readCrontab / writeCrontab', () => {
  it('reads "no crontab for USER" as empty, then round-trips text byte for byte', async () => {
    const store = join(work, 'store');
    const p = shim(join(work, 'bin'), store);
    expect(await readCrontab(p)).toBe('');
    const text = '# héllo\tworld\nMAILTO=""\n*/5 * * * * echo 100\\%\n';
    await writeCrontab(p, text);
    expect(readFileSync(store, 'utf8')).toBe(text);
    expect(await readCrontab(p)).toBe(text);
  });

  it('passes on crontab\'s refusal with its stderr, leaving the old table', async () => {
    const store = join(work, 'store');
    const p = shim(join(work, 'bin'), store);
    await writeCrontab(p, '1 * * * * ok\n');
    await expect(writeCrontab(p, 'bad line\n')).rejects.toThrow(`${p} - failed (exit 1): "-":1: bad minute\nerrors in crontab file, can't install.`);
    expect(readFileSync(store, 'utf8')).toBe('1 * * * * ok\n');
  });

  it('passes on other -l failures', async () => {
    const p = join(work, 'crontab');
    writeFileSync(p, '#!/bin/sh\necho "You (nobody) are not allowed to use this program (crontab)" >&2\nexit 1\n');
    chmodSync(p, 0o755);
    await expect(readCrontab(p)).rejects.toThrow(`${p} -l failed (exit 1): You (nobody) are not allowed to use this program (crontab)`);
  });

  it('a program that vanished gives the install hint', async () => {
    const p = join(work, 'gone', 'crontab');
    expect(existsSync(p)).toBe(false);
    await expect(readCrontab(p)).rejects.toThrow('crontab not found: install cron (Debian: apt-get install cron)');
  });
});
