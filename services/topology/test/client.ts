import { credentials } from '@grpc/grpc-js';
import { ResourceStoreClient, TopologyClient, type NodeConfig, type Resource, type WatchNodeConfigResponse } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';

/** Promise wrappers of the Topology RPCs, for tests. */
export function topologyClient(address: string) {
  const c = new TopologyClient(address, credentials.createInsecure(), { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500 });
  return {
    raw: c,
    get: (node: string) => callUnary(c.getNodeConfig.bind(c), { node }, { timeoutMs: 10_000 }).then((r) => r.config as NodeConfig),
    peerings: (node = '') => callUnary(c.listPeerings.bind(c), { node }, { timeoutMs: 10_000 }),
    explain: (node: string, peer: string) => callUnary(c.explain.bind(c), { node, peer }, { timeoutMs: 10_000 }),
    preview: (apply: Resource[], del: Resource[] = []) => callUnary(c.preview.bind(c), { apply, delete: del }, { timeoutMs: 10_000 }),
    check: () => callUnary(c.check.bind(c), {}, { timeoutMs: 10_000 }),
    close: () => c.close(),
  };
}

export type TopologyTestClient = ReturnType<typeof topologyClient>;

/**
 * Watches a node the way an agent does: on any stream error or end it watches again after
 * a short pause, and keeps every configuration it received, in order.
 */
export function resilientWatch(address: string, node: string) {
  const client = new TopologyClient(address, credentials.createInsecure(), { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 300 });
  const received: NodeConfig[] = [];
  let streams = 0;
  let stopped = false;
  let current: { cancel(): void } | undefined;
  const open = (): void => {
    if (stopped) return;
    streams++;
    const s = client.watchNodeConfig({ node });
    current = s;
    let done = false;
    const again = (): void => {
      if (done) return;
      done = true;
      if (!stopped) setTimeout(open, 100);
    };
    s.on('data', (m: WatchNodeConfigResponse) => {
      if (m.config) received.push(m.config);
    });
    s.on('error', again);
    s.on('end', again);
  };
  open();
  return {
    received,
    /** How many streams were opened (1 + reconnects). */
    get streams() {
      return streams;
    },
    last: (): NodeConfig | undefined => received[received.length - 1],
    stop: () => {
      stopped = true;
      current?.cancel();
      client.close();
    },
  };
}

export type ResilientWatch = ReturnType<typeof resilientWatch>;

/** Promise wrappers of the store calls the tests make. */
export function storeClient(address: string) {
  const c = new ResourceStoreClient(address, credentials.createInsecure());
  return {
    apply: (resource: Resource) => callUnary(c.apply.bind(c), { resource }, { timeoutMs: 10_000 }),
    delete: (kind: string, name: string) => callUnary(c.delete.bind(c), { kind, name, namespace: '', resourceVersion: '', force: false }, { timeoutMs: 10_000 }),
    close: () => c.close(),
  };
}

/** The sessions of a config, compact: `name address`. */
export function sessionNames(c: NodeConfig | undefined): string[] {
  return (c?.peers ?? []).map((p) => p.name);
}
