/**
 * `ipam check` with --show-problem-ips, --show-all-ips and -o, and the round trip to
 * `ipam release --from-report`, against real tabby-store, tabby-ipam and nats-server
 * processes (tabby-ipam with --leak-grace 0, so an allocation without endpoint is leaked at
 * once): exactly the leaked addresses are released and an address in use is untouched; a
 * report that is malformed, of another cluster or older than the data is refused with
 * nothing released; without the datastore lock (and without --force) nothing is released.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, tempDir } from '@tabby/harness';
import { startIpamCluster, type IpamCluster } from './ipam-cluster.js';
import { tabbyctl, type CliResult } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-report-');
let cluster: IpamCluster;

beforeAll(async () => {
  cluster = await startIpamCluster(group, dir.path, ['--leak-grace', '0']);
}, 60_000);

afterAll(async () => {
  cluster?.close();
  await group.stopAll();
  dir.remove();
});

const run = (args: string[], stdin?: string): Promise<CliResult> => tabbyctl(args, { cwd: dir.path, env: cluster.env, stdin });
const file = (name: string): string => path.join(dir.path, name);

/** The first address of `workload add` output. */
function addressOf(stdout: string): string {
  const m = /^ {2}addresses: ([0-9.]+)\/32/m.exec(stdout);
  if (!m) throw new Error(`no address in:\n${stdout}`);
  return m[1];
}

async function allocated(ip: string): Promise<boolean> {
  const r = await run(['ipam', 'show', '--ip', ip]);
  expect(r.code).toBe(0);
  return r.stdout.startsWith(`IP ${ip} is in use`);
}

interface Report {
  kind: string;
  clusterGUID: string;
  storeRevision: number;
  time: string;
  leakedIPs: { ip: string; handle: string; node: string; attributes: Record<string, string>; allocatedAt: number }[];
}

it('checks, reports and releases exactly the leaked addresses a current report names', async () => {
  const node = 'apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: node1\nspec:\n  bgp:\n    ipv4Address: 172.17.8.1/24\n';
  const pool = 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool-a\nspec:\n  cidr: 10.0.0.0/16\n';
  expect((await run(['create', '-f', '-'], `${node}---\n${pool}`)).code).toBe(0);
  await cluster.waitForPool('pool-a');
  const ips: Record<string, string> = {};
  for (const w of ['a', 'b', 'c', 'e']) {
    const r = await run(['workload', 'add', `default/${w}`, '--node', 'node1']);
    expect(r.code).toBe(0);
    ips[w] = addressOf(r.stdout);
  }
  // a, b and e lose their endpoints behind IPAM's back: leaked. c stays in use.
  for (const w of ['a', 'b', 'e']) expect((await run(['delete', 'wep', '-n', 'default', `node1-k8s-${w}-eth0`])).code).toBe(0);

  const plain = await run(['ipam', 'check']);
  expect(plain.code).toBe(0);
  expect(plain.stdout).toContain('Found 3 IPs that are allocated in IPAM but not actually in use.\n');
  expect(plain.stdout).toMatch(/\nCheck complete; found 3 problems\.\n$/);
  const problems = await run(['ipam', 'check', '--show-problem-ips']);
  for (const w of ['a', 'b', 'e']) expect(problems.stdout).toContain(`  allocated to default/${w}, which has no WorkloadEndpoint with this address\n`);
  expect(problems.stdout).not.toContain('default/c,');
  const all = await run(['ipam', 'check', '--show-all-ips']);
  expect(all.stdout).toContain('IPs allocated in IPAM: 4\n');
  expect(all.stdout).toContain(`  ${ips.c} handle workload:default/c node node1 allocated to default/c\n`);
  expect(all.stdout).toContain(`  ${ips.a} handle workload:default/a node node1 allocated to default/a: leaked-address\n`);

  // The report: cluster, revision, time and each leak.
  const made = await run(['ipam', 'check', '-o', 'old.json']);
  expect(made.stdout).toMatch(/found 3 problems\.\n$/);
  const old = JSON.parse(readFileSync(file('old.json'), 'utf8')) as Report;
  expect(old.kind).toBe('IPAMCheckReport');
  expect(old.clusterGUID).toMatch(/^[0-9a-f-]{36}$/);
  expect(old.storeRevision).toBeGreaterThan(0);
  expect(Date.parse(old.time)).toBeGreaterThan(Date.now() - 60_000);
  expect(old.leakedIPs.map((l) => l.ip).sort()).toEqual([ips.a, ips.b, ips.e].sort());
  expect(old.leakedIPs.find((l) => l.ip === ips.a)).toMatchObject({ handle: 'workload:default/a', node: 'node1', attributes: { namespace: 'default', pod: 'a', node: 'node1' } });

  // b, c and e still allocated (one look at every allocation).
  const untouched = async (): Promise<void> => {
    const listed = (await run(['ipam', 'check', '--show-all-ips'])).stdout;
    for (const w of ['b', 'c', 'e']) expect(listed).toContain(`  ${ips[w]} handle workload:default/${w} `);
  };

  // Not locked: refused.
  const unlocked = await run(['ipam', 'release', '--from-report', 'old.json']);
  expect([unlocked.code, unlocked.stdout]).toEqual([1, '']);
  expect(unlocked.stderr).toContain('the datastore is not locked: run tabbyctl datastore migrate lock first');
  expect(await allocated(ips.a)).toBe(true);
  await untouched();

  // Malformed reports: every fault named, nothing released.
  writeFileSync(file('broken.json'), '{"kind": "IPAMCheckReport", "leakedIPs": [');
  const notJson = await run(['ipam', 'release', '--from-report', 'broken.json', '--force']);
  expect(notJson.code).toBe(1);
  expect(notJson.stderr).toMatch(/^broken\.json is not an ipam check report: not JSON \(.*\); nothing was released\n$/);
  const bad = { ...old, storeRevision: 'x', leakedIPs: [{ ...old.leakedIPs[0], ip: '10.0.300.1' }, { ...old.leakedIPs[1], handle: undefined }] };
  writeFileSync(file('bad.json'), JSON.stringify(bad));
  const malformed = await run(['ipam', 'release', '--from-report', 'bad.json', '--force']);
  expect(malformed.code).toBe(1);
  expect(malformed.stderr).toBe(
    'bad.json is not a valid ipam check report (nothing was released):\n' +
      '  storeRevision: must be a non-negative integer, not "x"\n' +
      '  leakedIPs[0].ip: "10.0.300.1" is not an IP address\n' +
      '  leakedIPs[1].handle: missing\n',
  );
  writeFileSync(file('other.json'), JSON.stringify({ ...old, clusterGUID: '00000000-0000-4000-8000-000000000000' }));
  const other = await run(['ipam', 'release', '--from-report', 'other.json', '--force']);
  expect(other.code).toBe(1);
  expect(other.stderr).toMatch(/^other\.json is a report of another cluster \(cluster GUID 00000000-0000-4000-8000-000000000000; this cluster's is [0-9a-f-]{36}\); nothing was released\n$/);
  expect(await allocated(ips.a)).toBe(true);
  await untouched();

  // The data moves on: a is released by hand. The old report is stale: refused whole.
  expect((await run(['ipam', 'release', '--ip', ips.a])).code).toBe(0);
  expect((await run(['datastore', 'migrate', 'lock'])).code).toBe(0);
  const stale = await run(['ipam', 'release', '--from-report', 'old.json']);
  expect(stale.code).toBe(1);
  expect(stale.stderr).toBe(
    `the report is older than the data: 1 of its 3 leaked addresses changed since the check: ${ips.a} (released since); nothing was released: run tabbyctl ipam check -o again\n`,
  );
  await untouched();

  // A current report, under the lock: exactly b and e go, c stays.
  expect((await run(['ipam', 'check', '-o', 'new.json'])).stdout).toMatch(/found 2 problems\.\n$/);
  const released = await run(['ipam', 'release', '--from-report', 'new.json']);
  expect(released.code).toBe(0);
  const lines = released.stdout.split('\n');
  expect(lines[0]).toMatch(/^Releasing 2 leaked IP addresses found by the check of \d{4}-\d\d-\d\dT[\d:.]+Z\.$/);
  expect(lines.slice(1, 3).sort()).toEqual([`Successfully released IP address ${ips.b}`, `Successfully released IP address ${ips.e}`].sort());
  expect(lines.slice(3)).toEqual(['You may now unlock the data store.', '']);
  expect(await allocated(ips.b)).toBe(false);
  expect(await allocated(ips.e)).toBe(false);
  expect(await allocated(ips.c)).toBe(true);
  // Released once: the same report again is stale.
  const again = await run(['ipam', 'release', '--from-report', 'new.json']);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('the report is older than the data: 2 of its 2 leaked addresses changed since the check');
  expect((await run(['datastore', 'migrate', 'unlock'])).code).toBe(0);
  expect((await run(['ipam', 'check'])).stdout).toMatch(/Check complete; found 0 problems\.\n$/);
}, 300_000);

it('splits a pool in use into smaller pools under the lock, workloads and block affinities kept', async () => {
  const pool = 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool-s\n  labels:\n    tier: web\nspec:\n  cidr: 10.2.0.0/24\n  natOutgoing: true\n  assignmentMode: Manual\n';
  const node = 'apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: node1\nspec:\n  bgp:\n    ipv4Address: 172.17.8.1/24\n';
  expect((await run(['apply', '-f', '-'], node)).code).toBe(0);
  expect((await run(['create', '-f', '-'], pool)).code).toBe(0);
  await cluster.waitForPool('pool-s');
  const first = await run(['workload', 'add', 'default/s1', '--node', 'node1', '--pool', 'pool-s']);
  expect(first.code).toBe(0);
  const ip = addressOf(first.stdout);
  expect(ip).toMatch(/^10\.2\.0\.\d+$/);

  const notPower = await run(['ipam', 'split', '3', '--name', 'pool-s']);
  expect([notPower.code, notPower.stderr]).toEqual([1, 'number to split CIDR into is not a valid power of 2: 3\n']);
  const tooSmall = await run(['ipam', 'split', '8', '--name', 'pool-s']);
  expect([tooSmall.code, tooSmall.stderr]).toEqual([1, 'the CIDR 10.2.0.0/24 is not large enough to be split into 8 parts\n']);
  const unlocked = await run(['ipam', 'split', '4', '--name', 'pool-s']);
  expect(unlocked.code).toBe(1);
  expect(unlocked.stderr).toContain('is not locked: ipam split needs it locked (tabbyctl datastore migrate lock)');

  expect((await run(['datastore', 'migrate', 'lock'])).code).toBe(0);
  const split = await run(['ipam', 'split', '4', '--cidr', '10.2.0.0/24']);
  expect([split.code, split.stderr]).toEqual([0, '']);
  expect(split.stdout).toBe(
    'IP Pool pool-s was successfully split into 4 smaller pools.\n' +
      'Created pool-s-split-0 with CIDR 10.2.0.0/26.\n' +
      'Created pool-s-split-1 with CIDR 10.2.0.64/26.\n' +
      'Created pool-s-split-2 with CIDR 10.2.0.128/26.\n' +
      'Created pool-s-split-3 with CIDR 10.2.0.192/26.\n',
  );
  expect((await run(['datastore', 'migrate', 'unlock'])).code).toBe(0);
  expect((await run(['get', 'ippool', 'pool-s'])).code).toBe(1);
  const child = await run(['get', 'ippool', 'pool-s-split-0', '-o', 'yaml']);
  expect(child.stdout).toMatch(/labels:\n {4}tier: web\n/);
  expect(child.stdout).toContain('natOutgoing: true');
  expect(child.stdout).toContain('assignmentMode: Manual');
  for (let i = 0; i < 4; i++) await cluster.waitForPool(`pool-s-split-${i}`);

  // The workload keeps its address, in a block still node1's, now under pool-s-split-0.
  expect(await allocated(ip)).toBe(true);
  const blocks = await run(['ipam', 'show', '--show-blocks']);
  expect(blocks.stdout).toMatch(/\| IP Pool +\| 10\.2\.0\.0\/26 +\|[^\n]*\n\| Block +\| 10\.2\.0\.0\/26 +\| +64 \| 1 \(2%\)/);
  expect((await run(['ipam', 'show', '--show-borrowed'])).stdout).not.toContain(ip);
  const second = await run(['workload', 'add', 'default/s2', '--node', 'node1', '--pool', 'pool-s-split-0']);
  expect(second.code).toBe(0);
  expect(addressOf(second.stdout)).toMatch(/^10\.2\.0\.\d+$/);
  expect((await run(['ipam', 'check'])).stdout).toMatch(/Check complete; found 0 problems\.\n$/);
}, 300_000);
