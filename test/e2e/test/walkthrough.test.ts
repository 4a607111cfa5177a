/**
 * The operator walkthrough (flows 1-3, 5 and 6 of docs/walkthrough.md), run exactly as
 * written with calicoctl replaced by the real tabbyctl binary, against a real tabby-store.
 * Output is compared with golden/walkthrough.txt (UPDATE_GOLDEN=1 rewrites it).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, startService, tempDir, walkthroughManifest } from '@tabby/harness';
import { Transcript } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-walkthrough-');
let t: Transcript;

beforeAll(async () => {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
  t = new Transcript(dir.path, { TABBY_STORE_ADDR: store.address });
}, 30_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

const GOLDEN = new URL('../golden/walkthrough.txt', import.meta.url).pathname;

it('runs the walkthrough as written', async () => {
  // 1. Change the global AS / turn off the mesh
  expect((await t.run(['get', 'bgpconfig', 'default'], undefined, { note: 'flow 1: does the default BGPConfiguration exist?' })).code).toBe(1);
  expect((await t.run(['create', '-f', '-'], walkthroughManifest('1. global AS'))).code).toBe(0);
  await t.run(['get', 'bgpconfig', 'default']);
  expect((await t.run(['get', 'bgpconfig', 'default', '--export', '-o', 'yaml'], undefined, { redirect: 'bgp.yaml' })).code).toBe(0);
  t.edit('bgp.yaml', (s) => s.replace('asNumber: 63400', 'asNumber: 64512'), 'vim bgp.yaml: change asNumber');
  expect((await t.run(['replace', '-f', 'bgp.yaml'])).code).toBe(0);
  await t.run(['get', 'bgpconfig', 'default']);

  // 2. Global BGP peer
  expect((await t.run(['create', '-f', '-'], walkthroughManifest('2. global BGP peer'), { note: 'flow 2: a global BGP peer' })).code).toBe(0);
  const peers = await t.run(['get', 'bgpPeer']);
  expect(peers.stdout).toBe('NAME                  PEERIP         NODE       ASN     \nbgppeer-global-3040   192.20.30.40   (global)   64567   \n\n');
  expect((await t.run(['delete', 'bgppeer', 'bgppeer-global-3040'])).code).toBe(0);

  // 3. Node-specific BGP peer
  expect((await t.run(['create', '-f', '-'], walkthroughManifest('3. node-specific BGP peer'), { note: 'flow 3: a node-specific BGP peer' })).code).toBe(0);
  const one = await t.run(['get', 'bgpPeer', 'bgppeer-node-aabbff']);
  expect(one.stdout).toBe('NAME                  PEERIP      NODE    ASN     \nbgppeer-node-aabbff   aa:bb::ff   node1   64514   \n\n');
  expect((await t.run(['delete', 'bgppeer', 'bgppeer-node-aabbff'])).code).toBe(0);

  // 5. In-cluster route reflectors (the nodes exist: their agents registered them)
  const nodes = ['node1', 'node2', 'node3']
    .map((n, i) => `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${n}\nspec:\n  bgp:\n    ipv4Address: 172.17.8.${101 + i}/24\n`)
    .join('---\n');
  expect((await t.run(['create', '-f', '-'], nodes, { note: 'flow 5: three nodes, as their agents register them' })).code).toBe(0);
  expect((await t.run(['get', 'node', 'node1', '--export', '-o', 'yaml'], undefined, { redirect: 'node.yml' })).code).toBe(0);
  t.edit(
    'node.yml',
    (s) => s.replace('metadata:\n', 'metadata:\n  labels:\n    i-am-a-route-reflector: "true"\n').replace('  bgp:\n', '  bgp:\n    routeReflectorClusterID: 224.0.0.1\n'),
    'edit node.yml: the route-reflector label and cluster id',
  );
  expect((await t.run(['apply', '-f', 'node.yml'])).code).toBe(0);
  expect((await t.run(['apply', '-f', '-'], walkthroughManifest('5. peer-to-rrs'))).code).toBe(0);
  expect((await t.run(['apply', '-f', '-'], walkthroughManifest('5. rr-mesh'))).code).toBe(0);
  await t.run(['get', 'bgppeers']);
  await t.run(['get', 'nodes', '-o', 'wide']);
  await t.run(['get', 'nodes', '-l', 'has(i-am-a-route-reflector)']);

  // 6. Change IP pools on a running cluster
  const setup = `${walkthroughManifest('6. the default pool')}---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: vagrant-k8s-kube--dns--6f4fd4bdf--8q7zp-eth0
  namespace: kube-system
spec:
  orchestrator: k8s
  node: vagrant
  pod: kube-dns-6f4fd4bdf-8q7zp
  endpoint: eth0
  interfaceName: cali800a63073ed
  ipNetworks:
  - 192.168.52.130/32
`;
  expect((await t.run(['create', '-f', '-'], setup, { note: 'flow 6: the cluster as it runs, one pod in the default pool' })).code).toBe(0);
  expect((await t.run(['create', '-f', '-'], walkthroughManifest('6. new-pool'))).code).toBe(0);
  const wide = await t.run(['get', 'ippool', '-o', 'wide']);
  expect(wide.stdout.split('\n')[0]).toBe('NAME                  CIDR             NAT    IPIPMODE   VXLANMODE   DISABLED   DISABLEBGPEXPORT   SELECTOR   ASSIGNMENTMODE   ');
  const weps = await t.run(['get', 'wep', '--all-namespaces']);
  expect(weps.stdout).toBe(
    'NAMESPACE     WORKLOAD                   NODE      NETWORKS            INTERFACE         \nkube-system   kube-dns-6f4fd4bdf-8q7zp   vagrant   192.168.52.130/32   cali800a63073ed   \n\n',
  );
  expect((await t.run(['get', 'ippool', '-o', 'yaml'], undefined, { redirect: 'pool.yaml' })).code).toBe(0);
  t.edit(
    'pool.yaml',
    (s) => s.replace(/(name: default-ipv4-ippool\n(?:.*\n)*? {2}spec:\n)/, '$1    disabled: true\n'),
    'edit pool.yaml: disabled: true on the old pool',
  );
  expect((await t.run(['apply', '-f', 'pool.yaml'])).code).toBe(0);
  const after = await t.run(['get', 'ippool', '-o', 'wide']);
  expect(after.stdout.split('\n')[1]).toMatch(/^default-ipv4-ippool +192\.168\.0\.0\/16 +true +Always +Never +true /);
  const recreate = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: vagrant-k8s-kube--dns--6f4fd4bdf--8q7zp-eth0
  namespace: kube-system
spec:
  orchestrator: k8s
  node: vagrant
  pod: kube-dns-6f4fd4bdf-8q7zp
  endpoint: eth0
  interfaceName: cali800a63073ed
  ipNetworks:
  - 10.0.24.8/32
`;
  expect((await t.run(['delete', 'wep', '-n', 'kube-system', 'vagrant-k8s-kube--dns--6f4fd4bdf--8q7zp-eth0'], undefined, { note: 'the pod is recreated and gets an address from new-pool' })).code).toBe(0);
  expect((await t.run(['create', '-f', '-'], recreate)).code).toBe(0);
  await t.run(['get', 'wep', '--all-namespaces']);
  expect((await t.run(['delete', 'pool', 'default-ipv4-ippool'])).code).toBe(0);
  await t.run(['get', 'ippool', '-o', 'wide']);

  const [actual, expected] = t.golden(GOLDEN);
  expect(actual).toBe(expected);
}, 120_000);
