/**
 * Per-workload choices and tunnel addresses, against real tabby-store, tabby-ipam and
 * nats-server processes driven by tabbyctl: nodeSelector and namespaceSelector (both must
 * match), a Manual pool used only when asked for (`--pool`), fixed addresses (`--ip`, Calico's
 * ipAddrs) and their errors, allowedUses, and the per-node IPIP/VXLAN tunnel addresses IPAM
 * keeps (handle `ipip-tunnel-addr-<node>`, attribute `type`, written on the Node), released
 * when the pool stops asking for them or the Node goes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, eventually, tempDir } from '@tabby/harness';
import { startIpamCluster, type IpamCluster } from './ipam-cluster.js';
import { tabbyctl, type CliResult } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-choice-');
let cluster: IpamCluster;

beforeAll(async () => {
  cluster = await startIpamCluster(group, dir.path, ['--tunnel-addresses']);
}, 60_000);

afterAll(async () => {
  cluster?.close();
  await group.stopAll();
  dir.remove();
});

const ctl = (args: string[], stdin?: string): Promise<CliResult> => tabbyctl(args, { cwd: dir.path, env: cluster.env, stdin });
const node = (name: string, zone: string): string => `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${name}\n  labels:\n    zone: ${zone}\nspec:\n  bgp:\n    ipv4Address: 172.17.8.1/24\n`;
const pool = (name: string, cidr: string, extra: string): string => `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n${extra}`;

function addressOf(r: CliResult): string {
  const m = /^ {2}addresses: ([0-9.]+)\/32/m.exec(r.stdout);
  if (!m) throw new Error(`no address in:\n${r.stdout}${r.stderr}`);
  return m[1];
}

async function nodeField(name: string, field: string): Promise<string> {
  const r = await ctl(['get', 'node', name, '-o', 'yaml']);
  expect(r.code).toBe(0);
  return new RegExp(`${field}: (\\S+)`).exec(r.stdout)?.[1] ?? '';
}

it('chooses pools by node and namespace, assigns fixed addresses, and keeps tunnel addresses per node', async () => {
  expect((await ctl(['create', '-f', '-'], [node('node1', 'east'), node('node2', 'west'), node('node3', 'north')].join('---\n'))).code).toBe(0);
  const pools = [
    pool('a-east', '10.1.0.0/16', "  nodeSelector: zone == 'east'\n"),
    pool('b-blue', '10.2.0.0/16', "  namespaceSelector: team == 'blue'\n  allowedUses: [Workload]\n"),
    pool('c-manual', '10.3.0.0/16', '  assignmentMode: Manual\n'),
    pool('d-ipip', '10.4.0.0/24', "  ipipMode: Always\n  allowedUses: [Tunnel]\n  nodeSelector: zone == 'east'\n"),
    pool('e-old', '10.5.0.0/16', '  disabled: true\n'),
    pool('f-vxlan-north', '10.6.0.0/24', "  vxlanMode: Always\n  allowedUses: [Tunnel]\n  nodeSelector: zone == 'north'\n"),
  ];
  const created = await ctl(['create', '-f', '-'], pools.join('---\n'));
  expect(created.stderr).toBe('');
  for (const p of ['a-east', 'b-blue', 'c-manual', 'd-ipip', 'e-old', 'f-vxlan-north']) await cluster.waitForPool(p);

  // nodeSelector: node1 (east) gets a-east; the IPIP pool allows only Tunnel use.
  expect(addressOf(await ctl(['workload', 'add', 'default/a', '--node', 'node1']))).toMatch(/^10\.1\./);
  // namespaceSelector: node2 (west) only through the namespace's labels.
  expect(addressOf(await ctl(['workload', 'add', 'payments/b', '--node', 'node2', '--namespace-label', 'team=blue']))).toMatch(/^10\.2\./);
  const none = await ctl(['workload', 'add', 'payments/c', '--node', 'node2', '--namespace-label', 'team=red']);
  expect([none.code, none.stderr]).toEqual([1, 'no configured Calico pools for node node2\n']);
  // A Manual pool only when asked for.
  expect(addressOf(await ctl(['workload', 'add', 'default/d', '--node', 'node2', '--pool', 'c-manual']))).toMatch(/^10\.3\./);
  // allowedUses: node3's only pool is for tunnels.
  const use = await ctl(['workload', 'add', 'default/g', '--node', 'node3']);
  expect([use.code, use.stderr]).toEqual([1, 'cannot find a qualified ippool, no pools match the required use (Workload)\n']);

  // Fixed addresses (Calico's ipAddrs): in an enabled pool, free; the pools do not matter.
  const fixed = await ctl(['workload', 'add', 'default/e', '--node', 'node1', '--ip', '10.3.7.7']);
  expect(fixed.code).toBe(0);
  expect(addressOf(fixed)).toBe('10.3.7.7');
  expect((await ctl(['ipam', 'show', '--ip', '10.3.7.7'])).stdout).toMatch(/^IP 10\.3\.7\.7 is in use\nAttributes:\n(.*\n)* {2}namespace: default\n {2}node: node1\n {2}pod: e\n/);
  expect(addressOf(await ctl(['workload', 'add', 'default/e', '--node', 'node1', '--ip', '10.3.7.7']))).toBe('10.3.7.7');
  const taken = await ctl(['workload', 'add', 'default/f', '--node', 'node1', '--ip', '10.3.7.7']);
  expect(taken.code).toBe(1);
  expect(taken.stderr).toContain('Address already assigned in block');
  for (const outside of ['10.9.0.1', '10.5.0.1']) {
    const r = await ctl(['workload', 'add', 'default/f', '--node', 'node1', '--ip', outside]);
    expect([r.code, r.stderr]).toEqual([1, `The provided IP address ${outside} is not in a configured pool\n`]);
  }
  expect((await ctl(['workload', 'add', 'default/f', '--node', 'node1', '--ip', '10.3.7.8', '--pool', 'c-manual'])).stderr).toBe('--ip and --pool cannot be used together: a fixed address names its pool\n');
  expect((await ctl(['workload', 'add', 'default/f', '--node', 'node1', '--ip', '10.3.7.8', '--ip', '10.3.7.9'])).stderr).toBe('--ip takes at most one IPv4 address\n');
  // A failed fixed add leaves nothing behind.
  expect((await ctl(['ipam', 'show', '--ip', '10.9.0.1'])).stdout).toBe('10.9.0.1 is not assigned\n');
  expect((await ctl(['get', 'wep', '-n', 'default'])).stdout).not.toContain('-f-eth0');

  // Tunnel addresses: one per node and encapsulation, from a Tunnel pool selecting the node.
  let ipip = '';
  await eventually('node1 to get its IPIP tunnel address', async () => (ipip = await nodeField('node1', 'ipv4IPIPTunnelAddr')) !== '', 15_000);
  expect(ipip).toMatch(/^10\.4\.0\.\d+$/);
  const shown = (await ctl(['ipam', 'show', '--ip', ipip])).stdout;
  expect(shown).toContain('  node: node1\n');
  expect(shown).toContain('  type: ipipTunnelAddress\n');
  let vxlan = '';
  await eventually('node3 to get its VXLAN tunnel address', async () => (vxlan = await nodeField('node3', 'ipv4VXLANTunnelAddr')) !== '', 15_000);
  expect(vxlan).toMatch(/^10\.6\.0\.\d+$/);
  expect((await ctl(['ipam', 'show', '--ip', vxlan])).stdout).toContain('  type: vxlanTunnelAddress\n');
  expect(await nodeField('node2', 'ipv4IPIPTunnelAddr')).toBe('');
  expect(await nodeField('node2', 'ipv4VXLANTunnelAddr')).toBe('');

  // No longer needed: the pool stops IPIP → released and cleared; the Node goes → released.
  expect((await ctl(['apply', '-f', '-'], pool('d-ipip', '10.4.0.0/24', "  ipipMode: Never\n  allowedUses: [Tunnel]\n  nodeSelector: zone == 'east'\n"))).code).toBe(0);
  await eventually('node1\'s IPIP tunnel address to be released', async () => (await ctl(['ipam', 'show', '--ip', ipip])).stdout === `${ipip} is not assigned\n`, 15_000);
  await eventually('node1 to lose ipv4IPIPTunnelAddr', async () => (await nodeField('node1', 'ipv4IPIPTunnelAddr')) === '', 15_000);
  expect((await ctl(['delete', 'node', 'node3'])).code).toBe(0);
  await eventually('node3\'s VXLAN tunnel address to be released', async () => (await ctl(['ipam', 'show', '--ip', vxlan])).stdout === `${vxlan} is not assigned\n`, 15_000);
}, 240_000);
