/**
 * One round trip per host reads everything the plan needs to predict its steps
 * (Mitogen/pyinfra: gather facts in bulk, not per task). The script is
 * src/host/facts.sh plus one call per probe; it prints one line per probe,
 * `F <index> <base64 value | ->` or `T <index> <text>` (backslash and newline escaped as
 * `\\` and `\n`), then `END` (the protocol is documented in facts.sh).
 */
import { FACTS_SH, PROTOCOL_SH, VERSIONS_SH } from '../host/embedded.generated.js';
import { LIMITS } from '../host/protocol.js';
import { qpath } from '../host/layout.js';
import type { Facts, Probe } from '../model/task.js';
import { quote } from '../shell/quote.js';
import { factKey } from '../steps/common.js';

/** Largest file a `read` probe returns, bytes (src/host/facts.sh `orch_fact_read`). */
export const READ_LIMIT = LIMITS.READ_BYTES;

/** Largest file a `content` probe (`--diff`) returns, bytes (256 KiB; src/host/facts.sh `orch_fact_content`); larger ones report only their metadata. */
export const CONTENT_LIMIT = LIMITS.CONTENT_BYTES;

/** Builds the facts script for these probes (bash, `set -u`; a probe never fails it). */
export function factsScript(probes: Probe[]): string {
  const lines = ['set -u', PROTOCOL_SH.trimEnd(), VERSIONS_SH.trimEnd(), FACTS_SH.trimEnd()];
  // An `unless` probe's "path" is a command: quoted as text, never expanded as a path.
  probes.forEach((p, i) => lines.push(`orch_fact_${p.kind} ${i} ${p.kind === 'unless' ? quote(p.path) : qpath(p.path)}`));
  lines.push('echo END');
  return lines.join('\n') + '\n';
}

/** The text of a `T` fact line (or a `K` line of the delta fact): `\\` is `\`, `\n` a newline (src/host/facts.sh orch_fact_text). */
export function unescapeFactText(text: string): string {
  return text.replace(/\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
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
    // `T INDEX TEXT` (escaped text) or `F INDEX BASE64|-` (src/host/facts.sh).
    const t = /^T (\d+) (.*)$/s.exec(line);
    if (t) {
      const p = probes[Number(t[1])];
      if (p) facts.set(factKey(p), unescapeFactText(t[2]!));
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
