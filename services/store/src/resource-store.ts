import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import { ResourceNotFoundError, decodeResource, encodeResource, idOf, metaOf, type KindInfo } from '@tabby/api';
import { EventType, type ApplyBatchResult, type Resource } from '@tabby/proto';
import { ServiceError, type Logger } from '@tabby/runtime';
import type { Selector } from '@tabby/selector';
import type { Db } from './database.js';
import type { StoreMetrics } from './store-metrics.js';
import { applyOp, batchResult, createOp, deleteOp, finalizerNameError, kindNamed, setFinalizerOp, sortedMap, updateOp, type Tx, type WriteOp } from './write-ops.js';

/** One committed change, as kept in the events table and sent to watchers. */
export interface StoredEvent {
  readonly type: EventType.EVENT_TYPE_ADDED | EventType.EVENT_TYPE_MODIFIED | EventType.EVENT_TYPE_DELETED;
  readonly revision: number;
  readonly kind: KindInfo;
  readonly namespace: string;
  readonly name: string;
  /** Protobuf bytes of the object after the change (for DELETED: as it was). */
  readonly data: Uint8Array;
  /** Protobuf bytes of the object before the change (MODIFIED, DELETED). */
  readonly previous?: Uint8Array;
}

/** Called after each commit with its events, in revision order. */
export type CommitListener = (events: readonly StoredEvent[]) => void;

interface Row {
  revision: number;
  data: Uint8Array;
}

interface EventRow {
  revision: number;
  type: number;
  kind: string;
  namespace: string;
  name: string;
  data: Uint8Array;
  previous: Uint8Array | null;
}

interface PendingWrite {
  readonly run: (tx: Tx) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** A committed batch waiting for the fsync that makes it durable, then answered and published. */
interface CommittedBatch {
  readonly writes: readonly PendingWrite[];
  readonly results: readonly { ok: boolean; value: unknown }[];
  readonly events: readonly StoredEvent[];
  readonly started: bigint;
}

export interface ResourceStoreOptions {
  readonly db: Db;
  readonly logger: Logger;
  readonly metrics?: StoreMetrics;
  /** Events kept for Watch; older ones are compacted. */
  readonly eventRetention: number;
  /** Most writes committed in one transaction. */
  readonly maxBatch?: number;
}

/**
 * The resource store: SQLite tables of resources and events with one global revision.
 * Writes are queued and committed in batches (group commit): each batch is one
 * IMMEDIATE transaction with a savepoint per write, so a failing write does not affect the
 * others, cross-resource rules see every earlier write of the batch, and one fsync covers
 * all of them. A write's promise resolves only after its batch is durable.
 *
 * Durability without blocking the event loop: SQLite runs with synchronous=NORMAL, so a
 * COMMIT only writes the WAL, and the store itself fdatasyncs the WAL file on libuv's thread
 * pool. Batches committed while one fsync runs wait for the next one, which covers them all;
 * only then are their writers answered and their events published (NATS, Watch). Reads (Get,
 * List, a Watch's catch-up) see a committed batch at once, up to one fsync before its writers
 * are answered; a process crash (kill -9) loses nothing committed, as the WAL's pages are in
 * the kernel by then.
 */
export class ResourceStore {
  private readonly db: Db;
  private readonly log: Logger;
  private readonly queue: PendingWrite[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly listeners = new Set<CommitListener>();
  private currentRevision: number;
  private compacted: number;
  private readonly maxBatch: number;
  private readonly stmt;
  /** Committed batches not yet fsynced, oldest first. */
  private unsynced: CommittedBatch[] = [];
  /** The batches the running fsync covers (undefined: none running). */
  private syncing: CommittedBatch[] | undefined;
  /** The WAL's file descriptor (opened at the first sync: SQLite creates the file lazily). */
  private walFd: number | undefined;
  /** Set when an fsync failed: nothing written since can be promised durable, so writes are refused. */
  private syncFailure: Error | undefined;

  constructor(private readonly opts: ResourceStoreOptions) {
    this.db = opts.db;
    this.log = opts.logger;
    this.maxBatch = opts.maxBatch ?? 1024;
    const db = this.db;
    this.stmt = {
      getMeta: db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare<[number, string]>('UPDATE meta SET value = ? WHERE key = ?'),
      get: db.prepare<[string, string, string], Row>('SELECT revision, data FROM resources WHERE kind = ? AND namespace = ? AND name = ?'),
      listKind: db.prepare<[string], Row>('SELECT revision, data FROM resources WHERE kind = ? ORDER BY namespace, name'),
      listKindNs: db.prepare<[string, string], Row>('SELECT revision, data FROM resources WHERE kind = ? AND namespace = ? ORDER BY name'),
      upsert: db.prepare<[string, string, string, number, Uint8Array]>(
        'INSERT INTO resources (kind, namespace, name, revision, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, namespace, name) DO UPDATE SET revision = excluded.revision, data = excluded.data',
      ),
      remove: db.prepare<[string, string, string]>('DELETE FROM resources WHERE kind = ? AND namespace = ? AND name = ?'),
      addEvent: db.prepare<[number, number, string, string, string, Uint8Array, Uint8Array | null]>(
        'INSERT INTO events (revision, type, kind, namespace, name, data, previous) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      eventsAfter: db.prepare<[number, number, number], EventRow>('SELECT * FROM events WHERE revision > ? AND revision <= ? ORDER BY revision LIMIT ?'),
      eventsAfterKind: db.prepare<[string, number, number, number], EventRow>(
        'SELECT * FROM events WHERE kind = ? AND revision > ? AND revision <= ? ORDER BY revision LIMIT ?',
      ),
      compact: db.prepare<[number]>('DELETE FROM events WHERE revision <= ?'),
      info: db.prepare<[string], { value: string }>('SELECT value FROM info WHERE key = ?'),
      countByKind: db.prepare<[], { kind: string; n: number }>('SELECT kind, count(*) AS n FROM resources GROUP BY kind'),
    };
    this.currentRevision = this.stmt.getMeta.get('revision')?.value ?? 0;
    this.compacted = this.stmt.getMeta.get('compacted')?.value ?? 0;
    this.opts.metrics?.revision.set(this.currentRevision);
    for (const { kind, n } of this.stmt.countByKind.all()) this.opts.metrics?.resources.set({ kind }, n);
  }

  /** Revision of the last committed write. */
  get revision(): number {
    return this.currentRevision;
  }

  /** Random identifier made when the database was created. */
  get clusterGuid(): string {
    return this.stmt.info.get('cluster_guid')?.value ?? '';
  }

  /** Highest revision whose events were compacted away (Watch must start after it). */
  get compactedRevision(): number {
    return this.compacted;
  }

  /** Subscribes to committed events; returns the unsubscribe function. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- reads (synchronous: they always see a whole number of committed batches) ----

  get(kind: KindInfo, namespace: string, name: string): Resource {
    const row = this.stmt.get.get(kind.kind, namespace, name);
    if (!row) throw new ResourceNotFoundError(idOf(kind, namespace, name));
    return decodeResource(kind, row.data);
  }

  /** Objects of a kind (all namespaces when `namespace` is undefined), sorted, filtered by label selector. */
  list(kind: KindInfo, namespace: string | undefined, selector: Selector | undefined): { items: Resource[]; revision: number } {
    const rows = namespace === undefined ? this.stmt.listKind.all(kind.kind) : this.stmt.listKindNs.all(kind.kind, namespace);
    const items: Resource[] = [];
    for (const row of rows) {
      const r = decodeResource(kind, row.data);
      if (selector && !selector.matches(metaOf(r).labels)) continue;
      items.push(r);
    }
    return { items, revision: this.currentRevision };
  }

  /** Committed events with `after < revision <= upTo`, oldest first, at most `limit`. */
  eventsBetween(after: number, upTo: number, kind: KindInfo | undefined, limit: number): StoredEvent[] {
    const rows = kind ? this.stmt.eventsAfterKind.all(kind.kind, after, upTo, limit) : this.stmt.eventsAfter.all(after, upTo, limit);
    return rows.map((r) => ({
      type: r.type,
      revision: r.revision,
      kind: kindNamed(r.kind),
      namespace: r.namespace,
      name: r.name,
      data: r.data,
      previous: r.previous ?? undefined,
    }));
  }

  // ---- writes ----

  /** Creates a new object; fails with ALREADY_EXISTS, or INVALID_ARGUMENT naming the fields. */
  create(input: Resource): Promise<Resource> {
    return this.write(createOp(input));
  }

  /**
   * Replaces an existing object's labels, annotations, spec (and status); a set
   * resourceVersion must match. Finalizers merge: the stored ones stay and those the input
   * names are added; only {@link setFinalizer} removes one.
   */
  update(input: Resource): Promise<Resource> {
    return this.write(updateOp(input));
  }

  /** Creates the object, or updates it when it exists. */
  apply(input: Resource): Promise<{ resource: Resource; created: boolean }> {
    return this.write(applyOp(input));
  }

  /**
   * Deletes an object and returns it as it was; a set resourceVersion must match. An object
   * with finalizers is refused (FAILED_PRECONDITION naming them) unless `force` is set;
   * `overridden` lists the finalizers a forced delete went past.
   */
  delete(kind: KindInfo, namespace: string, name: string, resourceVersion: string, force = false): Promise<{ resource: Resource; overridden: string[] }> {
    return this.write(deleteOp(kind, namespace, name, resourceVersion, force, this.log));
  }

  /**
   * Adds (`present` true) or removes one finalizer, changing nothing else of the object, in
   * one transaction: no read-modify-write race with other writers. `changed` is false (and
   * nothing is written) when the object already was as asked.
   */
  setFinalizer(kind: KindInfo, namespace: string, name: string, finalizer: string, present: boolean): Promise<{ resource: Resource; changed: boolean }> {
    const bad = finalizerNameError(finalizer);
    if (bad) return Promise.reject(bad);
    return this.write(setFinalizerOp(kind, namespace, name, finalizer, present));
  }

  /** Runs a write operation of its own (a datastore import) in the next batch transaction, as every write. */
  run<T>(op: WriteOp<T>): Promise<T> {
    return this.write(op);
  }

  /**
   * Applies each input in order, each on its own (one failing neither stops nor undoes the
   * others, and each sees those before it): they join the write queue together, so they
   * commit in as few transactions as the batch limit allows. Resolves once all are durable.
   */
  async applyBatch(inputs: readonly Resource[]): Promise<ApplyBatchResult[]> {
    const outcomes = await Promise.allSettled(inputs.map((input) => this.write(applyOp(input))));
    return outcomes.map(batchResult);
  }

  private write<T>(run: (tx: Tx) => T): Promise<T> {
    if (this.closed) return Promise.reject(new ServiceError('unavailable', 'the store is shutting down'));
    if (this.syncFailure) return Promise.reject(new ServiceError('unavailable', `the store cannot make writes durable: ${this.syncFailure.message}`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits every queued write (in batches); resolves the writers, then tells listeners. */
  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.commitBatch(batch);
    }
  }

  private commitBatch(batch: PendingWrite[]): void {
    const started = process.hrtime.bigint();
    let rev = this.currentRevision;
    const results: { ok: boolean; value: unknown }[] = [];
    let events: StoredEvent[] = [];
    const s = this.stmt;
    const tx: Tx = {
      read: (kind, namespace, name) => {
        const row = s.get.get(kind.kind, namespace, name);
        return row ? { resource: decodeResource(kind, row.data), revision: row.revision, data: row.data } : undefined;
      },
      all: (kind) => s.listKind.all(kind.kind).map((r) => decodeResource(kind, r.data)),
      put: (kind, resource, previous) => {
        const m = metaOf(resource);
        rev += 1;
        m.resourceVersion = String(rev);
        m.labels = sortedMap(m.labels);
        m.annotations = sortedMap(m.annotations);
        const data = encodeResource(resource);
        s.upsert.run(kind.kind, m.namespace, m.name, rev, data);
        const type = previous ? EventType.EVENT_TYPE_MODIFIED : EventType.EVENT_TYPE_ADDED;
        s.addEvent.run(rev, type, kind.kind, m.namespace, m.name, data, previous ?? null);
        events.push({ type, revision: rev, kind, namespace: m.namespace, name: m.name, data, previous });
        return resource;
      },
      remove: (kind, namespace, name, previous) => {
        rev += 1;
        s.remove.run(kind.kind, namespace, name);
        s.addEvent.run(rev, EventType.EVENT_TYPE_DELETED, kind.kind, namespace, name, previous, previous);
        events.push({ type: EventType.EVENT_TYPE_DELETED, revision: rev, kind, namespace, name, data: previous, previous });
      },
    };
    const runOne = this.db.transaction((w: PendingWrite) => w.run(tx));
    const runAll = this.db.transaction(() => {
      for (const w of batch) {
        const revBefore = rev;
        const eventsBefore = events.length;
        try {
          results.push({ ok: true, value: runOne(w) });
        } catch (err) {
          // The savepoint of this write was rolled back: forget what it did.
          rev = revBefore;
          events = events.slice(0, eventsBefore);
          results.push({ ok: false, value: err });
        }
      }
      if (rev !== this.currentRevision) s.setMeta.run(rev, 'revision');
    });
    try {
      runAll.immediate();
    } catch (err) {
      this.log.error({ err, writes: batch.length }, 'commit failed; no write of the batch was stored');
      const failure = new ServiceError('unavailable', `the store could not commit: ${(err as Error).message}`, { cause: err });
      for (const w of batch) w.reject(failure);
      return;
    }
    this.currentRevision = rev;
    this.unsynced.push({ writes: batch, results, events, started });
    this.maybeCompact();
    this.startSync();
  }

  /** Starts an fsync of the WAL covering every batch committed so far, unless one is running. */
  private startSync(): void {
    if (this.syncing || this.unsynced.length === 0) return;
    const group = this.unsynced;
    this.unsynced = [];
    let fd: number;
    try {
      fd = this.wal();
    } catch (err) {
      this.failSync(group, err);
      return;
    }
    this.syncing = group;
    fdatasync(fd, (err) => {
      const covered = this.syncing ?? [];
      this.syncing = undefined;
      if (this.closed) {
        // close() synced and answered everything; the descriptor waited for this fsync.
        this.closeWal();
        return;
      }
      if (err) this.failSync(covered, err);
      else for (const b of covered) this.settle(b);
      this.startSync();
    });
  }

  private wal(): number {
    this.walFd ??= openSync(`${this.db.name}-wal`, 'r');
    return this.walFd;
  }

  /** An fsync failed: what those batches wrote may or may not survive a power loss. Refuse further writes. */
  private failSync(group: readonly CommittedBatch[], err: unknown): void {
    this.syncFailure = err instanceof Error ? err : new Error(String(err));
    this.log.error({ err, batches: group.length }, 'fsync of the WAL failed: writes are refused from now on; restart the store');
    const failure = new ServiceError('unavailable', `the store could not make the write durable (fsync: ${this.syncFailure.message}); it may or may not have been stored`, {
      cause: err,
    });
    for (const b of group) for (const w of b.writes) w.reject(failure);
  }

  /** A batch is durable: answer its writers, then tell listeners. */
  private settle(b: CommittedBatch): void {
    const m = this.opts.metrics;
    if (m) {
      m.batchSize.observe(b.writes.length);
      m.commitSeconds.observe(Number(process.hrtime.bigint() - b.started) / 1e9);
      if (b.events.length > 0) m.revision.set(b.events[b.events.length - 1].revision);
      for (const e of b.events) {
        if (e.type === EventType.EVENT_TYPE_ADDED) m.resources.inc({ kind: e.kind.kind });
        else if (e.type === EventType.EVENT_TYPE_DELETED) m.resources.dec({ kind: e.kind.kind });
      }
    }
    b.writes.forEach((w, i) => (b.results[i].ok ? w.resolve(b.results[i].value) : w.reject(b.results[i].value)));
    if (b.events.length > 0) {
      for (const l of this.listeners) {
        try {
          l(b.events);
        } catch (err) {
          this.log.error({ err }, 'commit listener failed');
        }
      }
    }
  }

  private maybeCompact(): void {
    const keep = this.opts.eventRetention;
    const slack = Math.max(100, Math.floor(keep / 10));
    if (this.currentRevision - this.compacted <= keep + slack) return;
    const upTo = this.currentRevision - keep;
    this.db
      .transaction(() => {
        this.stmt.compact.run(upTo);
        this.stmt.setMeta.run(upTo, 'compacted');
      })
      .immediate();
    this.compacted = upTo;
    this.log.debug({ compacted: upTo }, 'events compacted');
  }

  /** Commits what is queued, makes it durable and answers it, refuses new writes and closes the database. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    const group = [...(this.syncing ?? []), ...this.unsynced];
    this.unsynced = [];
    const running = this.syncing !== undefined;
    this.syncing = running ? [] : undefined;
    if (group.length > 0) {
      try {
        fdatasyncSync(this.wal());
        for (const b of group) this.settle(b);
      } catch (err) {
        this.failSync(group, err);
      }
    }
    this.listeners.clear();
    this.db.close();
    // An fsync still running on the thread pool uses the descriptor: its callback closes it.
    if (!running) this.closeWal();
  }

  private closeWal(): void {
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }
}
