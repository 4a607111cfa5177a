import path from 'node:path';
import { cidrsOverlap, parseCIDR } from '@tabby/api';
import { StoreFollower, dialStore } from '@tabby/client';
import { BlockEventType, DatastoreService, IpamService, loadDescriptorSet } from '@tabby/proto';
import {
  GrpcServer,
  componentLogger,
  optionalMetricsServer,
  serviceBus,
  type ClientTlsFiles,
  type EventBus,
  type HostPort,
  type OptionalMetricsServer,
  type Logger,
  type NatsSecurity,
  type ServerTlsFiles,
  type ServiceMetrics,
} from '@tabby/runtime';
import { BlockLog } from './block-watch.js';
import { Checkpointer } from './checkpointer.js';
import { FollowedCluster } from './cluster.js';
import { openDatabase, type Db } from './database.js';
import { IpamDatastore, guardedStorage } from './datastore-service.js';
import type { BlockChange } from './engine.js';
import type { EtcdSettings } from '@tabby/etcd';
import { EtcdStorage } from './etcd-storage.js';
import { GarbageCollector } from './gc.js';
import { createGcMetrics } from './gc-metrics.js';
import { createIpamMetrics } from './ipam-metrics.js';
import { publishBlockChanges } from './publisher.js';
import { PoolFinalizers } from './pool-finalizers.js';
import { ipamService, toProtoBlock } from './service.js';
import { logConfiguration, logSettingsChanges } from './settings-log.js';
import { SqliteStorage } from './sqlite-storage.js';
import type { IpamStorage } from './storage.js';
import { TunnelAddresses } from './tunnels.js';
import { Workloads } from './workloads.js';

export interface IpamAppOptions {
  readonly listen: HostPort;
  /** Where the SQLite database lives (the default datastore). */
  readonly dataDir: string;
  /** Keep IPAM in etcd (Calico's layout) instead of SQLite. */
  readonly etcd?: EtcdSettings | undefined;
  /** Address of tabby-store. */
  readonly store: string;
  /** How to dial the store (plaintext when absent); see `serviceDialTls`. */
  readonly storeTls?: ClientTlsFiles;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly natsUrl?: string;
  /** NATS credentials and TLS (from `natsSecurity` of the --nats-* flags). */
  readonly natsSecurity?: NatsSecurity;
  readonly bus?: EventBus;
  readonly metricsAddress?: HostPort;
  readonly tls?: ServerTlsFiles;
  readonly strictAffinity?: boolean;
  readonly maxBlocksPerHost?: number;
  readonly recoveryIntervalMs?: number;
  /** How old an allocation without an endpoint must be before check calls it leaked. */
  readonly leakGraceMs?: number;
  readonly callLogLevel?: 'info' | 'debug';
  /** Garbage collection (gc.ts); on by default with a 60 s interval and a 15 min leak grace period. */
  readonly gc?: { readonly enabled: boolean; readonly intervalMs?: number; readonly leakGraceMs?: number };
  /** Keep each node's IPIP/VXLAN tunnel address (calico-node's allocateip). */
  readonly tunnelAddresses?: boolean;
}

export interface IpamApp {
  readonly port: number;
  readonly metricsPort: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts tabby-ipam: opens (or shares) the datastore (SQLite, or etcd), follows IPPools and Nodes in the
 * store, finishes workload changes that a crashed process left half-done, and serves the
 * Ipam gRPC service with health, reflection and metrics. It serves only once the store has
 * been listed (until then health says NOT_SERVING).
 */
export async function startIpam(opts: IpamAppOptions): Promise<IpamApp> {
  const log = opts.logger;
  const metrics = createIpamMetrics(opts.metrics.registry);
  const storeClient = dialStore({ address: opts.store, tls: opts.storeTls, flag: '--store', logger: log });
  const follower = new StoreFollower({ client: storeClient, kinds: ['IPPool', 'Node', 'IPReservation', 'IPAMConfiguration'], logger: componentLogger(log, 'follower') });
  const view = new FollowedCluster(follower);

  const events = await serviceBus({ bus: opts.bus, natsUrl: opts.natsUrl, natsSecurity: opts.natsSecurity, name: 'tabby-ipam', logger: log });
  const eventBus = events.bus;
  // WatchBlocks' log learns a commit as soon as it is visible (SQLite: before its sync), so
  // that its poll does not find it first and read every block; a second telling is ignored.
  const toLog = (changes: BlockChange[]): void =>
    blockLog.applyCommitted(changes.map((c) => ({ block: toProtoBlock(c.block, view), deleted: c.type === BlockEventType.BLOCK_EVENT_TYPE_RELEASED, revision: c.revision })));
  const onCommit = (changes: BlockChange[]): void => {
    for (const c of changes) log.info({ block: c.block.cidr, node: c.block.node, type: c.type, revision: c.revision }, 'block affinity changed');
    if (eventBus) publishBlockChanges(eventBus, view, changes);
    toLog(changes);
    finalizers.blocksChanged(changes);
  };
  let db: Db | undefined;
  let checkpointer: Checkpointer | undefined;
  let storage: IpamStorage;
  try {
    if (opts.etcd) {
      storage = await EtcdStorage.open({
        etcd: opts.etcd,
        view,
        logger: componentLogger(log, 'database'),
        strictAffinity: opts.strictAffinity,
        maxBlocksPerHost: opts.maxBlocksPerHost,
        onCommit,
        onConflict: () => metrics.casConflicts.inc(),
        onCommitted: (seconds) => {
          metrics.batchOps.observe(1);
          metrics.commitSeconds.observe(seconds);
        },
      });
    } else {
      db = openDatabase(opts.dataDir, componentLogger(log, 'database'));
      checkpointer = Checkpointer.start(db, componentLogger(log, 'database'));
      storage = new SqliteStorage({
        db,
        view,
        logger: componentLogger(log, 'commit'),
        strictAffinity: opts.strictAffinity,
        maxBlocksPerHost: opts.maxBlocksPerHost,
        onCommit,
        onCommitted: toLog,
        onBatch: (ops, seconds) => {
          metrics.batchOps.observe(ops);
          metrics.commitSeconds.observe(seconds);
        },
      });
    }
  } catch (err) {
    await checkpointer?.stop();
    db?.close();
    storeClient.close();
    await events.close();
    throw err;
  }
  // WatchBlocks: blocks and revision read together (SQLite: in one transaction, as another
  // process may commit in between; etcd: from the watched copy, updated a commit at a time).
  const readBlocks = () => ({ revision: storage.blockRevision(), blocks: storage.blocks().map((b) => toProtoBlock(b, view)) });
  const blockLog = new BlockLog({
    snapshot: db ? db.transaction(readBlocks) : readBlocks,
    revision: () => storage.blockRevision(),
    logger: componentLogger(log, 'watch'),
  });
  // tabbyctl datastore: status, export/import, and the migration lock every change checks.
  const datastore = new IpamDatastore({
    storage,
    view,
    sqlite: db ? { db, file: path.resolve(opts.dataDir, 'ipam.db') } : undefined,
    etcd: opts.etcd,
    config: { strictAffinity: opts.strictAffinity ?? false, maxBlocksPerHost: opts.maxBlocksPerHost ?? 0 },
    onImported: onCommit,
    logger: componentLogger(log, 'datastore'),
  });
  const unguardedStorage = storage;
  storage = guardedStorage(storage, () => datastore.locked());
  const workloads = new Workloads(storage, storeClient, componentLogger(log, 'workloads'));
  const finalizers = new PoolFinalizers({ follower, storage, store: storeClient, logger: componentLogger(log, 'finalizers') });
  const gc =
    opts.gc?.enabled === false
      ? undefined
      : new GarbageCollector({
          storage,
          view,
          store: storeClient,
          logger: componentLogger(log, 'gc'),
          metrics: createGcMetrics(opts.metrics.registry),
          instanceId: workloads.instanceId,
          leakGraceMs: opts.gc?.leakGraceMs ?? 900_000,
          intervalMs: opts.gc?.intervalMs ?? 60_000,
          paused: () => datastore.locked(),
        });
  // Calico's per-node IPIP/VXLAN tunnel addresses, kept as Nodes and IPPools change.
  const tunnels = new TunnelAddresses({ view, storage, store: storeClient, nodes: () => follower.list('Node'), logger: componentLogger(log, 'tunnels') });
  const reconcileTunnels = (): void => {
    if (opts.tunnelAddresses) void tunnels.reconcile().catch((err: unknown) => log.warn({ err }, 'tunnel address round failed'));
  };

  // Blocks of a pool that no longer exists lose their affinity (empty ones go, others stay
  // without a node), whether the pool was deleted while we watched or while we were down;
  // unless pools that replaced it contain them (ipam split): they move to those pools with
  // their affinity and addresses (a record of which pool a block is in: allowed under the lock).
  const releaseOrphanedBlocks = (): void => {
    const live = view.pools();
    const liveCidrs = new Set(live.map((p) => p.cidr.canonical));
    const gone = new Set(storage.blocks().filter((b) => !liveCidrs.has(b.poolCidr)).map((b) => b.poolCidr));
    for (const cidr of gone) {
      const old = parseCIDR(cidr);
      void (async () => {
        for (const p of live) {
          if (!old || !cidrsOverlap(old, p.cidr)) continue;
          const moved = await unguardedStorage.adoptBlocks(cidr, p.cidr.canonical);
          if (moved > 0) log.info({ from: cidr, pool: p.name, blocks: moved }, 'blocks of a replaced pool adopted by the pool containing them');
        }
        if (!storage.blocks().some((b) => b.node !== null && b.poolCidr === cidr)) return;
        const n = await storage.releasePoolAffinities(cidr);
        if (n > 0) log.info({ pool: cidr, blocks: n }, 'pool gone: block affinities released');
      })().catch((err: unknown) => log.error({ err }, 'cannot release the blocks of a deleted pool'));
    }
  };
  follower.onChange((events, info) => {
    if (info.kind === 'IPPool' && (info.resync || events.some((e) => e.type === 'deleted' || e.type === 'added'))) releaseOrphanedBlocks();
    // A pool created over old blocks, a finalizer removed by hand, a resync: put it right.
    if (info.kind === 'IPPool' && started) finalizers.reconcileAll();
    // A block's pool is named after the pool containing it now.
    if (info.kind === 'IPPool' && started) blockLog.refresh(true);
    // A Node deleted: collect its addresses and blocks now rather than at the next pass.
    if (info.kind === 'Node' && started && events.some((e) => e.type === 'deleted')) gc?.trigger();
    if (started) reconcileTunnels();
  });

  logSettingsChanges(follower, view, storage, opts, log);

  let started = false;
  // Calls wait until the pools and nodes have been listed from the store.
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const server = new GrpcServer({
    logger: componentLogger(log, 'grpc'),
    metrics: opts.metrics,
    tls: opts.tls,
    descriptorSets: [loadDescriptorSet()],
    callLogLevel: opts.callLogLevel,
  });
  server.addService('tabby.v1.Ipam', IpamService, ipamService({
    storage,
    view,
    store: storeClient,
    workloads,
    metrics,
    leakGraceMs: opts.leakGraceMs ?? 30_000,
    blockLog,
    ready,
    finalizersWritten: (changes) => finalizers.awaitEdges(changes),
    unguardedStorage,
    locked: () => datastore.locked(),
  }));
  server.addService('tabby.v1.Datastore', DatastoreService, datastore.service());

  let metricsServer: OptionalMetricsServer | undefined;
  let recovery: NodeJS.Timeout | undefined;
  let gauges: NodeJS.Timeout | undefined;
  const cleanup = async (): Promise<void> => {
    clearInterval(recovery);
    clearInterval(gauges);
    await gc?.stop();
    blockLog.stop();
    await follower.stop();
    await tunnels.close();
    // The last commit first: the finalizer syncs it starts run while the database and the
    // store client are still open; none starts after.
    await storage.close();
    await datastore.close();
    await finalizers.close();
    await checkpointer?.stop();
    db?.close();
    storeClient.close();
    await events.close();
    await metricsServer?.close();
  };
  try {
    const port = await server.listen(opts.listen);
    metricsServer = await optionalMetricsServer(opts.metricsAddress, opts.metrics.registry, log);
    await workloads.start();
    log.info({ store: opts.store, datastore: storage.datastore }, 'listing pools and nodes from the store');
    await follower.start();
    log.info({ pools: view.pools().length, nodes: view.nodeNames().length }, 'following the store');
    logConfiguration(view, opts, log);
    blockLog.start();
    releaseOrphanedBlocks();
    started = true;
    finalizers.reconcileAll();
    markReady();
    reconcileTunnels();
    const recover = async (): Promise<void> => {
      const r = await workloads.recover();
      if (r.completed) metrics.recovered.inc({ outcome: 'completed' }, r.completed);
      if (r.undone) metrics.recovered.inc({ outcome: 'undone' }, r.undone);
      finalizers.reconcileAll();
      reconcileTunnels();
    };
    await recover();
    recovery = setInterval(() => void recover().catch((err: unknown) => log.warn({ err }, 'recovery round failed')), opts.recoveryIntervalMs ?? 10_000);
    recovery.unref();
    const updateGauges = (): void => {
      metrics.allocations.reset();
      metrics.blocks.reset();
      for (const p of view.pools()) {
        const u = storage.poolCounts(p.cidr.canonical);
        metrics.allocations.set({ pool: p.name }, u.inUse);
        metrics.blocks.set({ pool: p.name }, u.blocks);
      }
    };
    gauges = setInterval(updateGauges, 15_000);
    gauges.unref();
    gc?.start();
    server.setServing(true);
    return {
      port,
      metricsPort: metricsServer.port,
      stop: async () => {
        await server.shutdown();
        await cleanup();
      },
    };
  } catch (err) {
    await server.shutdown(0);
    await cleanup();
    throw err;
  }
}
