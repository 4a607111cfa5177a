/**
 * Issue 13 through the whole control plane: settings an operator writes reach the wire.
 * Two agents (mesh with nodeMeshPassword) and a real BIRD (AS 64567) as a global BGPPeer with
 * a password, both keys read from the agents' --secrets-dir; prefixAdvertisements put
 * communities on what the nodes announce; serviceClusterIPs are announced by every node; a
 * BGPFilter keeps the service range from BIRD; a wrong or missing secret keeps only BIRD's
 * sessions down, with the reason in the node status.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { eventually, freePort, startBird, type BirdProcess } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';

const cluster = new Cluster();
const NODES = [
  ['node1', '127.0.4.1'],
  ['node2', '127.0.4.2'],
] as const;
const BIRD_ADDRESS = '127.0.4.9';
const BIRD_AS = 64567;
const BIRD_PASSWORD = 'bird-md5-secret';
let bird: BirdProcess;
let birdPort = 0;
let secrets = '';

const meshRows = async (node: string): Promise<string[]> => (await cluster.peerRows(node)).filter((r) => r.includes('node-to-node mesh'));

beforeAll(async () => {
  await cluster.start();
  secrets = path.join(cluster.path, 'secrets');
  mkdirSync(path.join(secrets, 'bgp-secrets'), { recursive: true });
  writeFileSync(path.join(secrets, 'bgp-secrets', 'mesh'), 'mesh-md5-secret\n');
  writeFileSync(path.join(secrets, 'bgp-secrets', 'bird'), `${BIRD_PASSWORD}\n`);
  await cluster.bgpConfiguration(`  nodeMeshPassword:
    secretKeyRef:
      name: bgp-secrets
      key: mesh
  communities:
  - name: big
    value: 65001:7:8
  prefixAdvertisements:
  - cidr: 192.168.0.0/16
    communities: [65001:100, big]
  - cidr: 10.96.0.0/12
    communities: [65001:96]
  serviceClusterIPs:
  - cidr: 10.96.0.0/12
`);
  await cluster.apply('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: 192.168.0.0/16\n');
  birdPort = await freePort(BIRD_ADDRESS);
  bird = await startBird(cluster.group, cluster.path, {
    name: 'border',
    routerId: '10.0.4.9',
    address: BIRD_ADDRESS,
    port: birdPort,
    as: BIRD_AS,
    peers: NODES.map(([node, address]) => ({ name: node, neighbor: address, neighborPort: cluster.bgpPort, remoteAs: 64512, families: ['ipv4'] as const, password: BIRD_PASSWORD })),
  });
  for (const [node, address] of NODES) await cluster.startAgent(node, address, ['--secrets-dir', secrets]);
  await cluster.apply(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: border
spec:
  peerIP: ${BIRD_ADDRESS}:${birdPort}
  asNumber: ${BIRD_AS}
  password:
    secretKeyRef:
      name: bgp-secrets
      key: bird
`);
}, 120_000);
afterAll(() => cluster.stop(), 60_000);

describe('session settings reach the wire (issue 13)', () => {
  it('runs the mesh and the BIRD sessions with TCP MD5, keys from --secrets-dir', async () => {
    for (const [node] of NODES) await cluster.waitEstablished(node, 2);
    for (const [node, address] of NODES) expect(await bird.waitEstablished(node)).toMatchObject({ neighborAddress: address, neighborAs: 64512 });
    // The password is nowhere in what an operator can read.
    for (const [node] of NODES) expect(JSON.stringify(await cluster.status(node))).not.toContain(BIRD_PASSWORD);
  }, 60_000);

  it('puts the prefixAdvertisements communities on the blocks and announces serviceClusterIPs from every node', async () => {
    await cluster.addWorkload('default', 'web', 'node1');
    const [block] = await cluster.blocksOf('node1');
    expect(block).toBeDefined();
    const r = await bird.waitRoute('ipv4', block, (x) => x.protocol === 'node1');
    expect(r.communities).toEqual(['65001:100']);
    expect(r.largeCommunities).toEqual(['65001:7:8']);
    for (const [node] of NODES) {
      const svc = await bird.waitRoute('ipv4', '10.96.0.0/12', (x) => x.protocol === node);
      expect(svc.communities).toEqual(['65001:96']);
    }
  }, 60_000);

  it('applies a BGPFilter named by the BGPPeer: the service range no longer reaches BIRD, the block still does', async () => {
    await cluster.apply(`apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: no-services
spec:
  exportV4:
  - action: Reject
    matchOperator: In
    cidr: 10.96.0.0/12
`);
    await cluster.apply(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: border
spec:
  peerIP: ${BIRD_ADDRESS}:${birdPort}
  asNumber: ${BIRD_AS}
  filters: [no-services]
  password:
    secretKeyRef:
      name: bgp-secrets
      key: bird
`);
    await bird.waitNoRoute('ipv4', '10.96.0.0/12');
    const [block] = await cluster.blocksOf('node1');
    await bird.waitRoute('ipv4', block, (x) => x.protocol === 'node1');
    // The mesh still carries it: the filter is BIRD's sessions' only.
    await eventually('node2 to keep node1’s service route', async () => (await cluster.routes('node2')).some((r) => r.prefix === '10.96.0.0/12' && r.paths.some((p) => p.fromPeer === '127.0.4.1')));
  }, 60_000);

  it('keeps only the BIRD sessions down when their secret is wrong or missing, with the reason; the mesh never flaps', async () => {
    const before = new Map<string, string>();
    for (const [node] of NODES) before.set(node, JSON.stringify((await cluster.status(node)).status?.bgp?.peersV4.filter((p) => p.type === 'node-to-node mesh').map((p) => p.since)));
    rmSync(path.join(secrets, 'bgp-secrets', 'bird'));
    for (const [node] of NODES) {
      const row = await eventually(`${node}'s BIRD row to say why it is down`, async () => (await cluster.peerRows(node)).find((r) => r.startsWith(BIRD_ADDRESS) && r.includes('password secret bgp-secrets/bird')), 20_000, 200);
      expect(row).toContain('not found');
      await eventually(`BIRD's session to ${node} to go down`, async () => (await bird.protocol(node)).bgpState !== 'Established', 20_000, 200);
    }
    // A wrong key: the agents dial with it, BIRD drops the segments, nothing establishes.
    writeFileSync(path.join(secrets, 'bgp-secrets', 'bird'), 'not-the-password');
    await new Promise((r) => setTimeout(r, 8000));
    for (const [node] of NODES) {
      expect((await bird.protocol(node)).bgpState).not.toBe('Established');
      expect((await cluster.peerRows(node)).find((r) => r.startsWith(BIRD_ADDRESS))).not.toContain(' up ');
    }
    // The right key again: re-keyed without touching the mesh.
    writeFileSync(path.join(secrets, 'bgp-secrets', 'bird'), BIRD_PASSWORD);
    for (const [node] of NODES) await cluster.waitEstablished(node, 2);
    for (const [node] of NODES) {
      expect(await meshRows(node)).toHaveLength(1);
      expect(JSON.stringify((await cluster.status(node)).status?.bgp?.peersV4.filter((p) => p.type === 'node-to-node mesh').map((p) => p.since))).toBe(before.get(node));
    }
  }, 90_000);
});
