import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** IPAM-specific Prometheus instruments. */
export interface IpamMetrics {
  readonly assigned: Counter;
  readonly released: Counter;
  readonly workloadsAdded: Counter;
  readonly workloadsDeleted: Counter;
  readonly allocations: Gauge<'pool'>;
  readonly blocks: Gauge<'pool'>;
  readonly recovered: Counter<'outcome'>;
  readonly batchOps: Histogram;
  readonly commitSeconds: Histogram;
  readonly casConflicts: Counter;
}

export function createIpamMetrics(registry: Registry): IpamMetrics {
  return {
    assigned: new Counter({ name: 'tabby_ipam_addresses_assigned_total', help: 'Addresses assigned', registers: [registry] }),
    released: new Counter({ name: 'tabby_ipam_addresses_released_total', help: 'Addresses released', registers: [registry] }),
    workloadsAdded: new Counter({ name: 'tabby_ipam_workloads_added_total', help: 'WorkloadAdd calls that assigned new addresses', registers: [registry] }),
    workloadsDeleted: new Counter({ name: 'tabby_ipam_workloads_deleted_total', help: 'WorkloadDelete calls', registers: [registry] }),
    allocations: new Gauge({ name: 'tabby_ipam_allocations', help: 'Addresses in use per pool', labelNames: ['pool'] as const, registers: [registry] }),
    blocks: new Gauge({ name: 'tabby_ipam_blocks', help: 'Blocks per pool', labelNames: ['pool'] as const, registers: [registry] }),
    recovered: new Counter({
      name: 'tabby_ipam_workload_recoveries_total',
      help: 'Interrupted workload changes finished (completed) or undone after a crash',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    batchOps: new Histogram({
      name: 'tabby_ipam_commit_batch_ops',
      help: 'Operations committed per transaction (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    commitSeconds: new Histogram({
      name: 'tabby_ipam_commit_seconds',
      help: 'Time to run and fsync one transaction',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    casConflicts: new Counter({
      name: 'tabby_ipam_cas_conflicts_total',
      help: 'etcd transactions that lost a compare-and-swap race and were read again (etcd datastore)',
      registers: [registry],
    }),
  };
}
