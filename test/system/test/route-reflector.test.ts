/**
 * The walkthrough's in-cluster route-reflector recipe on a running 4-node mesh. Calico/BIRD
 * tear the mesh sessions down and bring Node_ sessions up (calico#3819: a cluster-wide
 * routing gap). Tabby keeps every session whose wire parameters stay the same and changes
 * its role in place, so no node ever loses a route to another node's block.
 */
import { eventually, walkthroughManifest } from '@tabby/harness';
import { PeerType, type Resource } from '@tabby/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, call, resources } from './cluster.js';

const cluster = new Cluster();
const NODES = [
  ['node1', '127.0.0.21'],
  ['node2', '127.0.0.22'],
  ['node3', '127.0.0.23'],
  ['node4', '127.0.0.24'],
] as const;
const blocks = new Map<string, string>();

beforeAll(async () => {
  await cluster.start();
  await cluster.bgpConfiguration();
  await cluster.apply('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: 192.168.0.0/16\n');
  for (const [node, address] of NODES) await cluster.startAgent(node, address);
  for (const [node] of NODES) {
    await cluster.addWorkload('default', `pod-${node}`, node);
    const [block] = await cluster.blocksOf(node);
    blocks.set(node, block);
  }
  for (const [node] of NODES) await cluster.waitEstablished(node, 3);
  // The mesh has carried every block everywhere before the change starts.
  await eventually('every block on every node', async () => (await allRoutesPresent()).length === 0, 30_000, 100);
}, 120_000);
afterAll(() => cluster.stop(), 60_000);

/** node1 as the walkthrough's RR: label and cluster id 224.0.0.1, the rest of its Node as it is. */
async function node1AsReflector(): Promise<Resource> {
  const got = await call(cluster.storeClient.get.bind(cluster.storeClient), { kind: 'Node', namespace: '', name: 'node1' });
  const r = got.resource as Resource;
  if (r.kind?.$case !== 'node' || !r.kind.value.metadata || !r.kind.value.spec?.bgp) throw new Error('node1 is not a Node');
  r.kind.value.metadata.labels = { ...r.kind.value.metadata.labels, 'i-am-a-route-reflector': 'true' };
  r.kind.value.spec.bgp.routeReflectorClusterID = '224.0.0.1';
  return r;
}

/** Every node holds every other node's block, learned over BGP. */
async function allRoutesPresent(): Promise<string[]> {
  const missing: string[] = [];
  for (const [node] of NODES) {
    const have = new Set((await cluster.routes(node)).filter((r) => r.paths.some((p) => p.best && p.fromPeer !== '')).map((r) => r.prefix));
    for (const [other] of NODES) if (other !== node && !have.has(blocks.get(other) as string)) missing.push(`${node} lacks ${other}'s ${blocks.get(other)}`);
  }
  return missing;
}

describe("the walkthrough's route-reflector recipe on a running mesh", () => {
  it('flags the walkthrough order (label node1 first) as leaving node1 without sessions', async () => {
    const preview = await call(cluster.topologyClient.preview.bind(cluster.topologyClient), { apply: [await node1AsReflector()], delete: [] });
    const noSessions = preview.warnings.filter((w) => w.code === 'no-sessions');
    expect(noSessions.map((w) => w.nodes)).toContainEqual(expect.arrayContaining(['node1']));
    expect(noSessions[0]?.message).toMatch(/node1/);
  });

  it('in the safe order (BGPPeers, label, mesh off) never loses a route, keeps the sessions, and ends with client-RR sessions only', async () => {
    const sinceBefore = new Map<string, string>();
    for (const [node] of NODES.slice(1)) {
      const row = (await cluster.status(node)).status?.bgp?.peersV4.find((p) => p.peerIP === '127.0.0.21');
      sinceBefore.set(node, row?.since ?? '');
    }
    const gaps: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const missing = await allRoutesPresent();
        if (missing.length > 0) gaps.push(...missing);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    // 1. the BGPPeers (quoted selectors, as the walkthrough's note says)
    for (const text of [walkthroughManifest('5. peer-to-rrs'), walkthroughManifest('5. rr-mesh')]) {
      for (const r of resources(text)) await call(cluster.storeClient.apply.bind(cluster.storeClient), { resource: r });
    }
    // 2. node1 becomes the reflector
    await call(cluster.storeClient.update.bind(cluster.storeClient), { resource: await node1AsReflector() });
    const clientsUp = async (): Promise<boolean> => {
      const rows = (await cluster.status('node1')).status?.bgp?.peersV4 ?? [];
      return rows.length === 3 && rows.every((p) => p.type === 'node specific' && p.state === 'up');
    };
    await eventually('node1 reflecting for its three clients', clientsUp, 20_000, 100);
    // 3. the mesh off
    await cluster.bgpConfiguration('  nodeToNodeMeshEnabled: false\n');
    await eventually(
      'clients with one session each, to the reflector',
      async () => {
        for (const [node] of NODES.slice(1)) {
          const rows = (await cluster.status(node)).status?.bgp?.peersV4 ?? [];
          if (rows.length !== 1 || rows[0]?.peerIP !== '127.0.0.21' || rows[0].state !== 'up') return false;
        }
        return clientsUp();
      },
      20_000,
      100,
    );
    // let routes settle through the reflector, then stop watching
    await eventually('every route through the reflector', async () => (await allRoutesPresent()).length === 0, 10_000, 100);
    watching = false;
    await watcher;
    if (gaps.length > 0) {
      // What the agents did meanwhile: the first thing to read when this fails.
      for (const [node] of NODES) {
        const lines = cluster.agents.get(node)?.process.process.output().split('\n') ?? [];
        console.error(`--- ${node}\n${lines.filter((l) => /speaker|peer (added|removed|changed|role)|does not exist|configuration applied|lost|Hold|CEASE|Notification|NOTIFICATION/.test(l)).join('\n')}`);
      }
    }
    expect(gaps).toEqual([]);

    // The sessions to node1 never went down: their "since" did not move.
    for (const [node] of NODES.slice(1)) {
      const row = (await cluster.status(node)).status?.bgp?.peersV4.find((p) => p.peerIP === '127.0.0.21');
      expect(row).toMatchObject({ type: 'node specific', state: 'up', info: 'Established' });
      expect(row?.since).toBe(sinceBefore.get(node));
    }
    // Routes between clients are reflected: ORIGINATOR_ID and CLUSTER_LIST as RFC 4456 says.
    const at3 = (await cluster.routes('node3')).find((r) => r.prefix === blocks.get('node2'));
    expect(at3?.paths.find((p) => p.best)).toMatchObject({ fromPeer: '127.0.0.21', clusterList: ['224.0.0.1'] });
    // Topology agrees: client <-> RR sessions only.
    const graph = await call(cluster.topologyClient.listPeerings.bind(cluster.topologyClient), { node: '' });
    const pairs = graph.peerings.map((p) => [p.a?.node, p.b?.node].sort().join('-')).sort();
    expect(pairs).toEqual(['node1-node2', 'node1-node3', 'node1-node4']);
    const cfg = await call(cluster.topologyClient.getNodeConfig.bind(cluster.topologyClient), { node: 'node1' });
    expect(cfg.config?.peers.every((p) => p.routeReflectorClient && p.type === PeerType.PEER_TYPE_NODE_SPECIFIC)).toBe(true);
  }, 120_000);
});
