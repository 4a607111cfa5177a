/**
 * A global BGPPeer (walkthrough flow 2) pointing at a real BIRD (AS 64567) on its own
 * 127.0.x address and a non-default port: every agent peers with it (rows of type "global"),
 * BIRD learns every node's workload block, and deleting the BGPPeer closes those sessions.
 */
import { eventually, freePort, startBird, type BirdProcess } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';

const cluster = new Cluster();
const NODES = [
  ['node1', '127.0.2.1'],
  ['node2', '127.0.2.2'],
  ['node3', '127.0.2.3'],
] as const;
const BIRD_ADDRESS = '127.0.2.9';
const BIRD_AS = 64567;
let bird: BirdProcess;
let birdPort = 0;

beforeAll(async () => {
  await cluster.start();
  await cluster.bgpConfiguration();
  await cluster.apply('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: 192.168.0.0/16\n  natOutgoing: true\n');
  birdPort = await freePort(BIRD_ADDRESS);
  // One session per node (the agents' default AS 64512), IPv4 only; BIRD also originates a
  // prefix of its own so the agents have something to learn from it.
  bird = await startBird(cluster.group, cluster.path, {
    name: 'border',
    routerId: '10.0.2.9',
    address: BIRD_ADDRESS,
    port: birdPort,
    as: BIRD_AS,
    statics: ['10.2.9.0/24'],
    peers: NODES.map(([node, address]) => ({ name: node, neighbor: address, neighborPort: cluster.bgpPort, remoteAs: 64512, families: ['ipv4'] as const })),
  });
  for (const [node, address] of NODES) await cluster.startAgent(node, address);
  for (const [node] of NODES) await cluster.waitEstablished(node, 2);
}, 120_000);
afterAll(() => cluster.stop(), 60_000);

describe('a global BGPPeer (BIRD, AS 64567)', () => {
  const blocks = new Map<string, string>();

  it('makes every agent peer with BIRD: a "global" row, up and Established, next to the mesh rows', async () => {
    await cluster.apply(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: bgppeer-global-3040
spec:
  peerIP: ${BIRD_ADDRESS}:${birdPort}
  asNumber: ${BIRD_AS}
`);
    for (const [node] of NODES) await cluster.waitEstablished(node, 3);
    for (const [node, address] of NODES) {
      const rows = await cluster.peerRows(node);
      expect(rows).toContain(`${BIRD_ADDRESS} global up Established`);
      expect(rows.filter((r) => r.includes('node-to-node mesh up Established'))).toHaveLength(2);
      const peer = (await cluster.status(node)).status?.bgp?.peersV4.find((p) => p.peerIP === BIRD_ADDRESS);
      expect(peer?.port).toBe(birdPort);
      const p = await bird.waitEstablished(node);
      expect(p).toMatchObject({ neighborAddress: address, neighborAs: 64512, localAs: BIRD_AS });
    }
    // The agents learn BIRD's own prefix, with BIRD's AS in the path.
    for (const [node] of NODES) {
      await eventually(`${node} to learn 10.2.9.0/24 from BIRD`, async () => {
        const r = (await cluster.routes(node)).find((x) => x.prefix === '10.2.9.0/24');
        return r?.paths.find((p) => p.best && p.fromPeer === BIRD_ADDRESS && p.asPath.join() === String(BIRD_AS));
      });
    }
  }, 60_000);

  it("lets BIRD learn every node's workload block, from that node, with the cluster's AS", async () => {
    for (const [node] of NODES) {
      await cluster.addWorkload('default', `web-${node}`, node);
      const [block] = await cluster.blocksOf(node);
      expect(block).toBeDefined();
      blocks.set(node, block);
    }
    expect(new Set(blocks.values()).size).toBe(3);
    for (const [node, address] of NODES) {
      const block = blocks.get(node)!;
      // BIRD hears each block from every agent (eBGP re-advertises mesh routes); the originating
      // node's path is there, with next hop = that node and AS path 64512.
      const r = await bird.waitRoute('ipv4', block, (x) => x.protocol === node);
      expect(r).toMatchObject({ from: address, nextHop: address, asPath: [64512] });
    }
    expect(await bird.routeCount('ipv4', { protocol: 'node1' })).toBe(3);
  }, 60_000);

  it('closes the sessions when the BGPPeer is deleted: BIRD sees them go down, the agents drop the "global" rows', async () => {
    await cluster.delete('BGPPeer', 'bgppeer-global-3040');
    for (const [node] of NODES) {
      await eventually(`${node} to drop the global row`, async () => {
        const rows = await cluster.peerRows(node);
        return rows.length === 2 && rows.every((r) => r.includes('node-to-node mesh up Established'));
      });
    }
    for (const [node] of NODES) {
      const p = await eventually(
        `BIRD's session to ${node} to go down`,
        async () => {
          const d = await bird.protocol(node);
          return d.bgpState !== 'Established' ? d : undefined;
        },
        15_000,
        100,
      );
      // The agent said goodbye with a CEASE (not a hold-timer expiry).
      expect(p.lastError ?? '').toMatch(/Received: (Administrative shutdown|Peer de-configured)/);
    }
    for (const block of blocks.values()) await bird.waitNoRoute('ipv4', block);
    for (const [node] of NODES) await eventually(`${node} to withdraw BIRD's prefix`, async () => !(await cluster.routes(node)).some((r) => r.prefix === '10.2.9.0/24'));
    // BIRD keeps dialing; the agents refuse it, so the sessions stay down.
    for (const [node] of NODES) expect((await bird.protocol(node)).bgpState).not.toBe('Established');
    // The mesh is untouched.
    for (const [node] of NODES) expect((await cluster.status(node)).status?.bgp?.numberEstablishedV4).toBe(2);
  }, 60_000);
});
