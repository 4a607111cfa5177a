/**
 * A whole Tabby cluster for system tests: nats-server, tabby-store (asking ipam before pool
 * deletes), tabby-ipam, tabby-topology and one tabby-agent per node on 127.0.0.x, all real
 * processes stopped by PID.
 */
import { credentials } from '@grpc/grpc-js';
import { metaOf, parseManifest } from '@tabby/api';
import { ProcessGroup, eventually, freePort, startNats, startService, tempDir, type NatsServer, type ServiceProcess } from '@tabby/harness';
import { AgentClient, IpamClient, ResourceStoreClient, TopologyClient, type NodeStatus, type Resource, type Route } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';

export const call = <Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req): Promise<Res> => callUnary(method, req, { timeoutMs: 15_000 });

export function resources(text: string): Resource[] {
  const r = parseManifest(text);
  if (r.errors.length > 0) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.resources.map((x) => x.resource);
}

export interface AgentHandle {
  readonly node: string;
  readonly address: string;
  process: ServiceProcess;
  client: AgentClient;
  readonly args: readonly string[];
}

export class Cluster {
  readonly group = new ProcessGroup();
  private readonly dir = tempDir('tabby-system-');
  nats!: NatsServer;
  store!: ServiceProcess;
  ipam!: ServiceProcess;
  topology!: ServiceProcess;
  storeClient!: ResourceStoreClient;
  ipamClient!: IpamClient;
  topologyClient!: TopologyClient;
  readonly agents = new Map<string, AgentHandle>();
  private storePort = 0;
  private ipamPort = 0;
  private topologyPort = 0;
  /** BGP port every agent listens on (set by the default BGPConfiguration's listenPort). */
  bgpPort = 0;

  get path(): string {
    return this.dir.path;
  }

  async start(): Promise<void> {
    this.nats = await startNats(this.group, this.dir.path);
    this.storePort = await freePort('127.0.0.1');
    this.ipamPort = await freePort('127.0.0.1');
    this.topologyPort = await freePort('127.0.0.1');
    await this.startStore();
    await this.startIpam();
    await this.startTopology();
    this.storeClient = new ResourceStoreClient(`127.0.0.1:${this.storePort}`, credentials.createInsecure());
    this.ipamClient = new IpamClient(`127.0.0.1:${this.ipamPort}`, credentials.createInsecure());
    this.topologyClient = new TopologyClient(`127.0.0.1:${this.topologyPort}`, credentials.createInsecure());
    this.bgpPort = await freePort('127.0.0.11');
  }

  async startStore(): Promise<void> {
    this.store = await startService(this.group, 'store', [
      '--listen',
      `127.0.0.1:${this.storePort}`,
      '--data-dir',
      `${this.dir.path}/store`,
      '--nats',
      this.nats.url,
    ]);
  }

  async startIpam(): Promise<void> {
    this.ipam = await startService(this.group, 'ipam', ['--listen', `127.0.0.1:${this.ipamPort}`, '--data-dir', `${this.dir.path}/ipam`, '--store', `127.0.0.1:${this.storePort}`, '--nats', this.nats.url]);
  }

  async startTopology(): Promise<void> {
    this.topology = await startService(this.group, 'topology', [
      '--listen',
      `127.0.0.1:${this.topologyPort}`,
      '--store',
      `127.0.0.1:${this.storePort}`,
      '--ipam',
      `127.0.0.1:${this.ipamPort}`,
      '--nats',
      this.nats.url,
    ]);
  }

  /** Starts an agent for `node` with BGP on `address` (a 127.0.0.x address). */
  async startAgent(node: string, address: string, extra: readonly string[] = []): Promise<AgentHandle> {
    const args = [
      '--node',
      node,
      '--listen',
      '127.0.0.1:0',
      '--bgp-address',
      address,
      '--bgp-listen',
      'node-address',
      '--store',
      `127.0.0.1:${this.storePort}`,
      '--topology',
      `127.0.0.1:${this.topologyPort}`,
      '--nats',
      this.nats.url,
      '--hold-time',
      '9',
      '--status-interval',
      '2',
      '--peer-allow',
      '127.0.0.0/8',
      ...extra,
    ];
    const process = await startService(this.group, 'agent', args);
    const handle: AgentHandle = { node, address, process, client: new AgentClient(process.address, credentials.createInsecure()), args };
    this.agents.set(node, handle);
    return handle;
  }

  async restartAgent(node: string): Promise<void> {
    const a = this.agents.get(node);
    if (!a) throw new Error(`no agent ${node}`);
    a.client.close();
    a.process = await startService(this.group, 'agent', a.args);
    a.client = new AgentClient(a.process.address, credentials.createInsecure());
  }

  async apply(text: string): Promise<void> {
    for (const r of resources(text)) await call(this.storeClient.apply.bind(this.storeClient), { resource: r });
  }

  async delete(kind: string, name: string, namespace = ''): Promise<void> {
    await call(this.storeClient.delete.bind(this.storeClient), { kind, namespace, name, resourceVersion: '', force: false });
  }

  /** The default BGPConfiguration with the test's BGP port (and whatever else is given). */
  async bgpConfiguration(extraSpec = ''): Promise<void> {
    await this.apply(`apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  listenPort: ${this.bgpPort}
${extraSpec}`);
  }

  async routes(node: string, family = 'ipv4'): Promise<Route[]> {
    const a = this.agents.get(node);
    if (!a) throw new Error(`no agent ${node}`);
    return (await call(a.client.routes.bind(a.client), { family, prefix: '' })).routes;
  }

  async status(node: string): Promise<NodeStatus> {
    const a = this.agents.get(node);
    if (!a) throw new Error(`no agent ${node}`);
    const s = (await call(a.client.status.bind(a.client), {})).status;
    if (!s) throw new Error(`no status from ${node}`);
    return s;
  }

  /** `address type state info` rows of a node's IPv4 peers, sorted. */
  async peerRows(node: string): Promise<string[]> {
    const s = await this.status(node);
    return (s.status?.bgp?.peersV4 ?? []).map((p) => `${p.peerIP} ${p.type} ${p.state} ${p.info}`).sort();
  }

  async waitEstablished(node: string, count: number): Promise<void> {
    await eventually(
      `${node} to have ${count} Established sessions`,
      async () => {
        const rows = await this.peerRows(node);
        return rows.length === count && rows.every((r) => r.includes(' up Established'));
      },
      30_000,
      200,
    );
  }

  async addWorkload(namespace: string, name: string, node: string): Promise<string> {
    const r = await call(this.ipamClient.workloadAdd.bind(this.ipamClient), { namespace, name, node, labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
    return r.ipNetworks[0];
  }

  async deleteWorkload(namespace: string, name: string): Promise<void> {
    await call(this.ipamClient.workloadDelete.bind(this.ipamClient), { namespace, name });
  }

  /** The affine blocks of a node. */
  async blocksOf(node: string): Promise<string[]> {
    const r = await call(this.ipamClient.listBlocks.bind(this.ipamClient), { node });
    return r.blocks.map((b) => b.cidr).sort();
  }

  async nodeNames(): Promise<string[]> {
    const l = await call(this.storeClient.list.bind(this.storeClient), { kind: 'Node', namespace: '', labelSelector: '' });
    return l.items.map((r) => metaOf(r).name);
  }

  async stop(): Promise<void> {
    for (const a of this.agents.values()) a.client.close();
    this.storeClient?.close();
    this.ipamClient?.close();
    this.topologyClient?.close();
    await this.group.stopAll();
    this.dir.remove();
  }
}

/** A route's best path, as `prefix via nextHop from peer`. */
export function routeText(r: Route): string {
  const best = r.paths.find((p) => p.best);
  return `${r.prefix}${best?.fromPeer ? ` from ${best.fromPeer}` : ' local'}`;
}
