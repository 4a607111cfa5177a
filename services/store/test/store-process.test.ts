/**
 * The real tabby-store binary over real gRPC on loopback, with a real nats-server:
 * CRUD round trips, errors and their statuses, Watch across reconnects and restarts,
 * NATS events, concurrent writers, kill -9 durability, reflection and health, shutdown.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { status } from '@grpc/grpc-js';
import { connect, type NatsConnection } from 'nats';
import { metaOf, parseManifest, toManifestObject, toYAML } from '@tabby/api';
import { EventType, ResourceEvent, type Resource } from '@tabby/proto';
import {
  ProcessGroup,
  eventually,
  fileContainingSymbol,
  healthCheck,
  listServicesByReflection,
  startNats,
  startService,
  tempDir,
  type NatsServer,
  type ServiceProcess,
} from '@tabby/harness';
import { POOL_LIST_DISABLING_OLD, WALKTHROUGH, manifest, one, peer, pool } from './fixtures.js';
import { storeClient, type StoreClient } from './client.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-store-it-');
let nats: NatsServer;
let store: ServiceProcess;
let client: StoreClient;
let nc: NatsConnection;
const natsEvents: ResourceEvent[] = [];

async function startStore(dataDir: string, port = 0, extra: string[] = []): Promise<ServiceProcess> {
  return startService(group, 'store', ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--nats', nats.url, ...extra]);
}

function grpcCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

async function failure(p: Promise<unknown>): Promise<{ code: number | undefined; details: string }> {
  try {
    await p;
  } catch (err) {
    return { code: grpcCode(err), details: (err as { details?: string }).details ?? String(err) };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  nats = await startNats(group, dir.path);
  nc = await connect({ servers: nats.url });
  nc.subscribe('tabby.v1.resources.>', { callback: (_e, msg) => natsEvents.push(ResourceEvent.decode(msg.data)) });
  await nc.flush();
  store = await startStore(`${dir.path}/main`);
  client = storeClient(store.address);
}, 30_000);

afterAll(async () => {
  client?.close();
  await nc?.close();
  await group.stopAll();
  dir.remove();
});

describe('walkthrough resources', () => {
  it('accepts every walkthrough manifest exactly as written and returns it with defaults', async () => {
    for (const text of Object.values(WALKTHROUGH)) {
      const [r] = manifest(text);
      const { resource } = await client.create(r);
      const m = metaOf(resource!);
      const got = (await client.get(r.kind!.$case === 'bgpConfiguration' ? 'bgpconfig' : r.kind!.$case, m.name)).resource!;
      expect(got).toEqual(resource);
      expect(m.uid).not.toBe('');
      expect(Number(m.resourceVersion)).toBeGreaterThan(0);
    }
    const pool = (await client.get('ippool', 'new-pool')).resource!;
    expect(toYAML(toManifestObject(pool, { export: true }))).toBe(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: new-pool
spec:
  allowedUses:
  - Workload
  - Tunnel
  assignmentMode: Automatic
  blockSize: 26
  cidr: 10.0.0.0/16
  ipipMode: Always
  natOutgoing: true
  nodeSelector: all()
  vxlanMode: Never
`);
    const cfg = (await client.get('BGPConfiguration', 'default')).resource!;
    expect(toYAML(toManifestObject(cfg, { export: true }))).toContain('spec:\n  asNumber: 63400\n  logSeverityScreen: Info\n  nodeToNodeMeshEnabled: false\n');
  });

  it('applies the two-item pool List that disables the old pool', async () => {
    const items = parseManifest(POOL_LIST_DISABLING_OLD).resources;
    expect(items).toHaveLength(2);
    const results = await Promise.all(items.map((i) => client.apply(i.resource)));
    expect(results.map((r) => r.created)).toEqual([false, false]);
    const old = (await client.get('pool', 'default-ipv4-ippool')).resource!;
    expect(old.kind?.$case === 'ipPool' && old.kind.value.spec?.disabled).toBe(true);
    const list = await client.list('ippools');
    expect(list.items.map((i) => metaOf(i).name)).toEqual(['default-ipv4-ippool', 'new-pool']);
  });

  it('refuses the walkthrough typo that changes a pool CIDR in use', async () => {
    const typo = POOL_LIST_DISABLING_OLD.replace('cidr: 192.168.0.0/16', 'cidr: 192.0.0.0/16');
    const f = await failure(client.apply(parseManifest(typo).resources[0].resource));
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('IPPool CIDR cannot be modified (it is 192.168.0.0/16)');
  });

  it('lists by label selector and deletes the walkthrough peers', async () => {
    await client.create(peer('tor-a', '127.0.0.51', 65001, { rack: 'a' }));
    await client.create(peer('tor-b', '127.0.0.52', 65002, { rack: 'b' }));
    const r = await client.list('bgppeer', '', "rack == 'a'");
    expect(r.items.map((i) => metaOf(i).name)).toEqual(['tor-a']);
    const bad = await failure(client.list('bgppeer', '', 'rack = a'));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/invalid label selector: expected == .*column 6/);
    const deleted = await client.delete('bgppeer', 'bgppeer-global-3040');
    expect(metaOf(deleted.resource!).name).toBe('bgppeer-global-3040');
    const gone = await failure(client.get('bgppeer', 'bgppeer-global-3040'));
    expect(gone).toEqual({ code: status.NOT_FOUND, details: 'resource does not exist: BGPPeer(bgppeer-global-3040) with error: <nil>' });
  });
});

describe('errors', () => {
  it('maps each failure to its gRPC status with Calico\'s message', async () => {
    expect(await failure(client.create(one(WALKTHROUGH.nodePeer)))).toEqual({
      code: status.ALREADY_EXISTS,
      details: 'resource already exists: BGPPeer(bgppeer-node-aabbff)',
    });
    expect(await failure(client.create(pool('overlap', '10.0.128.0/17')))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "error with field IPPool.Spec.CIDR = '10.0.128.0/17' (IPPool(overlap) CIDR overlaps with IPPool(new-pool) CIDR 10.0.0.0/16)",
    });
    expect(await failure(client.get('frobnicator', 'x'))).toEqual({ code: status.INVALID_ARGUMENT, details: "resource type 'frobnicator' is not supported" });
    expect(await failure(client.get('wep', 'x'))).toEqual({ code: status.INVALID_ARGUMENT, details: 'namespace is not specified on namespaced resource WorkloadEndpoint' });
    expect(await failure(client.create({}))).toMatchObject({ code: status.INVALID_ARGUMENT });
    const rv = await failure(client.update(Object.assign(one(WALKTHROUGH.nodePeer), {})).then(() => client.update(withVersion(one(WALKTHROUGH.nodePeer), '1'))));
    expect(rv.code).toBe(status.FAILED_PRECONDITION);
    expect(rv.details).toMatch(/^update conflict: BGPPeer\(bgppeer-node-aabbff\): resource version '1' is out of date \(latest: \d+\)/);
    expect(await failure(client.update(peer('never-created', '10.0.0.1', 1)))).toEqual({
      code: status.NOT_FOUND,
      details: 'resource does not exist: BGPPeer(never-created) with error: <nil>',
    });
  });
});

describe('invalid input', () => {
  const cases: [string, Resource, string][] = [
    ['bad CIDR', pool('bad-cidr', '10.0.0.300/16'), "error with field IPPool.Spec.CIDR = '10.0.0.300/16' (IPPool CIDR must be a valid subnet)"],
    ['host bits set', pool('host-bits', '10.20.0.1/16'), 'IPPool CIDR is not strictly masked'],
    ['overlapping pool', pool('overlap-2', '10.0.0.0/8'), 'IPPool(overlap-2) CIDR overlaps with IPPool(new-pool) CIDR 10.0.0.0/16'],
    ['ipip and vxlan', pool('both-encaps', '10.30.0.0/16', '  ipipMode: Always\n  vxlanMode: Always\n'), 'Cannot enable both VXLAN and IPIP on the same IPPool'],
    ['blockSize out of range', pool('small-blocks', '10.31.0.0/16', '  blockSize: 19\n'), 'IPv4 block size must be between 20 and 32'],
    [
      'peerIP and peerSelector',
      one(`apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: both\nspec:\n  peerIP: 10.0.0.1\n  peerSelector: has(rr)\n`),
      'PeerIP field must be empty when PeerSelector is specified',
    ],
    [
      'bad selector',
      one(`apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: bad-sel\nspec:\n  nodeSelector: "rack == "\n  peerIP: 10.0.0.1\n`),
      `error with field BGPPeer.Spec.NodeSelector = 'rack == ' (invalid selector: expected string at column 9 of selector "rack == ")`,
    ],
    [
      'bad routeReflectorClusterID',
      one(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: rr9\nspec:\n  bgp:\n    routeReflectorClusterID: 224.0.0\n`),
      "Node.Spec.BGP.RouteReflectorClusterID = '224.0.0'",
    ],
    ['bad name', peer('Bad_Name', '10.0.0.1', 1), "error with field Metadata.Name = 'Bad_Name' (name must consist of lower case alphanumeric characters"],
  ];

  it('refuses each with INVALID_ARGUMENT naming the field, and stores nothing', async () => {
    const before = (await client.list('bgppeer')).revision;
    for (const [what, resource, message] of cases) {
      const f = await failure(client.create(resource));
      expect(f.code, what).toBe(status.INVALID_ARGUMENT);
      expect(f.details, what).toContain(message);
    }
    expect((await client.list('ippool')).revision).toBe(before);
  });
});

function withVersion(r: Resource, v: string): Resource {
  metaOf(r).resourceVersion = v;
  return r;
}

describe('concurrent writers', () => {
  it('lets exactly one of many updates with the same resourceVersion win', async () => {
    const { resource } = await client.create(peer('contended', '10.9.9.9', 65000));
    const rv = metaOf(resource!).resourceVersion;
    const outcomes = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => client.update(withVersion(peer('contended', '10.9.9.9', 65100 + i), rv))));
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(15);
    for (const l of lost) expect(grpcCode(l.reason)).toBe(status.FAILED_PRECONDITION);
  });

  it('lets exactly one of many overlapping pools in', async () => {
    // Nested prefixes of 172.16.0.0/16: every pair overlaps.
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => client.create(pool(`race-${i}`, `172.16.0.0/${16 + i}`))));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(grpcCode(o.reason)).toBe(status.INVALID_ARGUMENT);
  });
});

describe('watch', () => {
  it('delivers every change in order, across a client reconnect and a store restart', async () => {
    const dataDir = `${dir.path}/watch`;
    let s = await startStore(dataDir);
    let c = storeClient(s.address);
    const start = (await c.list('bgppeer')).revision;
    const seen: { revision: number; type: EventType; name: string }[] = [];
    const record = (w: ReturnType<StoreClient['watch']>, from: number) =>
      w.received.filter((m) => m.event!.type !== EventType.EVENT_TYPE_BOOKMARK && m.event!.revision > from).map((m) => ({
        revision: m.event!.revision,
        type: m.event!.type,
        name: metaOf(m.event!.object!).name,
      }));

    let w = c.watch('bgppeer', start);
    for (let i = 0; i < 10; i++) await c.create(peer(`w${i}`, '10.1.1.1', 65000));
    await eventually('10 events', () => w.received.length >= 10);
    w.cancel();
    seen.push(...record(w, start));
    // Writes while nobody watches, then resume from the last revision seen.
    await c.update(peer('w0', '10.1.1.2', 65000));
    await c.delete('bgppeer', 'w1');
    w = c.watch('bgppeer', seen[seen.length - 1].revision);
    await eventually('2 more events', () => w.received.length >= 2);
    w.cancel();
    seen.push(...record(w, seen[seen.length - 1].revision));
    // The store restarts (same port, same data); the watcher resumes after it.
    c.close();
    await s.process.stop();
    s = await startStore(dataDir, s.port);
    c = storeClient(s.address);
    await c.update(peer('w2', '10.1.1.3', 65000));
    w = c.watch('bgppeer', seen[seen.length - 1].revision);
    await eventually('the event after the restart', () => w.received.length >= 1);
    w.cancel();
    seen.push(...record(w, seen[seen.length - 1].revision));

    expect(seen.map((e) => e.revision)).toEqual(Array.from({ length: 13 }, (_, i) => start + i + 1));
    expect(seen.map((e) => `${e.type}:${e.name}`)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `${EventType.EVENT_TYPE_ADDED}:w${i}`),
      `${EventType.EVENT_TYPE_MODIFIED}:w0`,
      `${EventType.EVENT_TYPE_DELETED}:w1`,
      `${EventType.EVENT_TYPE_MODIFIED}:w2`,
    ]);
    c.close();
    await s.process.stop();
  }, 60_000);

  it('carries the previous object and sends bookmarks while idle', async () => {
    const before = (await client.list('ippool')).revision;
    const w = client.watch('ippool', before, '', 1);
    await client.create(pool('watched', '10.77.0.0/16'));
    await client.update(pool('watched', '10.77.0.0/16', '  natOutgoing: true\n'));
    await eventually('a bookmark', () => w.received.some((m) => m.event!.type === EventType.EVENT_TYPE_BOOKMARK), 5000);
    w.cancel();
    const [added, modified] = w.received;
    expect(added.event!.type).toBe(EventType.EVENT_TYPE_ADDED);
    expect(modified.event!.type).toBe(EventType.EVENT_TYPE_MODIFIED);
    const prev = modified.event!.previous!;
    expect(prev.kind?.$case === 'ipPool' && prev.kind.value.spec?.natOutgoing).toBe(false);
    const bookmark = w.received.find((m) => m.event!.type === EventType.EVENT_TYPE_BOOKMARK)!;
    expect(bookmark.event!.revision).toBeGreaterThanOrEqual(modified.event!.revision);
  });

  it('says clearly when the revision asked for has been compacted', async () => {
    const s = await startStore(`${dir.path}/compact`, 0, ['--event-retention', '1000']);
    const c = storeClient(s.address);
    for (let i = 0; i < 12; i++) await Promise.all(Array.from({ length: 100 }, (_, j) => c.create(peer(`c-${i}-${j}`, '10.2.2.2', 1))));
    const w = c.watch('bgppeer', 5);
    await eventually('the watch to fail', () => w.error);
    expect(w.error!.code).toBe(status.OUT_OF_RANGE);
    expect((w.error as { details?: string }).details).toBe(
      'revision 5 has been compacted (the store keeps events after revision 200); List again and watch from the revision the List returns',
    );
    c.close();
    await s.process.stop();
  }, 60_000);
});

describe('NATS events', () => {
  it('publishes each committed change with its revision', async () => {
    natsEvents.length = 0;
    const { resource } = await client.create(peer('nats-peer', '10.3.3.3', 65003));
    await client.delete('bgppeer', 'nats-peer');
    const rev = Number(metaOf(resource!).resourceVersion);
    await eventually('two NATS events', () => natsEvents.length >= 2);
    expect(natsEvents.map((e) => [e.kind, e.type, e.revision, metaOf(e.object!).name])).toEqual([
      ['BGPPeer', EventType.EVENT_TYPE_ADDED, rev, 'nats-peer'],
      ['BGPPeer', EventType.EVENT_TYPE_DELETED, rev + 1, 'nats-peer'],
    ]);
  });
});

describe('finalizers', () => {
  it('refuse a delete naming them, survive every write (which only adds), go through RemoveFinalizer, and give way to force', async () => {
    const { resource: created } = await client.create(pool('held', '172.31.0.0/16'));
    const rev = Number(metaOf(created!).resourceVersion);
    // Added once: the second call changes nothing and writes nothing.
    const added = await client.addFinalizer('pool', 'held', 'ipam.tabby.io/allocations');
    expect(added.changed).toBe(true);
    expect(metaOf(added.resource!).finalizers).toEqual(['ipam.tabby.io/allocations']);
    expect(Number(metaOf(added.resource!).resourceVersion)).toBe(rev + 1);
    const again = await client.addFinalizer('IPPool', 'held', 'ipam.tabby.io/allocations');
    expect(again.changed).toBe(false);
    expect(metaOf(again.resource!).resourceVersion).toBe(String(rev + 1));
    await client.addFinalizer('IPPool', 'held', 'example.com/backup');
    expect(await failure(client.addFinalizer('IPPool', 'held', 'not a name'))).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(await failure(client.addFinalizer('IPPool', 'nope', 'example.com/x'))).toMatchObject({ code: status.NOT_FOUND });

    // An apply of the manifest as first written (no finalizers) keeps them; -o yaml shows them.
    const { resource: applied } = await client.apply(pool('held', '172.31.0.0/16', '  disabled: true\n'));
    expect(metaOf(applied!).finalizers).toEqual(['ipam.tabby.io/allocations', 'example.com/backup']);
    const { resource: got } = await client.get('IPPool', 'held');
    expect(toYAML(toManifestObject(got!))).toContain('  finalizers:\n  - ipam.tabby.io/allocations\n  - example.com/backup\n');
    expect(toManifestObject(got!, { export: true }).metadata).toEqual({ name: 'held' });
    // A write merges: it keeps every stored finalizer it does not name (the list read back with
    // -o yaml and edited down drops nothing, so an old manifest cannot drop ipam's) and adds those it names.
    const edited = one(toYAML(toManifestObject(got!)));
    metaOf(edited).finalizers = ['example.com/backup', 'example.com/mistake'];
    const { resource: updated } = await client.update(edited);
    expect(metaOf(updated!).finalizers).toEqual(['ipam.tabby.io/allocations', 'example.com/backup', 'example.com/mistake']);
    const { resource: reapplied } = await client.apply(pool('held', '172.31.0.0/16', '  disabled: true\n'));
    expect(metaOf(reapplied!).finalizers).toEqual(['ipam.tabby.io/allocations', 'example.com/backup', 'example.com/mistake']);
    // Only RemoveFinalizer takes one away.
    expect((await client.removeFinalizer('IPPool', 'held', 'example.com/mistake')).changed).toBe(true);

    // Delete is refused while any is left, naming them and what to do.
    expect(await failure(client.delete('IPPool', 'held'))).toEqual({
      code: status.FAILED_PRECONDITION,
      details:
        'IPPool(held) is still in use: finalizers ipam.tabby.io/allocations (tabby-ipam holds addresses in it), example.com/backup. ' +
        'Each is removed by the service that set it once that service no longer needs the object; delete it then, or delete with --force, which overrides them.',
    });
    expect((await client.removeFinalizer('IPPool', 'held', 'example.com/backup')).changed).toBe(true);
    expect((await client.removeFinalizer('IPPool', 'held', 'example.com/backup')).changed).toBe(false);
    expect(await failure(client.delete('IPPool', 'held'))).toEqual({
      code: status.FAILED_PRECONDITION,
      details:
        'IPPool(held) is still in use: finalizer ipam.tabby.io/allocations (tabby-ipam holds addresses in it). ' +
        'Disable the pool, recreate its workloads so they get addresses from another pool, then delete it ' +
        '(tabbyctl ipam migrate --from held --to <new pool> --wait does all three); or delete with --force, which orphans those addresses.',
    });
    expect((await client.get('IPPool', 'held')).resource).toBeDefined();

    // Forced: deleted, and the response says what was overridden.
    const forced = await client.delete('IPPool', 'held', '', '', true);
    expect(forced.overriddenFinalizers).toEqual(['ipam.tabby.io/allocations']);
    // The log line is written by the store process; it reaches our pipe a moment after the reply.
    await vi.waitFor(
      () => expect(store.process.output()).toMatch(/"resource":"IPPool\(held\)","finalizers":\["ipam\.tabby\.io\/allocations"\].*"msg":"forced delete: finalizers overridden"/),
      { timeout: 5_000, interval: 50 },
    );
    expect(await failure(client.get('IPPool', 'held'))).toMatchObject({ code: status.NOT_FOUND });
    // Without finalizers, nothing to override.
    await client.create(pool('free', '172.30.0.0/16'));
    expect((await client.delete('IPPool', 'free')).overriddenFinalizers).toEqual([]);
  });
});

describe('ApplyBatch', () => {
  it('applies each resource in order on its own: later ones see earlier ones, a bad one fails alone with its status', async () => {
    const filter = one(`apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: batch-filter
spec:
  exportV4:
  - action: Accept
    matchOperator: In
    cidr: 10.0.0.0/8
`);
    const peers = Array.from({ length: 1500 }, (_, i) => peer(`batch-${i}`, '10.5.0.1', 64512));
    if (peers[10].kind?.$case === 'bgpPeer' && peers[10].kind.value.spec) peers[10].kind.value.spec.filters = ['batch-filter'];
    if (peers[700].kind?.$case === 'bgpPeer' && peers[700].kind.value.spec) peers[700].kind.value.spec.peerIP = '10.5.0.999';
    const existing = (await client.create(peer('batch-3', '10.5.0.3', 64512))).resource!;
    const results = await client.applyBatch([filter, ...peers, {}]);
    expect(results).toHaveLength(1502);
    expect(results[0]).toMatchObject({ created: true, code: 0, error: '' });
    expect(results[11]).toMatchObject({ created: true, code: 0 }); // names the filter applied just before it
    expect(results[4]).toMatchObject({ created: false, code: 0 }); // batch-3 existed: updated
    expect(Number(results[4].resourceVersion)).toBeGreaterThan(Number(metaOf(existing).resourceVersion));
    expect(results[701]).toMatchObject({ created: false, resourceVersion: '', code: status.INVALID_ARGUMENT });
    expect(results[701].error).toContain('10.5.0.999');
    expect(results[1501]).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(results.filter((r) => r.code !== 0)).toHaveLength(2);
    const stored = (await client.list('bgppeer')).items.map((r) => metaOf(r).name).filter((n) => n.startsWith('batch-'));
    expect(stored).toHaveLength(1499);
    expect(stored).not.toContain('batch-700');
    expect((await client.get('bgppeer', 'batch-10')).resource!.kind).toMatchObject({ value: { spec: { filters: ['batch-filter'] } } });
  });
});

describe('durability', () => {
  it('keeps every acknowledged write after kill -9', async () => {
    const dataDir = `${dir.path}/durable`;
    const s = await startStore(dataDir);
    const c = storeClient(s.address);
    const acked: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        try {
          const name = `d-${w}-${i}`;
          await c.create(peer(name, '10.4.4.4', 1));
          acked.push(name);
        } catch {
          return; // the store died mid-call: this write was never acknowledged
        }
      }
    });
    await eventually('some acknowledged writes', () => acked.length >= 300, 20_000);
    s.process.signal('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await s.process.exited();
    c.close();
    const again = await startStore(dataDir);
    const c2 = storeClient(again.address);
    const names = new Set((await c2.list('bgppeer')).items.map((r) => metaOf(r).name));
    const lost = acked.filter((n) => !names.has(n));
    expect(lost).toEqual([]);
    c2.close();
    await again.process.stop();
  }, 60_000);

  it('keeps every resource of an acknowledged ApplyBatch after kill -9', async () => {
    const dataDir = `${dir.path}/durable-batch`;
    const s = await startStore(dataDir);
    const c = storeClient(s.address);
    const acked: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 2 }, async (_, w) => {
      for (let b = 0; !stop; b++) {
        const batch = Array.from({ length: 200 }, (_, i) => peer(`b-${w}-${b}-${i}`, '10.4.4.4', 1));
        try {
          const results = await c.applyBatch(batch);
          results.forEach((r, i) => {
            if (r.code === 0) acked.push(metaOf(batch[i]).name);
          });
        } catch {
          return; // the store died mid-call: nothing of this batch was acknowledged
        }
      }
    });
    await eventually('some acknowledged batches', () => acked.length >= 2000, 30_000);
    s.process.signal('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await s.process.exited();
    c.close();
    const again = await startStore(dataDir);
    const c2 = storeClient(again.address);
    const names = new Set((await c2.list('bgppeer')).items.map((r) => metaOf(r).name));
    expect(acked.filter((n) => !names.has(n))).toEqual([]);
    c2.close();
    await again.process.stop();
  }, 60_000);
});

describe('service plumbing', () => {
  it('lists its services through reflection (v1 and v1alpha) and answers health checks', async () => {
    for (const v of ['v1', 'v1alpha'] as const) {
      expect(await listServicesByReflection(store.address, v)).toEqual(
        expect.arrayContaining(['grpc.health.v1.Health', 'tabby.v1.ResourceStore']),
      );
    }
    const files = await fileContainingSymbol(store.address, 'tabby.v1.ResourceStore');
    expect(files.length).toBeGreaterThan(0);
    expect(Buffer.concat(files).toString('latin1')).toContain('ResourceStore');
    expect(await healthCheck(store.address)).toBe('SERVING');
    expect(await healthCheck(store.address, 'tabby.v1.ResourceStore')).toBe('SERVING');
  });

  it('says what it is: version, cluster type, a stable cluster id and the revision', async () => {
    const info = await client.info();
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.clusterType).toBe('tabby,sqlite');
    expect(info.clusterGuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(info.revision).toBe((await client.list('ippool')).revision);
    const other = await startStore(`${dir.path}/other`);
    const c2 = storeClient(other.address);
    expect((await c2.info()).clusterGuid).not.toBe(info.clusterGuid);
    c2.close();
    await other.process.stop();
  });

  it('refuses a second store on the same data directory with one clear line', async () => {
    const second = group.start('tabby-store-2', process.execPath, [
      `${process.cwd()}/dist/main.js`,
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      `${dir.path}/main`,
    ]);
    const { code } = await second.exited();
    expect(code).toBe(1);
    expect(second.output()).toContain(`tabby-store: failed to start: data directory ${dir.path}/main is in use by another tabby-store`);
  });

  it('exits 2 with one line naming a bad flag', async () => {
    const bad = group.start('tabby-store-bad', process.execPath, [`${process.cwd()}/dist/main.js`, '--listen', 'nowhere']);
    expect((await bad.exited()).code).toBe(2);
    expect(bad.output()).toBe('tabby-store: invalid --listen "nowhere": expected HOST:PORT (IPv6 as [ADDR]:PORT)\n');
  });

  it('serves Prometheus metrics with RPC counters', async () => {
    const s = await startStore(`${dir.path}/metrics`, 0, ['--metrics', '127.0.0.1:0']);
    const port = Number((await s.process.waitForLine(/"msg":"metrics listening"/)).input.match(/127\.0\.0\.1:(\d+)/)![1]);
    const c = storeClient(s.address);
    await c.create(peer('m', '10.5.5.5', 1));
    await failure(c.get('bgppeer', 'missing'));
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/tabby_grpc_server_handled_total\{method="\/tabby\.v1\.ResourceStore\/Create",code="OK",service="tabby-store"\} 1/);
    expect(text).toMatch(/tabby_grpc_server_handled_total\{method="\/tabby\.v1\.ResourceStore\/Get",code="NOT_FOUND",service="tabby-store"\} 1/);
    expect(text).toContain('tabby_store_revision{service="tabby-store"} 1');
    c.close();
    await s.process.stop();
  });

  it('ends watches and refuses calls with UNAVAILABLE on SIGTERM, then exits 0', async () => {
    const s = await startStore(`${dir.path}/shutdown`);
    const c = storeClient(s.address);
    const w = c.watch('', 0);
    await eventually('the watch to open', async () => (await healthCheck(s.address)) === 'SERVING');
    s.process.signal('SIGTERM');
    const { code, signal } = await s.process.exited();
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    await eventually('the watch to end', () => w.error ?? (w.ended ? new Error('ended') : undefined));
    expect(w.error?.code).toBe(status.UNAVAILABLE);
    c.close();
  });
});
