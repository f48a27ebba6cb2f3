/**
 * Shell completion: `orch completion bash|zsh|fish` prints a small script; the script
 * calls back into orch (`orch __complete --line "LINE UP TO THE CURSOR"`, hidden) for the
 * candidates, so completions always match this orch's commands and the files on the
 * command line. Candidates come from commander's own metadata (commands, options, argument
 * choices) plus orch's files: host, role and group names of the inventory for `--limit`,
 * node paths of the playbook for `--node`, files for file arguments.
 *
 * Why not a completion library: @bomb.sh/tab (the best-kept one with a commander adapter,
 * 0.0.22) always answers "no file completion" (so `orch apply <TAB>` offers no
 * playbooks), its bash script needs the bash-completion package's
 * `_get_comp_words_by_ref`, and its value handlers cannot see the other words of the
 * command line (needed to find the playbook or `-i` for `--limit`); omelette and tabtab
 * are unmaintained. The protocol is cobra's idea (`__complete`), kept minimal.
 *
 * Protocol: the first output line is the word being completed (as orch split the line),
 * then one candidate per line; a line `::files` asks the shell to add file names.
 */
import type { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { loadInventory } from '../config/inventory.js';
import { loadPlaybook } from '../config/playbook.js';
import { SourceIndexImpl } from '../config/source-index.js';
import type { NodeSpec, Playbook } from '../model/playbook.js';

export type Shell = 'bash' | 'zsh' | 'fish';
export const SHELLS: Shell[] = ['bash', 'zsh', 'fish'];

/** Options whose value is a file name. */
const FILE_OPTIONS = new Set(['inventory', 'out', 'log', 'requirements', 'prebuildScript', 'postbuildScript', 'cacheDir', 'python']);

/** Splits a command line up to the cursor into words (whitespace; simple '…' and "…" quotes); the last word is the one being completed ('' after a space). */
export function splitLine(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let inWord = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  words.push(cur);
  return words;
}

function findOption(cmd: Command, word: string): Option | undefined {
  const name = word.split('=')[0]!;
  return cmd.options.find((o) => o.long === name || o.short === name);
}

const takesValue = (o: Option): boolean => o.required || o.optional;

/** Where the parse of the words before the cursor ended. */
interface Context {
  cmd: Command;
  positionals: string[];
  /** Option values seen so far: attribute name -> values. */
  values: Map<string, string[]>;
  /** The option whose value is being completed, if any. */
  valueFor?: Option;
}

function parseWords(program: Command, words: string[]): Context {
  let cmd = program;
  const positionals: string[] = [];
  const values = new Map<string, string[]>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      positionals.push(...words.slice(i + 1));
      break;
    }
    if (w.startsWith('-') && w.length > 1) {
      const o = findOption(cmd, w);
      if (o && takesValue(o)) {
        const v = w.includes('=') ? w.slice(w.indexOf('=') + 1) : words[++i];
        if (v === undefined) return { cmd, positionals, values, valueFor: o };
        values.set(o.attributeName(), [...(values.get(o.attributeName()) ?? []), v]);
      }
      continue;
    }
    const sub = !positionals.length ? cmd.commands.find((c) => c.name() === w || c.aliases().includes(w)) : undefined;
    if (sub) cmd = sub;
    else positionals.push(w);
  }
  return { cmd, positionals, values };
}

/** Every node path of a playbook (`shop`, `shop.db`), following `extends` for children. */
export function nodePaths(pb: Playbook): string[] {
  const out: string[] = [];
  const walk = (spec: NodeSpec, prefix: string, depth: number): void => {
    if (depth > 20) return;
    const children = spec.nodes ?? (spec.extends ? pb.templates.get(spec.extends)?.nodes : undefined) ?? [];
    for (const [name, child] of children) {
      const path = prefix ? `${prefix}.${name}` : name;
      out.push(path);
      walk(child, path, depth + 1);
    }
  };
  walk(pb.root, '', 0);
  return out;
}

/** The playbook named on the command line (first positional ending in .yml/.yaml), loaded; undefined when absent or broken. */
async function commandPlaybook(ctx: Context): Promise<Playbook | undefined> {
  const file = ctx.positionals.find((p) => /\.ya?ml$/.test(p));
  if (!file) return undefined;
  const pb = await loadPlaybook(resolve(file), new SourceIndexImpl());
  return pb.playbook;
}

/** `all`, host, role and group names of the inventory the command line names (-i, else the playbook's). */
async function limitNames(ctx: Context): Promise<string[]> {
  let files = (ctx.values.get('inventory') ?? []).map((f) => resolve(f));
  if (!files.length) {
    const pb = await commandPlaybook(ctx);
    if (pb?.inventory) files = [pb.inventory];
  }
  if (!files.length) return [];
  const inv = (await loadInventory(files, new SourceIndexImpl())).inventory;
  if (!inv) return [];
  return ['all', ...[...inv.hosts.keys()].sort(), ...[...inv.roles.keys()].sort(), ...[...inv.groups.keys()].sort()];
}

/**
 * Candidates for the last word of `words` (everything after `orch`). Returns the word and
 * the candidates (each starting with the word), `files` when file names fit too.
 */
export async function completeWords(program: Command, words: string[]): Promise<{ word: string; candidates: string[]; files: boolean }> {
  const word = words[words.length - 1] ?? '';
  const before = words.slice(0, -1);
  const ctx = parseWords(program, before);
  const found: string[] = [];
  let files = false;
  const uniq = (xs: string[]): string[] => [...new Set(xs)].filter((c) => c.startsWith(word));

  // The value of an option: `--limit <TAB>` or `--limit=<TAB>`.
  let option = ctx.valueFor;
  let prefix = '';
  if (!option && word.startsWith('--') && word.includes('=')) {
    option = findOption(ctx.cmd, word);
    prefix = word.slice(0, word.indexOf('=') + 1);
  }
  if (option) {
    const value = word.slice(prefix.length);
    const name = option.attributeName();
    try {
      if (option.argChoices?.length) found.push(...option.argChoices.map((c) => prefix + c));
      else if (name === 'limit') {
        // Complete the last term of a pattern: web:!db1,h<TAB>; keep ! & ~ before it.
        const m = /^(.*[,:])?([!&]?)(.*)$/.exec(value)!;
        const head = `${prefix}${m[1] ?? ''}${m[2] ?? ''}`;
        found.push(...(await limitNames(ctx)).map((n) => head + n));
      } else if (name === 'node') {
        const pb = await commandPlaybook(ctx);
        if (pb) found.push(...nodePaths(pb).map((p) => prefix + p));
      } else if (FILE_OPTIONS.has(name)) files = true;
    } catch {
      /* unreadable files: no candidates */
    }
    return { word, candidates: uniq(found), files };
  }
  if (word.startsWith('-')) {
    for (const o of ctx.cmd.options) {
      if ((o as Option & { hidden?: boolean }).hidden) continue;
      if (o.long) found.push(o.long);
      if (o.short && word.length <= 2) found.push(o.short);
    }
    found.push('--help');
    return { word, candidates: uniq(found), files: false };
  }
  const subs = ctx.cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
  if (subs.length && !ctx.positionals.length) {
    found.push(...subs.map((c) => c.name()));
    return { word, candidates: uniq(found), files: false };
  }
  const arg = ctx.cmd.registeredArguments[Math.min(ctx.positionals.length, ctx.cmd.registeredArguments.length - 1)];
  if (arg?.argChoices?.length) found.push(...arg.argChoices);
  else if (arg) files = true;
  return { word, candidates: uniq(found), files };
}

/** The `__complete` output: the word, candidates, `::files`. */
export function formatCompletions(r: { word: string; candidates: string[]; files: boolean }): string {
  return `${[r.word, ...r.candidates, ...(r.files ? ['::files'] : [])].join('\n')}\n`;
}

const BASH = `# bash completion for orch (generated by \`orch completion bash\`)
# Install: orch completion bash > ~/.local/share/bash-completion/completions/orch
#      or: echo 'source <(orch completion bash)' >> ~/.bashrc
_orch() {
  local line=\${COMP_LINE:0:COMP_POINT} bword=\${COMP_WORDS[COMP_CWORD]} IFS=$'\\n' word c cut files=0
  local -a out
  mapfile -t out < <("\${COMP_WORDS[0]}" __complete --line "$line" 2>/dev/null)
  (( \${#out[@]} )) || return 0
  # orch completes its own idea of the word; bash may have split it at : or = (COMP_WORDBREAKS).
  word=\${out[0]}
  [[ $word == *"$bword" ]] && cut=$(( \${#word} - \${#bword} )) || cut=0
  COMPREPLY=()
  for c in "\${out[@]:1}"; do
    if [[ $c == ::files ]]; then files=1; else COMPREPLY+=("\${c:cut}"); fi
  done
  if (( files )); then
    compopt -o filenames 2>/dev/null
    for c in $(compgen -f -- "$word"); do COMPREPLY+=("\${c:cut}"); done
  fi
  (( \${#COMPREPLY[@]} == 1 )) && [[ \${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
  return 0
}
complete -F _orch orch
`;

const ZSH = `#compdef orch
# zsh completion for orch (generated by \`orch completion zsh\`)
# Install: orch completion zsh > "\${fpath[1]}/_orch"   or: source <(orch completion zsh)
_orch() {
  local -a out cands
  local c files=0
  out=( "\${(@f)$(\${words[1]} __complete --line "\${BUFFER[1,CURSOR]}" 2>/dev/null)}" )
  for c in "\${(@)out[2,-1]}"; do
    if [[ $c == ::files ]]; then files=1; else cands+=( "$c" ); fi
  done
  (( \${#cands} )) && compadd -Q -- "\${cands[@]}"
  (( files )) && _files
  return 0
}
if (( $+functions[compdef] )); then compdef _orch orch; fi
`;

const FISH = `# fish completion for orch (generated by \`orch completion fish\`)
# Install: orch completion fish > ~/.config/fish/completions/orch.fish
function __orch_complete
    set -l out (orch __complete --line (commandline -cp) 2>/dev/null)
    set -e out[1]
    for c in $out
        if test "$c" = '::files'
            __fish_complete_path (commandline -ct)
        else
            echo $c
        end
    end
end
complete -c orch -f -a '(__orch_complete)'
`;

/** The completion script of a shell. */
export function completionScript(shell: Shell): string {
  return shell === 'bash' ? BASH : shell === 'zsh' ? ZSH : FISH;
}
