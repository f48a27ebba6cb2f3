/**
 * One round trip per host reads everything the plan needs to predict its steps
 * (Mitogen/pyinfra: gather facts in bulk, not per task). The script prints one line
 * per probe: `F <index> <base64 value | ->`.
 */
import type { Probe } from '../model/plan.js';
import type { Facts } from '../compile/predict.js';
import { factKey } from '../compile/predict.js';
import { qpath } from '../compile/steps/common.js';
import { B64_FN } from '../shell/snippets.js';

/** Largest file a `read` probe returns, bytes. */
export const READ_LIMIT = 1024 * 1024;

/** Largest file a `content` probe (`--diff`) returns, bytes (256 KiB); larger ones report only their metadata. */
export const CONTENT_LIMIT = 256 * 1024;

/** Builds the facts script for these probes (POSIX sh + coreutils). */
export function factsScript(probes: Probe[]): string {
  const lines = ['set -u', B64_FN];
  probes.forEach((p, i) => {
    const path = qpath(p.path);
    switch (p.kind) {
      case 'sha256':
        lines.push(`if [ -f ${path} ]; then printf 'F ${i} %s\\n' "$(sha256sum < ${path} | cut -d' ' -f1 | tr -d '\\n' | b64)"; else echo 'F ${i} -'; fi`);
        break;
      case 'link':
        lines.push(`if [ -L ${path} ]; then printf 'F ${i} %s\\n' "$(readlink -- ${path} | tr -d '\\n' | b64)"; else echo 'F ${i} -'; fi`);
        break;
      case 'read':
        lines.push(`if [ -f ${path} ] && [ -r ${path} ]; then printf 'F ${i} %s\\n' "$(head -c ${READ_LIMIT} -- ${path} | b64)"; else echo 'F ${i} -'; fi`);
        break;
      case 'content':
        lines.push(`if [ -f ${path} ] && [ -r ${path} ]; then printf 'F ${i} %s\\n' "$({ stat -c '%a %U:%G %s' -- ${path}; if [ "$(stat -c %s -- ${path})" -le ${CONTENT_LIMIT} ]; then cat -- ${path}; fi; } | b64)"; else echo 'F ${i} -'; fi`);
        break;
      case 'exists':
        lines.push(`if [ -e ${path} ]; then echo 'F ${i} MQ=='; else echo 'F ${i} -'; fi`);
        break;
    }
  });
  lines.push('echo END');
  return lines.join('\n') + '\n';
}

/** Parses the facts script's output. Throws Error when the output is cut short. */
export function parseFacts(probes: Probe[], stdout: string): Facts {
  const facts: Facts = new Map();
  let ended = false;
  for (const line of stdout.split('\n')) {
    if (line === 'END') {
      ended = true;
      continue;
    }
    const m = /^F (\d+) (\S*)$/.exec(line);
    if (!m) continue;
    const p = probes[Number(m[1])];
    if (!p) continue;
    facts.set(factKey(p), m[2] === '-' ? null : Buffer.from(m[2]!, 'base64').toString('utf8'));
  }
  if (!ended) throw new Error('facts output was cut short');
  return facts;
}
