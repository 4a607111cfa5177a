/**
 * tabby-ipam as operators run it: real tabby-store, tabby-ipam and nats-server processes
 * over loopback gRPC, real SQLite files.
 */
import { credentials, status } from '@grpc/grpc-js';
import { metaOf, parseManifest } from '@tabby/api';
import {
  ProcessGroup,
  eventually,
  pauseProcess,
  resumeProcess,
  startNats,
  startService,
  tempDir,
  walkthroughManifest,
  type NatsServer,
  type ServiceProcess,
} from '@tabby/harness';
import { BlockEvent, IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-process-');
let nats: NatsServer;
let natsConn: NatsConnection;

beforeAll(async () => {
  nats = await startNats(group, dir.path);
  natsConn = await connect({ servers: nats.url });
}, 30_000);
afterAll(async () => {
  await natsConn?.close();
  await group.stopAll();
  dir.remove();
});

function one(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0) throw new Error(r.errors[0]?.message);
  return r.resources[0].resource;
}

function nodeResource(name: string, labels: Record<string, string> = {}): Resource {
  const lines = Object.entries(labels).map(([k, v]) => `    ${k}: "${v}"`);
  return one(`apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: ${name}
${lines.length ? `  labels:\n${lines.join('\n')}\n` : ''}spec:
  bgp:
    ipv4Address: 127.0.0.11/32
`);
}

function poolResource(name: string, cidr: string, extra = ''): Resource {
  return one(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ${name}
spec:
  cidr: ${cidr}
${extra}`);
}

interface Cluster {
  store: ServiceProcess;
  ipam: ServiceProcess;
  storeClient: ResourceStoreClient;
  ipamClient: IpamClient;
  dataDir: string;
}

async function startCluster(name: string, ipamEnv: NodeJS.ProcessEnv = {}): Promise<Cluster> {
  const dataDir = `${dir.path}/${name}`;
  // The store as the README starts it: no flag tells it about ipam (ipam marks pools in use).
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dataDir}/store`, '--nats', nats.url]);
  const ipam = await startIpam(store.address, `${dataDir}/ipam`, 0, ipamEnv);
  return {
    store,
    ipam,
    storeClient: new ResourceStoreClient(store.address, credentials.createInsecure()),
    ipamClient: new IpamClient(ipam.address, credentials.createInsecure()),
    dataDir,
  };
}

function startIpam(storeAddress: string, dataDir: string, port = 0, env: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> {
  return startService(group, 'ipam', ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--store', storeAddress, '--nats', nats.url, '--recovery-interval', '1'], { env });
}

const call = <Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req) => callUnary(method, req, { timeoutMs: 15_000 });

async function waitForPools(c: Cluster, n: number): Promise<void> {
  // ipam follows the store: wait until it sees the pools we just created.
  await eventually(`ipam to see ${n} pools`, async () => (await call(c.ipamClient.utilization.bind(c.ipamClient), { includeBlocks: false })).pools.length === n, 10_000, 50);
}

async function finalizersOf(c: Cluster, pool: string): Promise<string[]> {
  const r = await call(c.storeClient.get.bind(c.storeClient), { kind: 'IPPool', namespace: '', name: pool });
  return metaOf(r.resource!).finalizers;
}

const deletePool = (c: Cluster, name: string, force = false) =>
  call(c.storeClient.delete.bind(c.storeClient), { kind: 'IPPool', namespace: '', name, resourceVersion: '', force });

async function weps(c: Cluster): Promise<{ name: string; nets: string[]; iface: string; node: string }[]> {
  const list = await call(c.storeClient.list.bind(c.storeClient), { kind: 'WorkloadEndpoint', namespace: '', labelSelector: '' });
  return list.items.map((r) => {
    const w = r.kind?.$case === 'workloadEndpoint' ? r.kind.value : undefined;
    return { name: `${metaOf(r).namespace}/${w?.spec?.pod ?? ''}`, nets: w?.spec?.ipNetworks ?? [], iface: w?.spec?.interfaceName ?? '', node: w?.spec?.node ?? '' };
  });
}

describe('the walkthrough: change IP pools on a running cluster, safely', () => {
  it('moves kube-dns from 192.168.0.0/16 to new-pool, refusing to delete the old pool while it is in use', async () => {
    const c = await startCluster('walkthrough');
    const blockEvents: string[] = [];
    const sub = natsConn.subscribe('tabby.v1.ipam.blocks');
    void (async () => {
      for await (const m of sub) {
        const e = BlockEvent.decode(m.data);
        blockEvents.push(`${e.revision} ${e.type} ${e.block?.cidr} ${e.block?.node} ${e.block?.pool}`);
      }
    })();
    await call(c.storeClient.create.bind(c.storeClient), { resource: one(walkthroughManifest('6. the default pool')) });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('vagrant') });
    await waitForPools(c, 1);
    const added = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), {
      namespace: 'kube-system',
      name: 'kube-dns-6f4fd4bdf-8q7zp',
      node: 'vagrant',
      labels: { 'k8s-app': 'kube-dns' },
      numIpv4: 0,
      numIpv6: 0,
      ipv4Pools: [],
      ipv6Pools: [],
      ipAddrs: [],
      namespaceLabels: {},
    });
    expect(added).toMatchObject({ endpointName: 'vagrant-k8s-kube--dns--6f4fd4bdf--8q7zp-eth0', interfaceName: 'cali800a63073ed', existing: false });
    expect(added.ipNetworks).toHaveLength(1);
    expect(added.ipNetworks[0]).toMatch(/^192\.168\.\d+\.\d+\/32$/);
    expect(await weps(c)).toEqual([{ name: 'kube-system/kube-dns-6f4fd4bdf-8q7zp', nets: added.ipNetworks, iface: 'cali800a63073ed', node: 'vagrant' }]);

    await call(c.storeClient.create.bind(c.storeClient), { resource: one(walkthroughManifest('6. new-pool')) });
    // pool.yaml: the old pool disabled
    const list = parseManifest(walkthroughManifest('6. pool.yaml'));
    for (const r of list.resources) await call(c.storeClient.apply.bind(c.storeClient), { resource: r.resource });
    await eventually('ipam sees the old pool disabled', async () => {
      const u = await call(c.ipamClient.utilization.bind(c.ipamClient), { includeBlocks: false });
      return u.pools.find((p) => p.name === 'default-ipv4-ippool')?.disabled === true;
    });

    // Deleting the old pool now would break kube-dns: refused, with the way out.
    const refused = await call(c.storeClient.delete.bind(c.storeClient), { kind: 'pool', namespace: '', name: 'default-ipv4-ippool', resourceVersion: '', force: false }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: status.FAILED_PRECONDITION });
    expect((refused as { details: string }).details).toBe(
      'IPPool(default-ipv4-ippool) is still in use: finalizer ipam.tabby.io/allocations (tabby-ipam holds addresses in it). ' +
        'Disable the pool, recreate its workloads so they get addresses from another pool, then delete it ' +
        '(tabbyctl ipam migrate --from default-ipv4-ippool --to <new pool> --wait does all three); or delete with --force, which orphans those addresses.',
    );

    // Recreate the workload: it lands in new-pool.
    const del = await call(c.ipamClient.workloadDelete.bind(c.ipamClient), { namespace: 'kube-system', name: 'kube-dns-6f4fd4bdf-8q7zp' });
    expect(del).toEqual({ released: [added.ipNetworks[0].replace('/32', '')], found: true });
    // Its last address released, the old pool lost ipam's finalizer before WorkloadDelete answered.
    expect(await finalizersOf(c, 'default-ipv4-ippool')).toEqual([]);
    const again = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), {
      namespace: 'kube-system',
      name: 'kube-dns-6f4fd4bdf-8q7zp',
      node: 'vagrant',
      labels: {},
      numIpv4: 1,
      numIpv6: 0,
      ipv4Pools: [],
      ipv6Pools: [],
      ipAddrs: [],
      namespaceLabels: {},
    });
    expect(again.ipNetworks[0]).toMatch(/^10\.0\.\d+\.\d+\/32$/);
    expect((await weps(c)).map((w) => w.nets)).toEqual([again.ipNetworks]);

    await call(c.storeClient.delete.bind(c.storeClient), { kind: 'pool', namespace: '', name: 'default-ipv4-ippool', resourceVersion: '', force: false });
    const pools = await call(c.storeClient.list.bind(c.storeClient), { kind: 'IPPool', namespace: '', labelSelector: '' });
    expect(pools.items.map((p) => metaOf(p).name)).toEqual(['new-pool']);

    // Block affinity changes went out on NATS: the old block claimed then released, the new one claimed.
    await eventually('three block events', () => blockEvents.length === 3);
    expect(blockEvents[0]).toMatch(/^1 1 192\.168\.\d+\.\d+\/26 vagrant default-ipv4-ippool$/);
    expect(blockEvents[1]).toMatch(/^2 2 192\.168\.\d+\.\d+\/26 vagrant default-ipv4-ippool$/);
    expect(blockEvents[2]).toMatch(/^3 1 10\.0\.\d+\.\d+\/26 vagrant new-pool$/);
    const blocks = await call(c.ipamClient.listBlocks.bind(c.ipamClient), { node: '' });
    expect(blocks.revision).toBe(3);
    sub.unsubscribe();
  }, 90_000);

  it('refuses to delete a pool in use while ipam is down too, and deletes it when forced', async () => {
    const c = await startCluster('forced');
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('p1', '10.5.0.0/16') });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('n1') });
    await waitForPools(c, 1);
    await call(c.ipamClient.autoAssign.bind(c.ipamClient), { node: 'n1', handle: 'h', numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} });
    await c.ipam.process.stop();
    // The store needs no answer from ipam: the pool carries ipam's finalizer.
    const down = await call(c.storeClient.delete.bind(c.storeClient), { kind: 'IPPool', namespace: '', name: 'p1', resourceVersion: '', force: false }).catch((e: unknown) => e);
    expect(down).toMatchObject({ code: status.FAILED_PRECONDITION });
    expect((down as { details: string }).details).toMatch(/^IPPool\(p1\) is still in use: finalizer ipam\.tabby\.io\/allocations /);
    const forced = await call(c.storeClient.delete.bind(c.storeClient), { kind: 'IPPool', namespace: '', name: 'p1', resourceVersion: '', force: true });
    expect(forced.overriddenFinalizers).toEqual(['ipam.tabby.io/allocations']);
    // ipam, back up, sees the pool gone: its block keeps the address but loses its node; check reports it.
    c.ipam = await startIpam(c.store.address, `${c.dataDir}/ipam`, c.ipam.port);
    await eventually('affinity released', async () => (await call(c.ipamClient.listBlocks.bind(c.ipamClient), { node: '' })).blocks[0]?.node === '');
    const check = await call(c.ipamClient.check.bind(c.ipamClient), { repair: false });
    expect(check.problems.map((p) => p.kind)).toEqual(['outside-pool']);
    const u = await call(c.ipamClient.utilization.bind(c.ipamClient), { includeBlocks: true });
    expect(u.orphanedBlocks).toMatchObject([{ node: '', pool: '', inUse: 1 }]);
  }, 90_000);
});

describe('safe by default: a pool in use cannot be deleted, with the store started as the README says', () => {
  it('ipam marks a pool with a finalizer while it holds addresses; the store refuses to delete it until they are released', async () => {
    const c = await startCluster('finalizer');
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('blue', '10.60.0.0/16') });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('n1') });
    await waitForPools(c, 1);
    expect(await finalizersOf(c, 'blue')).toEqual([]);
    const added = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), { namespace: 'default', name: 'web-1', node: 'n1', labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
    expect(added.ipNetworks[0]).toMatch(/^10\.60\./);
    // Set before WorkloadAdd answered.
    expect(await finalizersOf(c, 'blue')).toEqual(['ipam.tabby.io/allocations']);

    const refused = await deletePool(c, 'blue').catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: status.FAILED_PRECONDITION });
    expect((refused as { details: string }).details).toBe(
      'IPPool(blue) is still in use: finalizer ipam.tabby.io/allocations (tabby-ipam holds addresses in it). ' +
        'Disable the pool, recreate its workloads so they get addresses from another pool, then delete it ' +
        '(tabbyctl ipam migrate --from blue --to <new pool> --wait does all three); or delete with --force, which orphans those addresses.',
    );
    // A user's apply of the pool as first written (no finalizers) keeps ipam's.
    await call(c.storeClient.apply.bind(c.storeClient), { resource: poolResource('blue', '10.60.0.0/16', '  natOutgoing: true\n') });
    expect(await finalizersOf(c, 'blue')).toEqual(['ipam.tabby.io/allocations']);

    await call(c.ipamClient.workloadDelete.bind(c.ipamClient), { namespace: 'default', name: 'web-1' });
    expect(await finalizersOf(c, 'blue')).toEqual([]);
    const deleted = await deletePool(c, 'blue');
    expect(deleted.overriddenFinalizers).toEqual([]);
    // ipam logs asynchronously: the lines may reach its stdout after the calls answered.
    await eventually('ipam logs both finalizer writes', () => {
      const out = c.ipam.process.output();
      return /"pool":"blue".*"msg":"pool finalizer added: the pool holds addresses"/.test(out) && /"pool":"blue".*"msg":"pool finalizer removed: the pool holds no addresses"/.test(out);
    });
  }, 60_000);

  it('puts the finalizer back on a pool with blocks after a restart, and when someone removes it', async () => {
    const c = await startCluster('finalizer-reconcile');
    const store = c.storeClient;
    await call(store.create.bind(store), { resource: poolResource('green', '10.61.0.0/16') });
    await call(store.create.bind(store), { resource: poolResource('idle', '10.62.0.0/16') });
    await call(store.create.bind(store), { resource: nodeResource('n1') });
    await waitForPools(c, 2);
    await call(c.ipamClient.autoAssign.bind(c.ipamClient), { node: 'n1', handle: 'h1', numIpv4: 1, numIpv6: 0, ipv4Pools: ['green'], ipv6Pools: [], namespaceLabels: {}, attributes: {} });
    expect(await finalizersOf(c, 'green')).toEqual(['ipam.tabby.io/allocations']);
    // As if ipam had died between the block claim and the finalizer write (and a stale one on an idle pool):
    await c.ipam.process.stop();
    const req = { kind: 'IPPool', namespace: '', finalizer: 'ipam.tabby.io/allocations' };
    await call(store.removeFinalizer.bind(store), { ...req, name: 'green' });
    await call(store.addFinalizer.bind(store), { ...req, name: 'idle' });
    c.ipam = await startIpam(c.store.address, `${c.dataDir}/ipam`, c.ipam.port);
    await eventually('finalizers reconciled at start', async () => (await finalizersOf(c, 'green')).length === 1 && (await finalizersOf(c, 'idle')).length === 0, 10_000, 50);
    // Removed by hand while ipam runs: back at once (ipam follows the pool).
    await call(store.removeFinalizer.bind(store), { ...req, name: 'green' });
    await eventually('finalizer put back', async () => (await finalizersOf(c, 'green')).length === 1, 10_000, 50);
    expect(await deletePool(c, 'green').catch((e: unknown) => e)).toMatchObject({ code: status.FAILED_PRECONDITION });
  }, 60_000);

  it('an AutoAssign in a pool already in use does not wait on the store; a first block claimed while the store hangs answers anyway and is reconciled', async () => {
    const c = await startCluster('finalizer-store-paused');
    const store = c.storeClient;
    const ipam = c.ipamClient;
    await call(store.create.bind(store), { resource: poolResource('busy', '10.63.0.0/16') });
    await call(store.create.bind(store), { resource: poolResource('fresh', '10.64.0.0/16') });
    await call(store.create.bind(store), { resource: nodeResource('n1') });
    await waitForPools(c, 2);
    const assign = (handle: string, pool: string) =>
      call(ipam.autoAssign.bind(ipam), { node: 'n1', handle, numIpv4: 1, numIpv6: 0, ipv4Pools: [pool], ipv6Pools: [], namespaceLabels: {}, attributes: {} });
    await assign('h1', 'busy');
    expect(await finalizersOf(c, 'busy')).toEqual(['ipam.tabby.io/allocations']);

    // SIGSTOP: the store keeps its socket but answers nothing, so a finalizer write hangs.
    pauseProcess(c.store.process);
    try {
      // The first block of `fresh`: this call waits for its finalizer write, boundedly.
      let firstAnswered = false;
      const first = assign('h2', 'fresh').finally(() => (firstAnswered = true));
      await eventually('the first block of fresh claimed', async () => (await call(ipam.listBlocks.bind(ipam), { node: 'n1' })).blocks.some((b) => b.pool === 'fresh'), 10_000, 20);
      // `busy` already has a block with free addresses: no pool changes its in-use state, nothing to wait for.
      const second = await assign('h3', 'busy');
      expect(second.ipv4[0]).toMatch(/^10\.63\./);
      expect(firstAnswered).toBe(false);
      // The call that claimed fresh's first block answers too, without the store.
      expect((await first).ipv4[0]).toMatch(/^10\.64\./);
    } finally {
      resumeProcess(c.store.process);
    }
    await eventually('ipam warns that it answered first', () => /"pools":\["fresh"\].*"msg":"answering before the pool finalizer is written/.test(c.ipam.process.output()));
    // The store is back: the reconcile writes what that call could not.
    await eventually('fresh protected once the store answers', async () => (await finalizersOf(c, 'fresh')).length === 1, 20_000, 100);
    expect(await deletePool(c, 'fresh').catch((e: unknown) => e)).toMatchObject({ code: status.FAILED_PRECONDITION });
  }, 60_000);
});

describe('allocation over gRPC', () => {
  it('affinity, borrowing, nodeSelector, IPv6, idempotent handles and exhaustion as a client sees them', async () => {
    const c = await startCluster('alloc');
    const create = (r: Resource) => call(c.storeClient.create.bind(c.storeClient), { resource: r });
    await create(poolResource('rack1', '10.20.0.0/29', '  blockSize: 30\n  nodeSelector: rack == "r1"\n'));
    await create(poolResource('v6', 'fd00:20::/120', '  blockSize: 122\n'));
    await create(nodeResource('a', { rack: 'r1' }));
    await create(nodeResource('b', { rack: 'r1' }));
    await create(nodeResource('c', { rack: 'r2' }));
    await waitForPools(c, 2);
    const assign = (node: string, handle: string, numIpv4: number, numIpv6 = 0) =>
      call(c.ipamClient.autoAssign.bind(c.ipamClient), { node, handle, numIpv4, numIpv6, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} });

    // a and b each claim one of the two /30 blocks
    const a1 = await assign('a', 'a1', 3, 1);
    const b1 = await assign('b', 'b1', 4);
    expect(a1.ipv6[0]).toMatch(/^fd00:20::[0-9a-f]*\/128$/);
    const blocks = await call(c.ipamClient.listBlocks.bind(c.ipamClient), { node: '' });
    expect(blocks.blocks.filter((b) => b.pool === 'rack1').map((b) => `${b.node} ${b.inUse}/${b.size}`).sort()).toEqual(['a 3/4', 'b 4/4']);
    // the same handle again: the same addresses, nothing new
    expect(await assign('a', 'a1', 3, 1)).toEqual({ ...a1, existing: true });
    // b is full and no block is free: b borrows a's last address
    const borrowed = await assign('b', 'b2', 1);
    const who = await call(c.ipamClient.getAllocation.bind(c.ipamClient), { address: borrowed.ipv4[0] });
    expect(who).toMatchObject({ allocated: true, handle: 'b2', blockNode: 'a', borrowed: true, pool: 'rack1' });
    expect(who.attributes.node).toBe('b');
    // node c is not selected by rack1: no pool for it
    const none = await assign('c', 'c1', 1).catch((e: unknown) => e);
    expect(none).toMatchObject({ code: status.FAILED_PRECONDITION, details: 'no configured Calico pools for node c' });
    // everything is taken now
    const full = await assign('a', 'a2', 1).catch((e: unknown) => e);
    expect(full).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: 'Assigned 0 out of 1 requested IPv4 addresses; No IPs available in pools: [10.20.0.0/29]' });
    // a pool's CIDR cannot change under its addresses (the walkthrough's pool.yaml typo)
    const moved = await call(c.storeClient.apply.bind(c.storeClient), { resource: poolResource('rack1', '10.21.0.0/29', '  blockSize: 30\n  nodeSelector: rack == "r1"\n') }).catch(
      (e: unknown) => e,
    );
    expect(moved).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((moved as { details: string }).details).toContain('IPPool CIDR cannot be modified');
    const u = await call(c.ipamClient.utilization.bind(c.ipamClient), { includeBlocks: false });
    expect(u.pools.map((p) => `${p.name} ${p.inUse}/${p.total}`)).toEqual(['rack1 8/8', 'v6 1/256']);
    expect(b1.ipv4).toHaveLength(4);
  }, 60_000);
});

describe('crash safety', () => {
  it('a kill -9 between address assignment and endpoint write leaks nothing after restart', async () => {
    const c = await startCluster('crash', { TABBY_IPAM_FAILPOINT: 'after-assign' });
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('p', '10.8.0.0/16') });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('n1') });
    await waitForPools(c, 1);
    const failed = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), { namespace: 'default', name: 'web-1', node: 'n1', labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} }).catch(
      (e: unknown) => e,
    );
    expect(failed).toMatchObject({ code: status.UNAVAILABLE });
    expect(await c.ipam.process.exited()).toMatchObject({ signal: 'SIGKILL' });
    // The assignment was committed before the crash: it is on disk now, with its intent.
    c.ipam = await startIpam(c.store.address, `${c.dataDir}/ipam`, c.ipam.port);
    await c.ipam.process.waitForLine(/"outcome":"released".*"msg":"recovered an interrupted workload add"/);
    const check = await call(c.ipamClient.check.bind(c.ipamClient), { repair: false });
    expect(check).toMatchObject({ allocationsChecked: 0, problems: [] });
    expect(await weps(c)).toEqual([]);
    // And the workload can be added for real now.
    await c.ipam.process.stop();
    c.ipam = await startIpam(c.store.address, `${c.dataDir}/ipam`, c.ipam.port);
    const ok = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), { namespace: 'default', name: 'web-1', node: 'n1', labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
    expect((await weps(c)).map((w) => w.nets)).toEqual([ok.ipNetworks]);
  }, 90_000);

  it('kill -9 right after acknowledgements: after a restart every acknowledged address is allocated to its handle, exactly once', async () => {
    const c = await startCluster('kill9');
    const nodes = ['k1', 'k2', 'k3', 'k4'];
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('p', '10.10.0.0/16') });
    for (const n of nodes) await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource(n) });
    await waitForPools(c, 1);
    await eventually('ipam to see every node', async () => {
      const r = await call(c.ipamClient.autoAssign.bind(c.ipamClient), { node: 'k4', handle: 'probe', numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} }).catch(() => undefined);
      return r !== undefined;
    });
    // 64 calls in flight (group commits of many calls each); kill -9 the moment the 600th is
    // acknowledged, with the others in flight, some of them committed and not yet synced.
    const acknowledged = new Map<string, string>();
    let killed = false;
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        for (let i = w; !killed; i += 64) {
          const handle = `k-${i}`;
          try {
            const r = await call(c.ipamClient.autoAssign.bind(c.ipamClient), { node: nodes[i % nodes.length], handle, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} });
            acknowledged.set(handle, r.ipv4[0].replace('/32', ''));
            if (acknowledged.size >= 600 && !killed) {
              killed = true;
              c.ipam.process.signal('SIGKILL');
            }
          } catch {
            return; // killed: the calls in flight fail
          }
        }
      }),
    );
    expect(await c.ipam.process.exited()).toMatchObject({ signal: 'SIGKILL' });
    expect(acknowledged.size).toBeGreaterThanOrEqual(600);
    c.ipam = await startIpam(c.store.address, `${c.dataDir}/ipam`, c.ipam.port);
    const listed = (await call(c.ipamClient.listAllocations.bind(c.ipamClient), { node: '', handlePrefix: 'k-' })).allocations;
    // No address twice, no handle with two addresses.
    expect(new Set(listed.map((a) => a.address)).size).toBe(listed.length);
    expect(new Set(listed.map((a) => a.handle)).size).toBe(listed.length);
    const byHandle = new Map(listed.map((a) => [a.handle, a.address]));
    for (const [handle, address] of acknowledged) expect(byHandle.get(handle), handle).toBe(address);
    // The same handle asked again gets its address back: nothing was handed out twice.
    const [someHandle, someAddress] = [...acknowledged][0];
    const again = await call(c.ipamClient.autoAssign.bind(c.ipamClient), { node: 'k1', handle: someHandle, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} });
    expect(again).toMatchObject({ ipv4: [`${someAddress}/32`], existing: true });
  }, 120_000);

  it('ipam check finds a leaked address and an endpoint without allocation, and repairs both', async () => {
    const c = await startCluster('check');
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('p', '10.9.0.0/16') });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('n1') });
    await waitForPools(c, 1);
    const w = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), { namespace: 'ns', name: 'a', node: 'n1', labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
    // Someone deletes the endpoint behind IPAM's back, and releases another endpoint's address.
    await call(c.storeClient.delete.bind(c.storeClient), { kind: 'wep', namespace: 'ns', name: w.endpointName, resourceVersion: '', force: false });
    const w2 = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), { namespace: 'ns', name: 'b', node: 'n1', labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
    await call(c.ipamClient.releaseIPs.bind(c.ipamClient), { addresses: w2.ipNetworks, handle: '' });
    // Leaks younger than --leak-grace (30 s) are not called leaks: their endpoint may be on its way.
    await c.ipam.process.stop();
    c.ipam = await startService(group, 'ipam', ['--listen', `127.0.0.1:${c.ipam.port}`, '--data-dir', `${c.dataDir}/ipam`, '--store', c.store.address, '--leak-grace', '0']);
    const found = await call(c.ipamClient.check.bind(c.ipamClient), { repair: false });
    expect(found.problems.map((p) => `${p.kind} ${p.workload}`).sort()).toEqual(['leaked-address ns/a', 'missing-allocation ns/b']);
    const fixed = await call(c.ipamClient.check.bind(c.ipamClient), { repair: true });
    expect(fixed.problems.every((p) => p.repaired)).toBe(true);
    expect((await call(c.ipamClient.check.bind(c.ipamClient), { repair: false })).problems).toEqual([]);
    expect((await call(c.ipamClient.getAllocation.bind(c.ipamClient), { address: w2.ipNetworks[0] })).handle).toBe('workload:ns/b');
  }, 90_000);
});

describe('WorkloadAdd/WorkloadDelete as tabby-cni calls them (handle, container id, endpoint)', () => {
  async function wepList(c: Cluster): Promise<{ name: string; containerID: string; endpoint: string; nets: string[]; mac: string; iface: string; orchestrator: string; workload: string }[]> {
    const list = await call(c.storeClient.list.bind(c.storeClient), { kind: 'WorkloadEndpoint', namespace: '', labelSelector: '' });
    return list.items.map((r) => {
      const s = r.kind?.$case === 'workloadEndpoint' ? r.kind.value.spec : undefined;
      return {
        name: `${metaOf(r).namespace}/${metaOf(r).name}`,
        containerID: s?.containerID ?? '',
        endpoint: s?.endpoint ?? '',
        nets: s?.ipNetworks ?? [],
        mac: s?.mac ?? '',
        iface: s?.interfaceName ?? '',
        orchestrator: s?.orchestrator ?? '',
        workload: s?.workload ?? '',
      };
    });
  }
  const base = { labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} };

  it("uses the given handle; a DEL of a pod's old container releases only its own addresses and leaves the newer container's endpoint", async () => {
    const c = await startCluster('cni-handles');
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('p', '10.70.0.0/16') });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('n1') });
    await waitForPools(c, 1);
    const add = (cid: string) =>
      call(c.ipamClient.workloadAdd.bind(c.ipamClient), { ...base, namespace: 'default', name: 'web-0', node: 'n1', handle: `k8s-pod-network.${cid}`, containerId: cid, endpoint: 'eth0', mac: '0a:58:0a:46:00:01' });
    const first = await add('c1');
    expect(first).toMatchObject({ endpointName: 'n1-k8s-web--0-eth0', interfaceName: 'cali' + first.interfaceName.slice(4), existing: false });
    expect((await call(c.ipamClient.getAllocation.bind(c.ipamClient), { address: first.ipNetworks[0].replace(/\/32$/, '') })).handle).toBe('k8s-pod-network.c1');
    expect(await wepList(c)).toEqual([
      { name: 'default/n1-k8s-web--0-eth0', containerID: 'c1', endpoint: 'eth0', nets: first.ipNetworks, mac: '0a:58:0a:46:00:01', iface: first.interfaceName, orchestrator: 'k8s', workload: '' },
    ]);
    // ADD again for the same container: the same addresses.
    expect(await add('c1')).toEqual({ ...first, existing: true });

    // The pod's sandbox is recreated (same pod name, new container): a new handle, new addresses, the endpoint rewritten.
    const second = await add('c2');
    expect(second.ipNetworks).not.toEqual(first.ipNetworks);
    expect(second.endpointName).toBe(first.endpointName);
    expect((await wepList(c)).map((w) => [w.containerID, w.nets])).toEqual([['c2', second.ipNetworks]]);

    // The old container's DEL comes late: it releases c1's address only, the endpoint (c2's) stays.
    const delOld = { namespace: 'default', name: 'web-0', handle: 'k8s-pod-network.c1', containerId: 'c1', endpoint: 'eth0' };
    expect(await call(c.ipamClient.workloadDelete.bind(c.ipamClient), delOld)).toEqual({ released: [first.ipNetworks[0].replace(/\/32$/, '')], found: true });
    expect((await wepList(c)).map((w) => [w.containerID, w.nets])).toEqual([['c2', second.ipNetworks]]);
    expect((await call(c.ipamClient.getAllocation.bind(c.ipamClient), { address: second.ipNetworks[0].replace(/\/32$/, '') })).handle).toBe('k8s-pod-network.c2');
    // DEL again: nothing left to release, still a success.
    expect(await call(c.ipamClient.workloadDelete.bind(c.ipamClient), delOld)).toEqual({ released: [], found: false });

    // c2's DEL removes its endpoint and its address.
    const delNew = { namespace: 'default', name: 'web-0', handle: 'k8s-pod-network.c2', containerId: 'c2', endpoint: 'eth0' };
    expect((await call(c.ipamClient.workloadDelete.bind(c.ipamClient), delNew)).found).toBe(true);
    expect(await wepList(c)).toEqual([]);
    expect((await call(c.ipamClient.check.bind(c.ipamClient), { repair: false })).allocationsChecked).toBe(0);
  }, 60_000);

  it('orchestrator cni names the endpoint and interface after the container, as Calico does without Kubernetes arguments', async () => {
    const c = await startCluster('cni-orchestrator');
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('p', '10.71.0.0/16') });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('n1') });
    await waitForPools(c, 1);
    const cid = '3f2a9c0d1e4b5a6978c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3';
    const r = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), { ...base, namespace: 'default', name: cid, node: 'n1', handle: `podman.${cid}`, containerId: cid, endpoint: 'eth1', orchestrator: 'cni' });
    expect(r).toMatchObject({ endpointName: `n1-cni-${cid}-eth1`, interfaceName: 'cali3f2a9c0d1e4' });
    expect(await wepList(c)).toEqual([{ name: `default/n1-cni-${cid}-eth1`, containerID: cid, endpoint: 'eth1', nets: r.ipNetworks, mac: '', iface: 'cali3f2a9c0d1e4', orchestrator: 'cni', workload: cid }]);
    // No leak reported for it: the endpoint uses the address.
    expect((await call(c.ipamClient.check.bind(c.ipamClient), { repair: false })).problems).toEqual([]);
    // A DEL naming another interface of the container leaves this endpoint (but releases the handle it names).
    expect(await call(c.ipamClient.workloadDelete.bind(c.ipamClient), { namespace: 'default', name: cid, handle: `podman.${cid}.other`, containerId: cid, endpoint: 'eth0' })).toEqual({ released: [], found: false });
    expect(await wepList(c)).toHaveLength(1);
    expect(await call(c.ipamClient.workloadDelete.bind(c.ipamClient), { namespace: 'default', name: cid, handle: `podman.${cid}`, containerId: cid, endpoint: 'eth1' })).toMatchObject({ found: true });
    expect(await wepList(c)).toEqual([]);
  }, 60_000);

  it("ListAllocations: a node's allocations under a handle prefix, with their attributes; a handle whose change is under way is pending", async () => {
    const c = await startCluster('cni-list');
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('p', '10.73.0.0/16') });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('n1') });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('n2') });
    await waitForPools(c, 1);
    const add = (node: string, network: string, cid: string) =>
      call(c.ipamClient.workloadAdd.bind(c.ipamClient), { ...base, namespace: 'default', name: `pod-${cid}`, node, handle: `${network}.${cid}`, containerId: cid, endpoint: 'eth0' });
    const a = await add('n1', 'net', 'c1');
    await add('n1', 'net-b', 'c2'); // another network whose name starts the same
    await add('n2', 'net', 'c3'); // another node
    await call(c.ipamClient.workloadAdd.bind(c.ipamClient), { ...base, namespace: 'default', name: 'by-hand', node: 'n1' }); // tabbyctl's handle
    const list = (node: string, handlePrefix: string) => call(c.ipamClient.listAllocations.bind(c.ipamClient), { node, handlePrefix });

    expect((await list('n1', 'net.')).allocations).toEqual([
      {
        address: a.ipNetworks[0].replace(/\/32$/, ''),
        handle: 'net.c1',
        node: 'n1',
        attributes: { namespace: 'default', pod: 'pod-c1', containerID: 'c1', endpoint: 'eth0', node: 'n1', timestamp: expect.any(String) as unknown },
        block: expect.stringMatching(/^10\.73\./) as unknown,
        pending: false,
      },
    ]);
    expect((await list('', 'net.')).allocations.map((x) => `${x.handle}@${x.node}`)).toEqual(['net.c1@n1', 'net.c3@n2']);
    expect((await list('n1', '')).allocations.map((x) => x.handle)).toEqual(['net-b.c2', 'net.c1', 'workload:default/by-hand']);
    expect(await list('n1', 'has space').catch((e: unknown) => e)).toMatchObject({ code: status.INVALID_ARGUMENT });

    // SIGSTOP the store: a WorkloadAdd has assigned (its journal entry written) and waits to write the endpoint.
    pauseProcess(c.store.process);
    let slow: Promise<unknown> | undefined;
    try {
      slow = add('n1', 'net', 'c4').catch((e: unknown) => e);
      await eventually('c4 listed while its add is under way', async () => (await list('n1', 'net.')).allocations.some((x) => x.handle === 'net.c4'), 10_000, 20);
      expect((await list('n1', 'net.')).allocations.map((x) => [x.handle, x.pending])).toEqual([
        ['net.c1', false],
        ['net.c4', true],
      ]);
    } finally {
      resumeProcess(c.store.process);
    }
    await slow;
    expect((await list('n1', 'net.')).allocations.map((x) => [x.handle, x.pending])).toEqual([
      ['net.c1', false],
      ['net.c4', false],
    ]);
  }, 60_000);

  it('refuses a bad handle, container id, MAC or orchestrator with INVALID_ARGUMENT and assigns nothing', async () => {
    const c = await startCluster('cni-invalid');
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('p', '10.72.0.0/16') });
    await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource('n1') });
    await waitForPools(c, 1);
    const cases: [Partial<Parameters<typeof c.ipamClient.workloadAdd>[0]>, RegExp][] = [
      [{ handle: 'has space' }, /handle "has space" must be/],
      [{ containerId: 'a_b' }, /container id "a_b" must be/],
      [{ mac: 'ee:ee' }, /mac "ee:ee" is not a MAC address/],
      [{ orchestrator: 'mesos' }, /orchestrator "mesos" is not supported/],
    ];
    for (const [extra, message] of cases) {
      const err = await call(c.ipamClient.workloadAdd.bind(c.ipamClient), { ...base, namespace: 'default', name: 'x', node: 'n1', ...extra }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
      expect((err as { details: string }).details).toMatch(message);
    }
    expect((await call(c.ipamClient.check.bind(c.ipamClient), { repair: false })).allocationsChecked).toBe(0);
    expect(await wepList(c)).toEqual([]);
  }, 60_000);
});

describe('two ipam processes sharing one database', () => {
  it('hand out 5,000 addresses (several blocks per node, claimed concurrently) to 8 concurrent clients without giving any address twice', async () => {
    const c = await startCluster('concurrency');
    const second = await startIpam(c.store.address, `${c.dataDir}/ipam`);
    const clients = [c.ipamClient, new IpamClient(second.address, credentials.createInsecure())];
    await call(c.storeClient.create.bind(c.storeClient), { resource: poolResource('big', '10.0.0.0/8') });
    const nodes = Array.from({ length: 40 }, (_, i) => `node-${i}`);
    for (const n of nodes) await call(c.storeClient.create.bind(c.storeClient), { resource: nodeResource(n) });
    await waitForPools(c, 1);
    for (const client of clients) {
      await eventually('both see every node', async () => {
        const r = await call(client.autoAssign.bind(client), { node: 'node-39', handle: `probe-${clients.indexOf(client)}`, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} }).catch(() => undefined);
        return r !== undefined;
      });
    }
    // 125 per node: each of the 40 nodes claims two or three blocks while the other process claims too.
    const TOTAL = 5_000;
    const WORKERS = 8;
    const got: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        const client = clients[w % 2];
        while (next < TOTAL) {
          const i = next++;
          const r = await call(client.autoAssign.bind(client), { node: nodes[i % nodes.length], handle: `h-${i}`, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} });
          got.push(r.ipv4[0]);
        }
      }),
    );
    expect(got).toHaveLength(TOTAL);
    expect(new Set(got).size).toBe(TOTAL);
    const check = await call(c.ipamClient.check.bind(c.ipamClient), { repair: false });
    expect(check.problems).toEqual([]);
    expect(check.allocationsChecked).toBe(TOTAL + 2);
    const blocks = await call(clients[1].listBlocks.bind(clients[1]), { node: '' });
    expect(blocks.blocks.reduce((s, b) => s + b.inUse, 0)).toBe(TOTAL + 2);
    // every node allocated in its own blocks: nothing borrowed
    expect(blocks.blocks.every((b) => b.borrowed === 0)).toBe(true);
  }, 300_000);
});
