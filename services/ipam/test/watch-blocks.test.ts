/**
 * WatchBlocks as followers use it: real tabby-store and tabby-ipam processes over loopback
 * gRPC, two replicas sharing one SQLite file, and two replicas on one real etcd. A watcher of
 * one replica sees the blocks the other replica claims and releases, resumes on the other
 * replica from the revision it reached, and gets OUT_OF_RANGE for a revision a replica cannot
 * resume from.
 */
import { credentials, status, type ClientReadableStream } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { ProcessGroup, eventually, startEtcdCluster, startService, tempDir, type ServiceProcess } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Block, type Resource, type WatchBlocksResponse } from '@tabby/proto';
import { callUnary, isGrpcError } from '@tabby/runtime';
import { afterAll, describe, expect, it } from 'vitest';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-watch-');
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

/** A watcher's view: what a follower would hold, built only from the stream. */
class View {
  readonly blocks = new Map<string, Block>();
  revision = -1;
  responses = 0;
  error: unknown;
  readonly stream: ClientReadableStream<WatchBlocksResponse>;

  constructor(client: IpamClient, fromRevision?: number) {
    this.stream = client.watchBlocks({ fromRevision, bookmarkIntervalSeconds: 0 });
    this.stream.on('data', (m: WatchBlocksResponse) => {
      this.responses++;
      if (m.reset) this.blocks.clear();
      for (const u of m.updates) {
        if (!u.block) continue;
        if (u.deleted) this.blocks.delete(u.block.cidr);
        else this.blocks.set(u.block.cidr, u.block);
      }
      if (!m.moreSnapshot) this.revision = m.revision;
    });
    this.stream.on('error', (err) => (this.error = err));
  }

  nodes(): string[] {
    return [...this.blocks.values()].map((b) => `${b.cidr}@${b.node}`).sort();
  }

  close(): void {
    this.stream.cancel();
  }
}

/** The blocks as ListBlocks answers them, in the form View.nodes gives. */
async function listed(client: IpamClient): Promise<string[]> {
  const r = await call(client.listBlocks.bind(client), { node: '' });
  return r.blocks.map((b) => `${b.cidr}@${b.node}`).sort();
}

async function startStore(name: string): Promise<{ store: ServiceProcess; client: ResourceStoreClient }> {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/${name}/store`]);
  const client = new ResourceStoreClient(store.address, credentials.createInsecure());
  await call(client.create.bind(client), { resource: poolResource('pool', '10.70.0.0/16') });
  for (const n of ['node-a', 'node-b']) await call(client.create.bind(client), { resource: nodeResource(n) });
  return { store, client };
}

async function startReplica(args: readonly string[]): Promise<{ proc: ServiceProcess; client: IpamClient }> {
  const proc = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--recovery-interval', '1', ...args]);
  const client = new IpamClient(proc.address, credentials.createInsecure());
  await eventually('ipam to see the pool', async () => (await call(client.utilization.bind(client), { includeBlocks: false })).pools.length === 1 || undefined, 15_000, 50);
  return { proc, client };
}

const add = (client: IpamClient, name: string, node: string) =>
  call(client.workloadAdd.bind(client), { namespace: 'default', name, node, labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
const del = (client: IpamClient, name: string) => call(client.workloadDelete.bind(client), { namespace: 'default', name });

async function outOfRange(client: IpamClient, fromRevision: number): Promise<string> {
  const v = new View(client, fromRevision);
  await eventually('the watch to fail', () => v.error !== undefined, 15_000, 20);
  v.close();
  expect(isGrpcError(v.error) && v.error.code).toBe(status.OUT_OF_RANGE);
  return isGrpcError(v.error) ? v.error.details : String(v.error);
}

/** The same story on both datastores: two replicas, a watcher of each. */
async function twoReplicas(a: IpamClient, b: IpamClient, startThird: () => Promise<{ client: IpamClient }>): Promise<void> {
  const watchB = new View(b);
  await eventually('the snapshot', () => watchB.revision >= 0, 10_000, 20);
  expect(watchB.nodes()).toEqual([]);

  // Replica a claims blocks for two nodes; the watcher of replica b sees them.
  await add(a, 'w1', 'node-a');
  await add(a, 'w2', 'node-b');
  await eventually('b to stream a\'s blocks', () => watchB.blocks.size === 2, 10_000, 20);
  expect(watchB.nodes()).toEqual(await listed(a));
  expect(watchB.nodes().map((n) => n.split('@')[1])).toEqual(['node-a', 'node-b']);
  const reached = watchB.revision;
  expect(reached).toBeGreaterThanOrEqual(2);

  // Replica a releases node-b's block (its last address): the watcher of b sees it go.
  await del(a, 'w2');
  await eventually('b to stream the release', () => watchB.blocks.size === 1, 10_000, 20);
  expect(watchB.nodes()).toEqual(await listed(b));

  // A follower that had reached `reached` (before the release) resumes on replica a: it is
  // told about the release, nothing else is needed.
  const resumed = new View(a, reached);
  await eventually('the resumed stream', () => resumed.revision >= reached + 1, 10_000, 20);
  expect(resumed.responses).toBe(1);
  // Only what changed since: the deleted block, not a snapshot.
  await add(b, 'w3', 'node-b');
  await eventually('both watchers to see b\'s claim', () => watchB.blocks.size === 2 && resumed.revision === watchB.revision, 10_000, 20);
  expect(watchB.nodes()).toEqual(await listed(a));

  // A revision this replica has not reached: OUT_OF_RANGE, naming what to do.
  expect(await outOfRange(a, watchB.revision + 1000)).toMatch(/ahead of this tabby-ipam replica.*watch again without a revision/);
  // A replica started now cannot say what was deleted before it started.
  const third = await startThird();
  expect(await outOfRange(third.client, 1)).toMatch(/too old for this tabby-ipam replica/);
  const fresh = new View(third.client, watchB.revision);
  await eventually('a resume from the current revision', () => fresh.revision === watchB.revision, 10_000, 20);
  fresh.close();
  // Bad input.
  const bad = new View(a, -1);
  await eventually('the watch to fail', () => bad.error !== undefined, 10_000, 20);
  expect(isGrpcError(bad.error) && bad.error.code).toBe(status.INVALID_ARGUMENT);
  watchB.close();
  resumed.close();
}

describe('WatchBlocks', () => {
  it('on SQLite: a watcher of one replica follows the blocks another replica sharing the file claims and releases', async () => {
    const { store } = await startStore('sqlite');
    const args = ['--data-dir', `${dir.path}/sqlite/ipam`, '--store', store.address];
    const a = await startReplica(args);
    const b = await startReplica(args);
    await twoReplicas(a.client, b.client, () => startReplica(args));
  }, 120_000);

  it('on etcd: a watcher of one replica follows the other replica\'s commits, learnt from its etcd watch', async () => {
    const etcd = await startEtcdCluster(group, `${dir.path}/etcd`, { size: 1 });
    const { store } = await startStore('etcd');
    const args = ['--datastore', 'etcd', '--etcd-endpoints', etcd.endpoints, '--store', store.address];
    const a = await startReplica(args);
    const b = await startReplica(args);
    await twoReplicas(a.client, b.client, () => startReplica(args));
  }, 120_000);
});
