/**
 * `tabbyctl topology show|explain|check` against tabby-topology, and `--dry-run` of the
 * write commands: what a manifest would do to every node's BGP sessions, before it is
 * written.
 */
import { cloneResource, metaOf, mustFindKind, wrap } from '@tabby/api';
import { ListPeeringsResponse, NodeConfig, type Resource } from '@tabby/proto';
import type { Command } from 'commander';
import { examples, plural, type Act } from '../command-kit.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { readInput } from '../input.js';
import { checkKindScope, settleNamespace } from '../namespace.js';
import { isTopologyCallError } from '../topology-client.js';
import { checkText, explanationText, hasErrors, nodeConfigText, peeringsDot, peeringsTable, previewText } from '../topology-print.js';
import type { DeleteOptions } from './delete.js';
import type { WriteOptions } from './write.js';

export const TOPOLOGY_FORMATS = ['table', 'json', 'dot'] as const;
export type TopologyFormat = (typeof TOPOLOGY_FORMATS)[number];

/** Reads `-o` of `topology show`; anything else names the formats there are. */
export function parseTopologyFormat(text: string | undefined): TopologyFormat {
  if (text === undefined || text === '') return 'table';
  if ((TOPOLOGY_FORMATS as readonly string[]).includes(text)) return text as TopologyFormat;
  throw new CliError(`unrecognized output format '${text}' (use one of: ${TOPOLOGY_FORMATS.join(', ')})`);
}

/** A topology call whose failure (the service's own message) becomes a one-line error. */
async function topologyCall<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (isTopologyCallError(err)) throw new CliError(err.message);
    throw err;
  }
}

/** `topology show [NODE] [-o table|json|dot]`. */
export async function topologyShowCommand(node: string | undefined, opts: { output?: string }, ctx: CommandContext): Promise<number> {
  const format = parseTopologyFormat(opts.output);
  const topology = ctx.topology();
  if (node !== undefined && format !== 'dot') {
    const config = await topologyCall(topology.nodeConfig(node));
    ctx.io.stdout(format === 'json' ? `${JSON.stringify(NodeConfig.toJSON(config), null, 2)}\n` : nodeConfigText(config));
    return 0;
  }
  const peerings = await topologyCall(topology.peerings(node));
  if (format === 'json') ctx.io.stdout(`${JSON.stringify(ListPeeringsResponse.toJSON(peerings), null, 2)}\n`);
  else if (format === 'dot') ctx.io.stdout(peeringsDot(peerings));
  else ctx.io.stdout(peeringsTable(peerings));
  return 0;
}

/** `topology explain NODE PEER`: exit 0 when there is a session, 1 when there is none. */
export async function topologyExplainCommand(node: string, peer: string, ctx: CommandContext): Promise<number> {
  const res = await topologyCall(ctx.topology().explain(node, peer));
  ctx.io.stdout(explanationText(node, peer, res));
  return res.sessions.length > 0 ? 0 : 1;
}

/** `topology check`: exit 1 when a problem would lose routes or sessions (an error). */
export async function topologyCheckCommand(ctx: CommandContext): Promise<number> {
  const res = await topologyCall(ctx.topology().check());
  ctx.io.stdout(checkText(res));
  return hasErrors(res.warnings) ? 1 : 0;
}

const GERUND = { create: 'Creating', apply: 'Applying', replace: 'Replacing', delete: 'Deleting' } as const;

async function printPreview(verb: keyof typeof GERUND, count: number, apply: Resource[], remove: Resource[], ctx: CommandContext): Promise<number> {
  const res = await topologyCall(ctx.topology().preview(apply, remove));
  ctx.io.stdout(previewText(res, `${GERUND[verb]} ${plural(count, 'resource')}`));
  return hasErrors(res.warnings) ? 1 : 0;
}

/**
 * `create|apply|replace -f FILE --dry-run`: nothing is written; prints what the resources
 * would change in each node's sessions and the warnings they would introduce. Exits 1 when
 * the change would introduce an error (lost routes, sessions that cannot come up).
 */
export async function dryRunWriteCommand(verb: 'create' | 'apply' | 'replace', opts: WriteOptions, ctx: CommandContext): Promise<number> {
  const inputs = await readInput(opts.filename, ctx.io, { recursive: opts.recursive === true, skipEmpty: opts.skipEmpty === true });
  const resources: Resource[] = [];
  for (const input of inputs) {
    const resource = cloneResource(input.resource);
    const nsError = settleNamespace(input.kind, resource, { namespace: opts.namespace });
    if (nsError) throw new CliError(`${input.source}: document ${input.document}, line ${input.position.line}: ${nsError}`);
    resources.push(resource);
  }
  if (resources.length === 0) {
    ctx.io.stdout('No resources specified\n');
    return 0;
  }
  return printPreview(verb, resources.length, resources, [], ctx);
}

/** `delete KIND NAME... --dry-run` or `delete -f FILE --dry-run`. */
export async function dryRunDeleteCommand(args: readonly string[], opts: DeleteOptions, ctx: CommandContext): Promise<number> {
  const targets: Resource[] = [];
  if (opts.filename !== undefined) {
    if (args.length > 0) throw new CliError('give either KIND NAME... or -f FILE, not both');
    for (const input of await readInput(opts.filename, ctx.io, { recursive: opts.recursive === true, skipEmpty: opts.skipEmpty === true })) {
      const resource = cloneResource(input.resource);
      const nsError = settleNamespace(input.kind, resource, { namespace: opts.namespace });
      if (nsError) throw new CliError(`${input.source}: document ${input.document}, line ${input.position.line}: ${nsError}`);
      targets.push(resource);
    }
  } else {
    const [kindName, ...names] = args;
    if (!kindName) throw new CliError('delete needs KIND NAME... or -f FILE (see tabbyctl delete --help)');
    const kind = mustFindKind(kindName);
    checkKindScope(kind, { namespace: opts.namespace });
    if (names.length === 0 || names.includes('')) throw new CliError('resource name may not be empty');
    for (const name of names) {
      const r = wrap(kind, kind.fromPartial({}));
      const m = metaOf(r);
      m.name = name;
      m.namespace = kind.namespaced ? (opts.namespace ?? 'default') : '';
      targets.push(r);
    }
  }
  return printPreview('delete', targets.length, [], targets, ctx);
}

/** Registers `topology show|explain|check` on the program. */
export function registerTopology(program: Command, ctx: CommandContext, act: Act): void {
  const topology = program
    .command('topology')
    .description('The BGP sessions tabby-topology compiles for every node: show them, explain one, check them')
    .usage('<command> [options]')
    .addHelpText(
      'after',
      examples(
        'tabbyctl topology show',
        'tabbyctl topology show node1',
        'tabbyctl topology show -o dot | dot -Tsvg > sessions.svg',
        'tabbyctl topology explain node2 node1',
        'tabbyctl topology check',
        'tabbyctl apply -f bgp.yaml --dry-run',
      ) +
        '\nThe topology address comes from --topology, TABBY_TOPOLOGY_ADDR or the config file key\ntopology, and is 127.0.0.1:50053 otherwise.\n',
    );

  topology
    .command('show')
    .description('Print every BGP session (or one node\'s compiled configuration): a table, json, or a Graphviz graph')
    .argument('[node]', 'only this node')
    .option('-o, --output <format>', 'table (default), json or dot')
    .addHelpText('after', examples('tabbyctl topology show', 'tabbyctl topology show node1', 'tabbyctl topology show node1 -o json', 'tabbyctl topology show -o dot | dot -Tsvg > sessions.svg'))
    .action(act((node: string | undefined, opts: { output?: string }) => topologyShowCommand(node, opts, ctx)));

  topology
    .command('explain')
    .description('Say which resources and rules give NODE its session with PEER (an address or a node), or why it has none')
    .argument('<node>', 'the node')
    .argument('<peer>', 'an address (10.0.0.2, 10.0.0.2:1790, [fd00::2]:1790) or a node name')
    .addHelpText('after', examples('tabbyctl topology explain node2 node1', 'tabbyctl topology explain node1 192.20.30.40') + '\nExits 1 when there is no such session.\n')
    .action(act((node: string, peer: string) => topologyExplainCommand(node, peer, ctx)));

  topology
    .command('check')
    .description('Look for lost routes, sessions that cannot come up, lone route reflectors and selectors that match nothing')
    .addHelpText('after', examples('tabbyctl topology check') + '\nExits 1 when a problem is an error (routes or sessions lost).\n')
    .action(act(() => topologyCheckCommand(ctx)));
}
