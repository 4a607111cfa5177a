/**
 * IPReservation and IPAMConfiguration end to end, with real tabby-store, tabby-ipam,
 * nats-server and tabbyctl processes: `get ipreservation` tables, the warning for a
 * reservation over an address in use, reserved addresses never handed out by `workload add`
 * (and handed out again once the reservation is deleted), `ipam configure` and
 * `ipam show --show-configuration`, and strict affinity followed live by tabby-ipam.
 * Compared with golden/ipam-reservations.txt (UPDATE_GOLDEN=1 rewrites it). The pools are
 * one block each, so the addresses are fixed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, tempDir } from '@tabby/harness';
import { startIpamCluster, type IpamCluster } from './ipam-cluster.js';
import { Transcript } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-reservations-');
let cluster: IpamCluster;
let t: Transcript;

beforeAll(async () => {
  cluster = await startIpamCluster(group, dir.path);
  t = new Transcript(dir.path, cluster.env, (text) => text.replace(/resourceVersion: "\d+"/g, 'resourceVersion: <revision>'));
}, 60_000);

afterAll(async () => {
  cluster?.close();
  await group.stopAll();
  dir.remove();
});

const nodeYaml = (name: string): string => `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${name}\n`;
const poolYaml = (name: string, cidr: string, blockSize: number): string =>
  `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n  blockSize: ${blockSize}\n`;
const reservationYaml = (name: string, cidrs: readonly string[]): string =>
  `apiVersion: projectcalico.org/v3\nkind: IPReservation\nmetadata:\n  name: ${name}\nspec:\n  reservedCIDRs:\n${cidrs.map((c) => `  - ${c}\n`).join('')}`;

/** The IPv4 address of `workload add` output. */
function addressOf(stdout: string): string {
  const m = /^ {2}addresses: ([0-9.]+)\/32/m.exec(stdout);
  if (!m) throw new Error(`no address in:\n${stdout}`);
  return m[1];
}

/** Waits until tabby-ipam has logged a line matching `re` (it follows the store). */
const ipamLogged = (re: RegExp): Promise<RegExpExecArray> => cluster.ipam.process.waitForLine(re, 10_000);

it('reserved addresses are never handed out; the IPAM configuration is written, shown and followed', async () => {
  expect((await t.run(['create', '-f', '-'], [nodeYaml('node1'), nodeYaml('node2')].join('---\n'), { note: 'two nodes and a pool of one block of 8 addresses' })).code).toBe(0);
  expect((await t.run(['create', '-f', '-'], poolYaml('res-pool', '10.50.0.0/29', 29))).code).toBe(0);
  await cluster.waitForPool('res-pool');
  const early = await t.run(['workload', 'add', 'default/early', '--node', 'node1']);
  expect(addressOf(early.stdout)).toBe('10.50.0.0');

  // A reservation over an address in use: accepted, with a warning naming it.
  const created = await t.run(['create', '-f', '-'], reservationYaml('gateways', ['10.50.0.0/31', '10.50.0.4', 'fd00:50::1']), { note: 'a reservation covering the address in use' });
  expect([created.code, created.stdout, created.stderr]).toEqual([
    0,
    "Successfully created 1 'IPReservation' resource(s)\n",
    'Warning: IPReservation(gateways) covers 1 address in use; they stay allocated, and once released are not handed out again: 10.50.0.0 (workload:default/early)\n',
  ]);
  await ipamLogged(/"reservations":\["gateways"\].*"msg":"IP reservations changed"/);
  await ipamLogged(/"reservation":"gateways","inUse":1,"addresses":\["10\.50\.0\.0"\]/);
  expect((await t.run(['get', 'ipreservation'])).stdout).toBe('NAME       \ngateways   \n\n');
  expect((await t.run(['get', 'ipreservations', '-o', 'wide'])).stdout).toBe('NAME       CIDRS                               \ngateways   10.50.0.0/31,10.50.0.4,fd00:50::1   \n\n');
  expect((await t.run(['get', 'reservation', 'gateways', '-o', 'yaml'])).code).toBe(0);
  const bad = await t.run(['apply', '-f', '-'], reservationYaml('bad', ['10.50.0.300', '10.50.0.0/24']), { note: 'a malformed entry' });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("IPReservation.Spec.ReservedCIDRs[0] = '10.50.0.300' (must be an IP address or a CIDR)");

  // workload add fills the block around the reserved .1 and .4, then runs out.
  const got: string[] = [];
  for (let i = 1; i <= 5; i++) {
    const r = await t.run(['workload', 'add', `default/w${i}`, '--node', 'node1'], undefined, i === 1 ? { note: 'the block fills around the reserved addresses' } : {});
    expect(r.code, r.stderr).toBe(0);
    got.push(addressOf(r.stdout));
  }
  expect(got).toEqual(['10.50.0.2', '10.50.0.3', '10.50.0.5', '10.50.0.6', '10.50.0.7']);
  const full = await t.run(['workload', 'add', 'default/w6', '--node', 'node1']);
  expect(full.code).toBe(1);
  expect(full.stderr).toContain('No IPs available in pools: [10.50.0.0/29]');
  expect((await t.run(['ipam', 'show'])).stdout).toContain('| IP Pool  | 10.50.0.0/29 |         8 | 6 (75%)    | 2 (25%)  |');

  // Deleting the reservation makes its free addresses available again.
  expect((await t.run(['delete', 'ipreservation', 'gateways'], undefined, { note: 'without the reservation, .1 and .4 are handed out' })).code).toBe(0);
  await ipamLogged(/"reservations":\[\].*"msg":"IP reservations changed"/);
  expect(addressOf((await t.run(['workload', 'add', 'default/w6', '--node', 'node1'])).stdout)).toBe('10.50.0.1');

  // IPAMConfiguration: Calico's defaults until written; then strict affinity, followed live.
  const defaults = await t.run(['ipam', 'show', '--show-configuration'], undefined, { note: 'the IPAM configuration' });
  expect(defaults.stdout).toContain('| StrictAffinity     | false |');
  expect(defaults.stderr).toContain('No IPAMConfiguration "default" in the store');
  expect((await t.run(['create', '-f', '-'], poolYaml('pool-b', '10.60.0.0/30', 30))).code).toBe(0);
  await cluster.waitForPool('pool-b');
  const configured = await t.run(['ipam', 'configure', '--strictaffinity=true', '--max-blocks-per-host=3']);
  expect([configured.code, configured.stdout]).toEqual([0, 'Successfully set StrictAffinity to: true\nSuccessfully set MaxBlocksPerHost to: 3\n']);
  expect((await t.run(['ipam', 'show', '--show-configuration'])).stdout).toBe(
    [
      '+--------------------+-------+',
      '|      PROPERTY      | VALUE |',
      '+--------------------+-------+',
      '| StrictAffinity     | true  |',
      '| AutoAllocateBlocks | true  |',
      '| MaxBlocksPerHost   |     3 |',
      '+--------------------+-------+',
      '',
    ].join('\n'),
  );
  expect((await t.run(['get', 'ipamconfig', '-o', 'wide'])).stdout).toBe(
    'NAME      STRICTAFFINITY   AUTOALLOCATEBLOCKS   MAXBLOCKSPERHOST   \ndefault   true             true                 3                  \n\n',
  );
  await ipamLogged(/"source":"IPAMConfiguration","strictAffinity":true,"autoAllocateBlocks":true,"maxBlocksPerHost":3,"blockLimit":3/);
  expect(addressOf((await t.run(['workload', 'add', 'default/b1', '--node', 'node1', '--pool', 'pool-b'], undefined, { note: "pool-b's only block goes to node1; node2 may not borrow from it" })).stdout)).toBe('10.60.0.0');
  const strict = await t.run(['workload', 'add', 'default/b2', '--node', 'node2', '--pool', 'pool-b']);
  expect(strict.code).toBe(1);
  expect(strict.stderr).toContain('No more free affine blocks and strict affinity enabled');
  expect((await t.run(['ipam', 'configure', '--strictaffinity=false'], undefined, { note: 'borrowing allowed again' })).stdout).toBe('Successfully set StrictAffinity to: false\n');
  await ipamLogged(/"source":"IPAMConfiguration","strictAffinity":false,"autoAllocateBlocks":true,"maxBlocksPerHost":3/);
  expect(addressOf((await t.run(['workload', 'add', 'default/b2', '--node', 'node2', '--pool', 'pool-b'])).stdout)).toBe('10.60.0.1');
  const badFlag = await t.run(['ipam', 'configure', '--strictaffinity=maybe']);
  expect([badFlag.code, badFlag.stderr]).toEqual([1, 'invalid value for --strictaffinity: "maybe" (use true or false)\n']);

  const [actual, expected] = t.golden(new URL('../golden/ipam-reservations.txt', import.meta.url).pathname);
  expect(actual).toBe(expected);
}, 180_000);
