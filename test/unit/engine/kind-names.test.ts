/**
 * No step kind is named outside its module: engine, compile, cli and ui decide by what a
 * kind declares (src/steps/kind.ts: `lifecycle`, `diff`, `formatDiff`, `hostWork`, ...),
 * never by its name. The kind names come from the registry (src/steps/index.ts); the
 * only file of these layers that may hold one is the release lifecycle module
 * (src/compile/lifecycle.ts). A string literal (comments left out) equal to a kind name
 * is a finding, unless it is one of the few words that name something else (listed below
 * with what they name: a state.json history action, a payload's kind, a CLI command).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { STEP_KIND_NAMES } from '../../../src/steps/index.js';
import { SRC, sourceFiles } from './import-graph.js';

const DIRS = ['engine', 'compile', 'cli', 'ui'];
const LIFECYCLE = 'compile/lifecycle.ts';

/** Literals that are a kind's name by spelling only: file, the code around it, what it names. */
const OTHER_MEANINGS: { file: string; around: RegExp; names: string }[] = [
  { file: 'engine/state-book.ts', around: /action === '(?:prune|install)'/, names: 'a state.json history action (src/state/state.ts)' },
  { file: 'engine/execute.ts', around: /action(?: ===|:) 'prune'/, names: 'a state.json history action (src/state/state.ts)' },
  { file: 'compile/rollback-plan.ts', around: /action === '(?:install|prune)'/, names: 'a state.json history action (src/state/state.ts)' },
  { file: 'engine/payloads.ts', around: /\.kind [!=]== 'bundle'/, names: "a payload's kind (PayloadRef, src/model/task.ts)" },
  { file: 'cli/main.ts', around: /\.command\('(?:run|bundle|install)'\)/, names: 'an orch (or orch cron) command' },
  { file: 'cli/shell/shell.ts', around: /runOrch\(\['run'/, names: 'the `orch run` command' },
  { file: 'cli/shell/files.ts', around: /=== 'put'/, names: "orch shell's `put` command (sftp's)" },
  { file: 'cli/logs.ts', around: /scope === 'user'/, names: "a systemd unit's scope" },
  { file: 'cli/connection-info.ts', around: /\['user', /, names: "the connection's SSH user row" },
];

/** The string literals of TypeScript source (quotes and template texts), comments left out, with their line. */
export function stringLiterals(text: string): { value: string; line: number; lineText: string }[] {
  const lines = text.split('\n');
  const out: { value: string; line: number; lineText: string }[] = [];
  let i = 0;
  let line = 1;
  const depth: number[] = []; // brace depth of each open template's `${`
  let braces = 0;
  const push = (value: string, at: number): void => {
    out.push({ value, line: at, lineText: lines[at - 1] ?? '' });
  };
  const readTemplate = (): void => {
    // at the char after ` or after the } closing a ${ }
    let s = '';
    const at = line;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '\\') {
        s += text.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (c === '`') {
        i++;
        push(s, at);
        return;
      }
      if (c === '$' && text[i + 1] === '{') {
        i += 2;
        push(s, at);
        depth.push(braces);
        braces++;
        return;
      }
      if (c === '\n') line++;
      s += c;
      i++;
    }
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      line += (text.slice(i, stop).match(/\n/g) ?? []).length;
      i = stop;
    } else if (c === "'" || c === '"') {
      let s = '';
      i++;
      while (i < text.length && text[i] !== c && text[i] !== '\n') {
        if (text[i] === '\\') s += text[i++];
        s += text[i++];
      }
      i++;
      push(s, line);
    } else if (c === '`') {
      i++;
      readTemplate();
    } else if (c === '{') {
      braces++;
      i++;
    } else if (c === '}') {
      braces--;
      i++;
      if (depth.length && depth[depth.length - 1] === braces) {
        depth.pop();
        readTemplate();
      }
    } else i++;
  }
  return out;
}

/** Every literal naming a kind in `files` (paths relative to src/), as `file:line: 'name'  <line text>`. */
function kindNamesIn(files: string[], read = (rel: string): string => readFileSync(path.join(SRC, rel), 'utf8')): string[] {
  const names = new Set<string>(STEP_KIND_NAMES);
  return files.flatMap((rel) =>
    stringLiterals(read(rel))
      .filter((l) => names.has(l.value))
      .filter((l) => !OTHER_MEANINGS.some((o) => o.file === rel && o.around.test(l.lineText)))
      .map((l) => `${rel}:${l.line}: '${l.value}'  ${l.lineText.trim()}`),
  );
}

describe('step kind names outside src/steps', () => {
  const files = sourceFiles(SRC)
    .map((f) => path.relative(SRC, f))
    .filter((f) => DIRS.includes(f.split(path.sep)[0]!) && f !== LIFECYCLE);

  it('reads string literals, not comments', () => {
    const src = "// kind === 'run'\n/* 'put' */ const a = x.kind === 'run' ? `install ${y ? 'symlink' : `z${'prune'}`} user` : \"group\";\nconst u = 'http://x'; // 'service'\n";
    expect(stringLiterals(src).map((l) => [l.value, l.line])).toEqual([['run', 2], ['install ', 2], ['symlink', 2], ['z', 2], ['prune', 2], ['', 2], [' user', 2], ['group', 2], ['http://x', 3]]);
  });

  it('takes the kind names from the registry', () => {
    expect(STEP_KIND_NAMES).toEqual(expect.arrayContaining(['put', 'install', 'symlink', 'service', 'run', 'healthcheck']));
    expect(files.length).toBeGreaterThan(40);
  });

  it('finds a planted kind name, and passes a word listed with its other meaning', () => {
    const text = "if (t.check.kind === 'prune') x();\nif (p.kind !== 'bundle') y();\n";
    expect(kindNamesIn(['engine/execute.ts', 'engine/payloads.ts'], () => text)).toEqual(["engine/execute.ts:1: 'prune'  if (t.check.kind === 'prune') x();", "engine/execute.ts:2: 'bundle'  if (p.kind !== 'bundle') y();", "engine/payloads.ts:1: 'prune'  if (t.check.kind === 'prune') x();"]);
  });

  it('finds none in engine, compile (but the lifecycle module), cli or ui', () => {
    expect(kindNamesIn(files)).toEqual([]);
  });

  it('lists only other meanings that still occur', () => {
    const stale = OTHER_MEANINGS.filter((o) => !stringLiterals(readFileSync(path.join(SRC, o.file), 'utf8')).some((l) => STEP_KIND_NAMES.includes(l.value as never) && o.around.test(l.lineText)));
    expect(stale.map((o) => `${o.file} ${o.around}`)).toEqual([]);
  });
});
