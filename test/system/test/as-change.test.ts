/**
 * Walkthrough flow 1 on a running cluster: changing the default BGPConfiguration's asNumber
 * makes every agent re-establish its sessions with the new AS — the mesh among the agents,
 * and an outside BIRD peer (reconfigured for the new AS, as its operator would) that then
 * sees the new AS in the OPEN and in the AS path of every node's block.
 */
import { eventually, freePort, startBird, type BirdProcess } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, call } from './cluster.js';

const cluster = new Cluster();
const NODES = [
  ['node1', '127.0.5.1'],
  ['node2', '127.0.5.2'],
  ['node3', '127.0.5.3'],
] as const;
const BIRD_ADDRESS = '127.0.5.9';
const BIRD_AS = 64567;
const NEW_AS = 63400;
let bird: BirdProcess;
let birdPort = 0;
const blocks = new Map<string, string>();

beforeAll(async () => {
  await cluster.start();
  await cluster.bgpConfiguration();
  await cluster.apply('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: 192.168.0.0/16\n  natOutgoing: true\n');
  birdPort = await freePort(BIRD_ADDRESS);
  bird = await startBird(cluster.group, cluster.path, {
    name: 'border',
    routerId: '10.0.5.9',
    address: BIRD_ADDRESS,
    port: birdPort,
    as: BIRD_AS,
    peers: NODES.map(([node, address]) => ({ name: node, neighbor: address, neighborPort: cluster.bgpPort, remoteAs: 64512, families: ['ipv4'] as const })),
  });
  await cluster.apply(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: border
spec:
  peerIP: ${BIRD_ADDRESS}:${birdPort}
  asNumber: ${BIRD_AS}
`);
  await Promise.all(NODES.map(([node, address]) => cluster.startAgent(node, address)));
  await eventually('every agent to register its Node', async () => (await cluster.nodeNames()).length === NODES.length);
  for (const [node] of NODES) {
    await cluster.addWorkload('default', `web-${node}`, node);
    const [block] = await cluster.blocksOf(node);
    if (!block) throw new Error(`no block for ${node}`);
    blocks.set(node, block);
  }
}, 120_000);
afterAll(() => cluster.stop(), 60_000);

async function nodeAs(node: string): Promise<number> {
  const r = await call(cluster.topologyClient.getNodeConfig.bind(cluster.topologyClient), { node });
  return r.config?.asNumber ?? 0;
}

describe('changing the default AS', () => {
  it('starts with AS 64512 everywhere: mesh and BIRD sessions up, BIRD sees 64512 in the paths', async () => {
    for (const [node] of NODES) await cluster.waitEstablished(node, 3);
    for (const [node] of NODES) expect(await nodeAs(node)).toBe(64512);
    for (const [node, address] of NODES) {
      expect((await bird.waitEstablished(node)).neighborAs).toBe(64512);
      expect(await bird.waitRoute('ipv4', blocks.get(node)!, (r) => r.protocol === node)).toMatchObject({ from: address, asPath: [64512] });
    }
  }, 60_000);

  it('re-establishes every session with the new AS once the BGPConfiguration (and the outside peer) say so', async () => {
    const changedAt = new Date().toISOString();
    await cluster.bgpConfiguration(`  asNumber: ${NEW_AS}\n  logSeverityScreen: Info\n  nodeToNodeMeshEnabled: true`);
    await bird.configure((c) => ({ ...c, peers: (c.peers ?? []).map((p) => ({ ...p, remoteAs: NEW_AS })) }));
    for (const [node] of NODES) await eventually(`${node} compiled with AS ${NEW_AS}`, async () => (await nodeAs(node)) === NEW_AS);
    for (const [node] of NODES) {
      await cluster.waitEstablished(node, 3);
      // Every session is a new one: established after the change.
      const peers = (await cluster.status(node)).status?.bgp?.peersV4 ?? [];
      for (const p of peers) expect(p.since > changedAt, `${node}: ${p.peerIP} since ${p.since}, changed at ${changedAt}`).toBe(true);
    }
    for (const [node, address] of NODES) {
      const p = await bird.waitEstablished(node, 30_000);
      expect(p).toMatchObject({ neighborAddress: address, neighborAs: NEW_AS, localAs: BIRD_AS });
      const r = await bird.waitRoute('ipv4', blocks.get(node)!, (x) => x.protocol === node && x.asPath.join() === String(NEW_AS));
      expect(r.from).toBe(address);
    }
    // Nothing in BIRD still carries the old AS.
    for (const block of blocks.values()) for (const r of await bird.routes('ipv4', { prefix: block })) expect(r.asPath).not.toContain(64512);
    // The mesh carries the blocks again (iBGP: empty AS path).
    for (const [node] of NODES) {
      await eventually(`${node} to have the other nodes' blocks again`, async () => {
        const routes = await cluster.routes(node);
        return [...blocks.entries()].every(([owner, block]) => routes.some((r) => r.prefix === block && r.paths.some((p) => p.best && (owner === node ? r.local : p.asPath.length === 0))));
      });
    }
  }, 90_000);
});
