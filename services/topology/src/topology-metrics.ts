import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Topology-specific Prometheus instruments. */
export interface TopologyMetrics {
  readonly nodes: Gauge;
  readonly sessions: Gauge;
  readonly generation: Gauge;
  readonly synced: Gauge;
  readonly watchers: Gauge;
  readonly compileSeconds: Histogram;
  readonly recompiledNodes: Counter;
  readonly changedNodes: Counter;
}

export function createTopologyMetrics(registry: Registry): TopologyMetrics {
  return {
    nodes: new Gauge({ name: 'tabby_topology_nodes', help: 'Nodes with a compiled configuration', registers: [registry] }),
    sessions: new Gauge({ name: 'tabby_topology_sessions', help: 'Sessions over all node configurations (a node pair counts twice)', registers: [registry] }),
    generation: new Gauge({ name: 'tabby_topology_generation', help: 'Store revision plus IPAM block revision the compiled state reflects', registers: [registry] }),
    synced: new Gauge({ name: 'tabby_topology_synced', help: '1 once the store (and IPAM) have been listed', registers: [registry] }),
    watchers: new Gauge({ name: 'tabby_topology_watchers', help: 'Open WatchNodeConfig streams', registers: [registry] }),
    compileSeconds: new Histogram({
      name: 'tabby_topology_compile_seconds',
      help: 'Time to recompile what a batch of changes affects',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    recompiledNodes: new Counter({ name: 'tabby_topology_recompiled_nodes_total', help: 'Node configurations recomputed', registers: [registry] }),
    changedNodes: new Counter({ name: 'tabby_topology_changed_nodes_total', help: 'Node configurations that changed (and were notified)', registers: [registry] }),
  };
}
