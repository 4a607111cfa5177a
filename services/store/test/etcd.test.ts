/**
 * tabby-store on etcd v3: the real binary (several replicas) over a real etcd on loopback.
 * Calico's key layout as etcdctl shows it, the same behaviour as SQLite, replicas that agree,
 * cross-resource rules that hold when replicas race, compaction, and faults.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { metaOf, mustFindKind, toManifestObject } from '@tabby/api';
import { createLogger } from '@tabby/runtime';
import { EtcdStore } from '../src/index.js';
import { connect } from 'nats';
import { EventType, ResourceEvent, type Resource, type WatchResponse } from '@tabby/proto';
import {
  ProcessGroup,
  eventually,
  freePort,
  makeCerts,
  requireTool,
  startEtcdCluster,
  startNats,
  startService,
  tempDir,
  type EtcdCluster,
  type ServiceProcess,
} from '@tabby/harness';
import { WALKTHROUGH, one, peer, pool } from './fixtures.js';
import { storeClient, type StoreClient } from './client.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-store-etcd-');
let etcd: EtcdCluster;
const clients: StoreClient[] = [];

async function startEtcdStore(extra: string[] = []): Promise<ServiceProcess> {
  return startService(group, 'store', ['--listen', '127.0.0.1:0', '--datastore', 'etcd', '--etcd-endpoints', etcd.endpoints, ...extra]);
}

async function startSqliteStore(name: string): Promise<ServiceProcess> {
  return startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/${name}`]);
}

function client(s: ServiceProcess): StoreClient {
  const c = storeClient(s.address);
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<{ code: number | undefined; details: string }> {
  try {
    await p;
  } catch (err) {
    return { code: (err as { code?: number }).code, details: (err as { details?: string }).details ?? String(err) };
  }
  throw new Error('expected the call to fail');
}

function withVersion(r: Resource, v: string): Resource {
  metaOf(r).resourceVersion = v;
  return r;
}

const rv = (r: Resource | undefined): number => Number(metaOf(r!).resourceVersion);

function changes(received: WatchResponse[]): string[] {
  return received
    .filter((m) => m.event!.type !== EventType.EVENT_TYPE_BOOKMARK)
    .map((m) => `${EventType[m.event!.type].replace('EVENT_TYPE_', '')} ${metaOf(m.event!.object!).name} @${m.event!.revision}`);
}

const WEP = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: node1-k8s-nginx-eth0
  namespace: shop
  labels: {app: nginx}
spec:
  node: node1
  orchestrator: k8s
  pod: nginx
  endpoint: eth0
  interfaceName: cali0ef24b1a1d1
  ipNetworks: [10.48.0.5/32]
`;

const NODE = `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: node1
spec:
  bgp:
    ipv4Address: 127.0.0.11/32
`;

beforeAll(async () => {
  etcd = await startEtcdCluster(group, dir.path, { size: 1 });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await group.stopAll();
  dir.remove();
});

describe('Calico\'s etcd layout', () => {
  it('keeps each resource at its Calico key as the JSON resource, resourceVersion the key\'s mod revision', async () => {
    const s = await startEtcdStore();
    const c = client(s);
    await c.create(one(WALKTHROUGH.bgpConfigDefault));
    await c.create(one(WALKTHROUGH.globalPeer));
    await c.create(pool('layout-pool', '10.48.0.0/16'));
    await c.create(one(NODE));
    await c.create(one(WEP));

    const keys = (await etcd.etcdctl(['get', '--prefix', '/calico', '--keys-only'])).split('\n').filter((l) => l !== '');
    expect(keys).toEqual([
      '/calico/resources/v3/projectcalico.org/bgpconfigurations/default',
      '/calico/resources/v3/projectcalico.org/bgppeers/bgppeer-global-3040',
      '/calico/resources/v3/projectcalico.org/ippools/layout-pool',
      '/calico/resources/v3/projectcalico.org/nodes/node1',
      '/calico/resources/v3/projectcalico.org/workloadendpoints/shop/node1-k8s-nginx-eth0',
    ]);

    const out = JSON.parse(await etcd.etcdctl(['get', '--prefix', '/calico', '-w', 'json'])) as {
      kvs: { key: string; value: string; mod_revision: number }[];
    };
    const got = [
      (await c.get('BGPConfiguration', 'default')).resource!,
      (await c.get('BGPPeer', 'bgppeer-global-3040')).resource!,
      (await c.get('IPPool', 'layout-pool')).resource!,
      (await c.get('Node', 'node1')).resource!,
      (await c.get('WorkloadEndpoint', 'node1-k8s-nginx-eth0', 'shop')).resource!,
    ];
    expect(out.kvs).toHaveLength(5);
    out.kvs.forEach((kv, i) => {
      const value = JSON.parse(Buffer.from(kv.value, 'base64').toString('utf8')) as { metadata: Record<string, unknown> };
      const expected = toManifestObject(got[i]) as unknown as { metadata: Record<string, unknown> };
      delete expected.metadata.resourceVersion;
      expect(value).toEqual(expected);
      expect(value.metadata.resourceVersion).toBeUndefined();
      expect(metaOf(got[i]).resourceVersion).toBe(String(kv.mod_revision));
    });
    // What an operator sees is the Calico manifest.
    const wep = JSON.parse(Buffer.from(out.kvs[4].value, 'base64').toString('utf8')) as Record<string, unknown>;
    expect(wep).toMatchObject({
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name: 'node1-k8s-nginx-eth0', namespace: 'shop', labels: { app: 'nginx' } },
      spec: { node: 'node1', orchestrator: 'k8s', pod: 'nginx', endpoint: 'eth0', interfaceName: 'cali0ef24b1a1d1', ipNetworks: ['10.48.0.5/32'] },
    });
    expect((await c.info()).clusterType).toBe('tabby,etcd');
  });
});

describe.each(['sqlite', 'etcd'] as const)('the same behaviour on %s', (datastore) => {
  let c: StoreClient;
  // Names and CIDRs of their own, so the etcd run does not meet the other tests' objects.
  const n = (name: string): string => `same-${name}`;

  beforeAll(async () => {
    c = client(datastore === 'etcd' ? await startEtcdStore() : await startSqliteStore('same'));
  }, 30_000);

  it('creates with defaults, reads back what it returned, and refuses with the same statuses and messages', async () => {
    const { resource: created } = await c.create(pool(n('a'), '10.60.0.0/16'));
    expect((await c.get('ippool', n('a'))).resource).toEqual(created);
    expect(created!.kind?.$case === 'ipPool' && created!.kind.value.spec).toMatchObject({ blockSize: 26, ipipMode: 'Never', nodeSelector: 'all()' });
    expect(metaOf(created!).uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await failure(c.create(pool(n('a'), '10.61.0.0/16')))).toEqual({ code: status.ALREADY_EXISTS, details: `resource already exists: IPPool(${n('a')})` });
    expect(await failure(c.create(pool(n('b'), '10.60.128.0/17')))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: `error with field IPPool.Spec.CIDR = '10.60.128.0/17' (IPPool(${n('b')}) CIDR overlaps with IPPool(${n('a')}) CIDR 10.60.0.0/16)`,
    });
    expect(await failure(c.get('ippool', n('none')))).toEqual({ code: status.NOT_FOUND, details: `resource does not exist: IPPool(${n('none')}) with error: <nil>` });
    expect(await failure(c.update(peer(n('none'), '10.0.0.1', 1)))).toMatchObject({ code: status.NOT_FOUND });
    const stale = await failure(c.update(withVersion(pool(n('a'), '10.60.0.0/16', '  disabled: true\n'), String(rv(created) - 1))));
    expect(stale.code).toBe(status.FAILED_PRECONDITION);
    expect(stale.details).toBe(
      `update conflict: IPPool(${n('a')}): resource version '${rv(created) - 1}' is out of date (latest: ${rv(created)}). Update the resource YAML/JSON in order to make changes`,
    );
    // An update that changes nothing keeps the revision.
    const same = (await c.update(pool(n('a'), '10.60.0.0/16'))).resource;
    expect(rv(same)).toBe(rv(created));
    const changed = (await c.update(withVersion(pool(n('a'), '10.60.0.0/16', '  disabled: true\n'), String(rv(created))))).resource;
    expect(rv(changed)).toBeGreaterThan(rv(created));
    expect((await c.apply(pool(n('a'), '10.60.0.0/16', '  disabled: true\n'))).created).toBe(false);
  });

  it('keeps finalizers through writes, refuses the delete they guard, and gives way to force', async () => {
    await c.create(pool(n('held'), '10.62.0.0/16'));
    expect((await c.addFinalizer('IPPool', n('held'), 'ipam.tabby.io/allocations')).changed).toBe(true);
    expect((await c.addFinalizer('IPPool', n('held'), 'ipam.tabby.io/allocations')).changed).toBe(false);
    const { resource } = await c.apply(pool(n('held'), '10.62.0.0/16', '  disabled: true\n'));
    expect(metaOf(resource!).finalizers).toEqual(['ipam.tabby.io/allocations']);
    const refused = await failure(c.delete('IPPool', n('held')));
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
    expect(refused.details).toMatch(new RegExp(`^IPPool\\(${n('held')}\\) is still in use: finalizer ipam.tabby.io/allocations`));
    expect((await c.delete('IPPool', n('held'), '', '', true)).overriddenFinalizers).toEqual(['ipam.tabby.io/allocations']);
    expect(await failure(c.get('IPPool', n('held')))).toMatchObject({ code: status.NOT_FOUND });
  });

  it('lists by selector, sorted, at a revision a Watch continues from: every change in order with the previous object', async () => {
    await c.create(peer(n('p2'), '10.1.0.2', 65002, { rack: 'a' }));
    await c.create(peer(n('p1'), '10.1.0.1', 65001, { rack: 'a' }));
    await c.create(peer(n('p3'), '10.1.0.3', 65003, { rack: 'b' }));
    const listed = await c.list('bgppeer', '', "rack == 'a'");
    expect(listed.items.map((r) => metaOf(r).name)).toEqual([n('p1'), n('p2')]);
    const w = c.watch('bgppeer', listed.revision, '', 1);
    const m = (await c.update(peer(n('p1'), '10.1.0.9', 65001, { rack: 'a' }))).resource;
    const d = (await c.delete('bgppeer', n('p2'))).resource;
    const a = (await c.create(peer(n('p4'), '10.1.0.4', 65004))).resource;
    await eventually('three events and a bookmark', () => changes(w.received).length >= 3 && w.received.some((x) => x.event!.type === EventType.EVENT_TYPE_BOOKMARK), 10_000);
    w.cancel();
    const seen = changes(w.received);
    expect(seen.map((x) => x.replace(/ @\d+$/, ''))).toEqual([`MODIFIED ${n('p1')}`, `DELETED ${n('p2')}`, `ADDED ${n('p4')}`]);
    const revs = seen.map((x) => Number(x.slice(x.lastIndexOf('@') + 1)));
    expect([revs[0], revs[2]]).toEqual([rv(m), rv(a)]);
    expect(revs[1]).toBeGreaterThan(revs[0]);
    expect(revs[1]).toBeLessThan(revs[2]);
    const modified = w.received.find((x) => x.event!.type === EventType.EVENT_TYPE_MODIFIED)!.event!;
    expect(modified.previous!.kind?.$case === 'bgpPeer' && modified.previous!.kind.value.spec?.peerIP).toBe('10.1.0.1');
    const deleted = w.received.find((x) => x.event!.type === EventType.EVENT_TYPE_DELETED)!.event!;
    expect(deleted.object).toEqual(d);
    const bookmark = w.received.find((x) => x.event!.type === EventType.EVENT_TYPE_BOOKMARK)!.event!;
    expect(bookmark.revision).toBeGreaterThanOrEqual(rv(a));
  });

  it('lets exactly one of many updates with the same resourceVersion win, and one of many overlapping pools', async () => {
    const { resource } = await c.create(peer(n('contended'), '10.9.9.9', 65000));
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => c.update(withVersion(peer(n('contended'), '10.9.9.9', 65100 + i), metaOf(resource!).resourceVersion))),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as { code: number }).code).toBe(status.FAILED_PRECONDITION);
    const pools = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => c.create(pool(n(`race-${i}`), `172.20.0.0/${16 + i}`))));
    expect(pools.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of pools) if (o.status === 'rejected') expect((o.reason as { code: number }).code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('replicas over one etcd', () => {
  let a: StoreClient;
  let b: StoreClient;
  let c3: StoreClient;

  beforeAll(async () => {
    const [sa, sb, sc] = await Promise.all([startEtcdStore(), startEtcdStore(), startEtcdStore()]);
    a = client(sa);
    b = client(sb);
    c3 = client(sc);
  }, 30_000);

  it('serve the same data with the same revisions', async () => {
    const { resource } = await a.create(peer('rep-1', '10.2.0.1', 65001));
    const updated = (await b.update(withVersion(peer('rep-1', '10.2.0.2', 65001), metaOf(resource!).resourceVersion))).resource!;
    for (const x of [a, b, c3]) expect((await x.get('bgppeer', 'rep-1')).resource).toEqual(updated);
    const lists = await Promise.all([a, b, c3].map((x) => x.list('bgppeer')));
    expect(lists[1].items).toEqual(lists[0].items);
    expect(lists[2].items).toEqual(lists[0].items);
    const infos = await Promise.all([a, b, c3].map((x) => x.info()));
    expect(new Set(infos.map((i) => i.clusterGuid)).size).toBe(1);
    expect(infos[0].clusterGuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('a Watch on one replica delivers every replica\'s writes, in revision order', async () => {
    const from = (await a.list('bgppeer')).revision;
    const w = c3.watch('bgppeer', from);
    const written: number[] = [];
    for (let i = 0; i < 6; i++) written.push(rv((await [a, b][i % 2].create(peer(`rep-w${i}`, '10.2.1.1', 65000))).resource));
    await b.delete('bgppeer', 'rep-w0');
    await eventually('7 events', () => changes(w.received).length >= 7);
    w.cancel();
    const seen = changes(w.received);
    expect(seen.slice(0, 6)).toEqual(written.map((r, i) => `ADDED rep-w${i} @${r}`));
    expect(seen[6]).toMatch(/^DELETED rep-w0 @\d+$/);
  });

  it('never let two racing writes both pass an in-use rule: a delete against the finalizer that guards it, overlapping pools', async () => {
    for (let i = 0; i < 12; i++) {
      const name = `rep-held-${i}`;
      await a.create(pool(name, `10.70.${i}.0/24`));
      const [del, fin] = await Promise.allSettled([a.delete('IPPool', name), b.addFinalizer('IPPool', name, 'ipam.tabby.io/allocations')]);
      // Either the delete won (the finalizer finds nothing) or the finalizer did (the delete is refused): never both.
      if (del.status === 'fulfilled') {
        expect(fin.status).toBe('rejected');
        expect((fin as PromiseRejectedResult).reason).toMatchObject({ code: status.NOT_FOUND });
      } else {
        expect(fin.status).toBe('fulfilled');
        expect(del.reason).toMatchObject({ code: status.FAILED_PRECONDITION });
        expect(metaOf((await c3.get('IPPool', name)).resource!).finalizers).toEqual(['ipam.tabby.io/allocations']);
      }
    }
    for (let round = 0; round < 4; round++) {
      const outcomes = await Promise.allSettled(
        [a, b, c3, a, b, c3].map((x, i) => x.create(pool(`rep-race-${round}-${i}`, `172.${24 + round}.0.0/${16 + i}`))),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as { code: number }).code).toBe(status.INVALID_ARGUMENT);
    }
  });

  it('lets exactly one of racing updates with one resourceVersion win across replicas; the others get FAILED_PRECONDITION', async () => {
    const { resource } = await a.create(peer('rep-contended', '10.2.2.2', 65000));
    const version = metaOf(resource!).resourceVersion;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 9 }, (_, i) => [a, b, c3][i % 3].update(withVersion(peer('rep-contended', '10.2.2.2', 65100 + i), version))),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as { code: number }).code).toBe(status.FAILED_PRECONDITION);
    // Writes without a precondition all land (a lost race is run again on fresh reads).
    const labels = await Promise.all(Array.from({ length: 9 }, (_, i) => [a, b, c3][i % 3].apply(peer(`rep-free-${i % 3}`, '10.2.2.3', 65000 + i))));
    expect(labels).toHaveLength(9);
  });

  it('after etcd compacted the revision a Watch asks for: OUT_OF_RANGE, then List and Watch from its revision miss nothing', async () => {
    const old = (await a.list('bgppeer')).revision;
    for (let i = 0; i < 5; i++) await b.create(peer(`rep-c${i}`, '10.2.3.1', 65000));
    const now = (await a.list('bgppeer')).revision;
    await etcd.etcdctl(['compaction', String(now)]);
    const w = a.watch('bgppeer', old);
    await eventually('the watch to fail', () => w.error);
    expect(w.error!.code).toBe(status.OUT_OF_RANGE);
    expect((w.error as { details?: string }).details).toBe(
      `revision ${old} has been compacted (etcd keeps the history from revision ${now}); List again and watch from the revision the List returns`,
    );
    // The client's resync: List (which has every object the lost events made), then Watch from the List's revision.
    const listed = await a.list('bgppeer');
    expect(listed.items.map((r) => metaOf(r).name)).toEqual(expect.arrayContaining(['rep-c0', 'rep-c4']));
    const again = a.watch('bgppeer', listed.revision);
    const after = rv((await c3.create(peer('rep-c5', '10.2.3.1', 65000))).resource);
    await eventually('the event after the resync', () => changes(again.received).length >= 1);
    again.cancel();
    expect(changes(again.received)).toEqual([`ADDED rep-c5 @${after}`]);
  });
});

describe('lost races', () => {
  it('runs a write that lost a race again on fresh reads, and gives up with ABORTED and a retry hint only after maxAttempts', async () => {
    const logger = createLogger({ service: 'test', level: 'silent' });
    const endpoints = etcd.endpoints.split(',');
    const patient = [new EtcdStore({ endpoints, logger }), new EtcdStore({ endpoints, logger })];
    const impatient = [new EtcdStore({ endpoints, logger, maxAttempts: 1 }), new EtcdStore({ endpoints, logger, maxAttempts: 1 })];
    try {
      await patient[0].create(peer('race-free', '10.8.0.1', 65000));
      // Sixteen updates without a resourceVersion from two stores: every one lands, one after the other.
      const all = await Promise.all(Array.from({ length: 16 }, (_, i) => patient[i % 2].update(peer('race-free', '10.8.0.1', 65100 + i))));
      expect(new Set(all.map((r) => metaOf(r).resourceVersion)).size).toBe(16);
      // With one attempt only, the losers say so.
      const outcomes = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => impatient[i % 2].update(peer('race-free', '10.8.0.1', 65200 + i))));
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(lost.length).toBeGreaterThan(0);
      for (const l of lost) {
        expect((l.reason as { reason: string }).reason).toBe('aborted');
        expect((l.reason as Error).message).toBe(
          'the write of /calico/resources/v3/projectcalico.org/bgppeers/race-free lost 1 race in a row against other writers (another store replica changed what it read each time); nothing was written: retry',
        );
      }
      const won = outcomes.filter((o) => o.status === 'fulfilled').length;
      const final = (await patient[1].get(mustFindKind('BGPPeer'), '', 'race-free')).resource;
      expect(won).toBeGreaterThan(0);
      expect(Number(metaOf(final).resourceVersion)).toBeGreaterThan(Number(metaOf(all[all.length - 1]).resourceVersion));
    } finally {
      for (const s of [...patient, ...impatient]) await s.close();
    }
  });
});

describe('group commit', () => {
  it('shares Txns between concurrent writes of one store: each gets its own outcome, and a failed compare fails only its own write', async () => {
    const logger = createLogger({ service: 'test', level: 'silent' });
    const store = new EtcdStore({ endpoints: etcd.endpoints.split(','), logger });
    const committed: string[] = [];
    store.onCommit((events) => {
      for (const e of events) committed.push(e.name);
    });
    try {
      const stale = await store.create(peer('gc-stale', '10.11.0.1', 65000));
      await store.update(peer('gc-stale', '10.11.0.1', 65001));
      // 60 names created twice each, a stale update and overlapping pools, all at once.
      const creates = Array.from({ length: 120 }, (_, i) => store.create(peer(`gc-${i % 60}`, '10.11.0.2', 65000 + i)));
      const staleUpdate = store.update(withVersion(peer('gc-stale', '10.11.0.1', 65002), metaOf(stale).resourceVersion));
      const pools = Array.from({ length: 6 }, (_, i) => store.create(pool(`gc-pool-${i}`, `172.30.0.0/${16 + i}`)));
      const [outcomes, [staleOutcome], poolOutcomes] = await Promise.all([Promise.allSettled(creates), Promise.allSettled([staleUpdate]), Promise.allSettled(pools)]);
      for (let i = 0; i < 60; i++) {
        const pair = [outcomes[i], outcomes[i + 60]];
        expect(pair.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const lost = pair.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(lost?.reason).toMatchObject({ reason: 'already-exists' });
      }
      const won = outcomes.filter((o): o is PromiseFulfilledResult<Resource> => o.status === 'fulfilled').map((o) => o.value);
      // Writes that shared a Txn share its revision: fewer revisions than writes.
      expect(new Set(won.map((r) => metaOf(r).resourceVersion)).size).toBeLessThan(60);
      expect(staleOutcome).toMatchObject({ status: 'rejected', reason: { reason: 'conflict' } });
      expect(poolOutcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      // Every answer is what etcd holds, and each commit was announced once.
      const listed = await store.list(mustFindKind('BGPPeer'), undefined, undefined);
      const byName = new Map(listed.items.map((r) => [metaOf(r).name, r]));
      for (const r of won) expect(metaOf(byName.get(metaOf(r).name)!)).toMatchObject({ resourceVersion: metaOf(r).resourceVersion, uid: metaOf(r).uid });
      expect(committed.filter((name) => name.startsWith('gc-') && name !== 'gc-stale' && !name.startsWith('gc-pool')).sort()).toEqual(won.map((r) => metaOf(r).name).sort());
    } finally {
      await store.close();
    }
  });
});

describe('NATS and flags', () => {
  it('each replica publishes the events of its own commits', async () => {
    const nats = await startNats(group, dir.path);
    const nc = await connect({ servers: nats.url });
    const events: ResourceEvent[] = [];
    nc.subscribe('tabby.v1.resources.BGPPeer', { callback: (_e, msg) => events.push(ResourceEvent.decode(msg.data)) });
    await nc.flush();
    const [sa, sb] = await Promise.all([startEtcdStore(['--nats', nats.url]), startEtcdStore(['--nats', nats.url])]);
    const [a, b] = [client(sa), client(sb)];
    const r1 = rv((await a.create(peer('nats-a', '10.3.0.1', 65001))).resource);
    const r2 = rv((await b.create(peer('nats-b', '10.3.0.2', 65002))).resource);
    await eventually('two events', () => events.length >= 2);
    expect(events.map((e) => [e.type, e.revision, metaOf(e.object!).name])).toEqual([
      [EventType.EVENT_TYPE_ADDED, r1, 'nats-a'],
      [EventType.EVENT_TYPE_ADDED, r2, 'nats-b'],
    ]);
    await nc.close();
  });

  it.each([
    [['--datastore', 'etcd'], 'tabby-store: --datastore etcd needs --etcd-endpoints URL,URL,... (the client URLs of the etcd members, e.g. http://127.0.0.1:2379)\n'],
    [['--datastore', 'etcd', '--etcd-endpoints', '127.0.0.1:2379'], 'tabby-store: invalid --etcd-endpoints "127.0.0.1:2379": expected http://HOST:PORT or https://HOST:PORT\n'],
    [['--datastore', 'etcd', '--etcd-endpoints', 'https://127.0.0.1:2379'], "tabby-store: https:// --etcd-endpoints need --etcd-ca FILE (the CA of the etcd members' certificates)\n"],
    [['--datastore', 'etcd', '--etcd-endpoints', 'https://127.0.0.1:2379', '--etcd-ca', '/nonexistent/ca.pem'], 'tabby-store: --etcd-ca /nonexistent/ca.pem: no such file\n'],
    [['--datastore', 'mysql'], 'tabby-store: invalid --datastore "mysql": expected one of sqlite, etcd\n'],
  ])('exits 2 with one line for %j', async (args, line) => {
    const p = group.start('tabby-store-bad-etcd', process.execPath, [`${process.cwd()}/dist/main.js`, '--listen', '127.0.0.1:0', ...args]);
    expect((await p.exited()).code).toBe(2);
    // One line for the operator (beside the JSON log line of the failure, on stdout).
    expect(p.output().split('\n')).toContain(line.trimEnd());
    expect(p.output().split('\n').filter((l) => l.startsWith('tabby-store:'))).toHaveLength(1);
  });
});

describe('faults', () => {
  it('ends watches with UNAVAILABLE on SIGTERM and exits 0', async () => {
    const s = await startEtcdStore();
    const c = storeClient(s.address);
    const w = c.watch('', (await c.list('bgppeer')).revision);
    await c.create(peer('sigterm-peer', '10.4.5.6', 1));
    await eventually('the watch to deliver', () => changes(w.received).length > 0);
    s.process.signal('SIGTERM');
    expect(await s.process.exited()).toEqual({ code: 0, signal: null });
    await eventually('the watch to end', () => w.error ?? (w.ended ? new Error('ended') : undefined));
    expect(w.error?.code).toBe(status.UNAVAILABLE);
    c.close();
  });

  it('keeps every acknowledged write after kill -9 of a replica mid-load', async () => {
    const s = await startEtcdStore();
    const c = storeClient(s.address);
    const acked: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        try {
          const name = `kill-${w}-${i}`;
          await c.create(peer(name, '10.4.4.4', 1));
          acked.push(name);
        } catch {
          return; // the replica died mid-call: this write was never acknowledged
        }
      }
    });
    await eventually('some acknowledged writes', () => acked.length >= 200, 30_000);
    s.process.signal('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await s.process.exited();
    c.close();
    const keys = new Set(
      (await etcd.etcdctl(['get', '--prefix', '/calico/resources/v3/projectcalico.org/bgppeers/kill-', '--keys-only']))
        .split('\n')
        .filter((l) => l !== '')
        .map((k) => k.slice(k.lastIndexOf('/') + 1)),
    );
    expect(acked.filter((n) => !keys.has(n))).toEqual([]);
  }, 60_000);

  it('answers UNAVAILABLE naming the etcd endpoints while etcd is down, and serves again when it is back', async () => {
    const s = await startEtcdStore();
    const c = client(s);
    await c.create(peer('fault-before', '10.5.0.1', 65000));
    const w = c.watch('bgppeer', (await c.list('bgppeer')).revision);
    await c.create(peer('fault-watched', '10.5.0.4', 65000));
    await eventually('the watch to deliver', () => changes(w.received).length > 0);
    const member = etcd.members[0];
    await member.process.stop();
    // A watch cannot continue without etcd: it ends, and the client watches again from its last revision.
    await eventually('the watch to end', () => w.error);
    expect(w.error!.code).toBe(status.UNAVAILABLE);
    expect((w.error as { details?: string }).details).toContain(`lost the watch on etcd at ${etcd.endpoints}`);
    const write = await failure(c.create(peer('fault-during', '10.5.0.2', 65000)));
    expect(write.code).toBe(status.UNAVAILABLE);
    expect(write.details).toContain(`etcd at ${etcd.endpoints} is unavailable`);
    // Reads answer from the store's copy, marked stale; a name the copy does not hold stays UNAVAILABLE.
    const stale = await c.get('bgppeer', 'fault-before');
    expect(metaOf(stale.resource!).name).toBe('fault-before');
    expect(stale.freshness).toMatchObject({ stale: true, reason: expect.stringContaining(`etcd at ${etcd.endpoints}: `) as unknown });
    expect(stale.freshness!.revision).toBeGreaterThanOrEqual(Number(metaOf(stale.resource!).resourceVersion));
    const listed = await c.list('bgppeer');
    expect(listed.freshness?.stale).toBe(true);
    expect(listed.items.map((r) => metaOf(r).name)).toContain('fault-watched');
    const read = await failure(c.get('bgppeer', 'fault-during'));
    expect(read.code).toBe(status.UNAVAILABLE);
    expect(read.details).toContain(etcd.endpoints);
    await etcd.restart(member);
    await eventually('writes to work again', () => c.create(peer('fault-after', '10.5.0.3', 65000)).then(() => true, () => false), 20_000, 200);
    const fresh = await c.get('bgppeer', 'fault-before');
    expect(metaOf(fresh.resource!).name).toBe('fault-before');
    expect(fresh.freshness).toBeUndefined();
    expect(await failure(c.get('bgppeer', 'fault-during'))).toMatchObject({ code: status.NOT_FOUND });
  }, 60_000);
});

describe('a three-member etcd', () => {
  it('keeps taking writes when its leader dies, and loses none it acknowledged', async () => {
    const three = await startEtcdCluster(group, `${dir.path}/three`, { size: 3 });
    const s = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--datastore', 'etcd', '--etcd-endpoints', three.endpoints]);
    const c = client(s);
    const acked: string[] = [];
    const failed: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const name = `ha-${w}-${i}`;
        try {
          await c.create(peer(name, '10.6.6.6', 1));
          acked.push(name);
        } catch (err) {
          // Refused while the members elect a new leader: UNAVAILABLE, never another status.
          expect((err as { code?: number }).code).toBe(status.UNAVAILABLE);
          failed.push(name);
        }
      }
    });
    await eventually('writes before the leader dies', () => acked.length >= 100, 30_000);
    const leader = await three.leader();
    leader.process.signal('SIGKILL');
    const before = acked.length;
    await eventually('writes after the leader died', () => acked.length >= before + 100, 30_000);
    stop = true;
    await Promise.all(writers);
    const listed = new Set((await c.list('bgppeer')).items.map((r) => metaOf(r).name));
    expect(acked.filter((n) => !listed.has(n))).toEqual([]);
  }, 90_000);
});

describe('TLS to etcd', () => {
  it('talks to an etcd that requires client certificates, with --etcd-ca, --etcd-cert and --etcd-key; refuses a stranger\'s certificate', async () => {
    const certs = makeCerts(dir.path);
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const url = `https://127.0.0.1:${clientPort}`;
    const member = group.start('etcd-tls', requireTool('etcd', 'etcd-server'), [
      '--name', 'tls1', '--data-dir', `${dir.path}/etcd-tls`,
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `tls1=http://127.0.0.1:${peerPort}`,
      '--cert-file', certs.serverCert, '--key-file', certs.serverKey, '--client-cert-auth', '--trusted-ca-file', certs.ca,
    ]);
    await member.waitForLine(/ready to serve client requests/, 30_000);
    const s = await startEtcdStoreAt(url, ['--etcd-ca', certs.ca, '--etcd-cert', certs.clientCert, '--etcd-key', certs.clientKey]);
    const c = client(s);
    const { resource } = await c.create(peer('tls-peer', '10.7.0.1', 65000));
    expect((await c.get('bgppeer', 'tls-peer')).resource).toEqual(resource);
    const rogue = client(await startEtcdStoreAt(url, ['--etcd-ca', certs.ca, '--etcd-cert', certs.rogueCert, '--etcd-key', certs.rogueKey]));
    const refused = await failure(rogue.get('bgppeer', 'tls-peer'));
    expect(refused.code).toBe(status.UNAVAILABLE);
    expect(refused.details).toContain(`etcd at ${url} is unavailable`);
  }, 60_000);
});

async function startEtcdStoreAt(endpoints: string, extra: string[]): Promise<ServiceProcess> {
  return startService(group, 'store', ['--listen', '127.0.0.1:0', '--datastore', 'etcd', '--etcd-endpoints', endpoints, ...extra]);
}
