/**
 * The host protocol: the one place naming what the control machine and the host-side
 * bash libraries (src/host/*.sh) must agree on — exit codes, read limits, the lock's
 * paths and the grammar of orch's own output lines. The TypeScript side imports these
 * values; the bash side gets them from `protocol.sh`, which scripts/embed-host.mjs writes
 * from {@link protocolShellText} at build time (git-ignored) and every host script
 * carries ahead of its libraries.
 *
 * This module imports nothing: the build loads it on its own, before tsc runs.
 */

/** Exit codes with a meaning between a host script and the engine. */
export const EXIT = {
  /** Bad input to a host library (a missing tool, a malformed frame): sysexits' EX_SOFTWARE. */
  BAD_INPUT: 70,
  /** The host lock is held by another run (src/host/lock.sh); stderr says `locked by HOLDER`. */
  LOCKED: 75,
  /** state.json changed since the facts were read (src/host/segment.sh's compare-and-swap). */
  STATE_CONFLICT: 76,
  /** "Run me again with the payload": the host lacks a file, a bundle or a delta's base. */
  NEED_PAYLOAD: 99,
} as const;

/** Byte limits of what the host sends back or receives in one piece. */
export const LIMITS = {
  /** A `read` probe returns at most this many bytes of a file (1 MiB); also the largest info.json read as a delta's base. */
  READ_BYTES: 1024 * 1024,
  /** A `content` probe (`--diff`) returns files of at most this size (256 KiB); larger ones only their metadata. */
  CONTENT_BYTES: 256 * 1024,
  /** Largest data frame of a payload sent to the agent (1 MiB; one `head -c` process on the host per frame: 4 MiB frames made a fresh deploy slower, measured). */
  DATA_FRAME_BYTES: 1024 * 1024,
} as const;

/** The host lock, relative to the SSH user's home: the flock file and its holder's description. */
export const LOCK = {
  FILE: '.orch/lock',
  INFO: '.orch/lock.info',
} as const;

/** The mark that starts each of orch's own lines in a host script's stdout. */
export const MARK = '::orch::';

/**
 * One of orch's own output lines, as a host script prints it:
 * - `::orch:: status=ok|changed|skipped` — a step's outcome (src/host/prelude.sh `orch_status`);
 * - `::orch:: pruned=VERSION SHA256|-` — a version `prune` removed (src/host/prune.sh);
 * - `::orch:: rolledback=VERSION` — the release a rollback switched to (src/host/rollback.sh);
 * - `::orch:: target=VERSION` — the release a rollback will switch to (src/host/rollback.sh);
 * - `::orch:: started`, `::orch:: locked`, `::orch:: end` — the agent runs; it holds the lock; the facts output ended (src/host/agent.sh);
 * - `::orch:: stopped` — the agent stopped the run's work after `X` (src/host/agent.sh).
 */
export type ProtocolLine =
  | { type: 'status'; status: 'ok' | 'changed' | 'skipped' }
  | { type: 'pruned'; version: string; sha256?: string }
  | { type: 'rolledback'; version: string }
  | { type: 'target'; version: string }
  | { type: 'started' }
  | { type: 'locked' }
  | { type: 'end' }
  | { type: 'stopped' }
  /** Speculative facts (agent.sh `P` frame): the agent holds the early lock and runs the previous run's facts script; its output follows. */
  | { type: 'speculating' }
  /** The speculative facts' output ended. */
  | { type: 'speculated' };

/** Every line type, in the order of {@link ProtocolLine}. */
export const LINE_TYPES = ['status', 'pruned', 'rolledback', 'target', 'started', 'locked', 'end', 'stopped', 'speculating', 'speculated'] as const satisfies readonly ProtocolLine['type'][];

/** The text of `line` (no newline), as the host prints it. */
export function formatLine(line: ProtocolLine): string {
  switch (line.type) {
    case 'status': return `${MARK} status=${line.status}`;
    case 'pruned': return `${MARK} pruned=${line.version} ${line.sha256 ?? '-'}`;
    case 'rolledback': return `${MARK} rolledback=${line.version}`;
    case 'target': return `${MARK} target=${line.version}`;
    default: return `${MARK} ${line.type}`;
  }
}

/** `text` read as one of orch's lines, or undefined when it is not one (a step's own output). */
export function parseLine(text: string): ProtocolLine | undefined {
  if (!text.startsWith(`${MARK} `)) return undefined;
  const rest = text.slice(MARK.length + 1);
  if (rest === 'started' || rest === 'locked' || rest === 'end' || rest === 'stopped' || rest === 'speculating' || rest === 'speculated') return { type: rest };
  const eq = rest.indexOf('=');
  if (eq < 0) return undefined;
  const key = rest.slice(0, eq);
  const value = rest.slice(eq + 1);
  switch (key) {
    case 'status': return value === 'ok' || value === 'changed' || value === 'skipped' ? { type: 'status', status: value } : undefined;
    case 'pruned': {
      const m = /^(\S+) (\S+)$/.exec(value);
      return m ? { type: 'pruned', version: m[1]!, ...(m[2] !== '-' ? { sha256: m[2]! } : {}) } : undefined;
    }
    case 'rolledback': return value ? { type: 'rolledback', version: value } : undefined;
    case 'target': return value ? { type: 'target', version: value } : undefined;
    default: return undefined;
  }
}

/** Every line of `out` that is one of orch's (in order). */
export function protocolLines(out: string): ProtocolLine[] {
  const lines: ProtocolLine[] = [];
  for (const l of out.split('\n')) {
    const p = parseLine(l);
    if (p) lines.push(p);
  }
  return lines;
}

/** `out` without orch's own lines (what a step printed itself). */
export function withoutProtocolLines(out: string): string {
  return out.replace(/^::orch::.*(\n|$)/gm, '');
}

/**
 * The bash side of this module (`protocol.sh`): the values above as shell variables and
 * the helpers every host library may use. Variables are upper case: `ORCH_EXIT_LOCKED`,
 * `ORCH_READ_BYTES`, `ORCH_LOCK_FILE` (relative to $HOME), `ORCH_MARK`.
 */
export function protocolShellText(): string {
  const vars: [string, string | number][] = [
    ...Object.entries(EXIT).map(([k, v]): [string, number] => [`ORCH_EXIT_${k}`, v]),
    ...Object.entries(LIMITS).map(([k, v]): [string, number] => [`ORCH_${k}`, v]),
    ['ORCH_LOCK_FILE', LOCK.FILE],
    ['ORCH_LOCK_INFO', LOCK.INFO],
    ['ORCH_MARK', MARK],
  ];
  return [
    '# shellcheck shell=bash',
    '# Generated by scripts/embed-host.mjs from src/host/protocol.ts. Do not edit.',
    '# shellcheck disable=SC2034',
    ...vars.map(([k, v]) => `${k}=${typeof v === 'number' ? v : `'${v}'`}`),
    '# b64: stdin as one line of base64 (GNU -w0, else folded output joined).',
    "b64() { base64 -w0 2>/dev/null || base64 | tr -d '\\n'; }",
    '',
  ].join('\n');
}
