/**
 * The real tabby-topology binary against a real tabby-store, tabby-ipam and nats-server
 * on loopback: watch streams get exactly the changes of their node, in order; a restart of
 * the topology service loses nothing; IPAM blocks become prefixes; plumbing (health,
 * reflection, metrics, errors, flags).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status } from '@grpc/grpc-js';
import { connect, type NatsConnection } from 'nats';
import { IpamClient, NodeConfigChanged } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';
import {
  ProcessGroup,
  eventually,
  healthCheck,
  listServicesByReflection,
  sleep,
  startNats,
  startService,
  tempDir,
  walkthroughManifest,
  type NatsServer,
  type ServiceProcess,
} from '@tabby/harness';
import { resilientWatch, sessionNames, storeClient, topologyClient, type ResilientWatch, type TopologyTestClient } from './client.js';
import { bgpConfig, bgpPeer, manifest, node } from './support.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-topology-it-');
let nats: NatsServer;
let store: ServiceProcess;
let ipam: ServiceProcess;
let topology: ServiceProcess;
let topo: TopologyTestClient;
let st: ReturnType<typeof storeClient>;
let nc: NatsConnection;
const notified: { node: string; generation: number }[] = [];

const RR = { labels: { 'i-am-a-route-reflector': 'true' }, rr: '224.0.0.1' };
const node4 = (rack: string): string => node('node4', '10.0.0.4/24', { labels: { rack } });

async function startTopology(port = 0): Promise<ServiceProcess> {
  return startService(group, 'topology', ['--listen', `127.0.0.1:${port}`, '--store', store.address, '--ipam', ipam.address, '--nats', nats.url, '--block-resync', '2']);
}

async function applyAll(text: string): Promise<void> {
  for (const r of manifest(text)) await st.apply(r);
}

beforeAll(async () => {
  nats = await startNats(group, dir.path);
  nc = await connect({ servers: nats.url });
  nc.subscribe('tabby.v1.topology.nodes.>', { callback: (_e, msg) => notified.push(NodeConfigChanged.decode(msg.data)) });
  await nc.flush();
  store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`, '--nats', nats.url]);
  st = storeClient(store.address);
  await applyAll(
    [
      bgpConfig('nodeToNodeMeshEnabled: false'),
      node('node1', '10.0.0.1/24', RR),
      node('node2', '10.0.0.2/24', RR),
      node('node3', '10.0.0.3/24', { labels: { role: 'edge', rack: 'c' } }),
      node4('b'),
      node('node5', '10.0.0.5/24', { labels: { rack: 'b' } }),
      walkthroughManifest('5. peer-to-rrs'),
      walkthroughManifest('5. rr-mesh'),
      bgpPeer('rack-a-to-edge', "nodeSelector: rack == 'a'\npeerSelector: role == 'edge'"),
    ].join('---\n'),
  );
  ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/ipam`, '--store', store.address, '--nats', nats.url]);
  topology = await startTopology();
  topo = topologyClient(topology.address);
  await eventually('topology in sync', async () => (await healthCheck(topology.address)) === 'SERVING', 20_000);
}, 60_000);

afterAll(async () => {
  topo?.close();
  st?.close();
  await nc?.close();
  await group.stopAll();
  dir.remove();
});

describe('watch streams', () => {
  const watches = new Map<string, ResilientWatch>();

  afterAll(() => {
    for (const w of watches.values()) w.stop();
  });

  it('a label change on one node reaches exactly the affected nodes, in order', async () => {
    for (const n of ['node1', 'node2', 'node3', 'node4', 'node5']) watches.set(n, resilientWatch(topology.address, n));
    await eventually('the initial configs', () => [...watches.values()].every((w) => w.received.length === 1));
    const first = (n: string) => watches.get(n)!.received[0];
    expect(sessionNames(first('node3'))).toEqual(['Node_10_0_0_1', 'Node_10_0_0_2']);
    expect(sessionNames(first('node4'))).toEqual(['Node_10_0_0_1', 'Node_10_0_0_2']);
    expect(sessionNames(first('node1'))).toEqual(['Node_10_0_0_2', 'Node_10_0_0_3', 'Node_10_0_0_4', 'Node_10_0_0_5']);
    notified.length = 0;

    // node4 moves to rack a: it gets a session to the edge node, and node3 the reverse one.
    await applyAll(node4('a'));
    await eventually('node3 and node4 updated', () => watches.get('node3')!.received.length === 2 && watches.get('node4')!.received.length === 2);
    // And back: both get a third configuration, in order.
    await applyAll(node4('b'));
    await eventually('node3 and node4 updated again', () => watches.get('node3')!.received.length === 3 && watches.get('node4')!.received.length === 3);
    await sleep(1000);
    expect([...watches].map(([n, w]) => [n, w.received.map(sessionNames)])).toEqual([
      ['node1', [['Node_10_0_0_2', 'Node_10_0_0_3', 'Node_10_0_0_4', 'Node_10_0_0_5']]],
      ['node2', [['Node_10_0_0_1', 'Node_10_0_0_3', 'Node_10_0_0_4', 'Node_10_0_0_5']]],
      [
        'node3',
        [
          ['Node_10_0_0_1', 'Node_10_0_0_2'],
          ['Node_10_0_0_1', 'Node_10_0_0_2', 'Node_10_0_0_4'],
          ['Node_10_0_0_1', 'Node_10_0_0_2'],
        ],
      ],
      [
        'node4',
        [
          ['Node_10_0_0_1', 'Node_10_0_0_2'],
          ['Node_10_0_0_1', 'Node_10_0_0_2', 'Node_10_0_0_3'],
          ['Node_10_0_0_1', 'Node_10_0_0_2'],
        ],
      ],
      ['node5', [['Node_10_0_0_1', 'Node_10_0_0_2']]],
    ]);
    for (const n of ['node3', 'node4']) {
      const gens = watches.get(n)!.received.map((c) => c.generation);
      expect(gens[1]).toBeGreaterThan(gens[0]);
      expect(gens[2]).toBeGreaterThan(gens[1]);
    }
    // NATS: one notification per change, for those two nodes only.
    await eventually('four notifications', () => notified.length >= 4);
    await sleep(300);
    expect(notified.map((m) => m.node).sort()).toEqual(['node3', 'node3', 'node4', 'node4']);
    const last = watches.get('node4')!.last()!;
    expect(notified.filter((m) => m.node === 'node4').map((m) => m.generation)).toEqual(watches.get('node4')!.received.slice(1).map((c) => c.generation));
    expect(await topo.get('node4')).toEqual(last);
  }, 30_000);

  it('a topology restart resumes the streams without a gap', async () => {
    const w = watches.get('node4')!;
    const before = w.received.length;
    const streamsBefore = w.streams;
    topo.close();
    await topology.process.stop();
    // A change while the topology service is down ...
    await applyAll(node4('a'));
    topology = await startTopology(topology.port);
    topo = topologyClient(topology.address);
    // ... is in the first configuration of the new stream.
    await eventually('the change made while down', () => sessionNames(w.last()).includes('Node_10_0_0_3'), 20_000);
    expect(w.streams).toBeGreaterThan(streamsBefore);
    // A change after the restart reaches the resumed stream.
    await applyAll(node4('b'));
    await eventually('the change after the restart', () => w.received.length > before + 1 && !sessionNames(w.last()).includes('Node_10_0_0_3'));
    const after = w.received.slice(before).map(sessionNames);
    expect(after).toEqual([
      ['Node_10_0_0_1', 'Node_10_0_0_2', 'Node_10_0_0_3'],
      ['Node_10_0_0_1', 'Node_10_0_0_2'],
    ]);
    const gens = w.received.map((c) => c.generation);
    for (let i = 1; i < gens.length; i++) expect(gens[i]).toBeGreaterThan(gens[i - 1]);
    // Unaffected nodes got their (unchanged) configuration once on the new stream.
    expect(sessionNames(watches.get('node5')!.last())).toEqual(['Node_10_0_0_1', 'Node_10_0_0_2']);
  }, 40_000);
});

describe('IPAM blocks', () => {
  it('become the prefixes of the node they are affine to', async () => {
    await applyAll(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pods
spec:
  cidr: 10.244.0.0/16
  blockSize: 26
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: quiet
spec:
  cidr: 10.245.0.0/16
  disableBGPExport: true
  nodeSelector: rack == 'c'
`);
    const w = resilientWatch(topology.address, 'node5');
    const ipamClient = new IpamClient(ipam.address, credentials.createInsecure());
    try {
      await eventually(
        'a workload on node5',
        () =>
          callUnary(ipamClient.workloadAdd.bind(ipamClient), { namespace: 'default', name: 'web-1', node: 'node5', labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: ['pods'], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} }, { timeoutMs: 10_000 }),
        20_000,
        200,
      );
      await eventually('the block as a prefix of node5', () => (w.last()?.prefixes.length ?? 0) > 0, 15_000);
      const prefix = w.last()!.prefixes[0];
      expect(prefix.pool).toBe('pods');
      expect(prefix.cidr).toMatch(/^10\.244\.\d+\.\d+\/26$/);
      // A block of a disableBGPExport pool is not originated.
      await callUnary(ipamClient.workloadAdd.bind(ipamClient), { namespace: 'default', name: 'quiet-1', node: 'node3', labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: ['quiet'], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} }, { timeoutMs: 10_000 });
      await sleep(1500);
      expect((await topo.get('node3')).prefixes).toEqual([]);
      expect((await topo.peerings()).nodes.find((n) => n.name === 'node5')?.prefixes).toBe(1);
    } finally {
      w.stop();
      ipamClient.close();
    }
  }, 40_000);
});

describe('service plumbing', () => {
  it('answers health and reflection, and NOT_FOUND for an unknown node', async () => {
    expect(await listServicesByReflection(topology.address, 'v1')).toEqual(expect.arrayContaining(['grpc.health.v1.Health', 'tabby.v1.Topology']));
    expect(await healthCheck(topology.address, 'tabby.v1.Topology')).toBe('SERVING');
    const err = await topo.get('nope').catch((e: unknown) => e as { code: number; details: string });
    expect(err).toMatchObject({ code: status.NOT_FOUND, details: 'node nope does not exist (there is no Node resource named "nope")' });
    const bad = await topo.explain('node1', 'not a peer').catch((e: unknown) => e as { code: number; details: string });
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('previews, checks and explains over gRPC', async () => {
    const p = await topo.preview(manifest(bgpConfig('nodeToNodeMeshEnabled: true')));
    expect(p.nodes.map((n) => n.node)).toEqual(['node3', 'node4', 'node5']);
    expect(p.nodes[0].sessions.map((s) => s.after?.name)).toEqual(['Mesh_10_0_0_4', 'Mesh_10_0_0_5']);
    const invalid = await topo.preview(manifest(bgpPeer('bad', 'peerIP: 10.0.0.1\npeerSelector: all()'))).catch((e: unknown) => e as { code: number; details: string });
    expect(invalid).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((invalid as { details: string }).details).toContain('BGPPeer(bad): error with field');
    const c = await topo.check();
    expect(c.nodes).toBe(5);
    // node4 went back to rack b: nothing is in rack a any more.
    expect(c.warnings.map((w) => w.message)).toEqual([`BGPPeer(rack-a-to-edge) applies to no node: its nodeSelector "rack == 'a'" matches none`]);
    const e = await topo.explain('node1', 'node5');
    expect(e.sessions[0].reasons.some((r) => r.startsWith('node5 is a route-reflector client of node1'))).toBe(true);
  });

  it('exits 2 with one line naming a bad flag', async () => {
    const bad = group.start('tabby-topology-bad', process.execPath, [`${process.cwd()}/dist/main.js`, '--store', store.address, '--block-resync', '0']);
    expect((await bad.exited()).code).toBe(2);
    expect(bad.output()).toBe('tabby-topology: invalid --block-resync "0": expected an integer from 1 to 86400\n');
  });

  it('waits for the store, serving NOT_SERVING and UNAVAILABLE meanwhile', async () => {
    const lonely = await startService(group, 'topology', ['--listen', '127.0.0.1:0', '--store', '127.0.0.1:9', '--metrics', '127.0.0.1:0']);
    expect(await healthCheck(lonely.address)).toBe('NOT_SERVING');
    const c = topologyClient(lonely.address);
    const err = await c.get('node1').catch((e: unknown) => e as { code: number; details: string });
    expect(err).toMatchObject({ code: status.UNAVAILABLE });
    const port = Number((await lonely.process.waitForLine(/"msg":"metrics listening"/)).input.match(/127\.0\.0\.1:(\d+)/)![1]);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain('tabby_topology_synced{service="tabby-topology"} 0');
    c.close();
    await lonely.process.stop();
  });
});
