import { statSync } from 'node:fs';
import { dialStore, dialTopology } from '@tabby/client';
import { AgentService, loadDescriptorSet } from '@tabby/proto';
import {
  ConfigError,
  GrpcServer,
  grpcTarget,
  componentLogger,
  optionalMetricsServer,
  serviceBus,
  type EventBus,
  type HostPort,
  type OptionalMetricsServer,
  type Logger,
  type NatsSecurity,
  type ClientTlsFiles,
  type ServerTlsFiles,
  type ServiceMetrics,
} from '@tabby/runtime';
import { parseIP } from '@tabby/api';
import { DEFAULT_ROUTE_PROTOCOL, LinuxDataplane, parseRouteTable, type Dataplane } from '@tabby/dataplane';
import { NodeAgent, type BgpListenMode } from './agent.js';
import { createAgentMetrics } from './agent-metrics.js';
import { parseAllowList } from './peers.js';
import { SecretsDir } from './secrets.js';
import { agentService } from './service.js';

export interface AgentAppOptions {
  readonly node: string;
  readonly listen: HostPort;
  /** Where others reach the gRPC service (written to the NodeStatus); default {@link advertisedAddress}. */
  readonly advertiseAddress?: HostPort;
  readonly bgpAddress: string;
  readonly bgpIpv6Address?: string;
  readonly bgpPort: number;
  /** `--bgp-listen`: follow bindMode (default) or always only the node's addresses. */
  readonly bgpListen?: BgpListenMode;
  readonly nextHopIPv4?: string;
  readonly nextHopIPv6?: string;
  readonly asNumber: number;
  readonly holdTimeS: number;
  /** Comma-separated CIDRs the agent may dial or accept. */
  readonly peerAllow?: string;
  readonly store: string;
  /** Address of tabby-topology, or its replicas comma-separated (see `grpcTarget`). */
  readonly topology: string;
  readonly natsUrl?: string;
  /** NATS credentials and TLS (from `natsSecurity` of the --nats-* flags). */
  readonly natsSecurity?: NatsSecurity;
  readonly bus?: EventBus;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly metricsAddress?: HostPort;
  readonly tls?: ServerTlsFiles;
  /** How to dial the store and topology (plaintext when absent); see `serviceDialTls`. */
  readonly clientTls?: ClientTlsFiles;
  readonly statusIntervalMs: number;
  readonly callLogLevel?: 'info' | 'debug';
  /** `linux` programs the routing table; `none` (default) only speaks BGP. */
  readonly dataplane?: 'linux' | 'none';
  /** `main` or a table number (default main). */
  readonly routeTable?: string;
  /** Protocol number of Tabby's routes (default 84). */
  readonly routeProtocol?: number;
  readonly routeScanIntervalMs?: number;
  readonly gracefulRestartWaitMs?: number;
  /** `--route-cleanup-grace`: how long a route to an unknown workload interface stays (default 10 s). */
  readonly routeCleanupGraceMs?: number;
  /** `--secrets-dir`: BGP passwords as DIR/<secret>/<key>. */
  readonly secretsDir?: string;
}

export interface AgentApp {
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly agent: NodeAgent;
  stop(): Promise<void>;
}

function checkAddress(flag: string, value: string | undefined, family: 4 | 6): void {
  if (value === undefined) return;
  const ip = parseIP(value);
  if (!ip || ip.family !== family) throw new ConfigError(`${flag}: expected an IPv${family} address, got "${value}"`);
}

function isUnspecified(host: string): boolean {
  const ip = parseIP(host);
  return ip !== undefined && ip.value === 0n;
}

/**
 * The gRPC address the agent writes to its NodeStatus: --advertise-address when given,
 * else the --listen host with the bound port, except that an unspecified listen host
 * (0.0.0.0 or ::, as with hostNetwork in a DaemonSet) is replaced by the --bgp-address,
 * the node's own address.
 */
export function advertisedAddress(listen: HostPort, boundPort: number, bgpAddress: string, advertise?: HostPort): string {
  if (advertise) return advertise.text;
  const host = isUnspecified(listen.host) ? bgpAddress : listen.host;
  return host.includes(':') ? `[${host}]:${boundPort}` : `${host}:${boundPort}`;
}

function checkAdvertise(advertise: HostPort | undefined): void {
  if (!advertise) return;
  if (advertise.port === 0) throw new ConfigError(`--advertise-address: port 0 cannot be dialled, got "${advertise.text}" (leave the flag out to advertise the bound --listen port)`);
  if (isUnspecified(advertise.host)) throw new ConfigError(`--advertise-address: ${advertise.host} cannot be dialled, got "${advertise.text}": give this node's address`);
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Starts tabby-agent for one node. */
export async function startAgent(opts: AgentAppOptions): Promise<AgentApp> {
  if (!opts.node) throw new ConfigError('--node is required (the name of this node)');
  if (!opts.bgpAddress) throw new ConfigError('--bgp-address is required (the IPv4 address BGP binds to)');
  checkAddress('--bgp-address', opts.bgpAddress, 4);
  checkAddress('--bgp-ipv6-address', opts.bgpIpv6Address, 6);
  checkAddress('--next-hop-ipv4', opts.nextHopIPv4, 4);
  checkAddress('--next-hop-ipv6', opts.nextHopIPv6, 6);
  checkAdvertise(opts.advertiseAddress);
  if (opts.holdTimeS !== 0 && opts.holdTimeS < 3) throw new ConfigError('--hold-time: expected 0 or 3-65535');
  const allow = parseAllowList(opts.peerAllow);
  // Bad addresses stop the agent before it touches anything.
  grpcTarget(opts.topology, '--topology');
  grpcTarget(opts.store, '--store');
  if (opts.secretsDir !== undefined && !isDirectory(opts.secretsDir)) throw new ConfigError(`--secrets-dir: ${opts.secretsDir} is not a readable directory`);
  const log = opts.logger;
  let table: number | undefined;
  if (opts.dataplane === 'linux') {
    const parsed = parseRouteTable(opts.routeTable ?? 'main');
    if ('error' in parsed) throw new ConfigError(`--route-table: ${parsed.error}`);
    table = parsed.value;
  }
  let dataplane: Dataplane | undefined;
  if (table !== undefined) {
    try {
      dataplane = await LinuxDataplane.open({ table, protocol: opts.routeProtocol ?? DEFAULT_ROUTE_PROTOCOL, logger: componentLogger(log, 'dataplane') });
    } catch (err) {
      throw new ConfigError(`--dataplane linux: ${(err as Error).message}`);
    }
    log.info({ dataplane: dataplane.description }, 'programming the routing table');
  }
  const metrics = createAgentMetrics(opts.metrics.registry);
  const store = dialStore({ address: opts.store, tls: opts.clientTls, flag: '--store', logger: log });
  // Topology replicas are derived state: any live one will do (round_robin over the list).
  const topology = dialTopology({ address: opts.topology, tls: opts.clientTls, flag: '--topology', balance: 'always', logger: log });
  const events = await serviceBus({ bus: opts.bus, natsUrl: opts.natsUrl, natsSecurity: opts.natsSecurity, name: `tabby-agent-${opts.node}`, logger: log });
  const bus = events.bus;
  const agent = new NodeAgent({
    node: opts.node,
    bgpAddress: opts.bgpAddress,
    bgpIpv6Address: opts.bgpIpv6Address,
    bgpPort: opts.bgpPort,
    bgpListen: opts.bgpListen ?? 'config',
    nextHopIPv4: opts.nextHopIPv4,
    nextHopIPv6: opts.nextHopIPv6,
    asNumber: opts.asNumber,
    holdTimeS: opts.holdTimeS,
    allow,
    store,
    topology,
    bus,
    logger: componentLogger(log, 'agent'),
    metrics,
    statusIntervalMs: opts.statusIntervalMs,
    dataplane,
    scanIntervalMs: opts.routeScanIntervalMs,
    convergenceTimeoutMs: opts.gracefulRestartWaitMs,
    routeCleanupGraceMs: opts.routeCleanupGraceMs,
    secrets: new SecretsDir(opts.secretsDir),
  });
  const server = new GrpcServer({ logger: componentLogger(log, 'grpc'), metrics: opts.metrics, tls: opts.tls, descriptorSets: [loadDescriptorSet()], callLogLevel: opts.callLogLevel });
  server.addService('tabby.v1.Agent', AgentService, agentService(agent));
  let metricsServer: OptionalMetricsServer | undefined;
  const close = async (): Promise<void> => {
    store.close();
    topology.close();
    await events.close();
    await metricsServer?.close();
  };
  try {
    const port = await server.listen(opts.listen);
    metricsServer = await optionalMetricsServer(opts.metricsAddress, opts.metrics.registry, log);
    const address = advertisedAddress(opts.listen, port, opts.bgpAddress, opts.advertiseAddress);
    await agent.start(address);
    server.setServing(true);
    log.info({ node: opts.node, bgpAddress: opts.bgpAddress, advertiseAddress: address, store: opts.store, topology: opts.topology }, 'agent running');
    return {
      port,
      metricsPort: metricsServer.port,
      agent,
      stop: async () => {
        await server.shutdown();
        await agent.stop();
        await close();
      },
    };
  } catch (err) {
    await server.shutdown(0);
    await agent.stop();
    await close();
    throw err;
  }
}
