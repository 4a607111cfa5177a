/**
 * Walkthrough flow 6 (change IP pools on a running cluster) with real workloads: the
 * kube-dns pod gets its address from tabby-ipam through `tabbyctl workload add`, the old
 * pool is disabled by applying pool.yaml, the pod is recreated into new-pool, and deleting
 * the old pool is refused while the pod is still in it and accepted after. Real
 * nats-server, tabby-store and tabby-ipam processes; tabbyctl as a subprocess. Compared
 * with golden/ipam-walkthrough.txt, addresses masked (UPDATE_GOLDEN=1 rewrites it).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, tempDir, walkthroughManifest } from '@tabby/harness';
import { addressMask, startIpamCluster, type IpamCluster } from './ipam-cluster.js';
import { Transcript } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-walkthrough-');
let cluster: IpamCluster;
let t: Transcript;

beforeAll(async () => {
  cluster = await startIpamCluster(group, dir.path);
  // IPAM writes the first workload's endpoint and the pool's finalizer concurrently, so their
  // revisions (and every later one) swap from run to run: resourceVersions are masked.
  const addresses = addressMask(['192.168', '10.0']);
  t = new Transcript(dir.path, cluster.env, (text) => addresses(text).replace(/resourceVersion: "\d+"/g, 'resourceVersion: <revision>'));
}, 60_000);

afterAll(async () => {
  cluster?.close();
  await group.stopAll();
  dir.remove();
});

const POD = 'kube-system/kube-dns-6f4fd4bdf-8q7zp';
const WEP_ROW = (prefix: string): RegExp =>
  new RegExp(`^kube-system {3}kube-dns-6f4fd4bdf-8q7zp {3}vagrant {3}(${prefix.replace(/\./g, '\\.')}\\.\\d+\\.\\d+)/32 +cali800a63073ed {3}$`, 'm');

it('changes IP pools on a running cluster, safely', async () => {
  const node = 'apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: vagrant\nspec:\n  bgp:\n    ipv4Address: 172.17.8.101/24\n';
  expect((await t.run(['create', '-f', '-'], node, { note: 'flow 6: a node, as its agent registers it, and the default pool' })).code).toBe(0);
  expect((await t.run(['create', '-f', '-'], walkthroughManifest('6. the default pool'))).code).toBe(0);
  await cluster.waitForPool('default-ipv4-ippool');

  const add = await t.run(['workload', 'add', POD, '--node', 'vagrant'], undefined, { note: 'the pod starts: IPAM gives it an address and writes its WorkloadEndpoint' });
  expect(add.code).toBe(0);
  expect(add.stdout).toMatch(/^ {2}interface: cali800a63073ed$/m);
  expect(add.stdout).toMatch(/^ {2}addresses: 192\.168\.\d+\.\d+\/32$/m);

  expect((await t.run(['create', '-f', '-'], walkthroughManifest('6. new-pool'), { note: 'add the new pool' })).code).toBe(0);
  await cluster.waitForPool('new-pool');
  const wide = await t.run(['get', 'ippool', '-o', 'wide']);
  expect(wide.stdout.split('\n').slice(1, 3)).toEqual([
    expect.stringMatching(/^default-ipv4-ippool +192\.168\.0\.0\/16 +true +Always +Never +false /),
    expect.stringMatching(/^new-pool +10\.0\.0\.0\/16 +true +Always +Never +false /),
  ]);
  const before = await t.run(['get', 'wep', '--all-namespaces']);
  const oldAddress = WEP_ROW('192.168').exec(before.stdout)?.[1];
  expect(oldAddress, before.stdout).toBeDefined();

  const show = await t.run(['ipam', 'show'], undefined, { note: 'what IPAM holds: one address in the default pool' });
  expect(show.stdout).toContain('| IP Pool  | 192.168.0.0/16 |     65536 | 1 (0%)     | 65535 (100%) |\n');
  await t.run(['ipam', 'show', '--show-blocks']);
  const ip = await t.run(['ipam', 'show', '--ip', oldAddress!]);
  expect(ip.stdout).toMatch(new RegExp(`^IP ${oldAddress!.replace(/\./g, '\\.')} is in use\nAttributes:\n  namespace: kube-system\n  node: vagrant\n  pod: kube-dns-6f4fd4bdf-8q7zp\n  timestamp: `));

  expect((await t.run(['get', 'ippool', '-o', 'yaml'], undefined, { redirect: 'pool.yaml', note: 'disable the old pool' })).code).toBe(0);
  t.edit('pool.yaml', (s) => s.replace(/(name: default-ipv4-ippool\n(?:.*\n)*? {2}spec:\n)/, '$1    disabled: true\n'), 'edit pool.yaml: disabled: true on the old pool');
  expect((await t.run(['apply', '-f', 'pool.yaml'])).code).toBe(0);
  await cluster.waitForPool('default-ipv4-ippool', true);
  const disabled = await t.run(['get', 'ippool', '-o', 'wide']);
  expect(disabled.stdout.split('\n')[1]).toMatch(/^default-ipv4-ippool +192\.168\.0\.0\/16 +true +Always +Never +true /);

  const refused = await t.run(['delete', 'pool', 'default-ipv4-ippool'], undefined, { note: 'deleting the old pool now would break the pod: refused' });
  expect(refused.code).toBe(1);
  expect(refused.stderr).toBe(
    "Failed to delete 'IPPool' resource: IPPool(default-ipv4-ippool) is still in use: finalizer ipam.tabby.io/allocations (tabby-ipam holds addresses in it). " +
      'Disable the pool, recreate its workloads so they get addresses from another pool, then delete it ' +
      '(tabbyctl ipam migrate --from default-ipv4-ippool --to <new pool> --wait does all three); or delete with --force, which orphans those addresses. ' +
      'In it now: 1 address of 1 workload (kube-system/kube-dns-6f4fd4bdf-8q7zp).\n',
  );

  expect((await t.run(['workload', 'delete', POD], undefined, { note: 'recreate the pod (Kubernetes: kubectl delete pod -n kube-system kube-dns-...)' })).code).toBe(0);
  const readd = await t.run(['workload', 'add', POD, '--node', 'vagrant']);
  expect(readd.code).toBe(0);
  expect(readd.stdout).toMatch(/^ {2}addresses: 10\.0\.\d+\.\d+\/32$/m);
  const after = await t.run(['get', 'wep', '--all-namespaces']);
  expect(after.stdout).toMatch(WEP_ROW('10.0'));
  expect((await t.run(['ipam', 'show', '--ip', oldAddress!])).stdout).toBe(`${oldAddress!} is not assigned\n`);
  await t.run(['ipam', 'show']);

  expect((await t.run(['delete', 'pool', 'default-ipv4-ippool'], undefined, { note: 'nothing uses the old pool any more: it can go' })).code).toBe(0);
  const last = await t.run(['get', 'ippool', '-o', 'wide']);
  expect(last.stdout.split('\n').filter((l) => l !== '')).toHaveLength(2);
  expect((await t.run(['ipam', 'check'])).stdout).toMatch(/Check complete; found 0 problems\.\n$/);

  const [actual, expected] = t.golden(new URL('../golden/ipam-walkthrough.txt', import.meta.url).pathname);
  expect(actual).toBe(expected);
}, 120_000);
