/**
 * Walkthrough flow 6 on a running cluster with workloads: add the new pool, disable the old
 * one (pool.yaml), recreate the workloads (WorkloadDelete + WorkloadAdd, the CNI DEL/ADD of a
 * pod restart), delete the old pool. The other agents learn the new pool's blocks, keep the
 * old pool's for as long as a workload lives in them, and lose them once it is recreated.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { eventually, walkthroughManifest } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, call } from './cluster.js';

const cluster = new Cluster();
const NODES = [
  ['node1', '127.0.6.1'],
  ['node2', '127.0.6.2'],
  ['node3', '127.0.6.3'],
] as const;
const ADDRESS = new Map<string, string>(NODES);
/** The walkthrough's kube-dns pod on node1, and one more workload on node2. */
const WORKLOADS = [
  { namespace: 'kube-system', name: 'kube-dns-6f4fd4bdf-8q7zp', node: 'node1' },
  { namespace: 'default', name: 'web-2', node: 'node2' },
] as const;
/** Started on node3 after the old pool is disabled. */
const LATE = { namespace: 'default', name: 'web-3', node: 'node3' } as const;
const interfaces = new Map<string, string>();
let oldBlocks: { node: string; block: string }[] = [];
let newBlocks: { node: string; block: string }[] = [];

beforeAll(async () => {
  await cluster.start();
  await cluster.bgpConfiguration();
  await cluster.apply(walkthroughManifest('6. the default pool'));
  await Promise.all(NODES.map(([node, address]) => cluster.startAgent(node, address)));
  for (const [node] of NODES) await cluster.waitEstablished(node, 2);
}, 120_000);
afterAll(() => cluster.stop(), 60_000);

async function addWorkload(w: { namespace: string; name: string; node: string }): Promise<{ address: string; interfaceName: string }> {
  const r = await call(cluster.ipamClient.workloadAdd.bind(cluster.ipamClient), { namespace: w.namespace, name: w.name, node: w.node, labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
  return { address: r.ipNetworks[0] ?? '', interfaceName: r.interfaceName };
}

/** Whether every node other than `owner` has `block` as a best route from `owner`. */
async function learnedByOthers(owner: string, block: string): Promise<boolean> {
  for (const [node] of NODES) {
    if (node === owner) continue;
    const r = (await cluster.routes(node)).find((x) => x.prefix === block);
    if (!r?.paths.some((p) => p.best && p.fromPeer === ADDRESS.get(owner))) return false;
  }
  return true;
}

async function goneEverywhere(block: string): Promise<boolean> {
  for (const [node] of NODES) if ((await cluster.routes(node)).some((r) => r.prefix === block)) return false;
  return true;
}

async function blocksIn(prefix: string): Promise<{ node: string; block: string }[]> {
  const out: { node: string; block: string }[] = [];
  for (const [node] of NODES) for (const block of await cluster.blocksOf(node)) if (block.startsWith(prefix)) out.push({ node, block });
  return out;
}

describe("the walkthrough's pool migration with workloads", () => {
  it('routes the workloads of the default pool 192.168.0.0/16', async () => {
    for (const w of WORKLOADS) {
      const { address, interfaceName } = await addWorkload(w);
      expect(address).toMatch(/^192\.168\./);
      interfaces.set(w.name, interfaceName);
    }
    oldBlocks = await blocksIn('192.168.');
    expect(oldBlocks).toHaveLength(2);
    for (const { node, block } of oldBlocks) await eventually(`${block} of ${node} at the other nodes`, () => learnedByOthers(node, block));
  }, 60_000);

  it('adds new-pool and disables the old one (pool.yaml): the old blocks stay routed while workloads live in them', async () => {
    await cluster.apply(walkthroughManifest('6. new-pool'));
    await cluster.apply(walkthroughManifest('6. pool.yaml'));
    const pools = await call(cluster.storeClient.list.bind(cluster.storeClient), { kind: 'IPPool', namespace: '', labelSelector: '' });
    const disabled: Record<string, boolean> = {};
    for (const r of pools.items) if (r.kind?.$case === 'ipPool') disabled[r.kind.value.metadata?.name ?? ''] = r.kind.value.spec?.disabled === true;
    expect(disabled).toEqual({ 'default-ipv4-ippool': true, 'new-pool': false });
    // Deleting the old pool now would break the workloads: refused.
    await expect(cluster.delete('IPPool', 'default-ipv4-ippool')).rejects.toMatchObject({ code: grpcStatus.FAILED_PRECONDITION });
    // A pod started now gets an address from new-pool; by the time its block is routed, the
    // agents have acted on the disabled pool too, and disabling is not withdrawing.
    const { address } = await addWorkload(LATE);
    expect(address).toMatch(/^10\.0\./);
    const [late] = await cluster.blocksOf(LATE.node);
    await eventually(`${late} of ${LATE.node} at the other nodes`, () => learnedByOthers(LATE.node, late ?? ''));
    for (const { node, block } of oldBlocks) expect(await learnedByOthers(node, block)).toBe(true);
  }, 60_000);

  it('recreating the workloads moves them to new-pool: its blocks appear at the other nodes, the old ones go', async () => {
    for (const w of WORKLOADS) {
      await call(cluster.ipamClient.workloadDelete.bind(cluster.ipamClient), { namespace: w.namespace, name: w.name });
      const { address, interfaceName } = await addWorkload(w);
      expect(address).toMatch(/^10\.0\./);
      // Same pod name, same host-side interface (Calico derives it from the name).
      expect(interfaceName).toBe(interfaces.get(w.name));
    }
    newBlocks = await blocksIn('10.0.');
    expect(newBlocks.map((b) => b.node)).toEqual(['node1', 'node2', 'node3']);
    for (const { node, block } of newBlocks) await eventually(`${block} of ${node} at the other nodes`, () => learnedByOthers(node, block));
    for (const { block } of oldBlocks) await eventually(`${block} withdrawn everywhere`, () => goneEverywhere(block));
    expect(await blocksIn('192.168.')).toEqual([]);
    const weps = await call(cluster.storeClient.list.bind(cluster.storeClient), { kind: 'WorkloadEndpoint', namespace: 'kube-system', labelSelector: '' });
    const dns = weps.items.map((r) => (r.kind?.$case === 'workloadEndpoint' ? r.kind.value.spec : undefined)).find((s) => s?.interfaceName === interfaces.get(WORKLOADS[0].name));
    expect(dns?.ipNetworks[0]).toMatch(/^10\.0\.\d+\.\d+\/32$/);
  }, 60_000);

  it('then deletes the old pool; the new routes and the sessions are untouched', async () => {
    await cluster.delete('IPPool', 'default-ipv4-ippool');
    const pools = await call(cluster.storeClient.list.bind(cluster.storeClient), { kind: 'IPPool', namespace: '', labelSelector: '' });
    expect(pools.items.map((r) => (r.kind?.$case === 'ipPool' ? r.kind.value.metadata?.name : ''))).toEqual(['new-pool']);
    // A beat for any (wrong) withdrawal to propagate, then the routes must all still be there.
    await eventually('topology to drop the old pool', async () => {
      const r = await call(cluster.topologyClient.getNodeConfig.bind(cluster.topologyClient), { node: 'node1' });
      return r.config?.prefixes.every((p) => p.cidr.startsWith('10.0.'));
    });
    for (const { node, block } of newBlocks) expect(await learnedByOthers(node, block)).toBe(true);
    for (const [node] of NODES) {
      const s = await cluster.status(node);
      expect(s.status?.bgp?.numberEstablishedV4).toBe(2);
    }
  }, 60_000);
});
