import type { StoreBackend } from './backend.js';
import type { ResourceStore } from './resource-store.js';
import { runWatch } from './watch.js';

/** The SQLite datastore (one store process per data directory) as a {@link StoreBackend}. */
export function sqliteBackend(store: ResourceStore): StoreBackend {
  return {
    datastore: 'sqlite',
    create: (input) => store.create(input),
    update: (input) => store.update(input),
    apply: (input) => store.apply(input),
    applyBatch: (inputs) => store.applyBatch(inputs),
    delete: (kind, namespace, name, resourceVersion, force) => store.delete(kind, namespace, name, resourceVersion, force),
    setFinalizer: (kind, namespace, name, finalizer, present) => store.setFinalizer(kind, namespace, name, finalizer, present),
    get: (kind, namespace, name) => new Promise((resolve) => resolve({ resource: store.get(kind, namespace, name) })),
    list: (kind, namespace, selector) => new Promise((resolve) => resolve(store.list(kind, namespace, selector))),
    info: () => Promise.resolve({ clusterGuid: store.clusterGuid, revision: store.revision }),
    watch: (params, sink, signal) => runWatch(store, params, sink, signal),
    onCommit: (listener) => store.onCommit(listener),
    close: () => {
      store.close();
      return Promise.resolve();
    },
  };
}
