/**
 * tabby-ipam's garbage collector (issue 16 point 3) as operators run it: real tabby-store and
 * tabby-ipam processes over loopback gRPC, real SQLite files or a real etcd, metrics read from
 * /metrics. Nothing in use is released: workloads with endpoints, the tunnel address of a live
 * node, an address whose pod moved to a live node, an allocation without a workload on a live
 * node, an endpoint gone but still within the grace period.
 */
import { credentials } from '@grpc/grpc-js';
import { parseCIDR, parseManifest } from '@tabby/api';
import { ProcessGroup, eventually, freePort, sleep, startEtcdCluster, startService, tempDir, type EtcdCluster, type ServiceProcess } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { affinityKey, blockKey, newBlock } from '../src/calico-model.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-gc-');
let etcd: EtcdCluster | undefined;

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

const call = <Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req) => callUnary(method, req, { timeoutMs: 30_000 });

function one(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0) throw new Error(r.errors[0]?.message);
  return r.resources[0].resource;
}

const nodeResource = (name: string): Resource => one(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${name}\nspec:\n  bgp:\n    ipv4Address: 127.0.0.11/32\n`);
const poolResource = (name: string, cidr: string, disabled = false): Resource =>
  one(`apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n  blockSize: 26\n  disabled: ${disabled}\n`);

type Datastore = 'sqlite' | 'etcd';

interface Cluster {
  datastore: Datastore;
  store: ServiceProcess;
  ipam: ServiceProcess;
  storeClient: ResourceStoreClient;
  ipamClient: IpamClient;
  metricsPort: number;
  ipamDir: string;
}

async function startCluster(name: string, datastore: Datastore, pools: readonly Resource[], nodes: readonly string[], gcArgs: readonly string[]): Promise<Cluster> {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/${name}/store`]);
  const storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
  for (const p of pools) await call(storeClient.create.bind(storeClient), { resource: p });
  for (const n of nodes) await call(storeClient.create.bind(storeClient), { resource: nodeResource(n) });
  if (datastore === 'etcd') {
    // One etcd for the whole file: each cluster starts from an empty IPAM keyspace (the previous cluster's ipam is stopped).
    if (etcd) for (const prefix of ['/calico/ipam/', '/tabby/ipam/']) await etcd.etcdctl(['del', '--prefix', prefix]);
    etcd ??= await startEtcdCluster(group, `${dir.path}/etcd`, { size: 1 });
  }
  const ipamDir = `${dir.path}/${name}/ipam`;
  const where = datastore === 'etcd' ? ['--datastore', 'etcd', '--etcd-endpoints', (etcd as EtcdCluster).endpoints] : ['--data-dir', ipamDir];
  const metricsPort = await freePort('127.0.0.1');
  const ipam = await startService(group, 'ipam', [
    '--listen',
    '127.0.0.1:0',
    ...where,
    '--store',
    store.address,
    '--recovery-interval',
    '1',
    '--metrics',
    `127.0.0.1:${metricsPort}`,
    '--gc-interval',
    '1',
    ...gcArgs,
  ]);
  const ipamClient = new IpamClient(ipam.address, credentials.createInsecure());
  await eventually('ipam to see the pools', async () => (await call(ipamClient.utilization.bind(ipamClient), { includeBlocks: false })).pools.length === pools.length || undefined, 15_000, 50);
  return { datastore, store, ipam, storeClient, ipamClient, metricsPort, ipamDir };
}

/** Adds a workload; returns its address (without the /32). */
async function add(c: Cluster, name: string, node: string, pool?: string): Promise<string> {
  const r = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), { namespace: 'default', name, node, labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: pool ? [pool] : [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
  return (r.ipNetworks[0]).replace(/\/32$/, '');
}

/** An allocation made by a plain AutoAssign (a tunnel address, or one without a workload). */
async function assign(c: Cluster, handle: string, node: string, attributes: Record<string, string> = {}): Promise<string> {
  const r = await call(c.ipamClient.autoAssign.bind(c.ipamClient), { node, handle, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes });
  return (r.ipv4[0]).replace(/\/32$/, '');
}

async function allocated(c: Cluster, address: string): Promise<boolean> {
  return (await call(c.ipamClient.getAllocation.bind(c.ipamClient), { address })).allocated;
}

async function endpoints(c: Cluster): Promise<string[]> {
  const list = await call(c.storeClient.list.bind(c.storeClient), { kind: 'WorkloadEndpoint', namespace: '', labelSelector: '' });
  return list.items.map((r) => (r.kind?.$case === 'workloadEndpoint' ? (r.kind.value.metadata?.name ?? '') : '')).sort();
}

const deleteEndpoint = (c: Cluster, name: string) =>
  call(c.storeClient.delete.bind(c.storeClient), { kind: 'WorkloadEndpoint', namespace: 'default', name, resourceVersion: '', force: false });

/** A sample of a metric from tabby-ipam's /metrics (0 when absent). */
async function metric(c: Cluster, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text();
  // Every sample also carries service="tabby-ipam".
  const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && (labels === '' || l.includes(labels)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function blocks(c: Cluster): Promise<{ cidr: string; node: string; inUse: number }[]> {
  return (await call(c.ipamClient.listBlocks.bind(c.ipamClient), { node: '' })).blocks.map((b) => ({ cidr: b.cidr, node: b.node, inUse: b.inUse }));
}

/** Writes an empty block (with its affinity when `node` is given) straight into the datastore, as Calico leaves them. */
async function putEmptyBlock(c: Cluster, cidrText: string, poolCidr: string, node: string | null): Promise<void> {
  const cidr = parseCIDR(cidrText);
  if (!cidr) throw new Error(cidrText);
  if (c.datastore === 'etcd') {
    const e = etcd as EtcdCluster;
    await e.etcdctl(['put', blockKey(cidr), JSON.stringify(newBlock(cidr, 64, node))]);
    if (node !== null) await e.etcdctl(['put', affinityKey(node, cidr), JSON.stringify({ state: 'confirmed', deleted: false })]);
    return;
  }
  const db = new Database(`${c.ipamDir}/ipam.db`);
  try {
    db.pragma('busy_timeout = 10000');
    const free = Buffer.alloc(64 * 4);
    for (let i = 0; i < 64; i++) free.writeUInt32LE(i, i * 4);
    db.prepare('INSERT INTO blocks (cidr, family, pool_cidr, node, size, in_use, free_list) VALUES (?, 4, ?, ?, 64, 0, ?)').run(cidr.canonical, poolCidr, node, free);
  } finally {
    db.close();
  }
}

describe.each(['sqlite', 'etcd'] as const)('GC on %s', (datastore) => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster(`nodes-${datastore}`, datastore, [poolResource('a-pool', '10.10.0.0/16'), poolResource('off', '10.20.0.0/16'), poolResource('zz-gone', '10.30.0.0/16')], ['node-a', 'node-b'], []);
  }, 90_000);
  // The clusters share one etcd: this one's ipam must not collect what the next ones write there.
  afterAll(async () => {
    await c.ipam.process.stop();
    await c.store.process.stop();
  });

  it('a deleted node: its workloads, tunnel address, other allocations and blocks are released; nothing of other nodes, nothing a live endpoint holds', async () => {
    const a1 = await add(c, 'a1', 'node-a');
    const a2 = await add(c, 'a2', 'node-a');
    const b1 = await add(c, 'b1', 'node-b');
    const tunnelA = await assign(c, 'ipip-tunnel-addr-node-a', 'node-a', { type: 'ipipTunnelAddress' });
    const tunnelB = await assign(c, 'vxlan-tunnel-addr-node-b', 'node-b', { type: 'vxlanTunnelAddress' });
    const rawA = await assign(c, 'manual-a', 'node-a');
    const rawB = await assign(c, 'manual-b', 'node-b');
    // A pod that moved to node-b keeps its address (same handle): its endpoint on node-b holds it.
    const moved = await add(c, 'sts-0', 'node-a');
    expect(await add(c, 'sts-0', 'node-b')).toBe(moved);
    const blockA = (await blocks(c)).find((b) => b.node === 'node-a');
    expect(blockA?.inUse).toBe(5);
    expect(await endpoints(c)).toEqual(['node--a-k8s-a1-eth0', 'node--a-k8s-a2-eth0', 'node--a-k8s-sts--0-eth0', 'node--b-k8s-b1-eth0', 'node--b-k8s-sts--0-eth0']);

    await call(c.storeClient.delete.bind(c.storeClient), { kind: 'Node', namespace: '', name: 'node-a', resourceVersion: '', force: false });
    await eventually('the deleted node collected', async () => !(await allocated(c, a1)) && !(await allocated(c, a2)) && !(await allocated(c, tunnelA)) && !(await allocated(c, rawA)), 30_000, 100);

    for (const kept of [b1, tunnelB, rawB, moved]) expect(await allocated(c, kept), kept).toBe(true);
    // The deleted node's endpoints went with their addresses; the moved pod's live endpoint stays.
    await eventually('a1 and a2 endpoints deleted', async () => (await endpoints(c)).join() === ['node--a-k8s-sts--0-eth0', 'node--b-k8s-b1-eth0', 'node--b-k8s-sts--0-eth0'].join(), 10_000, 100);
    // node-a's block still holds the moved pod's address: kept, without affinity (Calico §5.4).
    const after = await blocks(c);
    expect(after.filter((b) => b.node === 'node-a')).toEqual([]);
    expect(after.find((b) => b.cidr === blockA?.cidr)).toEqual({ cidr: blockA?.cidr, node: '', inUse: 1 });
    expect(after.some((b) => b.node === 'node-b')).toBe(true);
    await eventually('metrics counted', async () => (await metric(c, 'tabby_ipam_gc_released_total', 'reason="node-deleted"')) === 3 || undefined, 10_000, 100);
    expect(await metric(c, 'tabby_ipam_gc_released_total', 'reason="tunnel-node-deleted"')).toBe(1);
    expect(await metric(c, 'tabby_ipam_gc_released_total', 'reason="leaked"')).toBe(0);
    expect(await metric(c, 'tabby_ipam_gc_blocks_released_total', 'reason="node-deleted"')).toBe(1);
    expect(await metric(c, 'tabby_ipam_gc_passes_total', 'outcome="ok"')).toBeGreaterThan(0);
    // Every release logged with its address, handle, node and reason.
    const logs = c.ipam.process.output();
    for (const [address, handle, reason] of [
      [a1, 'workload:default/a1', 'node-deleted'],
      [tunnelA, 'ipip-tunnel-addr-node-a', 'tunnel-node-deleted'],
      [rawA, 'manual-a', 'node-deleted'],
    ] as const) {
      expect(logs).toMatch(new RegExp(`"address":"${address.replace(/\./g, '\\.')}","handle":"${handle}","node":"node-a","reason":"${reason}".*"msg":"gc released an address"`));
    }
  }, 90_000);

  it('empty blocks of a disabled or a deleted pool are released; a disabled pool\'s block in use keeps its affinity', async () => {
    const inOff = await add(c, 'off-1', 'node-b', 'off');
    const offBlock = (await blocks(c)).find((b) => b.cidr.startsWith('10.20.'));
    await call(c.storeClient.apply.bind(c.storeClient), { resource: poolResource('off', '10.20.0.0/16', true) });
    await call(c.storeClient.delete.bind(c.storeClient), { kind: 'IPPool', namespace: '', name: 'zz-gone', resourceVersion: '', force: false });
    await eventually('ipam to see the pools changed', async () => {
      const u = await call(c.ipamClient.utilization.bind(c.ipamClient), { includeBlocks: false });
      return (u.pools.length === 2 && u.pools.find((p) => p.name === 'off')?.disabled) || undefined;
    }, 15_000, 50);
    // Empty blocks as Calico leaves them: affine to a node, or not.
    const taken = new Set((await blocks(c)).map((b) => b.cidr));
    const free = (prefix: string): string => ['255.192', '255.128', '255.64'].map((s) => `${prefix}.${s}/26`).find((x) => !taken.has(x)) as string;
    const emptyOff = free('10.20');
    const emptyOn = free('10.10');
    await putEmptyBlock(c, emptyOff, '10.20.0.0/16', 'node-b');
    await putEmptyBlock(c, '10.30.0.0/26', '10.30.0.0/16', null);
    await putEmptyBlock(c, emptyOn, '10.10.0.0/16', 'node-b'); // an enabled pool's: stays
    await eventually('the empty blocks of the disabled and deleted pools released', async () => {
      const now = (await blocks(c)).map((b) => b.cidr);
      return (!now.includes(emptyOff) && !now.includes('10.30.0.0/26')) || undefined;
    }, 30_000, 100);
    const now = await blocks(c);
    expect(now.find((b) => b.cidr === offBlock?.cidr)).toEqual({ cidr: offBlock?.cidr, node: 'node-b', inUse: 1 });
    expect(now.find((b) => b.cidr === emptyOn)).toEqual({ cidr: emptyOn, node: 'node-b', inUse: 0 });
    expect(await allocated(c, inOff)).toBe(true);
    expect(await metric(c, 'tabby_ipam_gc_blocks_released_total', 'reason="pool-disabled"')).toBe(1);
    expect(await metric(c, 'tabby_ipam_gc_blocks_released_total', 'reason="pool-deleted"')).toBe(1);
    expect(c.ipam.process.output()).toMatch(/"block":"10\.30\.0\.0\/26","node":null,"reason":"pool-deleted","action":"deleted".*"msg":"gc released a block"/);
  }, 90_000);
});

describe('two replicas on one etcd', () => {
  it('collect a deleted node once between them: each address released (and counted) by one replica, nothing else', async () => {
    const c = await startCluster('replicas', 'etcd', [poolResource('pool', '10.40.0.0/16')], ['node-a', 'node-b'], []);
    const metricsPort = await freePort('127.0.0.1');
    // A second replica on the same etcd and store (the first one's etcd endpoints).
    const second = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--datastore', 'etcd', '--etcd-endpoints', (etcd as EtcdCluster).endpoints, '--store', c.store.address, '--recovery-interval', '1', '--metrics', `127.0.0.1:${metricsPort}`, '--gc-interval', '1']);
    const c2: Cluster = { ...c, ipam: second, ipamClient: new IpamClient(second.address, credentials.createInsecure()), metricsPort };
    const onA: string[] = [];
    const onB: string[] = [];
    for (let i = 0; i < 24; i++) {
      onA.push(await add(i % 2 === 0 ? c : c2, `a${i}`, 'node-a'));
      onB.push(await add(i % 2 === 0 ? c2 : c, `b${i}`, 'node-b'));
    }
    onA.push(await assign(c, 'wireguard-tunnel-addr-node-a', 'node-a', { type: 'wireguardTunnelAddress' }));
    await call(c.storeClient.delete.bind(c.storeClient), { kind: 'Node', namespace: '', name: 'node-a', resourceVersion: '', force: false });
    await eventually('node-a collected', async () => {
      for (const a of onA) if (await allocated(c2, a)) return false;
      return true;
    }, 30_000, 100);
    for (const b of onB) expect(await allocated(c, b), b).toBe(true);
    const total = async (reason: string): Promise<number> => (await metric(c, 'tabby_ipam_gc_released_total', `reason="${reason}"`)) + (await metric(c2, 'tabby_ipam_gc_released_total', `reason="${reason}"`));
    await eventually('both replicas counted', async () => (await total('node-deleted')) === 24 || undefined, 10_000, 100).catch(async (err: unknown) => {
      throw new Error(`${String(err)}: counted ${await total('node-deleted')} (${await metric(c, 'tabby_ipam_gc_released_total', 'reason="node-deleted"')} + ${await metric(c2, 'tabby_ipam_gc_released_total', 'reason="node-deleted"')})\n${c.ipam.process.output().split('\n').filter((l) => l.includes('gc')).join('\n')}\n---\n${second.process.output().split('\n').filter((l) => l.includes('gc')).join('\n')}`);
    });
    expect(await total('tunnel-node-deleted')).toBe(1);
    expect(await total('leaked')).toBe(0);
    expect((await blocks(c)).filter((b) => b.node === 'node-a')).toEqual([]);
  }, 120_000);
});

describe('safeguard', () => {
  it('a store without a single Node (the wrong --store?) collects nothing of the nodes', async () => {
    const c = await startCluster('no-nodes', 'sqlite', [poolResource('pool', '10.50.0.0/16')], ['only'], []);
    const address = await add(c, 'w', 'only');
    await call(c.storeClient.delete.bind(c.storeClient), { kind: 'Node', namespace: '', name: 'only', resourceVersion: '', force: false });
    await c.ipam.process.waitForLine(/"msg":"gc: the store has no Node at all/, 15_000);
    const passes = await metric(c, 'tabby_ipam_gc_passes_total', 'outcome="ok"');
    await eventually('two more passes', async () => (await metric(c, 'tabby_ipam_gc_passes_total', 'outcome="ok"')) >= passes + 2 || undefined, 15_000, 100);
    expect(await allocated(c, address)).toBe(true);
    expect((await blocks(c)).map((b) => b.node)).toEqual(['only']);
  }, 60_000);
});

describe('leak GC', () => {
  it('releases only addresses whose endpoint has been gone for the grace period', async () => {
    // Long enough that each check below has grace/2 (6 s) to spare over a GC pass (--gc-interval 1).
    const grace = 12;
    const c = await startCluster('leak', 'sqlite', [poolResource('pool', '10.10.0.0/16')], ['node-a', 'node-b'], ['--gc-leak-grace', String(grace)]);
    const live = await add(c, 'live', 'node-a');
    const early = await add(c, 'early', 'node-a');
    const late = await add(c, 'late', 'node-b');
    const tunnel = await assign(c, 'ipip-tunnel-addr-node-a', 'node-a', { type: 'ipipTunnelAddress' });
    const raw = await assign(c, 'manual', 'node-b');

    // The CNI DEL that would have released them never came: the endpoints vanish on their own.
    await deleteEndpoint(c, 'node--a-k8s-early-eth0');
    await eventually('gc to see the first leak', async () => (await metric(c, 'tabby_ipam_gc_leak_candidates')) === 1 || undefined, 15_000, 100);
    // Half the grace period later the second one goes.
    await sleep((grace / 2) * 1000);
    await deleteEndpoint(c, 'node--b-k8s-late-eth0');
    await eventually('gc to see the second leak', async () => (await metric(c, 'tabby_ipam_gc_leak_candidates')) === 2 || undefined, 15_000, 100);
    expect(await allocated(c, early)).toBe(true); // within its grace period
    await eventually('the first leak released', async () => !(await allocated(c, early)) || undefined, 30_000, 100);
    // Its endpoint gone for less than the grace period: kept; live ones kept.
    expect(await allocated(c, late)).toBe(true);
    for (const kept of [live, tunnel, raw]) expect(await allocated(c, kept), kept).toBe(true);
    expect(await metric(c, 'tabby_ipam_gc_released_total', 'reason="leaked"')).toBe(1);
    expect(c.ipam.process.output()).toMatch(new RegExp(`"address":"${early.replace(/\./g, '\\.')}","handle":"workload:default/early","node":"node-a","reason":"leaked","workload":"default/early".*"msg":"gc released an address"`));

    await eventually('the second leak released', async () => !(await allocated(c, late)) || undefined, 40_000, 100);
    for (const kept of [live, tunnel, raw]) expect(await allocated(c, kept), kept).toBe(true);
    expect(await metric(c, 'tabby_ipam_gc_released_total', 'reason="leaked"')).toBe(2);
    expect(await metric(c, 'tabby_ipam_gc_leak_candidates')).toBe(0);
    // A workload added again after its address was collected gets one and keeps it.
    const again = await add(c, 'early', 'node-a');
    await sleep(2_000);
    expect(await allocated(c, again)).toBe(true);
  }, 150_000);
});
