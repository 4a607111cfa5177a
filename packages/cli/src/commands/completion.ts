import { KINDS, findKind, metaOf, objectOf } from '@tabby/api';
import type { WorkloadEndpoint } from '@tabby/proto';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { OUTPUT_FORMATS } from '../printers.js';
import { ROUTE_FORMATS } from '../route-table.js';

export const VERBS = ['apply', 'completion', 'create', 'delete', 'get', 'ipam', 'label', 'node', 'patch', 'replace', 'topology', 'version', 'workload'] as const;
const KIND_VERBS = new Set(['get', 'delete', 'patch', 'label']);
/** Flags that take a value, so the word after them is not a positional argument. */
const VALUE_FLAGS = new Set([
  '-f', '--filename', '-o', '--output', '-n', '--namespace', '-l', '--selector', '-p', '--patch', '-t', '--type', '--store', '--config', '--tls-ca', '--tls-cert', '--tls-key',
  '--ipam', '--ip', '--from', '--to', '--timeout', '--interval', '--node', '--label', '--pool',
  '--agent', '--family', '--prefix', '--topology', '--strictaffinity', '--max-blocks-per-host',
]);
/** Sub-commands of the command groups, and the flags each takes. */
const SUBCOMMANDS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  ipam: {
    check: ['--repair', '-o'],
    configure: ['--strictaffinity', '--max-blocks-per-host'],
    migrate: ['--from', '--to', '--wait', '--timeout', '--interval'],
    release: ['--ip', '--force'],
    show: ['--ip', '--show-blocks', '--show-borrowed', '--show-configuration'],
  },
  node: {
    routes: ['--agent', '--family', '--prefix', '-o'],
    status: ['--all', '--agent'],
  },
  topology: {
    check: [],
    explain: [],
    show: ['-o'],
  },
  workload: {
    add: ['--node', '-l', '--ipv6', '--no-ipv4', '--pool'],
    delete: ['-s'],
  },
};
/** Flags that may be given more than once (still offered after use). */
const REPEATABLE = new Set(['-l', '--label', '--pool']);

/** The first alias of each kind (`bgpconfiguration`, `bgppeer`, `ippool`, ...): what completion offers. */
export function kindWords(): string[] {
  return KINDS.map((k) => k.aliases[0]).sort();
}

/**
 * Candidates for the word being completed, given the words before it (without the
 * program name): verbs, kinds, output formats, or resource names read from the store;
 * for `ipam` and `workload`, their sub-commands, flags, pool and node names, and the
 * workloads (`namespace/name`) that `workloads` lists.
 */
export async function completions(
  before: readonly string[],
  names: (kind: string) => Promise<string[]>,
  workloads: () => Promise<string[]> = () => Promise.resolve([]),
): Promise<string[]> {
  const last = before[before.length - 1];
  if (Object.hasOwn(SUBCOMMANDS, firstPositional(before))) return groupCompletions(before, names, workloads);
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
  if (verb === 'delete' && findKind(kind)?.kind === 'IPPool') return [...(await names(kind)), '--force'];
  if (verb === 'get' || verb === 'delete' || positional.length === 2) return names(kind);
  return [];
}

/** The verb: the first word that is neither a flag nor a flag's value. */
function firstPositional(words: readonly string[]): string {
  for (let i = 0; i < words.length; i++) {
    if (!words[i].startsWith('-')) return words[i];
    if (VALUE_FLAGS.has(words[i])) i++;
  }
  return '';
}

/** Nodes known by a Node or a NodeStatus (a node's agent may have reported before its Node was read). */
async function nodeNames(names: (kind: string) => Promise<string[]>): Promise<string[]> {
  const [nodes, statuses] = await Promise.all([names('node'), names('nodestatus')]);
  return [...new Set([...nodes, ...statuses])].sort();
}

/** Completion inside `ipam ...`, `workload ...`, `node ...` and `topology ...`. */
async function groupCompletions(before: readonly string[], names: (kind: string) => Promise<string[]>, workloads: () => Promise<string[]>): Promise<string[]> {
  const last = before[before.length - 1];
  if (last === '--from' || last === '--to' || last === '--pool') return names('ippool');
  if (last === '--node') return names('node');
  if (last === '--family') return ['ipv4', 'ipv6'];
  if ((last === '-o' || last === '--output') && firstPositional(before) === 'node') return [...ROUTE_FORMATS];
  if ((last === '-o' || last === '--output') && firstPositional(before) === 'topology') return ['table', 'json', 'dot'];
  if (VALUE_FLAGS.has(last)) return [];
  const positional: string[] = [];
  const used = new Set<string>();
  for (let i = 0; i < before.length; i++) {
    const w = before[i];
    if (w.startsWith('-')) {
      used.add(w);
      if (VALUE_FLAGS.has(w)) i++;
      continue;
    }
    positional.push(w);
  }
  const [group, sub, arg] = positional;
  const subs = SUBCOMMANDS[group];
  if (sub === undefined) return Object.keys(subs).sort();
  const flags = (subs[sub] ?? []).filter((f) => REPEATABLE.has(f) || !used.has(f));
  if (group === 'workload' && arg === undefined) return sub === 'delete' ? workloads() : [];
  if (group === 'node' && arg === undefined) return [...(await nodeNames(names)), ...flags];
  // topology show NODE, topology explain NODE PEER (a peer may be a node name too)
  if (group === 'topology' && (sub === 'show' || sub === 'explain') && (arg === undefined || (sub === 'explain' && positional.length === 3)))
    return [...(await names('node')), ...flags];
  return [...flags];
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
  const workloads = async (): Promise<string[]> => {
    try {
      const r = await ctx.store().list('WorkloadEndpoint', '', '');
      const ids = r.items.map((i) => {
        const w = objectOf(i) as WorkloadEndpoint;
        return `${metaOf(i).namespace}/${w.spec?.pod || w.spec?.workload || metaOf(i).name}`;
      });
      return [...new Set(ids)].sort();
    } catch {
      // Completion must stay quiet: no store or no access means no names.
      return [];
    }
  };
  for (const c of await completions(words, names, workloads)) ctx.io.stdout(`${c}\n`);
  return 0;
}
