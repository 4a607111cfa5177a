import { Command, CommanderError, Option } from 'commander';
import { KINDS, isUnknownKindError } from '@tabby/api';
import { completeCommand, completionCommand } from './commands/completion.js';
import { registerDatastore } from './commands/datastore.js';
import { deleteCommand } from './commands/delete.js';
import { getCommand } from './commands/get.js';
import { healthCommand } from './commands/health.js';
import { registerIpam } from './commands/ipam.js';
import { labelCommand } from './commands/label.js';
import { registerNode } from './commands/node.js';
import { patchCommand } from './commands/patch.js';
import { dryRunDeleteCommand, dryRunWriteCommand, registerTopology } from './commands/topology.js';
import { CLI_VERSION, versionCommand } from './commands/version.js';
import { registerWorkload } from './commands/workload.js';
import { validateCommand } from './commands/validate.js';
import { writeCommand } from './commands/write.js';
import type { ConfigFlags } from './config.js';
import { CommandContext } from './context.js';
import { isCliError } from './errors.js';
import type { CliIO } from './io.js';

const KIND_LIST = KINDS.map((k) => k.aliases[0]).sort().join(', ');

const ROOT_HELP = `
Resource kinds (case-insensitive; singular, plural and short forms as calicoctl accepts them):
  ${KIND_LIST}
  e.g. bgpconfig, bgpPeer, bgppeers, bp, ippool, pool, node, no, wep

Examples:
  tabbyctl get bgpconfig default
  tabbyctl create -f bgppeer.yaml
  cat pool.yaml | tabbyctl apply -f -
  tabbyctl get ippool -o wide
  tabbyctl get wep --all-namespaces
  tabbyctl delete bgppeer bgppeer-global-3040
  tabbyctl node status node1

The store address comes from --store, TABBY_STORE_ADDR, or a config file (--config,
TABBY_CONFIG, ~/.tabby/tabbyctl.yaml or /etc/tabby/tabbyctl.yaml):
  store: 10.0.0.5:50051
  tls: { ca: ca.pem, cert: me.pem, key: me-key.pem }
and is 127.0.0.1:50051 otherwise. The ipam address (ipam and workload commands) comes
from --ipam, TABBY_IPAM_ADDR or the file's ipam key, and is 127.0.0.1:50052 otherwise.
The topology address (topology commands, --dry-run) comes from --topology,
TABBY_TOPOLOGY_ADDR or the file's topology key, and is 127.0.0.1:50053 otherwise;
replicas go comma-separated (10.0.0.5:50053,10.0.0.6:50053; a list in the file) and
commands use whichever is up.
`;

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

function fileOptions(cmd: Command, required: boolean): Command {
  const f = new Option('-f, --filename <file>', 'file, directory or - (stdin) with resources: YAML (many documents, Lists) or JSON');
  if (required) f.makeOptionMandatory(true);
  return cmd
    .addOption(f)
    .option('-R, --recursive', 'process the directory of -f recursively')
    .option('--skip-empty', 'do not fail when -f holds no resources');
}

/**
 * Builds tabbyctl's commands around `io`. `run` parses argv (without `node` and the
 * script), runs the command and resolves with the exit code; it never calls process.exit.
 */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  let exitCode = 0;
  const program = new Command('tabbyctl');
  const ctx = new CommandContext(io, () => program.opts<ConfigFlags>());
  program
    .description('tabbyctl: a calicoctl-compatible command line for Tabby resources')
    .usage('[options] <command> [<args>...]')
    .option('--store <address>', 'store address HOST:PORT, or replicas IP:PORT,IP:PORT (env TABBY_STORE_ADDR; default 127.0.0.1:50051)')
    .option('--ipam <address>', 'ipam address HOST:PORT, or replicas IP:PORT,IP:PORT (env TABBY_IPAM_ADDR; default 127.0.0.1:50052)')
    .option('--topology <address>', 'topology address HOST:PORT, or replicas IP:PORT,IP:PORT (env TABBY_TOPOLOGY_ADDR; default 127.0.0.1:50053)')
    .option('--config <file>', 'config file with store and tls (env TABBY_CONFIG)')
    .option('--tls-ca <file>', 'PEM CA to trust for every service (env TABBY_TLS_CA)')
    .option('--tls-cert <file>', 'PEM client certificate for mTLS (env TABBY_TLS_CERT)')
    .option('--tls-key <file>', 'PEM client key for mTLS (env TABBY_TLS_KEY)')
    .addHelpText('after', ROOT_HELP)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });

  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<number> | number) =>
    async (...args: A): Promise<void> => {
      exitCode = await fn(...args);
    };

  for (const verb of ['create', 'apply', 'replace'] as const) {
    const what = { create: 'Create resources', apply: 'Create or update resources', replace: 'Replace existing resources' }[verb];
    const cmd = program.command(verb).description(`${what} from files or stdin`);
    fileOptions(cmd, true).option('-n, --namespace <ns>', 'namespace of namespaced resources that name none (default: default)');
    if (verb === 'create') cmd.option('--skip-exists', 'count resources that already exist as created');
    if (verb === 'apply') cmd.option('--progress', 'draw a progress bar on stderr even when it is not a terminal (it is drawn on a terminal anyway)');
    cmd.option('--dry-run', 'write nothing: print how the BGP sessions of every node would change, and new warnings');
    cmd.addHelpText(
      'after',
      {
        create: examples('tabbyctl create -f bgppeer.yaml', "cat << EOF | tabbyctl create -f -\n  ...\n  EOF", 'tabbyctl create -f ./manifests/ -R --skip-exists'),
        apply: examples('tabbyctl apply -f pool.yaml', 'tabbyctl get ippool -o yaml > pool.yaml && $EDITOR pool.yaml && tabbyctl apply -f pool.yaml'),
        replace: examples('tabbyctl get bgpconfig default --export -o yaml > bgp.yaml', '$EDITOR bgp.yaml', 'tabbyctl replace -f bgp.yaml'),
      }[verb],
    );
    cmd.action(
      act((opts: { filename: string; recursive?: boolean; skipEmpty?: boolean; skipExists?: boolean; namespace?: string; dryRun?: boolean; progress?: boolean }) =>
        opts.dryRun ? dryRunWriteCommand(verb, opts, ctx) : writeCommand(verb, opts, ctx),
      ),
    );
  }

  const validate = program.command('validate').description('Check resources in files or stdin as the store would, without a server');
  fileOptions(validate, true)
    .option('-n, --namespace <ns>', 'namespace of namespaced resources that name none (default: default)')
    .addHelpText('after', examples('tabbyctl validate -f pool.yaml', 'tabbyctl validate -f ./manifests/ -R'))
    .action(act((opts: { filename: string; recursive?: boolean; skipEmpty?: boolean; namespace?: string }) => validateCommand(opts, ctx)));

  const del = program
    .command('delete')
    .description('Delete resources by kind and name, or those named in files')
    .argument('[kind]', 'resource kind')
    .argument('[names...]', 'resource names');
  fileOptions(del, false)
    .option('-s, --skip-not-exists', 'count resources that do not exist as deleted')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('--force', 'delete an IP pool even though workloads still hold addresses in it (they break; see tabbyctl ipam migrate)')
    .option('--dry-run', 'delete nothing: print how the BGP sessions of every node would change, and new warnings')
    .addHelpText('after', examples('tabbyctl delete bgppeer bgppeer-global-3040', 'tabbyctl delete pool default-ipv4-ippool', 'tabbyctl delete -f bgppeers.yaml'))
    .action(
      act((kind: string | undefined, names: string[], opts: { filename?: string; recursive?: boolean; skipEmpty?: boolean; skipNotExists?: boolean; namespace?: string; force?: boolean; dryRun?: boolean }) =>
        (opts.dryRun ? dryRunDeleteCommand : deleteCommand)(kind === undefined ? [] : [kind, ...names], opts, ctx),
      ),
    );

  const get = program
    .command('get')
    .description('Print resources: a table, -o wide, yaml, json or name')
    .argument('[kind]', 'resource kind')
    .argument('[names...]', 'resource names (all when none)');
  fileOptions(get, false)
    .option('-o, --output <format>', 'ps (default), wide, yaml, json or name')
    .option('--export', 'leave out uid, resourceVersion, creationTimestamp and namespace, to apply elsewhere')
    .option('-n, --namespace <ns>', 'namespace of namespaced kinds (default: default)')
    .option('-A, --all-namespaces', 'every namespace')
    .addOption(new Option('-a').hideHelp().implies({ allNamespaces: true }))
    .option('-l, --selector <selector>', "label selector, e.g. \"rack == 'r1'\" or has(i-am-a-route-reflector)")
    .addHelpText(
      'after',
      examples('tabbyctl get bgpPeer', 'tabbyctl get bgpconfig default --export -o yaml > bgp.yaml', 'tabbyctl get ippool -o wide', 'tabbyctl get wep --all-namespaces', "tabbyctl get nodes -l 'has(i-am-a-route-reflector)'"),
    )
    .action(
      act((kind: string | undefined, names: string[], opts: Parameters<typeof getCommand>[1]) => getCommand(kind === undefined ? [] : [kind, ...names], opts, ctx)),
    );

  program
    .command('patch')
    .description('Patch a resource with a JSON merge patch')
    .argument('<kind>', 'resource kind')
    .argument('<name>', 'resource name')
    .requiredOption('-p, --patch <patch>', 'JSON object merged into the resource')
    .option('-t, --type <type>', 'strategic (default) or merge: both merge objects key by key', 'strategic')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .addHelpText('after', examples(`tabbyctl patch ippool default-ipv4-ippool -p '{"spec":{"disabled":true}}'`, `tabbyctl patch bgpconfig default -p '{"spec":{"nodeToNodeMeshEnabled":false}}'`))
    .action(act((kind: string, name: string, opts: { patch: string; type?: string; namespace?: string }) => patchCommand(kind, name, opts, ctx)));

  program
    .command('label')
    .description('Set, overwrite or remove a label of a resource')
    .argument('<kind>', 'resource kind')
    .argument('<name>', 'resource name')
    .argument('<label>', 'key=value to set, or key with --remove')
    .option('--overwrite', 'replace the value of an existing key')
    .option('--remove', 'remove the key')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .addHelpText('after', examples('tabbyctl label nodes node1 i-am-a-route-reflector=true', 'tabbyctl label nodes node1 rack=r2 --overwrite', 'tabbyctl label nodes node1 rack --remove'))
    .action(act((kind: string, name: string, label: string, opts: { overwrite?: boolean; remove?: boolean; namespace?: string }) => labelCommand(kind, name, label, opts, ctx)));

  registerIpam(program, ctx, act);
  registerWorkload(program, ctx, act);
  registerNode(program, ctx, act);
  registerTopology(program, ctx, act);
  registerDatastore(program, ctx, act);

  program
    .command('version')
    .description('Print the client version and the version of the store it talks to')
    .option('--client', 'only the client')
    .addHelpText('after', examples('tabbyctl version', 'tabbyctl version --client'))
    .action(act((opts: { client?: boolean }) => versionCommand(opts, ctx)));

  program
    .command('health')
    .description('Ask a Tabby service (or any gRPC server) for its grpc.health.v1 status; exit 0 only when SERVING')
    .argument('<address>', 'HOST:PORT of the service, e.g. 127.0.0.1:50051')
    .option('--service <name>', 'a service of that server, e.g. tabby.v1.ResourceStore (default: the whole server)')
    .option('--timeout <seconds>', 'give up after this many seconds (default 5)')
    .addHelpText('after', examples('tabbyctl health 127.0.0.1:50051', 'tabbyctl health 127.0.0.1:50052 --service tabby.v1.Ipam', 'tabbyctl --tls-ca ca.pem health store.example:50051'))
    .action(act((address: string, opts: { service?: string; timeout?: string }) => healthCommand(address, opts, ctx)));

  program
    .command('completion')
    .description('Print a shell completion script (verbs, kinds, resource names)')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', examples('source <(tabbyctl completion bash)', 'tabbyctl completion zsh > "${fpath[1]}/_tabbyctl"'))
    .action(act((shell: string) => completionCommand(shell, ctx)));

  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption(true)
    .helpOption(false)
    .action(act((words: string[]) => completeCommand(words, ctx)));

  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
      io.stderr(`${commanderMessage(err)}\n`);
      return 1;
    }
    if (isCliError(err)) {
      io.stderr(`${err.message}\n`);
      return err.exitCode;
    }
    if (isUnknownKindError(err)) {
      io.stderr(`${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    ctx.close();
  }
}

/** Commander's parse errors in calicoctl's words. */
function commanderMessage(err: CommanderError): string {
  const msg = err.message.replace(/^error: /, '');
  switch (err.code) {
    case 'commander.unknownOption':
      return `Invalid option: ${msg.replace(/^unknown option /, '')}. Use flag '--help' to read about a specific subcommand.`;
    case 'commander.unknownCommand':
      return `Invalid command: ${msg.replace(/^unknown command /, '')}. Use 'tabbyctl --help' to list the commands.`;
    default:
      return `${msg}. Use flag '--help' to read about a specific subcommand.`;
  }
}

export { CLI_VERSION };
