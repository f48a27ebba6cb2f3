/**
 * orch as the test hosts see it. Every host mounts its own /tmp, /root and /srv, so a
 * checkout under one of them (a CI clone in /tmp, say) is invisible inside the hosts:
 * then its runtime (bin, build, schema, package.json, node_modules) is copied under
 * /var/tmp, which the hosts share with the control machine. Returns [path, cleanup].
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ORCH } from './cli.js';

export function hostVisibleOrch(): [string, () => void] {
  const root = dirname(dirname(ORCH));
  if (!/^\/(tmp|root|srv)(\/|$)/.test(root)) return [ORCH, () => undefined];
  const dir = mkdtempSync('/var/tmp/orch-pull-');
  for (const part of ['bin', 'build', 'schema', 'package.json', 'node_modules']) {
    if (existsSync(join(root, part))) cpSync(join(root, part), join(dir, part), { recursive: true, verbatimSymlinks: true });
  }
  return [join(dir, 'bin/orch.js'), () => rmSync(dir, { recursive: true, force: true })];
}
