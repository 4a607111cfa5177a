/**
 * `tabbyctl node status [NODE] [--all] [--agent ADDR]` and `tabbyctl node routes NODE`:
 * a node's BGP sessions in calicoctl's layout, read from the NodeStatus its agent writes
 * to the store (so from any machine, unlike calicoctl), or asked of the agent itself; and
 * the node's routing table, asked of its agent at the address its NodeStatus gives.
 */
import { hostname } from 'node:os';
import { status } from '@grpc/grpc-js';
import { metaOf, objectOf, parseCIDR } from '@tabby/api';
import type { NodeStatus } from '@tabby/proto';
import type { Command } from 'commander';
import { AgentClient, isAgentCallError, type AgentApi } from '../agent-client.js';
import { parseTime } from '../bird-time.js';
import { examples, type Act } from '../command-kit.js';
import type { CommandContext } from '../context.js';
import { CliError, isCliError } from '../errors.js';
import { nodeStatusText, statusHealth } from '../node-status-text.js';
import { parseRouteFormat, renderRoutes } from '../route-table.js';
import { isStoreCallError, type StoreClient } from '../store-client.js';

/**
 * The clock `node status` judges SINCE and staleness by. `TABBYCTL_NOW` (an RFC 3339
 * time) fixes it; only tests set it, to make output reproducible.
 */
export function clockOf(env: Readonly<Record<string, string | undefined>>): Date {
  const fixed = env.TABBYCTL_NOW;
  if (fixed === undefined || fixed === '') return new Date();
  const t = parseTime(fixed);
  if (t === undefined) throw new CliError(`TABBYCTL_NOW must be an RFC 3339 time such as 2024-05-01T12:00:00Z, got "${fixed}"`);
  return t;
}

/**
 * The node `node status` shows when none is named: as calicoctl, the machine it runs on.
 * `TABBY_NODE` (the variable tabby-agent reads its --node from) wins over the host name,
 * which is lower-cased as Calico does when it names a node after its host.
 */
export function localNodeName(env: Readonly<Record<string, string | undefined>>): string {
  return env.TABBY_NODE || hostname().trim().toLowerCase();
}

export interface NodeStatusOptions {
  readonly all?: boolean;
  readonly agent?: string;
}

/** Makes the agent client; tests replace it. */
export type AgentFactory = (address: string) => AgentApi;

function agentFactory(ctx: CommandContext): AgentFactory {
  return (address) => new AgentClient(address, ctx.config.tls);
}

/**
 * A store call for `node` commands: answers with the store's message, or adds the --agent
 * hint (`hint`: the command that asks the agent directly) when the store is out of reach.
 */
async function storeCall<T>(ctx: CommandContext, p: Promise<T>, hint = 'tabbyctl node status --agent HOST:PORT'): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (isStoreCallError(err)) throw new CliError(err.message, 1, { cause: err });
    if (isCliError(err) && /^(cannot reach|the Tabby store at)/.test(err.message)) {
      throw new CliError(`${err.message}; without a store, ask the node's agent: ${hint}`, 1, { cause: err });
    }
    throw err;
  }
}

async function agentCall<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (isAgentCallError(err)) throw new CliError(err.message, 1, { cause: err });
    throw err;
  }
}

/** The NodeStatus named `node`, or undefined when there is none. */
async function readStatus(store: StoreClient, node: string): Promise<NodeStatus | undefined> {
  try {
    return objectOf(await store.get('NodeStatus', '', node)) as NodeStatus;
  } catch (err) {
    if (isStoreCallError(err) && err.code === status.NOT_FOUND) return undefined;
    throw err;
  }
}

async function nodeExists(store: StoreClient, node: string): Promise<boolean> {
  try {
    await store.get('Node', '', node);
    return true;
  } catch (err) {
    if (isStoreCallError(err) && err.code === status.NOT_FOUND) return false;
    throw err;
  }
}

/** Why there is no status for `node`, in one line that says what to do. */
async function noStatus(ctx: CommandContext, node: string, fromHost: boolean): Promise<CliError> {
  const exists = await storeCall(ctx, nodeExists(ctx.store(), node));
  if (fromHost && !exists) {
    return new CliError(
      `no status for node ${node} (this machine's name; TABBY_NODE overrides it) and no such node: name one, e.g. tabbyctl node status node1, or use --all (tabbyctl get nodes lists the nodes)`,
    );
  }
  if (!exists) return new CliError(`no status for node ${node}: there is no such node (tabbyctl get nodes lists the nodes)`);
  return new CliError(`no status for node ${node}: is its agent running? (tabby-agent --node ${node} writes it to this store when it starts)`);
}

/** `node status --all`: every node with a Node or a NodeStatus, by name, each under `==> NAME <==`. */
async function allStatuses(ctx: CommandContext, now: Date): Promise<number> {
  const store = ctx.store();
  const [statuses, nodes] = await storeCall(ctx, Promise.all([store.list('NodeStatus', '', ''), store.list('Node', '', '')]));
  const byName = new Map<string, NodeStatus | undefined>();
  for (const n of nodes.items) byName.set(metaOf(n).name, undefined);
  for (const s of statuses.items) byName.set(metaOf(s).name, objectOf(s) as NodeStatus);
  if (byName.size === 0) throw new CliError(`no nodes and no node status in the store at ${ctx.config.store}: no agent has reported yet`);
  let healthy = true;
  for (const name of [...byName.keys()].sort()) {
    const ns = byName.get(name);
    ctx.io.stdout(`==> ${name} <==\n`);
    if (ns === undefined) {
      ctx.io.stdout(`No status for node ${name}: is its agent running?\n\n`);
      healthy = false;
      continue;
    }
    const r = nodeStatusText(ns, now);
    ctx.io.stdout(r.text);
    healthy &&= r.running;
  }
  return healthy ? 0 : 1;
}

/**
 * `node status [NODE] [--all] [--agent ADDR]`: prints calicoctl's layout for the node;
 * exits 1 when its agent is not known to be running (stale or NotReady), as calicoctl
 * exits 1 when the Calico process is not running, and when there is no status at all.
 */
export async function nodeStatusCommand(node: string | undefined, opts: NodeStatusOptions, ctx: CommandContext, makeAgent: AgentFactory = agentFactory(ctx)): Promise<number> {
  const now = clockOf(ctx.io.env);
  if (opts.all) {
    if (node !== undefined) throw new CliError('give either NODE or --all, not both');
    if (opts.agent !== undefined) throw new CliError('--all reads every node from the store; --agent asks one node\'s agent: give one of them');
    return allStatuses(ctx, now);
  }
  if (node === '') throw new CliError('node name may not be empty');
  let ns: NodeStatus | undefined;
  if (opts.agent !== undefined) {
    const agent = makeAgent(opts.agent);
    try {
      ns = (await agentCall(agent.status())).status;
    } finally {
      agent.close();
    }
    const reported = ns?.spec?.node || ns?.metadata?.name || '';
    if (ns === undefined) throw new CliError(`the agent at ${opts.agent} sent no status`);
    if (node !== undefined && reported !== node) throw new CliError(`the agent at ${opts.agent} runs node ${reported}, not ${node}: give ${node}'s agent address with --agent`);
  } else {
    const name = node ?? localNodeName(ctx.io.env);
    ns = await storeCall(ctx, readStatus(ctx.store(), name));
    if (ns === undefined) throw await noStatus(ctx, name, node === undefined);
  }
  const r = nodeStatusText(ns, now);
  ctx.io.stdout(r.text);
  return r.running ? 0 : 1;
}

export interface NodeRoutesOptions {
  readonly agent?: string;
  readonly family?: string;
  readonly prefix?: string;
  readonly output?: string;
}

/** Where NODE's agent is: the address in NodeStatus NODE, with the status (for messages); one line when there is none. */
async function agentOfNode(ctx: CommandContext, node: string): Promise<{ address: string; status: NodeStatus }> {
  const hint = `tabbyctl node routes ${node} --agent HOST:PORT`;
  const store = ctx.store();
  const ns = await storeCall(ctx, readStatus(store, node), hint);
  if (ns === undefined) {
    if (!(await storeCall(ctx, nodeExists(store, node), hint))) throw new CliError(`no such node ${node} (tabbyctl get nodes lists the nodes)`);
    throw new CliError(`no status for node ${node} yet, so no agent address: is its agent running? (tabby-agent --node ${node} reports it when it starts); or give it with --agent HOST:PORT`);
  }
  const address = ns.status?.agent?.address ?? '';
  if (address === '') {
    throw new CliError(`the status of node ${node} has no agent address (its agent predates --advertise-address): pass --agent HOST:PORT`);
  }
  return { address, status: ns };
}

/**
 * `node routes NODE [--family ipv4|ipv6] [--prefix CIDR] [--agent ADDR] [-o FORMAT]`: the
 * node's Loc-RIB from its agent. The agent's address is --agent, else TABBY_AGENT_ADDR,
 * else the address NODE's agent wrote in its NodeStatus; the agent must be NODE's.
 */
export async function nodeRoutesCommand(node: string, opts: NodeRoutesOptions, ctx: CommandContext, makeAgent: AgentFactory = agentFactory(ctx)): Promise<number> {
  if (node === '') throw new CliError('node name may not be empty');
  const format = parseRouteFormat(opts.output);
  const family = opts.family ?? '';
  if (family !== '' && family !== 'ipv4' && family !== 'ipv6') throw new CliError(`invalid --family "${family}": use ipv4 or ipv6`);
  let prefix = '';
  if (opts.prefix !== undefined) {
    const cidr = parseCIDR(opts.prefix);
    if (!cidr) throw new CliError(`invalid --prefix "${opts.prefix}": use a CIDR such as 10.0.24.0/26`);
    prefix = cidr.canonical;
  }
  const explicit = opts.agent ?? (ctx.io.env.TABBY_AGENT_ADDR || undefined);
  const found = explicit === undefined ? await agentOfNode(ctx, node) : undefined;
  const address = explicit ?? found?.address ?? '';
  const agent = makeAgent(address);
  let res;
  try {
    res = await agentCall(agent.routes(family, prefix));
  } catch (err) {
    if (found && isCliError(err) && /^(cannot reach|the Tabby agent at)/.test(err.message)) {
      const health = statusHealth(found.status, clockOf(ctx.io.env));
      const why = health.running ? "reported recently: can this machine reach the agent's --advertise-address?" : `which may be stale: ${health.line}`;
      throw new CliError(`${err.message}; ${address} comes from ${node}'s NodeStatus, ${why}`, 1, { cause: err });
    }
    throw err;
  } finally {
    agent.close();
  }
  if (res.node !== node) {
    const whence = found ? ` (the address in ${node}'s NodeStatus: stale?)` : '';
    throw new CliError(`the agent at ${address}${whence} runs node ${res.node}, not ${node}: give ${node}'s agent address with --agent`);
  }
  ctx.io.stdout(renderRoutes(res, format));
  return 0;
}

/** Registers `node` and its sub-commands on the program. */
export function registerNode(program: Command, ctx: CommandContext, act: Act): void {
  const group = program
    .command('node')
    .description("A node's BGP sessions and routes, from the status its agent reports or from the agent itself")
    .usage('<command> [options]')
    .addHelpText('after', examples('tabbyctl node status node1', 'tabbyctl node status --all', 'tabbyctl node routes node1'));

  group
    .command('status')
    .description("Show a node's BGP peers as calicoctl node status does, from any machine")
    .argument('[node]', 'node name (default: TABBY_NODE, else this machine\'s host name)')
    .option('--all', 'every node, by name, each under a ==> NODE <== line')
    .option('--agent <address>', 'ask the agent at HOST:PORT directly (when the store is down), with the TLS flags of the store')
    .addHelpText(
      'after',
      examples('tabbyctl node status node1', 'tabbyctl node status --all', 'tabbyctl node status node1 --agent 127.0.0.11:50054') +
        `
The status is the NodeStatus the node's agent writes to the store on every change and
at least every reporting period. The first line says whether the agent is running; a
report older than three periods is stale. SINCE is the time of the last state change
as BIRD prints it: HH:MM:SS within 20 hours, YYYY-MM-DD before, in the local time zone.
Exit status 1 when the status is missing, stale or NotReady (as calicoctl exits 1 when
the Calico process is not running).
`,
    )
    .action(act((node: string | undefined, opts: NodeStatusOptions) => nodeStatusCommand(node, opts, ctx)));

  group
    .command('routes')
    .description("Show a node's routing table (best paths and alternatives), from its agent")
    .argument('<node>', 'node name')
    .option('--agent <address>', "ask the agent at HOST:PORT (env TABBY_AGENT_ADDR; default: the address in the node's status)")
    .option('--family <family>', 'ipv4 or ipv6 (default: both)')
    .option('--prefix <cidr>', 'only this prefix')
    .option('-o, --output <format>', 'ps (default), wide, json or yaml')
    .addHelpText(
      'after',
      examples('tabbyctl node routes node1', 'tabbyctl node routes node1 --family ipv6 -o wide', 'tabbyctl node routes node1 --prefix 10.0.24.0/26 -o yaml', 'tabbyctl node routes node1 --agent 127.0.0.11:50054') +
        `
The agent is found at the gRPC address it writes to the node's NodeStatus (tabby-agent
--advertise-address, else its --listen address), with the TLS flags of the store;
--agent asks the agent at HOST:PORT instead (when the store is down).

One row per path, best first; * marks the best path and REASON says why it won. FROM is
the peer the path came from, or local for the node's own blocks.
`,
    )
    .action(act((node: string, opts: NodeRoutesOptions) => nodeRoutesCommand(node, opts, ctx)));
}
