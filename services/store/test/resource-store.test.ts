import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isResourceAlreadyExistsError, isUpdateConflictError, isValidationError, metaOf, mustFindKind } from '@tabby/api';
import { EventType } from '@tabby/proto';
import { createLogger } from '@tabby/runtime';
import { tempDir } from '@tabby/harness';
import { DataDirInUseError, ResourceStore, SCHEMA_VERSION, openDatabase, type StoredEvent } from '../src/index.js';
import { WALKTHROUGH, one, peer, pool } from './fixtures.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const IPPOOL = mustFindKind('IPPool');
const BGPPEER = mustFindKind('BGPPeer');

describe('ResourceStore (in process, real SQLite file)', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: ResourceStore;

  beforeEach(() => {
    dir = tempDir('tabby-store-unit-');
    store = new ResourceStore({ db: openDatabase(dir.path, logger), logger, eventRetention: 1000 });
  });
  afterEach(() => {
    store.close();
    dir.remove();
  });

  it('runs the schema migrations on a fresh database', () => {
    const db = openDatabase(tempDir().path, logger);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('refuses a second store on the same data directory', () => {
    expect(() => openDatabase(dir.path, logger)).toThrow(DataDirInUseError);
    expect(() => openDatabase(dir.path, logger)).toThrow(/is in use by another tabby-store/);
  });

  it('commits concurrent writes of one tick in one batch, each with its own revision', async () => {
    const events: StoredEvent[] = [];
    store.onCommit((e) => events.push(...e));
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => store.create(peer(`p${i}`, `10.0.0.${i + 1}`, 64512))));
    expect(results.map((r) => metaOf(r).resourceVersion)).toEqual(['1', '2', '3', '4', '5']);
    expect(events.map((e) => [e.revision, e.type, e.name])).toEqual([0, 1, 2, 3, 4].map((i) => [i + 1, EventType.EVENT_TYPE_ADDED, `p${i}`]));
    expect(store.revision).toBe(5);
  });

  it('rolls back only the failing write of a batch', async () => {
    const outcomes = await Promise.allSettled([
      store.create(pool('a', '10.1.0.0/16')),
      store.create(pool('b', '10.1.128.0/17')), // overlaps a, created earlier in the same batch
      store.create(pool('c', '10.2.0.0/16')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (outcomes[1] as PromiseRejectedResult).reason as Error;
    expect(isValidationError(err)).toBe(true);
    expect(err.message).toBe("error with field IPPool.Spec.CIDR = '10.1.128.0/17' (IPPool(b) CIDR overlaps with IPPool(a) CIDR 10.1.0.0/16)");
    expect(store.list(IPPOOL, '', undefined).items.map((r) => metaOf(r).name)).toEqual(['a', 'c']);
    expect(store.revision).toBe(2);
    expect(store.eventsBetween(0, 10, undefined, 10).map((e) => [e.revision, e.name])).toEqual([
      [1, 'a'],
      [2, 'c'],
    ]);
  });

  it('fills defaults and store-owned metadata on create', async () => {
    const created = await store.create(one(WALKTHROUGH.newPool));
    const got = store.get(IPPOOL, '', 'new-pool');
    expect(got).toEqual(created);
    const m = metaOf(got);
    expect(m.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    expect(m.resourceVersion).toBe('1');
    expect(got.kind?.$case === 'ipPool' && got.kind.value.spec).toMatchObject({
      cidr: '10.0.0.0/16',
      blockSize: 26,
      ipipMode: 'Always',
      vxlanMode: 'Never',
      natOutgoing: true,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    });
  });

  it('refuses a duplicate name with Calico\'s message', async () => {
    await store.create(one(WALKTHROUGH.globalPeer));
    const err = await store.create(one(WALKTHROUGH.globalPeer)).catch((e: unknown) => e);
    expect(isResourceAlreadyExistsError(err)).toBe(true);
    expect((err as Error).message).toBe('resource already exists: BGPPeer(bgppeer-global-3040)');
  });

  it('keeps the revision when an update changes nothing', async () => {
    await store.create(one(WALKTHROUGH.globalPeer));
    const before = store.revision;
    const same = await store.update(one(WALKTHROUGH.globalPeer));
    expect(store.revision).toBe(before);
    expect(metaOf(same).resourceVersion).toBe(String(before));
  });

  it('applies a resourceVersion precondition on update and delete', async () => {
    await store.create(one(WALKTHROUGH.globalPeer));
    const changed = peer('bgppeer-global-3040', '192.20.30.40', 64568);
    metaOf(changed).resourceVersion = '1';
    await store.update(changed);
    const stale = peer('bgppeer-global-3040', '192.20.30.40', 64569);
    metaOf(stale).resourceVersion = '1';
    const err = await store.update(stale).catch((e: unknown) => e);
    expect(isUpdateConflictError(err)).toBe(true);
    expect((err as Error).message).toBe(
      "update conflict: BGPPeer(bgppeer-global-3040): resource version '1' is out of date (latest: 2). Update the resource YAML/JSON in order to make changes",
    );
    const delErr = await store.delete(BGPPEER, '', 'bgppeer-global-3040', '1').catch((e: unknown) => e);
    expect(isUpdateConflictError(delErr)).toBe(true);
    const { resource: deleted } = await store.delete(BGPPEER, '', 'bgppeer-global-3040', '2');
    expect(metaOf(deleted).resourceVersion).toBe('2');
    expect(() => store.get(BGPPEER, '', 'bgppeer-global-3040')).toThrow('resource does not exist: BGPPeer(bgppeer-global-3040) with error: <nil>');
  });

  it('refuses a BGPPeer naming a BGPFilter that does not exist, on create and update; lets a named filter be deleted (as Calico)', async () => {
    const BGPFILTER = mustFindKind('BGPFilter');
    const filter = (name: string) =>
      one(`apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata: {name: ${name}}
spec:
  exportV4: [{cidr: 10.0.0.1, matchOperator: Equal, action: Reject}]
`);
    const filtered = (filters: string) =>
      one(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: tor}
spec: {peerIP: 10.0.0.1, asNumber: 65001, filters: [${filters}]}
`);
    await expect(store.create(filtered('no-rfc1918, a'))).rejects.toThrow("error with field BGPPeer.Spec.Filters = '[no-rfc1918 a]' (BGPFilter(s) not found)");
    const created = await store.create(filter('no-rfc1918'));
    expect(created.kind?.$case === 'bgpFilter' && created.kind.value.spec?.exportV4[0].cidr).toBe('10.0.0.1/32');
    await expect(store.create(filtered('no-rfc1918, a'))).rejects.toThrow("error with field BGPPeer.Spec.Filters = '[a]' (BGPFilter(s) not found)");
    expect(store.list(BGPPEER, '', undefined).items).toEqual([]);
    await store.create(filtered('no-rfc1918'));
    await expect(store.update(filtered('no-rfc1918, b'))).rejects.toThrow("error with field BGPPeer.Spec.Filters = '[b]' (BGPFilter(s) not found)");
    await expect(store.apply(filtered('b'))).rejects.toThrow("error with field BGPPeer.Spec.Filters = '[b]' (BGPFilter(s) not found)");
    const stored = store.get(BGPPEER, '', 'tor');
    expect(stored.kind?.$case === 'bgpPeer' && stored.kind.value.spec?.filters).toEqual(['no-rfc1918']);
    // Calico's client does not check references on delete; topology keeps the peer's sessions down.
    await store.delete(BGPFILTER, '', 'no-rfc1918', '');
    expect(store.list(BGPFILTER, '', undefined).items).toEqual([]);
    expect(metaOf(store.get(BGPPEER, '', 'tor')).name).toBe('tor');
  });

  it('refuses a field Tabby does not implement and stores nothing', async () => {
    await expect(
      store.create(
        one(`apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {ignoredInterfaces: [eth0]}
`),
      ),
    ).rejects.toThrow(
      "error with field BGPConfiguration.Spec.IgnoredInterfaces = '[eth0]' (not supported by Tabby: Tabby exports no interface routes (Calico's BIRD protocol direct), so there is nothing to ignore)",
    );
    expect(store.revision).toBe(0);
  });

  it('refuses to change a pool CIDR in place', async () => {
    await store.create(pool('default-ipv4-ippool', '192.168.0.0/16'));
    const err = await store.update(pool('default-ipv4-ippool', '192.0.0.0/16')).catch((e: unknown) => e);
    expect(isValidationError(err)).toBe(true);
    expect((err as Error).message).toContain('IPPool CIDR cannot be modified (it is 192.168.0.0/16)');
    expect((err as Error).message).toContain('migration');
  });

  it('compacts old events beyond the retention', async () => {
    for (let i = 0; i < 12; i++) await Promise.all(Array.from({ length: 100 }, (_, j) => store.create(peer(`p-${i}-${j}`, '10.0.0.1', 1))));
    expect(store.revision).toBe(1200);
    expect(store.compactedRevision).toBe(200);
    expect(store.eventsBetween(0, 1200, undefined, 5000)[0].revision).toBe(201);
  });

  it('keeps every acknowledged write across a close and reopen', async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(peer(`p${i}`, '10.0.0.1', 1))));
    store.close();
    store = new ResourceStore({ db: openDatabase(dir.path, logger), logger, eventRetention: 1000 });
    expect(store.revision).toBe(50);
    expect(store.list(BGPPEER, '', undefined).items).toHaveLength(50);
  });
});
