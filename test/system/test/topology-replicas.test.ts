/**
 * Topology replicas behind client-side load balancing (issue 15): two tabby-topology
 * processes compile the same configurations from one store and IPAM; the agents and tabbyctl
 * are given both addresses (`--topology A,B`). The agents start while only the first replica
 * runs, so every watch is on it; then the second starts and the first is killed (-9). The
 * agents move to the survivor without resetting a BGP session (the rows' `since` stay put and
 * no speaker restarts), keep following changes through it, and tabbyctl commands given both
 * addresses keep working.
 */
import { credentials } from '@grpc/grpc-js';
import { ProcessGroup, TABBYCTL_BIN, collectCommand, eventually, freePort, startNats, startService, tempDir, type ServiceProcess } from '@tabby/harness';
import { AgentClient, IpamClient, ResourceStoreClient, type BGPPeerStatus, type Route } from '@tabby/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, resources } from './cluster.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-topology-replicas-');
const NODES = [
  ['node1', '127.0.16.1'],
  ['node2', '127.0.16.2'],
] as const;
let store: ServiceProcess;
let storeClient: ResourceStoreClient;
let ipam: ServiceProcess;
let natsUrl = '';
let bgpPort = 0;
let topologyPorts: [number, number] = [0, 0];
const topologies: (ServiceProcess | undefined)[] = [];
const agents = new Map<string, { process: ServiceProcess; client: AgentClient }>();

function topologyList(): string {
  return topologyPorts.map((p) => `127.0.0.1:${p}`).join(',');
}

async function startTopology(i: 0 | 1): Promise<ServiceProcess> {
  const t = await startService(group, 'topology', ['--listen', `127.0.0.1:${topologyPorts[i]}`, '--store', store.address, '--ipam', ipam.address, '--nats', natsUrl]);
  await t.process.waitForLine(/"msg":"in sync; serving"/, 30_000);
  topologies[i] = t;
  return t;
}

async function apply(text: string): Promise<void> {
  for (const r of resources(text)) await call(storeClient.apply.bind(storeClient), { resource: r });
}

async function peers(node: string): Promise<BGPPeerStatus[]> {
  const a = agents.get(node)!;
  const s = (await call(a.client.status.bind(a.client), {})).status;
  return s?.status?.bgp?.peersV4 ?? [];
}

async function routes(node: string): Promise<Route[]> {
  const a = agents.get(node)!;
  return (await call(a.client.routes.bind(a.client), { family: 'ipv4', prefix: '' })).routes;
}

/** `tabbyctl --topology A,B ARGS...` against the test's store. */
function tabbyctl(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return collectCommand(process.execPath, [TABBYCTL_BIN, '--store', store.address, '--ipam', ipam.address, '--topology', topologyList(), ...args], {
    env: { ...process.env, HOME: dir.path },
    timeoutMs: 30_000,
    allowFailure: true,
    failure: (r) => new Error(r.stderr),
  });
}

beforeAll(async () => {
  const nats = await startNats(group, dir.path);
  natsUrl = nats.url;
  store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`, '--nats', natsUrl]);
  ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/ipam`, '--store', store.address, '--nats', natsUrl]);
  storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
  topologyPorts = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  bgpPort = await freePort(NODES[0][1]);
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
  cidr: 10.77.0.0/16
  blockSize: 26
`);
  // Only the first replica runs: every agent's watch lands on it.
  await startTopology(0);
  for (const [node, address] of NODES) {
    const p = await startService(group, 'agent', [
      '--node', node,
      '--listen', '127.0.0.1:0',
      '--bgp-address', address,
      '--bgp-listen', 'node-address',
      '--store', store.address,
      '--topology', topologyList(),
      '--nats', natsUrl,
      '--hold-time', '9',
      '--status-interval', '2',
      '--peer-allow', '127.0.0.0/8',
    ]);
    agents.set(node, { process: p, client: new AgentClient(p.address, credentials.createInsecure()) });
  }
}, 120_000);

afterAll(async () => {
  for (const a of agents.values()) a.client.close();
  storeClient?.close();
  await group.stopAll();
  dir.remove();
}, 60_000);

describe('two topology replicas, agents and tabbyctl given both', () => {
  it('the agents follow one replica while the other is down; tabbyctl reaches the live one', async () => {
    for (const [node] of NODES) {
      await eventually(`${node} to have its session Established`, async () => {
        const rows = await peers(node);
        return rows.length === 1 && rows[0].state === 'up';
      }, 30_000, 200);
    }
    const show = await tabbyctl(['topology', 'show', 'node1']);
    expect(show.stderr).toBe('');
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(NODES[1][1]);
  }, 60_000);

  it('kill -9 of the replica the agents watch: they move to the other without a session reset, and keep following changes', async () => {
    await startTopology(1);
    const before = new Map<string, string[]>();
    for (const [node] of NODES) before.set(node, (await peers(node)).map((p) => `${p.peerIP} ${p.state} since ${p.since}`));

    const first = topologies[0]!;
    first.process.signal('SIGKILL');
    await first.process.exited();
    for (const [node] of NODES) await agents.get(node)!.process.process.waitForLine(/"msg":"lost the topology service; keeping the last configuration"/, 20_000);

    // A change after the kill reaches both agents: only the survivor can have told them.
    await apply(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: after-the-kill
spec:
  peerIP: 127.0.16.99
  asNumber: 64999
`);
    for (const [node] of NODES) {
      await eventually(`${node} to have the global peer added after the kill`, async () => (await peers(node)).some((p) => p.peerIP === '127.0.16.99' && p.type === 'global'), 30_000, 200);
    }
    // A workload's block, through IPAM and the survivor, reaches the other node's RIB.
    const r = await call(storeClient.list.bind(storeClient), { kind: 'Node', namespace: '', labelSelector: '' });
    expect(r.items.length).toBe(2);
    const ipamClient = new IpamClient(ipam.address, credentials.createInsecure());
    try {
      await call(ipamClient.workloadAdd.bind(ipamClient), { namespace: 'default', name: 'web-1', node: 'node1', labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
      const blocks = (await call(ipamClient.listBlocks.bind(ipamClient), { node: 'node1' })).blocks.map((b) => b.cidr);
      expect(blocks.length).toBe(1);
      await eventually(`node2 to learn ${blocks[0]} from node1`, async () => (await routes('node2')).some((x) => x.prefix === blocks[0] && x.paths.some((p) => p.best && p.fromPeer === NODES[0][1])), 30_000, 200);
    } finally {
      ipamClient.close();
    }

    // The mesh sessions never went down: same rows, same `since`, no speaker restart.
    for (const [node] of NODES) {
      const now = (await peers(node)).filter((p) => p.peerIP !== '127.0.16.99').map((p) => `${p.peerIP} ${p.state} since ${p.since}`);
      expect(now).toEqual(before.get(node));
      expect(agents.get(node)!.process.process.output()).not.toContain('restarting the speaker');
    }

    // tabbyctl, given both addresses (the first one dead), still answers.
    const show = await tabbyctl(['topology', 'show', 'node2']);
    expect(show.stderr).toBe('');
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('127.0.16.99');
    const check = await tabbyctl(['topology', 'explain', 'node1', 'node2']);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  }, 120_000);

  it('tabbyctl refuses a list with a host name in one line', async () => {
    const r = await collectCommand(process.execPath, [TABBYCTL_BIN, '--topology', '127.0.0.1:1,topology.example:50053', 'topology', 'show'], {
      env: { ...process.env, HOME: dir.path },
      timeoutMs: 30_000,
      allowFailure: true,
      failure: (x) => new Error(x.stderr),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('"topology.example:50053" in the list');
  });
});
