import { kindOf, metaOf, mustFindKind, type KindInfo } from '@tabby/api';
import type { Resource, ResourceStoreServer } from '@tabby/proto';
import { ServiceError, toGrpcStatus, type AsyncServiceImplementation } from '@tabby/runtime';
import { parseSelector, type Selector } from '@tabby/selector';
import type { StoreBackend } from './backend.js';
import type { StoreMetrics } from './store-metrics.js';
import { STORE_VERSION } from './version.js';

function requireResource(resource: Resource | undefined): Resource {
  if (!resource?.kind) throw new ServiceError('invalid-argument', 'resource is empty: set exactly one kind, e.g. {"resource": {"ipPool": {"metadata": {...}, "spec": {...}}}}');
  return resource;
}

function requireName(kind: KindInfo, namespace: string, name: string): void {
  if (name === '') throw new ServiceError('invalid-argument', 'resource name may not be empty');
  if (kind.namespaced && namespace === '') throw new ServiceError('invalid-argument', `namespace is not specified on namespaced resource ${kind.kind}`);
  if (!kind.namespaced && namespace !== '') throw new ServiceError('invalid-argument', `${kind.kind} is not namespaced`);
}

function scopeOf(kind: KindInfo, namespace: string): string | undefined {
  if (!kind.namespaced) {
    if (namespace !== '') throw new ServiceError('invalid-argument', `${kind.kind} is not namespaced`);
    return '';
  }
  return namespace === '' ? undefined : namespace;
}

function selectorOf(text: string): Selector | undefined {
  if (text.trim() === '') return undefined;
  const r = parseSelector(text);
  if (!r.ok) throw new ServiceError('invalid-argument', `invalid label selector: ${r.error.format()}`);
  return r.selector;
}

export interface ServiceOptions {
  readonly bookmarkIntervalMs: number;
  readonly maxQueuedPerWatcher: number;
  readonly metrics?: StoreMetrics;
  /** Create and Delete with `whileLocked`: the backend without the lock's guard, and whether the datastore is locked. */
  readonly underLock?: { readonly backend: StoreBackend; readonly locked: () => boolean };
}

/** The backend a write uses: with `whileLocked`, the unguarded one, only while the datastore is locked. */
function writerFor(store: StoreBackend, opts: ServiceOptions, whileLocked: boolean): StoreBackend {
  if (!whileLocked) return store;
  if (!opts.underLock?.locked()) {
    throw new ServiceError('failed-precondition', 'while_locked is for writes under the migration lock (tabbyctl ipam split), and the datastore is not locked: run tabbyctl datastore migrate lock first');
  }
  return opts.underLock.backend;
}

/** The gRPC ResourceStore service over a datastore ({@link StoreBackend}). */
export function resourceStoreService(store: StoreBackend, opts: ServiceOptions): AsyncServiceImplementation<ResourceStoreServer> {
  return {
    create: async (req) => ({ resource: await writerFor(store, opts, req.whileLocked === true).create(requireResource(req.resource)) }),
    update: async (req) => ({ resource: await store.update(requireResource(req.resource)) }),
    apply: async (req) => store.apply(requireResource(req.resource)),
    applyBatch: async (req) => {
      // An empty resource fails alone, as its own Apply would; the others are applied.
      const valid = req.resources.filter((r) => r.kind !== undefined);
      const applied = await store.applyBatch(valid);
      let next = 0;
      return {
        results: req.resources.map((r) => {
          if (r.kind !== undefined) return applied[next++];
          try {
            requireResource(r);
          } catch (err) {
            const st = toGrpcStatus(err);
            return { created: false, resourceVersion: '', error: st.details, code: st.code };
          }
          return applied[next++];
        }),
      };
    },
    delete: async (req) => {
      const kind = mustFindKind(req.kind);
      requireName(kind, req.namespace, req.name);
      const r = await writerFor(store, opts, req.whileLocked === true).delete(kind, req.namespace, req.name, req.resourceVersion, req.force);
      return { resource: r.resource, overriddenFinalizers: r.overridden };
    },
    addFinalizer: async (req) => {
      const kind = mustFindKind(req.kind);
      requireName(kind, req.namespace, req.name);
      return store.setFinalizer(kind, req.namespace, req.name, req.finalizer, true);
    },
    removeFinalizer: async (req) => {
      const kind = mustFindKind(req.kind);
      requireName(kind, req.namespace, req.name);
      return store.setFinalizer(kind, req.namespace, req.name, req.finalizer, false);
    },
    get: async (req) => {
      const kind = mustFindKind(req.kind);
      requireName(kind, req.namespace, req.name);
      return store.get(kind, req.namespace, req.name);
    },
    list: async (req) => {
      const kind = mustFindKind(req.kind);
      return store.list(kind, scopeOf(kind, req.namespace), selectorOf(req.labelSelector));
    },
    info: async () => {
      const { clusterGuid, revision } = await store.info();
      return { version: STORE_VERSION, clusterType: `tabby,${store.datastore}`, clusterGuid, revision };
    },
    watch: async (call, signal) => {
      const req = call.request;
      const kind = req.kind === '' ? undefined : mustFindKind(req.kind);
      const namespace = req.namespace === '' ? undefined : req.namespace;
      if (req.fromRevision < 0) throw new ServiceError('invalid-argument', 'fromRevision must not be negative');
      opts.metrics?.watchers.inc();
      try {
        await store.watch(
          {
            kind,
            namespace,
            fromRevision: req.fromRevision,
            fromZero: req.fromZero,
            bookmarkIntervalMs: req.bookmarkIntervalSeconds > 0 ? req.bookmarkIntervalSeconds * 1000 : opts.bookmarkIntervalMs,
            maxQueued: opts.maxQueuedPerWatcher,
          },
          call,
          signal,
        );
      } finally {
        opts.metrics?.watchers.dec();
      }
    },
  };
}

/** The kind and name of a resource, for logs. */
export function describeResource(r: Resource): string {
  const m = metaOf(r);
  return `${kindOf(r).kind}(${m.namespace ? `${m.namespace}/` : ''}${m.name})`;
}
