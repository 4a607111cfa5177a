/**
 * The walkthrough's move from the full mesh to route reflectors (flows 5 and 1), run with
 * the real tabbyctl against a real tabby-store and tabby-topology: `--dry-run` before each
 * write, `topology show` (table and Graphviz), `explain`, `check`. Output is compared with
 * golden/topology.txt (UPDATE_GOLDEN=1 rewrites it).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { credentials } from '@grpc/grpc-js';
import { TopologyClient, type NodeConfig } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';
import { ProcessGroup, eventually, startService, tempDir, walkthroughManifest } from '@tabby/harness';
import { Transcript } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-topology-e2e-');
let t: Transcript;
let topo: TopologyClient;

const GOLDEN = new URL('../golden/topology.txt', import.meta.url).pathname;

function nodeYaml(name: string, address: string, rr = false): string {
  return `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: ${name}
${rr ? '  labels:\n    i-am-a-route-reflector: "true"\n' : ''}spec:
  bgp:
    ipv4Address: ${address}
${rr ? '    routeReflectorClusterID: 224.0.0.1\n' : ''}`;
}

/** The session names of a node as the topology service has compiled them. */
async function sessions(node: string): Promise<string[]> {
  const r = await callUnary(topo.getNodeConfig.bind(topo), { node }, { timeoutMs: 5000 });
  return ((r.config as NodeConfig).peers ?? []).map((p) => p.name);
}

/** Waits until the topology service reflects what was just written. */
async function until(what: string, node: string, expected: string[]): Promise<void> {
  await eventually(what, async () => JSON.stringify(await sessions(node)) === JSON.stringify(expected), 15_000);
}

beforeAll(async () => {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
  const topology = await startService(group, 'topology', ['--listen', '127.0.0.1:0', '--store', store.address]);
  topo = new TopologyClient(topology.address, credentials.createInsecure());
  t = new Transcript(dir.path, { TABBY_STORE_ADDR: store.address, TABBY_TOPOLOGY_ADDR: topology.address });
}, 30_000);

afterAll(async () => {
  topo?.close();
  await group.stopAll();
  dir.remove();
});

it('moves a 5-node mesh to route reflectors, previewing each step', async () => {
  const five = ['node1', 'node2', 'node3', 'node4', 'node5'].map((n, i) => nodeYaml(n, `172.17.8.${101 + i}/24`)).join('---\n');
  expect((await t.run(['create', '-f', '-'], five, { note: 'five nodes, as their agents register them: a full mesh' })).code).toBe(0);
  await until('the mesh', 'node5', ['Mesh_172_17_8_101', 'Mesh_172_17_8_102', 'Mesh_172_17_8_103', 'Mesh_172_17_8_104']);
  await t.run(['topology', 'show']);
  await t.run(['topology', 'show', 'node1']);
  expect((await t.run(['topology', 'check'])).code).toBe(0);

  // Flow 1 first, the unsafe order: the dry run says every route would be lost.
  const meshOff = walkthroughManifest('1. global AS');
  const unsafe = await t.run(['create', '-f', '-', '--dry-run'], meshOff, { note: 'flow 1 before flow 5: turning the mesh off now' });
  expect(unsafe.code).toBe(1);
  expect(unsafe.stdout).toContain('every route between the 5 nodes would be lost');
  expect((await t.run(['get', 'bgpconfig', 'default'], undefined, { note: 'the dry run wrote nothing' })).code).toBe(1);

  // Flow 5 as written: reflectors first, peers next. In between, the reflectors have left the
  // mesh and have no session yet: the dry run says so.
  const rrs = `${nodeYaml('node1', '172.17.8.101/24', true)}---\n${nodeYaml('node2', '172.17.8.102/24', true)}`;
  const early = await t.run(['apply', '-f', '-', '--dry-run'], rrs, { note: 'flow 5, step 1 alone: node1 and node2 become route reflectors' });
  expect(early.code).toBe(1);
  // So apply the reflectors and their peers together.
  const peers = `${walkthroughManifest('5. peer-to-rrs')}---\n${walkthroughManifest('5. rr-mesh')}`;
  const both = `${rrs}---\n${peers}`;
  expect((await t.run(['apply', '-f', '-', '--dry-run'], both, { note: 'flow 5 in one apply: the reflectors with peer-to-rrs and rr-mesh' })).code).toBe(0);
  expect((await t.run(['apply', '-f', '-'], both)).code).toBe(0);
  await until('the reflector sessions', 'node1', ['Node_172_17_8_102', 'Node_172_17_8_103', 'Node_172_17_8_104', 'Node_172_17_8_105']);
  await until('the client sessions', 'node3', ['Node_172_17_8_101', 'Node_172_17_8_102', 'Mesh_172_17_8_104', 'Mesh_172_17_8_105']);
  await t.run(['topology', 'show', 'node1']);
  await t.run(['topology', 'show', 'node3']);
  expect((await t.run(['topology', 'explain', 'node1', 'node3'])).code).toBe(0);
  expect((await t.run(['topology', 'explain', 'node3', '172.17.8.101'])).code).toBe(0);

  // Now flow 1 is safe: only the client-to-client mesh sessions go.
  const safe = await t.run(['create', '-f', '-', '--dry-run'], meshOff, { note: 'flow 1 after flow 5: the mesh can go' });
  expect(safe.code).toBe(0);
  expect(safe.stdout).toContain('No new warnings.');
  expect((await t.run(['create', '-f', '-'], meshOff)).code).toBe(0);
  await until('the mesh gone', 'node3', ['Node_172_17_8_101', 'Node_172_17_8_102']);
  await t.run(['topology', 'show']);
  await t.run(['topology', 'show', '-o', 'dot']);
  expect((await t.run(['topology', 'check'])).code).toBe(0);
  expect((await t.run(['topology', 'explain', 'node3', 'node4'])).code).toBe(1);

  // What the reflectors' own peering is for.
  expect((await t.run(['delete', 'bgppeer', 'rr-mesh', '--dry-run'], undefined, { note: 'without rr-mesh the reflectors would not learn each other\'s routes' })).code).toBe(1);

  // A typo in a selector, and a peer without an AS.
  const typo = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: tor
spec:
  nodeSelector: rack == 'r1'
  peerIP: 192.20.30.40
`;
  expect((await t.run(['apply', '-f', '-'], typo, { note: 'a ToR peer for a rack no node is in, without asNumber' })).code).toBe(0);
  await eventually('the peer seen by topology', async () => (await callUnary(topo.check.bind(topo), {}, { timeoutMs: 5000 })).warnings.length > 0, 15_000);
  expect((await t.run(['topology', 'check'])).code).toBe(0);
  expect((await t.run(['delete', 'bgppeer', 'tor'])).code).toBe(0);

  // Errors.
  expect((await t.run(['topology', 'show', 'node9'])).code).toBe(1);
  expect((await t.run(['topology', 'explain', 'node1', 'not-a-node'])).code).toBe(1);
  expect((await t.run(['topology', 'show', '-o', 'yaml'])).code).toBe(1);
  expect((await t.run(['--topology', '127.0.0.1:1', 'topology', 'check'])).code).toBe(1);

  const [actual, expected] = t.golden(GOLDEN);
  expect(actual).toBe(expected);
}, 120_000);
