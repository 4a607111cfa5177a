import path from 'node:path';
import { DatastoreService, loadDescriptorSet, ResourceStoreService } from '@tabby/proto';
import {
  GrpcServer,
  componentLogger,
  optionalMetricsServer,
  serviceBus,
  type EventBus,
  type HostPort,
  type Logger,
  type NatsSecurity,
  type ServerTlsFiles,
  type ServiceMetrics,
} from '@tabby/runtime';
import type { Datastore, StoreBackend } from './backend.js';
import { openDatabase, type Db } from './database.js';
import { StoreDatastore } from './datastore-service.js';
import { EtcdStore } from './etcd-store.js';
import type { EtcdSettings } from '@tabby/etcd';
import { publishEvents } from './publisher.js';
import { ResourceStore } from './resource-store.js';
import { resourceStoreService } from './service.js';
import { sqliteBackend } from './sqlite-backend.js';
import { createStoreMetrics, type StoreMetrics } from './store-metrics.js';

export interface StoreAppOptions {
  readonly listen: HostPort;
  /** sqlite (default): `dataDir`; etcd: `etcd`. */
  readonly datastore?: Datastore;
  readonly dataDir: string;
  readonly etcd?: EtcdSettings;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** NATS URL; or give `bus` directly (the all-in-one uses an in-process bus). */
  readonly natsUrl?: string;
  /** NATS credentials and TLS (from `natsSecurity` of the --nats-* flags). */
  readonly natsSecurity?: NatsSecurity;
  readonly bus?: EventBus;
  readonly metricsAddress?: HostPort;
  readonly tls?: ServerTlsFiles;
  readonly eventRetention?: number;
  readonly bookmarkIntervalMs?: number;
  readonly maxQueuedPerWatcher?: number;
  readonly callLogLevel?: 'info' | 'debug';
}

/** A running store: its gRPC port and a stop function. */
export interface StoreApp {
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly store: StoreBackend;
  stop(): Promise<void>;
}

interface OpenedBackend {
  readonly backend: StoreBackend;
  readonly sqlite?: { readonly db: Db; readonly store: ResourceStore; readonly file: string };
}

function openBackend(opts: StoreAppOptions, metrics: StoreMetrics): OpenedBackend {
  const log = opts.logger;
  if (opts.datastore === 'etcd') {
    if (!opts.etcd) throw new Error('the etcd datastore needs its endpoints');
    const store = new EtcdStore({ endpoints: opts.etcd.endpoints, tls: opts.etcd.tls, logger: componentLogger(log, 'store'), metrics });
    log.info({ datastore: 'etcd', endpoints: store.endpoints, tls: opts.etcd.tls !== undefined }, 'datastore: etcd');
    return { backend: store };
  }
  const db = openDatabase(opts.dataDir, componentLogger(log, 'database'));
  const store = new ResourceStore({ db, logger: componentLogger(log, 'store'), metrics, eventRetention: opts.eventRetention ?? 100_000 });
  log.info({ dataDir: opts.dataDir, revision: store.revision, compacted: store.compactedRevision }, 'database open');
  return { backend: sqliteBackend(store), sqlite: { db, store, file: path.resolve(opts.dataDir, 'store.db') } };
}

/**
 * Starts the store: opens the datastore (SQLite database or etcd), connects the bus, serves gRPC (ResourceStore,
 * health, reflection) and optionally /metrics. `stop` refuses new calls with UNAVAILABLE,
 * ends watches, commits what is queued and closes everything.
 */
export async function startStore(opts: StoreAppOptions): Promise<StoreApp> {
  const log = opts.logger;
  const storeMetrics = createStoreMetrics(opts.metrics.registry);
  const opened = openBackend(opts, storeMetrics);
  const store = opened.backend;
  const datastore = StoreDatastore.open({ backend: store, sqlite: opened.sqlite, etcd: opts.etcd, logger: componentLogger(log, 'datastore') });

  let events: Awaited<ReturnType<typeof serviceBus>>;
  try {
    events = await serviceBus({ bus: opts.bus, natsUrl: opts.natsUrl, natsSecurity: opts.natsSecurity, name: 'tabby-store', logger: log });
  } catch (err) {
    await datastore.close();
    await store.close();
    throw err;
  }
  const eventBus = events.bus;
  if (eventBus) store.onCommit((events) => publishEvents(eventBus, events));

  const server = new GrpcServer({
    logger: componentLogger(log, 'grpc'),
    metrics: opts.metrics,
    tls: opts.tls,
    descriptorSets: [loadDescriptorSet()],
    callLogLevel: opts.callLogLevel,
  });
  server.addService('tabby.v1.ResourceStore', ResourceStoreService, resourceStoreService(datastore.guard(store), {
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 10_000,
    maxQueuedPerWatcher: opts.maxQueuedPerWatcher ?? 10_000,
    metrics: storeMetrics,
    underLock: { backend: store, locked: () => datastore.locked() },
  }));
  server.addService('tabby.v1.Datastore', DatastoreService, datastore.service());
  try {
    const port = await server.listen(opts.listen);
    const metricsServer = await optionalMetricsServer(opts.metricsAddress, opts.metrics.registry, log);
    server.setServing(true);
    return {
      port,
      metricsPort: metricsServer.port,
      store,
      stop: async () => {
        await server.shutdown();
        await datastore.close();
        await store.close();
        await events.close();
        await metricsServer.close();
      },
    };
  } catch (err) {
    await server.shutdown(0);
    await datastore.close();
    await store.close();
    await events.close();
    throw err;
  }
}
