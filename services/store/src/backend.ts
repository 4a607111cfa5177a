import type { KindInfo } from '@tabby/api';
import type { ApplyBatchResult, ReadFreshness, Resource } from '@tabby/proto';
import type { Selector } from '@tabby/selector';
import type { CommitListener } from './resource-store.js';
import type { WatchParams, WatchSink } from './watch.js';

/** Where the store keeps resources: a SQLite file (one process) or etcd v3 (stateless replicas). */
export type Datastore = 'sqlite' | 'etcd';

/**
 * A datastore behind the ResourceStore gRPC service. Both implementations run the same
 * write operations (write-ops.ts) with the same validation and errors; they differ in
 * where revisions come from (a counter in SQLite, etcd's revision) and how a write's reads
 * are protected (a SQLite transaction, an etcd compare-and-swap transaction).
 */
export interface StoreBackend {
  readonly datastore: Datastore;
  create(input: Resource): Promise<Resource>;
  update(input: Resource): Promise<Resource>;
  apply(input: Resource): Promise<{ resource: Resource; created: boolean }>;
  /**
   * Applies each input in order, each on its own as {@link apply} would (a failure neither
   * stops nor undoes the others); one result per input, once every applied one is durable.
   */
  applyBatch(inputs: readonly Resource[]): Promise<ApplyBatchResult[]>;
  delete(kind: KindInfo, namespace: string, name: string, resourceVersion: string, force?: boolean): Promise<{ resource: Resource; overridden: string[] }>;
  setFinalizer(kind: KindInfo, namespace: string, name: string, finalizer: string, present: boolean): Promise<{ resource: Resource; changed: boolean }>;
  /**
   * One object; NOT_FOUND with Calico's message when it does not exist. `freshness` is set
   * (stale) when the datastore could not be read and the answer comes from a copy (etcd).
   */
  get(kind: KindInfo, namespace: string, name: string): Promise<{ resource: Resource; freshness?: ReadFreshness }>;
  /**
   * Objects of a kind (all namespaces when `namespace` is undefined), sorted by namespace and
   * name, and the revision they reflect; `freshness` as for {@link get}.
   */
  list(kind: KindInfo, namespace: string | undefined, selector: Selector | undefined): Promise<{ items: Resource[]; revision: number; freshness?: ReadFreshness }>;
  /** The cluster's identifier and the current revision. */
  info(): Promise<{ clusterGuid: string; revision: number }>;
  /** Streams the changes after `params.fromRevision` into `sink` until `signal` aborts (see runWatch). */
  watch(params: WatchParams, sink: WatchSink, signal: AbortSignal): Promise<void>;
  /** Subscribes to the changes this process committed; returns the unsubscribe function. */
  onCommit(listener: CommitListener): () => void;
  /** Finishes or refuses pending writes and releases the datastore. */
  close(): Promise<void>;
}
