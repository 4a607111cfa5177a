import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { ResourceStoreClient, type Resource, type WatchResponse } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';

/** A promise-based ResourceStore client for tests. */
export function storeClient(address: string, creds: ChannelCredentials = credentials.createInsecure()) {
  const c = new ResourceStoreClient(address, creds);
  return {
    raw: c,
    create: (resource: Resource) => callUnary(c.create.bind(c), { resource }, { timeoutMs: 10_000 }),
    update: (resource: Resource) => callUnary(c.update.bind(c), { resource }, { timeoutMs: 10_000 }),
    apply: (resource: Resource) => callUnary(c.apply.bind(c), { resource }, { timeoutMs: 10_000 }),
    applyBatch: (resources: Resource[]) => callUnary(c.applyBatch.bind(c), { resources }, { timeoutMs: 30_000 }).then((r) => r.results),
    delete: (kind: string, name: string, namespace = '', resourceVersion = '', force = false) =>
      callUnary(c.delete.bind(c), { kind, name, namespace, resourceVersion, force }, { timeoutMs: 10_000 }),
    addFinalizer: (kind: string, name: string, finalizer: string, namespace = '') =>
      callUnary(c.addFinalizer.bind(c), { kind, name, namespace, finalizer }, { timeoutMs: 10_000 }),
    removeFinalizer: (kind: string, name: string, finalizer: string, namespace = '') =>
      callUnary(c.removeFinalizer.bind(c), { kind, name, namespace, finalizer }, { timeoutMs: 10_000 }),
    get: (kind: string, name: string, namespace = '') => callUnary(c.get.bind(c), { kind, name, namespace }, { timeoutMs: 10_000 }),
    list: (kind: string, namespace = '', labelSelector = '') => callUnary(c.list.bind(c), { kind, namespace, labelSelector }, { timeoutMs: 10_000 }),
    /** Opens a Watch stream and collects what it delivers. */
    watch: (kind: string, fromRevision: number, namespace = '', bookmarkIntervalSeconds = 0) => {
      const stream = c.watch({ kind, namespace, fromRevision, bookmarkIntervalSeconds, fromZero: false });
      const received: WatchResponse[] = [];
      let error: (Error & { code?: number }) | undefined;
      let ended = false;
      stream.on('data', (m: WatchResponse) => received.push(m));
      stream.on('error', (e: Error & { code?: number }) => (error = e));
      stream.on('end', () => (ended = true));
      return {
        received,
        get error() {
          return error;
        },
        get ended() {
          return ended;
        },
        cancel: () => stream.cancel(),
      };
    },
    info: () => callUnary(c.info.bind(c), {}, { timeoutMs: 10_000 }),
    close: () => c.close(),
  };
}

export type StoreClient = ReturnType<typeof storeClient>;
