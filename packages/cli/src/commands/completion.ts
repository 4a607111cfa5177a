import { KINDS, metaOf } from '@tabby/api';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { OUTPUT_FORMATS } from '../printers.js';

export const VERBS = ['apply', 'completion', 'create', 'delete', 'get', 'label', 'patch', 'replace', 'version'] as const;
const KIND_VERBS = new Set(['get', 'delete', 'patch', 'label']);
/** Flags that take a value, so the word after them is not a positional argument. */
const VALUE_FLAGS = new Set(['-f', '--filename', '-o', '--output', '-n', '--namespace', '-l', '--selector', '-p', '--patch', '-t', '--type', '--store', '--config', '--tls-ca', '--tls-cert', '--tls-key']);

/** The first alias of each kind (`bgpconfiguration`, `bgppeer`, `ippool`, ...): what completion offers. */
export function kindWords(): string[] {
  return KINDS.map((k) => k.aliases[0]).sort();
}

/**
 * Candidates for the word being completed, given the words before it (without the
 * program name): verbs, kinds, output formats, or resource names read from the store.
 */
export async function completions(before: readonly string[], names: (kind: string) => Promise<string[]>): Promise<string[]> {
  const last = before[before.length - 1];
  if (last === '-o' || last === '--output') return [...OUTPUT_FORMATS];
  const positional: string[] = [];
  for (let i = 0; i < before.length; i++) {
    const w = before[i];
    if (w.startsWith('-')) {
      if (VALUE_FLAGS.has(w)) i++;
      continue;
    }
    positional.push(w);
  }
  const [verb, kind] = positional;
  if (verb === undefined) return [...VERBS];
  if (verb === 'completion') return positional.length === 1 ? ['bash', 'zsh'] : [];
  if (!KIND_VERBS.has(verb)) return [];
  if (kind === undefined) return kindWords();
  if (verb === 'get' || verb === 'delete' || positional.length === 2) return names(kind);
  return [];
}

const BASH = `# bash completion for tabbyctl; load with: source <(tabbyctl completion bash)
_tabbyctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  local candidates
  candidates=$(tabbyctl __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)
  COMPREPLY=( $(compgen -W "\${candidates}" -- "\${cur}") )
}
complete -o default -F _tabbyctl tabbyctl
`;

const ZSH = `#compdef tabbyctl
# zsh completion for tabbyctl; load with: source <(tabbyctl completion zsh)
_tabbyctl() {
  local -a candidates
  candidates=("\${(@f)$(tabbyctl __complete "\${(@)words[2,CURRENT-1]}" 2>/dev/null)}")
  if (( \${#candidates} )) && [[ -n "\${candidates[1]}" ]]; then
    compadd -- "\${candidates[@]}"
  else
    _files
  fi
}
if [[ "\${zsh_eval_context[-1]}" == "loadautofunc" ]]; then
  _tabbyctl "$@"
else
  compdef _tabbyctl tabbyctl
fi
`;

/** `completion bash|zsh`: prints the shell script. */
export function completionCommand(shell: string, ctx: CommandContext): number {
  if (shell === 'bash') ctx.io.stdout(BASH);
  else if (shell === 'zsh') ctx.io.stdout(ZSH);
  else throw new CliError(`unsupported shell '${shell}' (use bash or zsh)`);
  return 0;
}

/** `__complete WORDS...`: what the shell scripts call; prints one candidate per line, never fails loudly. */
export async function completeCommand(words: readonly string[], ctx: CommandContext): Promise<number> {
  const names = async (kind: string): Promise<string[]> => {
    try {
      const r = await ctx.store().list(kind, '', '');
      return r.items.map((i) => metaOf(i).name);
    } catch {
      // Completion must stay quiet: no store, unknown kind or no access means no names.
      return [];
    }
  };
  for (const c of await completions(words, names)) ctx.io.stdout(`${c}\n`);
  return 0;
}
