/**
 * tabbyctl's IPAM commands against real tabby-store, tabby-ipam and nats-server processes:
 * workload add/delete and their errors, `ipam release` (refused for an address an endpoint
 * still uses), `ipam check` finding and repairing an endpoint without allocation and a
 * block of a deleted node (with a JSON report), borrowed addresses, a forced pool delete
 * leaving orphaned blocks, and an ipam that is down. Compared with golden/ipam-cli.txt,
 * addresses IPAM picks at random masked (UPDATE_GOLDEN=1 rewrites it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, eventually, tempDir } from '@tabby/harness';
import { addressMask, startIpamCluster, type IpamCluster } from './ipam-cluster.js';
import { Transcript, tabbyctl } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-cli-');
let cluster: IpamCluster;
let t: Transcript;

beforeAll(async () => {
  // Garbage collection off: this test has `ipam check --repair` release a deleted node's block,
  // which the collector would otherwise do first (services/ipam/test/gc.test.ts tests that).
  cluster = await startIpamCluster(group, dir.path, ['--gc-disabled']);
  // The first workload's endpoint and the pool's IPAM finalizer are two store writes IPAM makes
  // concurrently (the finalizer after the block claim, the endpoint after the address): which gets
  // the lower revision varies from run to run, so the endpoint's resourceVersion is masked.
  const addresses = addressMask(['10.0']);
  t = new Transcript(dir.path, cluster.env, (text) => addresses(text).replace(/resourceVersion: "\d+"/g, 'resourceVersion: <revision>'));
}, 60_000);

afterAll(async () => {
  cluster?.close();
  await group.stopAll();
  dir.remove();
});

const nodeYaml = (name: string): string => `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${name}\nspec:\n  bgp:\n    ipv4Address: 172.17.8.1/24\n`;
const poolYaml = (name: string, cidr: string, extra = ''): string => `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n${extra}`;

/** The first address of `workload add` output. */
function addressOf(stdout: string): string {
  const m = /^ {2}addresses: ([0-9.]+)\/32/m.exec(stdout);
  if (!m) throw new Error(`no address in:\n${stdout}`);
  return m[1];
}

it('adds and deletes workloads, releases and checks addresses, shows borrowing and orphans', async () => {
  const plain = (args: string[]): ReturnType<typeof tabbyctl> => tabbyctl(args, { cwd: dir.path, env: cluster.env });
  expect((await t.run(['create', '-f', '-'], [nodeYaml('node1'), nodeYaml('node2'), nodeYaml('node3')].join('---\n'), { note: 'three nodes and a pool' })).code).toBe(0);
  expect((await t.run(['create', '-f', '-'], poolYaml('pool-a', '10.0.0.0/16'))).code).toBe(0);
  await cluster.waitForPool('pool-a');

  // workload add / delete
  const web = await t.run(['workload', 'add', 'default/web-1', '--node', 'node1', '-l', 'app=web'], undefined, { note: 'workloads without an orchestrator' });
  expect(web.code).toBe(0);
  const webIP = addressOf(web.stdout);
  const again = await t.run(['workload', 'add', 'default/web-1', '--node', 'node1', '-l', 'app=web']);
  expect(again.stdout).toContain('Workload default/web-1 already exists on node node1:');
  expect(addressOf(again.stdout)).toBe(webIP);
  expect((await t.run(['get', 'wep', 'node1-k8s-web--1-eth0', '-o', 'yaml'])).stdout).toMatch(/labels:\n {4}app: web\n/);
  expect((await t.run(['workload', 'add', 'default/web-2', '--node', 'node1', '--pool', 'nope'])).code).toBe(1);
  expect((await t.run(['workload', 'add', 'default/web-2', '--node', 'ghost'])).code).toBe(1);
  expect((await t.run(['workload', 'add', 'default/', '--node', 'node1'])).code).toBe(1);
  expect((await t.run(['workload', 'add', 'default/web-2', '--node', 'node1', '-l', 'nolabel'])).code).toBe(1);
  expect((await t.run(['workload', 'add', 'default/web-2'])).code).toBe(1);
  expect((await t.run(['workload', 'delete', 'default/nope'])).code).toBe(1);
  expect((await t.run(['workload', 'delete', 'default/nope', '--skip-not-exists'])).code).toBe(0);

  // ipam release
  const inUse = await t.run(['ipam', 'release', '--ip', webIP], undefined, { note: 'an address an endpoint uses is not released behind its back' });
  expect(inUse.code).toBe(1);
  expect((await t.run(['delete', 'wep', '-n', 'default', 'node1-k8s-web--1-eth0'], undefined, { note: 'the endpoint goes without IPAM hearing of it: its address is leaked' })).code).toBe(0);
  expect((await t.run(['ipam', 'release', '--ip', webIP])).stdout).toBe(`Successfully released IP address ${webIP}\n`);
  const twice = await t.run(['ipam', 'release', '--ip', webIP]);
  expect([twice.code, twice.stderr]).toEqual([1, `IP address ${webIP} is not assigned\n`]);
  expect((await t.run(['ipam', 'release', '--ip', '300.1.2.3'])).code).toBe(1);
  expect((await t.run(['ipam', 'release'])).code).toBe(1);

  // ipam check: an endpoint written without IPAM
  const statik = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: node1-k8s-static-eth0
  namespace: default
spec:
  orchestrator: k8s
  node: node1
  pod: static
  endpoint: eth0
  interfaceName: cali0123456789a
  ipNetworks:
  - 10.0.200.7/32
`;
  expect((await t.run(['create', '-f', '-'], statik, { note: 'an endpoint written with an address IPAM never gave out' })).code).toBe(0);
  const found = await t.run(['ipam', 'check']);
  expect(found.stdout).toContain('Found 1 in-use IPs that have no corresponding IPAM allocation.\n  default/static uses 10.0.200.7, which IPAM has not allocated\n');
  expect(found.stdout).toMatch(/Check complete; found 1 problems\.\n$/);
  const repaired = await t.run(['ipam', 'check', '--repair', '-o', 'report.json']);
  expect(repaired.stdout).toContain('  default/static uses 10.0.200.7, which IPAM has not allocated (repaired)\n');
  expect(repaired.stdout).toContain('Repaired 1 of 1 problem.\nCheck complete; found 1 problems.\n');
  const report = JSON.parse(readFileSync(path.join(dir.path, 'report.json'), 'utf8')) as { repaired: boolean; problems: { kind: string; address: string; repaired: boolean }[] };
  expect(report).toMatchObject({ repaired: true, problems: [{ kind: 'missing-allocation', address: '10.0.200.7', repaired: true }] });
  expect((await t.run(['ipam', 'show', '--ip', '10.0.200.7'])).stdout).toMatch(/^IP 10\.0\.200\.7 is in use\nAttributes:\n {2}namespace: default\n {2}node: node1\n {2}pod: static\n/);
  expect((await t.run(['ipam', 'check'])).stdout).toMatch(/found 0 problems\.\n$/);

  // ipam check: a block whose node was deleted
  const db = await t.run(['workload', 'add', 'default/db-1', '--node', 'node2'], undefined, { note: 'a node goes away with its block' });
  expect(db.code).toBe(0);
  expect((await t.run(['delete', 'node', 'node2'])).code).toBe(0);
  await eventually('tabby-ipam to see node2 gone', async () => (await plain(['ipam', 'check'])).stdout.includes('which does not exist'), 10_000, 100);
  const gone = await t.run(['ipam', 'check']);
  expect(gone.stdout).toMatch(/Found 1 IPAM blocks affine to nodes that do not exist\.\n {2}block 10\.0\.\d+\.\d+\/26 is affine to node node2, which does not exist\n/);
  expect((await t.run(['ipam', 'check', '--repair'])).stdout).toContain('Repaired 1 of 1 problem.');
  expect((await t.run(['ipam', 'check'])).stdout).toMatch(/found 0 problems\.\n$/);

  // Borrowing: a one-block pool taken by node1; node3 borrows from it
  writeFileSync(path.join(dir.path, 'tiny.yaml'), poolYaml('tiny', '10.1.0.0/26', '  blockSize: 26\n  assignmentMode: Manual\n'));
  expect((await t.run(['create', '-f', 'tiny.yaml'], undefined, { note: 'a one-block pool, used only when asked for: node3 must borrow from node1' })).code).toBe(0);
  await cluster.waitForPool('tiny');
  expect(addressOf((await t.run(['workload', 'add', 'default/t-1', '--node', 'node1', '--pool', 'tiny'])).stdout)).toBe('10.1.0.0');
  expect(addressOf((await t.run(['workload', 'add', 'default/t-2', '--node', 'node3', '--pool', 'tiny'])).stdout)).toBe('10.1.0.1');
  const borrowed = await t.run(['ipam', 'show', '--show-borrowed']);
  expect(borrowed.stdout).toContain('| 10.1.0.1 ');
  expect(borrowed.stdout).toMatch(/\| 10\.1\.0\.1 +\| node3 +\| 10\.1\.0\.0\/26 +\| node1 +\| pod +\| default\/t-2 +\|/);

  // A forced delete: the pool goes, its blocks stay until their addresses are released
  const refused = await t.run(['delete', 'ippool', 'tiny'], undefined, { note: 'deleting a pool in use needs --force, and leaves orphaned blocks' });
  expect(refused.stderr).toMatch(/IPPool\(tiny\) is still in use: finalizer ipam\.tabby\.io\/allocations .* In it now: 2 addresses of 2 workloads \(default\/t-1, default\/t-2\)\.\n$/);
  const forced = await t.run(['delete', 'ippool', 'tiny', '--force']);
  expect(forced.code).toBe(0);
  expect(forced.stderr).toBe(
    'Warning: deleting IPPool tiny orphans 2 addresses of 2 workloads (default/t-1, default/t-2)\n' +
      'Warning: IPPool(tiny) deleted despite its finalizer ipam.tabby.io/allocations\n',
  );
  await eventually('tabby-ipam to see tiny gone', async () => !(await plain(['ipam', 'show'])).stdout.includes('10.1.0.0/26'), 10_000, 100);
  const orphans = await t.run(['ipam', 'show', '--show-blocks']);
  expect(orphans.stdout.split('\n').filter((l) => l.startsWith('|')).pop()).toMatch(/^\| Block +\| 10\.1\.0\.0\/26 +\| +64 \| 2 \(3%\) +\| 62 \(97%\) +\|$/);
  expect((await t.run(['ipam', 'check'])).stdout).toContain('Found 2 allocated IPs that are in no IP pool.\n');
  expect((await t.run(['workload', 'delete', 'default/t-1'])).code).toBe(0);
  expect((await t.run(['workload', 'delete', 'default/t-2'])).code).toBe(0);
  expect((await t.run(['ipam', 'show', '--show-blocks'])).stdout).not.toContain('10.1.0.0/26');

  // IPv6: a dual-stack workload, and calicoctl's %.5g for a pool of 2^80 addresses
  expect((await t.run(['create', '-f', '-'], poolYaml('v6-pool', 'fd00:30::/48'), { note: 'IPv6: a dual-stack workload in a /48' })).code).toBe(0);
  await cluster.waitForPool('v6-pool');
  const dual = await plain(['workload', 'add', 'default/dual-1', '--node', 'node1', '--ipv6']);
  expect(dual.code, dual.stderr).toBe(0);
  expect(dual.stdout).toMatch(/^ {2}addresses: 10\.0\.\d+\.\d+\/32, fd00:30::[0-9a-f:]+\/128$/m);
  const v6 = /, (fd00:30::[0-9a-f:]+)\/128$/m.exec(dual.stdout)![1];
  expect((await plain(['ipam', 'show', '--ip', v6])).stdout).toMatch(new RegExp(`^IP ${v6} is in use\\nAttributes:\\n {2}namespace: default\\n {2}node: node1\\n {2}pod: dual-1\\n`));
  const show = await t.run(['ipam', 'show']);
  expect(show.stdout).toContain('| IP Pool  | fd00:30::/48 | 1.2089e+24 | 1 (0%)     | 1.2089e+24 (100%) |\n');

  const [actual, expected] = t.golden(new URL('../golden/ipam-cli.txt', import.meta.url).pathname);
  expect(actual).toBe(expected);
}, 180_000);

it('says in one line when tabby-ipam cannot be reached', async () => {
  const r = await tabbyctl(['ipam', 'show'], { cwd: dir.path, env: { ...cluster.env, TABBY_IPAM_ADDR: '127.0.0.1:1' } });
  expect([r.code, r.stdout, r.stderr]).toEqual([1, '', 'cannot reach the Tabby ipam at 127.0.0.1:1 (connection refused; is tabby-ipam running? Set the address with --ipam or TABBY_IPAM_ADDR)\n']);
  const flag = await tabbyctl(['--ipam', '127.0.0.1:1', 'workload', 'delete', 'default/x'], { cwd: dir.path, env: cluster.env });
  expect(flag.stderr).toBe('cannot reach the Tabby ipam at 127.0.0.1:1 (connection refused; is tabby-ipam running? Set the address with --ipam or TABBY_IPAM_ADDR)\n');
  // A forced pool delete goes on without ipam (the store decides), saying what it could not tell.
  expect((await tabbyctl(['create', '-f', '-'], { cwd: dir.path, env: cluster.env, stdin: poolYaml('unasked', '10.99.0.0/24') })).code).toBe(0);
  const forced = await tabbyctl(['--ipam', '127.0.0.1:1', 'delete', 'ippool', 'unasked', '--force'], { cwd: dir.path, env: cluster.env });
  expect([forced.code, forced.stdout, forced.stderr]).toEqual([
    0,
    "Successfully deleted 1 'IPPool' resource(s)\n",
    'Warning: could not tell what deleting IPPool unasked orphans: cannot reach the Tabby ipam at 127.0.0.1:1 (connection refused; is tabby-ipam running? Set the address with --ipam or TABBY_IPAM_ADDR)\n',
  ]);
});
