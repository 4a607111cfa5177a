/**
 * tabby-ipam on etcd (`--datastore etcd`): Calico's key layout, several replicas allocating at
 * once, a replica killed under load, etcd gone. Real etcd (Debian's etcd-server), real
 * tabby-store (SQLite) and tabby-ipam processes over loopback gRPC.
 */
import { credentials, status } from '@grpc/grpc-js';
import { formatIP, parseCIDR, parseManifest } from '@tabby/api';
import { ProcessGroup, eventually, serviceBin, startEtcdCluster, startService, tempDir, type EtcdCluster, type ServiceProcess } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary, createLogger, isGrpcError } from '@tabby/runtime';
import { mustParseSelector } from '@tabby/selector';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EtcdStorage } from '../src/etcd-storage.js';
import { StaticClusterView } from '../src/pools.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-etcd-');
let etcd: EtcdCluster;

beforeAll(async () => {
  etcd = await startEtcdCluster(group, `${dir.path}/etcd`, { size: 1 });
}, 60_000);
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

const nodeResource = (name: string): Resource =>
  one(`apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: ${name}
spec:
  bgp:
    ipv4Address: 127.0.0.11/32
`);

const poolResource = (name: string, cidr: string): Resource =>
  one(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ${name}
spec:
  cidr: ${cidr}
  blockSize: 26
`);

interface Setup {
  store: ServiceProcess;
  storeClient: ResourceStoreClient;
}

/** A tabby-store (SQLite) with one pool and the given nodes. */
async function startStore(name: string, pool: string, nodes: readonly string[]): Promise<Setup> {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/${name}/store`]);
  const storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
  await call(storeClient.create.bind(storeClient), { resource: poolResource('pool', pool) });
  for (const n of nodes) await call(storeClient.create.bind(storeClient), { resource: nodeResource(n) });
  return { store, storeClient };
}

async function startIpam(s: Setup, endpoints: string, extra: readonly string[] = []): Promise<{ proc: ServiceProcess; client: IpamClient }> {
  const proc = await startService(group, 'ipam', [
    '--listen',
    '127.0.0.1:0',
    '--datastore',
    'etcd',
    '--etcd-endpoints',
    endpoints,
    '--store',
    s.store.address,
    '--recovery-interval',
    '1',
    ...extra,
  ]);
  const client = new IpamClient(proc.address, credentials.createInsecure());
  await eventually('ipam to see the pool', async () => (await call(client.utilization.bind(client), { includeBlocks: false })).pools.length === 1 || undefined, 15_000, 50);
  return { proc, client };
}

const add = (client: IpamClient, name: string, node: string) =>
  call(client.workloadAdd.bind(client), { namespace: 'default', name, node, labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });

/** Every key under a prefix with its JSON value. */
async function etcdJson(prefix: string): Promise<Map<string, unknown>> {
  const out = await etcd.etcdctl(['get', '--prefix', prefix, '-w', 'json']);
  const res = JSON.parse(out) as { kvs?: { key: string; value: string }[] };
  return new Map((res.kvs ?? []).map((kv) => [Buffer.from(kv.key, 'base64').toString(), JSON.parse(Buffer.from(kv.value, 'base64').toString()) as unknown]));
}

interface BlockJson {
  cidr: string;
  affinity: string | null;
  allocations: (number | null)[];
  unallocated: number[];
  attributes: { handle_id: string; secondary: Record<string, string> }[];
  sequenceNumber: number;
  deleted: boolean;
}

/** address → handle of every allocation in the blocks stored in etcd. */
async function allocationsInEtcd(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [key, v] of await etcdJson('/calico/ipam/v2/assignment/')) {
    const b = v as BlockJson;
    const cidr = parseCIDR(b.cidr);
    if (!cidr) throw new Error(`${key}: bad cidr ${b.cidr}`);
    b.allocations.forEach((a, ordinal) => {
      if (a === null) return;
      const address = formatIP(cidr.family, cidr.network + BigInt(ordinal));
      if (out.has(address)) throw new Error(`${address} allocated twice in etcd`);
      out.set(address, b.attributes[a].handle_id);
    });
  }
  return out;
}

const problemsOf = async (client: IpamClient): Promise<string[]> =>
  (await call(client.check.bind(client), { repair: false })).problems.map((p) => `${p.kind} ${p.address} ${p.handle} ${p.detail}`);

/** Waits until every client's Check finds nothing; on timeout the error lists what was found last. */
async function checkClean(what: string, clients: readonly IpamClient[], timeoutMs: number): Promise<void> {
  let last: string[] = [];
  await eventually(
    what,
    async () => {
      last = (await Promise.all(clients.map(problemsOf))).flat();
      return last.length === 0 || undefined;
    },
    timeoutMs,
    250,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; problems: ${last.slice(0, 10).join('; ')}`);
  });
}

describe('tabby-ipam --datastore etcd', () => {
  // Each test starts from an empty IPAM (the previous test's replicas are stopped).
  beforeEach(async () => {
    await etcd.etcdctl(['del', '--prefix', '/calico/']);
    await etcd.etcdctl(['del', '--prefix', '/tabby/']);
  });

  it('keeps blocks, affinities, handles and config in Calico\'s etcd layout, as Calico\'s JSON', async () => {
    const s = await startStore('layout', '10.70.0.0/16', ['n1', 'n2']);
    const ipam = await startIpam(s, etcd.endpoints);
    const a = await add(ipam.client, 'web-1', 'n1');
    await add(ipam.client, 'web-2', 'n1');
    const b = await add(ipam.client, 'db-1', 'n2');

    const keys = (await etcd.etcdctl(['get', '--prefix', '/calico/ipam/v2', '--keys-only'])).split('\n').filter((l) => l !== '');
    const blockOf = (net: string): string => parseCIDR(`${net.replace('/32', '')}/26`)!.canonical;
    const [blockA, blockB] = [blockOf(a.ipNetworks[0]), blockOf(b.ipNetworks[0])];
    expect(blockA).not.toBe(blockB);
    const dash = (c: string): string => c.replace('/', '-');
    expect(keys).toEqual(
      expect.arrayContaining([
        `/calico/ipam/v2/assignment/ipv4/block/${dash(blockA)}`,
        `/calico/ipam/v2/assignment/ipv4/block/${dash(blockB)}`,
        `/calico/ipam/v2/host/n1/ipv4/block/${dash(blockA)}`,
        `/calico/ipam/v2/host/n2/ipv4/block/${dash(blockB)}`,
        '/calico/ipam/v2/handle/workload:default/web-1',
        '/calico/ipam/v2/handle/workload:default/web-2',
        '/calico/ipam/v2/handle/workload:default/db-1',
        '/calico/ipam/v2/config',
      ]),
    );

    const all = await etcdJson('/calico/ipam/v2/');
    const block = all.get(`/calico/ipam/v2/assignment/ipv4/block/${dash(blockA)}`) as BlockJson;
    expect(block).toMatchObject({ cidr: blockA, affinity: 'host:n1', deleted: false });
    expect(block.allocations).toHaveLength(64);
    expect(block.allocations.filter((x) => x !== null)).toHaveLength(2);
    expect(block.unallocated).toHaveLength(62);
    expect(block.sequenceNumber).toBeGreaterThan(0);
    expect(block.attributes.map((x) => x.handle_id).sort()).toEqual(['workload:default/web-1', 'workload:default/web-2']);
    expect(block.attributes[0].secondary).toMatchObject({ namespace: 'default', node: 'n1' });
    expect(all.get(`/calico/ipam/v2/host/n2/ipv4/block/${dash(blockB)}`)).toEqual({ state: 'confirmed', deleted: false });
    expect(all.get('/calico/ipam/v2/handle/workload:default/db-1')).toEqual({ handleID: 'workload:default/db-1', block: { [blockB]: 1 }, deleted: false });
    expect(all.get('/calico/ipam/v2/config')).toEqual({ strict_affinity: false, auto_allocate_blocks: true, maxBlocksPerHost: 0 });

    // Reads come back from etcd through the service; check finds nothing wrong.
    const got = await call(ipam.client.getAllocation.bind(ipam.client), { address: a.ipNetworks[0] });
    expect(got).toMatchObject({ allocated: true, handle: 'workload:default/web-1', block: blockA, blockNode: 'n1', pool: 'pool', borrowed: false });
    expect(await problemsOf(ipam.client)).toEqual([]);

    // Deleting the last workload of a block releases the block and its affinity.
    await call(ipam.client.workloadDelete.bind(ipam.client), { namespace: 'default', name: 'db-1' });
    const after = (await etcd.etcdctl(['get', '--prefix', '/calico/ipam/v2', '--keys-only'])).split('\n');
    expect(after.filter((k) => k.includes(dash(blockB)) || k.endsWith('db-1'))).toEqual([]);
    await ipam.proc.process.stop();
  });

  it('two replicas on one etcd: 200 concurrent workload adds get distinct addresses, each released once', async () => {
    const nodes = ['c1', 'c2', 'c3', 'c4'];
    const s = await startStore('replicas', '10.71.0.0/16', nodes);
    const r1 = await startIpam(s, etcd.endpoints);
    const r2 = await startIpam(s, etcd.endpoints);
    const names = Array.from({ length: 200 }, (_, i) => `pod-${i}`);
    const added = await Promise.all(names.map((n, i) => add(i % 2 === 0 ? r1.client : r2.client, n, nodes[i % nodes.length])));
    const addresses = added.map((a) => a.ipNetworks[0]);
    expect(new Set(addresses).size).toBe(200);
    const stored = await allocationsInEtcd();
    for (const [i, a] of addresses.entries()) expect(stored.get(a.replace('/32', ''))).toBe(`workload:default/${names[i]}`);
    await checkClean('both replicas to check clean', [r1.client, r2.client], 15_000);

    const deleted = await Promise.all(names.map((n, i) => call((i % 2 === 1 ? r1.client : r2.client).workloadDelete.bind(i % 2 === 1 ? r1.client : r2.client), { namespace: 'default', name: n })));
    const released = deleted.flatMap((d) => d.released);
    expect(released.sort()).toEqual(addresses.map((a) => a.replace('/32', '')).sort());
    // A second delete finds nothing to release.
    expect((await call(r1.client.workloadDelete.bind(r1.client), { namespace: 'default', name: 'pod-0' })).released).toEqual([]);
    expect(await etcd.etcdctl(['get', '--prefix', '/calico/ipam/v2/handle/', '--keys-only'])).toBe('');
    expect(await etcd.etcdctl(['get', '--prefix', '/calico/ipam/v2/assignment/', '--keys-only'])).toBe('');
    expect(await problemsOf(r2.client)).toEqual([]);
    await r1.proc.process.stop();
    await r2.proc.process.stop();
  });

  it('kill -9 of one replica under load: every acknowledged address is in etcd, none twice, and the rest is recovered', async () => {
    const nodes = ['k1', 'k2', 'k3'];
    const s = await startStore('kill', '10.72.0.0/16', nodes);
    const victim = await startIpam(s, etcd.endpoints, ['--leak-grace', '0']);
    const survivor = await startIpam(s, etcd.endpoints, ['--leak-grace', '0']);
    const acknowledged = new Map<string, string>();
    let failed = 0;
    const runs = Array.from({ length: 150 }, (_, i) => {
      const name = `load-${i}`;
      return add(i % 2 === 0 ? victim.client : survivor.client, name, nodes[i % nodes.length]).then(
        (r) => {
          acknowledged.set(name, r.ipNetworks[0].replace('/32', ''));
          if (acknowledged.size === 40) victim.proc.process.signal('SIGKILL');
        },
        () => {
          failed++;
        },
      );
    });
    await Promise.all(runs);
    expect(await victim.proc.process.exited()).toMatchObject({ signal: 'SIGKILL' });
    expect(acknowledged.size + failed).toBe(150);
    const addresses = [...acknowledged.values()];
    expect(new Set(addresses).size).toBe(addresses.length);
    const stored = await allocationsInEtcd();
    for (const [name, address] of acknowledged) expect(stored.get(address), `${name} ${address}`).toBe(`workload:default/${name}`);
    // The survivor finishes or undoes what the dead replica left half-done: nothing leaks.
    await checkClean('the survivor to recover the dead replica\'s workload changes', [survivor.client], 30_000);
    // What is left in etcd is exactly what the endpoints in the store use: the acknowledged
    // adds, plus those whose endpoint was written just before the kill (kept by recovery).
    const settled = await allocationsInEtcd();
    const list = await call(s.storeClient.list.bind(s.storeClient), { kind: 'WorkloadEndpoint', namespace: '', labelSelector: '' });
    const used = list.items.flatMap((r) => (r.kind?.$case === 'workloadEndpoint' ? (r.kind.value.spec?.ipNetworks ?? []) : [])).map((n) => n.replace('/32', ''));
    expect(new Set(used).size).toBe(used.length);
    expect([...settled.keys()].sort()).toEqual(used.sort());
    await survivor.proc.process.stop();
  });

  it('answers UNAVAILABLE naming the endpoints while etcd is down, and works again once it is back', async () => {
    const down = await startEtcdCluster(group, `${dir.path}/etcd-down`, { size: 1 });
    const s = await startStore('down', '10.73.0.0/16', ['d1']);
    const ipam = await startIpam(s, down.endpoints);
    const other = await startIpam(s, down.endpoints);
    const before = await add(ipam.client, 'before', 'd1');
    expect((await call(ipam.client.utilization.bind(ipam.client), { includeBlocks: false })).freshness).toBeUndefined();
    const member = down.members[0];
    await member.process.stop();
    const err = await add(ipam.client, 'during', 'd1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isGrpcError(err) && err.code).toBe(status.UNAVAILABLE);
    expect(isGrpcError(err) && err.details).toContain(down.endpoints);
    // Reads answer from the replica's copy and say it is stale (its watch is down).
    const stale = await call(ipam.client.getAllocation.bind(ipam.client), { address: before.ipNetworks[0] });
    expect(stale).toMatchObject({ allocated: true, handle: 'workload:default/before', freshness: { stale: true } });
    expect(stale.freshness?.reason).toContain(`etcd at ${down.endpoints}: `);
    expect(stale.freshness?.revision).toBeGreaterThan(0);
    expect((await call(ipam.client.listBlocks.bind(ipam.client), { node: '' })).freshness?.stale).toBe(true);
    await down.restart(member);
    await eventually('ipam to assign again', () => add(ipam.client, 'after', 'd1').then(() => true, () => undefined), 30_000, 250);
    await eventually('reads to be current again', async () => (await call(ipam.client.utilization.bind(ipam.client), { includeBlocks: false })).freshness === undefined || undefined, 15_000, 100);
    // The other replica's watch resumed: what this one writes now shows there too.
    const later = await add(ipam.client, 'later', 'd1');
    await eventually(
      'the other replica to see the new allocation',
      async () => (await call(other.client.getAllocation.bind(other.client), { address: later.ipNetworks[0] })).handle === 'workload:default/later' || undefined,
      15_000,
      100,
    );
    await ipam.proc.process.stop();
    await other.proc.process.stop();
  });

  it.each([
    [['--datastore', 'etcd'], 'tabby-ipam: --datastore etcd needs --etcd-endpoints URL,URL,... (the client URLs of the etcd members, e.g. http://127.0.0.1:2379)\n'],
    [['--datastore', 'etcd', '--etcd-endpoints', '127.0.0.1:2379'], 'tabby-ipam: invalid --etcd-endpoints "127.0.0.1:2379": expected http://HOST:PORT or https://HOST:PORT\n'],
    [['--datastore', 'etcd', '--etcd-endpoints', 'https://127.0.0.1:2379'], "tabby-ipam: https:// --etcd-endpoints need --etcd-ca FILE (the CA of the etcd members' certificates)\n"],
    [['--datastore', 'etcd', '--etcd-endpoints', 'https://127.0.0.1:2379', '--etcd-ca', '/nonexistent/ca.pem'], 'tabby-ipam: --etcd-ca /nonexistent/ca.pem: no such file\n'],
    [['--datastore', 'mysql'], 'tabby-ipam: invalid --datastore "mysql": expected one of sqlite, etcd\n'],
  ])('exits 2 with one line for %j', async (args, line) => {
    const p = group.start('tabby-ipam-bad-etcd', process.execPath, [serviceBin('ipam'), '--listen', '127.0.0.1:0', ...args]);
    expect((await p.exited()).code).toBe(2);
    expect(p.output().split('\n').slice(-2).join('\n')).toBe(line);
  });

  it('a compare-and-swap that keeps losing is retried a bounded number of times, then ABORTED with a retry hint', async () => {
    const pool = { name: 'p', cidr: parseCIDR('10.74.0.0/16')!, blockSize: 26, disabled: false, nodeSelector: mustParseSelector('all()'), allowedUses: ['Workload'], manual: false };
    const view = new StaticClusterView([pool], new Map([['h1', {}]]));
    let attempts = 0;
    let interfere = false;
    const storage = await EtcdStorage.open({
      etcd: { endpoints: etcd.endpoints.split(',') },
      view,
      logger: createLogger({ service: 'ipam-test', level: 'silent' }),
      onCommit: () => undefined,
      maxAttempts: 4,
      beforeCommit: async () => {
        if (!interfere) return;
        attempts++;
        // Another writer rewrites the block between this replica's read and its commit.
        const key = (await etcd.etcdctl(['get', '--prefix', '/calico/ipam/v2/assignment/ipv4/block/10.74.', '--keys-only'])).split('\n')[0];
        const value = (await etcd.etcdctl(['get', key, '--print-value-only'])).trimEnd();
        await etcd.etcdctl(['put', key, value]);
      },
    });
    try {
      const first = await storage.autoAssign({ node: 'h1', handle: 'h-1', numIpv4: 1, numIpv6: 0 });
      expect(first.ipv4).toHaveLength(1);
      interfere = true;
      const err = await storage.autoAssign({ node: 'h1', handle: 'h-2', numIpv4: 1, numIpv6: 0 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ reason: 'aborted' });
      expect((err as Error).message).toMatch(/lost 4 compare-and-swap races in a row.*retry the call/);
      expect(attempts).toBe(4);
      // Nothing of the aborted call was written.
      expect(storage.allocationsOfHandle('h-2')).toEqual([]);
      expect(await etcd.etcdctl(['get', '/calico/ipam/v2/handle/h-2'])).toBe('');
      interfere = false;
      expect((await storage.autoAssign({ node: 'h1', handle: 'h-2', numIpv4: 1, numIpv6: 0 })).ipv4).toHaveLength(1);
    } finally {
      await storage.close();
    }
  });
});
