/** An app root on this machine for host-library tests: versions/<V>/.orch-installed (`<V>sha`), optionally `current`. */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function appRoot(versions: string[], current?: string): string {
  const root = mkdtempSync(path.join(tmpdir(), 'orch-root-'));
  for (const v of versions) {
    mkdirSync(path.join(root, 'versions', v), { recursive: true });
    writeFileSync(path.join(root, 'versions', v, '.orch-installed'), `${v}sha\n`);
  }
  if (current) symlinkSync(`versions/${current}`, path.join(root, 'current'));
  return root;
}
