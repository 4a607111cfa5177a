/**
 * Three agents with the default configuration: the full node-to-node mesh comes up, a
 * workload's block is learned by every other node, and goes when the workload goes.
 */
import { eventually } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, call } from './cluster.js';

const cluster = new Cluster();
const NODES = [
  ['node1', '127.0.0.11'],
  ['node2', '127.0.0.12'],
  ['node3', '127.0.0.13'],
] as const;

beforeAll(async () => {
  await cluster.start();
  await cluster.bgpConfiguration();
  await cluster.apply('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: 192.168.0.0/16\n  natOutgoing: true\n');
  for (const [node, address] of NODES) await cluster.startAgent(node, address);
}, 120_000);
afterAll(() => cluster.stop(), 60_000);

describe('three agents, default configuration', () => {
  it('register their Nodes and bring up the full mesh: every row "up ... Established", type node-to-node mesh', async () => {
    await eventually('every agent registered its Node', async () => (await cluster.nodeNames()).sort().join() === 'node1,node2,node3');
    for (const [node] of NODES) await cluster.waitEstablished(node, 2);
    expect(await cluster.peerRows('node1')).toEqual(['127.0.0.12 node-to-node mesh up Established', '127.0.0.13 node-to-node mesh up Established']);
    // The status reaches the store too, for `tabbyctl node status` from anywhere.
    await eventually('node2 status in the store', async () => {
      const r = await call(cluster.storeClient.get.bind(cluster.storeClient), { kind: 'NodeStatus', namespace: '', name: 'node2' });
      const s = r.resource?.kind?.$case === 'nodeStatus' ? r.resource.kind.value : undefined;
      return s?.status?.bgp?.numberEstablishedV4 === 2;
    });
  }, 60_000);

  it("a workload on node1 puts node1's block into node2's and node3's RIB, and its deletion withdraws it", async () => {
    const address = await cluster.addWorkload('default', 'web-1', 'node1');
    const [block] = await cluster.blocksOf('node1');
    expect(block).toBeDefined();
    expect(address.startsWith(block.split('.').slice(0, 3).join('.'))).toBe(true);
    // It reaches node2's and node3's RIB, learned from node1. How fast (the 2 s) is a
    // figure of bench/convergence (WorkloadAdd -> route on every agent), not asserted here.
    for (const node of ['node2', 'node3']) {
      await eventually(`${block} at ${node}`, async () => (await cluster.routes(node)).some((r) => r.prefix === block && r.paths.some((p) => p.best && p.fromPeer === '127.0.0.11')), 30_000, 50);
    }
    const at2 = (await cluster.routes('node2')).find((r) => r.prefix === block)!;
    expect(at2.paths.find((p) => p.best)).toMatchObject({ fromPeer: '127.0.0.11', nextHop: '127.0.0.11', asPath: [] });
    expect((await cluster.routes('node1')).find((r) => r.prefix === block)?.local).toBe(true);

    await cluster.deleteWorkload('default', 'web-1');
    for (const node of ['node2', 'node3']) await eventually(`${block} withdrawn at ${node}`, async () => !(await cluster.routes(node)).some((r) => r.prefix === block), 10_000, 50);
    // no session was disturbed
    for (const [node] of NODES) expect((await cluster.status(node)).status?.bgp?.numberEstablishedV4).toBe(2);
  }, 60_000);
});
