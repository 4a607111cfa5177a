import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Why the garbage collector released an address. */
export type GcAddressReason = 'node-deleted' | 'tunnel-node-deleted' | 'leaked';
/** Why the garbage collector released a block (or its affinity). */
export type GcBlockReason = 'node-deleted' | 'pool-disabled' | 'pool-deleted';

/** Prometheus instruments of the IPAM garbage collector. */
export interface GcMetrics {
  /** Addresses released, by reason. */
  readonly released: Counter<'reason'>;
  /** Blocks deleted or stripped of their affinity, by reason. */
  readonly blocksReleased: Counter<'reason'>;
  /** Passes, by outcome (`ok` or `failed`). */
  readonly passes: Counter<'outcome'>;
  readonly passSeconds: Histogram;
  /** Allocations whose endpoint is gone, waiting out the grace period. */
  readonly leakCandidates: Gauge;
}

export function createGcMetrics(registry: Registry): GcMetrics {
  return {
    released: new Counter({
      name: 'tabby_ipam_gc_released_total',
      help: 'Addresses released by the garbage collector (node-deleted: a deleted node\'s workloads; tunnel-node-deleted: a deleted node\'s tunnel address; leaked: WorkloadEndpoint gone past the grace period)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    blocksReleased: new Counter({
      name: 'tabby_ipam_gc_blocks_released_total',
      help: 'Blocks the garbage collector released (empty: deleted; in use: affinity removed), by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    passes: new Counter({ name: 'tabby_ipam_gc_passes_total', help: 'Garbage collection passes, by outcome', labelNames: ['outcome'] as const, registers: [registry] }),
    passSeconds: new Histogram({
      name: 'tabby_ipam_gc_pass_seconds',
      help: 'Duration of one garbage collection pass',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    leakCandidates: new Gauge({ name: 'tabby_ipam_gc_leak_candidates', help: 'Allocations whose WorkloadEndpoint is gone, waiting out the leak grace period', registers: [registry] }),
  };
}
