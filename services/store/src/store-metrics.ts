import { Gauge, Histogram, type Registry } from 'prom-client';

/** Store-specific Prometheus instruments. */
export interface StoreMetrics {
  readonly revision: Gauge;
  readonly resources: Gauge<'kind'>;
  readonly watchers: Gauge;
  readonly batchSize: Histogram;
  readonly commitSeconds: Histogram;
}

export function createStoreMetrics(registry: Registry): StoreMetrics {
  return {
    revision: new Gauge({ name: 'tabby_store_revision', help: 'Revision of the last committed write', registers: [registry] }),
    resources: new Gauge({ name: 'tabby_store_resources', help: 'Stored objects by kind', labelNames: ['kind'] as const, registers: [registry] }),
    watchers: new Gauge({ name: 'tabby_store_watchers', help: 'Open Watch streams', registers: [registry] }),
    batchSize: new Histogram({
      name: 'tabby_store_commit_batch_writes',
      help: 'Writes committed per transaction (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers: [registry],
    }),
    commitSeconds: new Histogram({
      name: 'tabby_store_commit_seconds',
      help: 'Time to run and fsync one write transaction',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}
