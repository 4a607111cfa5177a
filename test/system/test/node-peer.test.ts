/**
 * A node-specific BGPPeer (walkthrough flow 3, `node: node1`) pointing at a real GoBGP on
 * its own 127.0.x address and port: only node1 peers with it, and GoBGP accepts node1's block
 * because the agents announce a non-loopback next hop (--next-hop-ipv4; GoBGP treats a 127/8
 * next hop as a withdraw, docs/testing-with-peers.md).
 */
import { eventually, freePort, loopbackNextHops, startGobgp, type GobgpProcess } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';

const cluster = new Cluster();
const NODES = [
  ['node1', '127.0.3.1'],
  ['node2', '127.0.3.2'],
  ['node3', '127.0.3.3'],
] as const;
const GOBGP_ADDRESS = '127.0.3.9';
const GOBGP_AS = 64514;
let gobgp: GobgpProcess;
let gobgpPort = 0;

beforeAll(async () => {
  await cluster.start();
  await cluster.bgpConfiguration();
  await cluster.apply('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: 192.168.0.0/16\n  natOutgoing: true\n');
  gobgpPort = await freePort(GOBGP_ADDRESS);
  // GoBGP knows all three nodes (passive: GoBGP 3.10 waits 5 s before dialing, the agent
  // dials), so a session from node2 or node3 would come up if either wrongly dialed it.
  gobgp = await startGobgp(cluster.group, cluster.path, {
    name: 'tor',
    as: GOBGP_AS,
    routerId: '10.0.3.9',
    address: GOBGP_ADDRESS,
    port: gobgpPort,
    neighbors: NODES.map(([, address]) => ({ address, remotePort: cluster.bgpPort, remoteAs: 64512, passive: true, families: ['ipv4'] as const })),
  });
  await Promise.all(NODES.map(([node, address]) => cluster.startAgent(node, address, ['--next-hop-ipv4', loopbackNextHops(address).ipv4])));
  for (const [node] of NODES) await cluster.waitEstablished(node, 2);
}, 120_000);
afterAll(() => cluster.stop(), 60_000);

describe('a node-specific BGPPeer (GoBGP, node: node1)', () => {
  it('makes node1, and only node1, peer with GoBGP ("node specific" row)', async () => {
    await cluster.apply(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: bgppeer-node-gobgp
spec:
  peerIP: ${GOBGP_ADDRESS}:${gobgpPort}
  node: node1
  asNumber: ${GOBGP_AS}
`);
    await cluster.waitEstablished('node1', 3);
    expect(await cluster.peerRows('node1')).toEqual([
      '127.0.3.2 node-to-node mesh up Established',
      '127.0.3.3 node-to-node mesh up Established',
      `${GOBGP_ADDRESS} node specific up Established`,
    ]);
    expect((await gobgp.waitEstablished('127.0.3.1')).peerAs).toBe(64512);
    // The other nodes have no such session: no row, and GoBGP never heard from them.
    for (const node of ['node2', 'node3']) {
      const rows = await cluster.peerRows(node);
      expect(rows).toHaveLength(2);
      expect(rows.some((r) => r.startsWith(`${GOBGP_ADDRESS} `))).toBe(false);
    }
    for (const address of ['127.0.3.2', '127.0.3.3']) expect((await gobgp.neighbor(address))?.state).not.toBe('established');
  }, 60_000);

  it("gets node1's block to GoBGP with node1's non-loopback next hop, accepted", async () => {
    await cluster.addWorkload('default', 'web-1', 'node1');
    const [block] = await cluster.blocksOf('node1');
    expect(block).toBeDefined();
    const path = await gobgp.waitRoute('ipv4', block);
    expect(path).toMatchObject({ neighborIp: '127.0.3.1', nextHop: loopbackNextHops('127.0.3.1').ipv4, asPath: [64512] });
    await eventually('GoBGP to count it as accepted', async () => ((await gobgp.neighbor('127.0.3.1'))?.families.ipv4?.accepted ?? 0) >= 1);
    // GoBGP's routes come in through node1 only. As with Calico's export filter, node1 passes
    // on to the mesh only what lies inside an IP pool (here a /26 of 192.168.0.0/16), and
    // keeps a route outside every pool (10.3.9.0/24) to itself.
    await gobgp.announce('ipv4', '10.3.9.0/24', { nextHop: '10.0.3.9' });
    await gobgp.announce('ipv4', '192.168.250.0/26', { nextHop: '10.0.3.9' });
    for (const prefix of ['10.3.9.0/24', '192.168.250.0/26']) {
      await eventually(`node1 to learn ${prefix} from GoBGP`, async () =>
        (await cluster.routes('node1')).some((r) => r.prefix === prefix && r.paths.some((p) => p.best && p.fromPeer === GOBGP_ADDRESS && p.asPath.join() === String(GOBGP_AS))),
      );
    }
    for (const node of ['node2', 'node3']) {
      await eventually(`${node} to learn 192.168.250.0/26 through node1`, async () => {
        const r = (await cluster.routes(node)).find((x) => x.prefix === '192.168.250.0/26');
        return r?.paths.length === 1 && r.paths[0]?.best === true && r.paths[0].fromPeer === '127.0.3.1' && r.paths[0].nextHop === '10.0.3.9';
      });
      expect((await cluster.routes(node)).some((x) => x.prefix === '10.3.9.0/24'), `${node} must not learn 10.3.9.0/24 (outside every pool)`).toBe(false);
    }
  }, 60_000);

  it('closes the session when the BGPPeer is deleted; the mesh is untouched', async () => {
    await cluster.delete('BGPPeer', 'bgppeer-node-gobgp');
    await eventually('node1 to drop the node-specific row', async () => (await cluster.peerRows('node1')).length === 2);
    await eventually('GoBGP to see the session end', async () => (await gobgp.neighbor('127.0.3.1'))?.state !== 'established', 15_000, 100);
    for (const node of ['node1', 'node2', 'node3']) {
      await eventually(`${node} to withdraw GoBGP's prefixes`, async () => !(await cluster.routes(node)).some((r) => r.prefix === '10.3.9.0/24' || r.prefix === '192.168.250.0/26'));
      expect((await cluster.status(node)).status?.bgp?.numberEstablishedV4).toBe(2);
    }
  }, 60_000);
});
