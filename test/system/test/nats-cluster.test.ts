/**
 * The control plane on a 3-node NATS cluster (issue 15): store, ipam, topology and two agents
 * get every node's URL (`--nats a,b,c`). One service at a time, the NATS node it is connected
 * to hangs (SIGSTOP) and is killed (-9) after workloads came and went (each one claims or
 * releases a /32 block: a block event on NATS), the last of them while it hung; a BGPPeer is
 * added, then the node is started again.
 * Topology follows the blocks over gRPC (Ipam/WatchBlocks), not NATS: its periodic fresh
 * snapshot is set to an hour, so a block change lost for good would leave it behind forever,
 * and its block stream must never break when a NATS node dies. After every round the compiled
 * configuration of each node equals IPAM's blocks and the store's peers, and each agent's RIB
 * holds exactly the blocks of both nodes (node configurations still reach the agents over
 * NATS notifications). IPAM still publishes its block events, and re-sends its last message
 * after a reconnect (checked in the ipam round).
 */
import { credentials } from '@grpc/grpc-js';
import { ProcessGroup, eventually, freePort, sleep, startNatsCluster, startService, tempDir, type NatsCluster, type ServiceProcess } from '@tabby/harness';
import { AgentClient, IpamClient, ResourceStoreClient, TopologyClient, type BGPPeerStatus, type Route } from '@tabby/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, resources } from './cluster.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-nats-cluster-');
const NODES = [
  ['node1', '127.0.15.1'],
  ['node2', '127.0.15.2'],
] as const;
let nats: NatsCluster;
let store: ServiceProcess;
let ipam: ServiceProcess;
let topology: ServiceProcess;
let storeClient: ResourceStoreClient;
let ipamClient: IpamClient;
let topologyClient: TopologyClient;
const agents = new Map<string, { process: ServiceProcess; client: AgentClient }>();
/** Global peers added so far (one per round), by address. */
const roundPeers: string[] = [];

async function apply(text: string): Promise<void> {
  for (const r of resources(text)) await call(storeClient.apply.bind(storeClient), { resource: r });
}

async function ipamBlocks(node: string): Promise<string[]> {
  return (await call(ipamClient.listBlocks.bind(ipamClient), { node })).blocks.map((b) => b.cidr).sort();
}

async function compiledBlocks(node: string): Promise<string[]> {
  const r = await call(topologyClient.getNodeConfig.bind(topologyClient), { node });
  return (r.config?.blocks ?? []).map((b) => b.cidr).sort();
}

async function agentPeers(node: string): Promise<BGPPeerStatus[]> {
  const a = agents.get(node)!;
  return (await call(a.client.status.bind(a.client), {})).status?.status?.bgp?.peersV4 ?? [];
}

async function agentRoutes(node: string): Promise<Route[]> {
  const a = agents.get(node)!;
  return (await call(a.client.routes.bind(a.client), { family: 'ipv4', prefix: '' })).routes;
}

/** Adds and deletes workloads (a /32 block each: a block event) until stopped; `stop` resolves with the steps made. */
function churn(round: number): { stop(): Promise<number> } {
  let stopped = false;
  let steps = 0;
  const live: string[] = [];
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const name = `w-${round}-${i}`;
      await call(ipamClient.workloadAdd.bind(ipamClient), { namespace: 'default', name, node: NODES[i % 2][0], labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
      live.push(name);
      if (live.length > 3) await call(ipamClient.workloadDelete.bind(ipamClient), { namespace: 'default', name: live.shift()! });
      steps++;
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return steps;
    },
  };
}

/** Topology's compiled blocks and peers and each agent's RIB and peers equal the sources. */
async function converged(): Promise<void> {
  const expected = new Map<string, string[]>();
  for (const [node] of NODES) expected.set(node, await ipamBlocks(node));
  for (const [node] of NODES) {
    await eventually(`topology's compiled blocks of ${node} to equal IPAM's ${expected.get(node)!.join(' ')}`, async () => (await compiledBlocks(node)).join() === expected.get(node)!.join(), 30_000, 100);
  }
  for (const [node, address] of NODES) {
    const [other, otherAddress] = NODES.find(([n]) => n !== node)!;
    await eventually(
      `${node}'s RIB to hold exactly its blocks and ${other}'s`,
      async () => {
        const rib = await agentRoutes(node);
        const local = rib.filter((r) => r.local).map((r) => r.prefix).sort();
        const learned = rib.filter((r) => r.paths.some((p) => p.best && p.fromPeer === otherAddress)).map((r) => r.prefix).sort();
        return local.join() === expected.get(node)!.join() && learned.join() === expected.get(other)!.join();
      },
      30_000,
      100,
    );
    await eventually(`${node} to have every global peer and its mesh session up`, async () => {
      const rows = await agentPeers(node);
      const mesh = rows.find((p) => p.type === 'node-to-node mesh');
      const globals = rows.filter((p) => p.type === 'global').map((p) => p.peerIP).sort();
      return mesh?.state === 'up' && mesh.peerIP !== address && globals.join() === [...roundPeers].sort().join();
    }, 30_000, 100);
  }
}

beforeAll(async () => {
  nats = await startNatsCluster(group, dir.path, { size: 3 });
  store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`, '--nats', nats.urls]);
  ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/ipam`, '--store', store.address, '--nats', nats.urls, '--max-blocks-per-host', '1000000']);
  // An hour between periodic re-lists: only events (and what reconnects do) bring blocks in.
  topology = await startService(group, 'topology', ['--listen', '127.0.0.1:0', '--store', store.address, '--ipam', ipam.address, '--nats', nats.urls, '--block-resync', '3600']);
  storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
  ipamClient = new IpamClient(ipam.address, credentials.createInsecure());
  topologyClient = new TopologyClient(topology.address, credentials.createInsecure());
  const bgpPort = await freePort(NODES[0][1]);
  await apply(`apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  listenPort: ${bgpPort}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pods
spec:
  cidr: 10.78.0.0/16
  blockSize: 32
`);
  for (const [node, address] of NODES) {
    const p = await startService(group, 'agent', [
      '--node', node,
      '--listen', '127.0.0.1:0',
      '--bgp-address', address,
      '--bgp-listen', 'node-address',
      '--store', store.address,
      '--topology', topology.address,
      '--nats', nats.urls,
      '--hold-time', '9',
      '--status-interval', '2',
      '--peer-allow', '127.0.0.0/8',
    ]);
    agents.set(node, { process: p, client: new AgentClient(p.address, credentials.createInsecure()) });
  }
  await topology.process.waitForLine(/"msg":"in sync; serving"/, 30_000);
}, 120_000);

afterAll(async () => {
  for (const a of agents.values()) a.client.close();
  storeClient?.close();
  ipamClient?.close();
  topologyClient?.close();
  await group.stopAll();
  dir.remove();
}, 60_000);

describe('the control plane on a 3-node NATS cluster', () => {
  it('every service is connected to a node of the cluster', async () => {
    for (const name of ['tabby-store', 'tabby-ipam', 'tabby-topology', 'tabby-agent-node1', 'tabby-agent-node2']) {
      await eventually(`${name} on a NATS node`, async () => (await nats.nodeOf(name)) !== undefined, 20_000, 100);
    }
    await converged();
  }, 60_000);

  it.each(['tabby-topology', 'tabby-ipam', 'tabby-store', 'tabby-agent-node1'])(
    'kill -9 of the NATS node %s is on, with workloads coming and going: every consumer converges to the sources',
    async (service) => {
      const round = roundPeers.length + 1;
      const node = await eventually(`the NATS node of ${service}`, () => nats.nodeOf(service), 20_000, 100);
      const work = churn(round);
      await sleep(300);
      expect(await work.stop()).toBeGreaterThan(0);
      // The node hangs, then dies: what reached it meanwhile (written by a publisher there, or
      // routed to a subscriber there) is gone. These changes are the tail of the stream: no
      // later revision reveals a gap, so only what reconnects do can bring them in.
      node.process.signal('SIGSTOP');
      await call(ipamClient.workloadAdd.bind(ipamClient), { namespace: 'default', name: `tail-${round}`, node: NODES[round % 2][0], labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
      if (round > 1) await call(ipamClient.workloadDelete.bind(ipamClient), { namespace: 'default', name: `tail-${round - 1}` });
      await nats.kill(node);
      const peer = `127.0.15.${100 + round}`;
      await apply(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: round-${round}
spec:
  peerIP: ${peer}
  asNumber: 64999
`);
      roundPeers.push(peer);
      const moved = await eventually(`${service} to reconnect to another NATS node`, () => nats.nodeOf(service), 20_000, 100);
      expect(moved.name).not.toBe(node.name);
      await nats.restart(node);
      await converged();
      // The blocks never came through NATS: the stream from IPAM did not break, no new snapshot was needed.
      expect(topology.process.output()).not.toMatch(/IPAM block watch broken|taking a new snapshot|block watch went silent/);
      if (service === 'tabby-ipam') expect(ipam.process.output()).toContain('NATS reconnected; last message of each subject sent again');
    },
    120_000,
  );
});
