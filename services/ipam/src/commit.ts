import { AsyncLocalStorage } from 'node:async_hooks';
import { ServiceError, type Logger } from '@tabby/runtime';
import { walSync, type Db } from './database.js';

/** What one operation may record while it runs; discarded if the operation fails. */
export interface TxContext<E> {
  readonly events: E[];
}

/** How an operation is acknowledged. */
export interface RunOptions {
  /**
   * True (the default): once its commit is on disk. False: as soon as it is committed (visible,
   * and kept if the process dies, as the OS holds it) without waiting for the fsync; only for
   * writes whose loss in a power failure is harmless (e.g. dropping a finished intent, which
   * recovery would drop anyway).
   */
  readonly durable?: boolean;
}

interface Pending<E> {
  readonly op: (tx: TxContext<E>) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  /** Where the caller collects the events of its committed operations ({@link GroupCommitter.collecting}). */
  readonly sink: E[] | undefined;
  readonly durable: boolean;
}

/** Makes committed transactions durable: resolves once everything committed before the call is on disk. */
export type Syncer = () => Promise<void>;

export interface GroupCommitterOptions<E> {
  /** Default {@link walSync} of the database. */
  readonly sync?: Syncer;
  /**
   * The events of a batch right after its COMMIT, before its sync: for what follows the
   * database as readers see it (WatchBlocks' log), which would otherwise find the commit
   * there first and read every block to learn it.
   */
  readonly onCommitted?: (events: E[]) => void;
}

/**
 * Group commit: queued operations run in one IMMEDIATE transaction, each inside its own
 * savepoint (a failing operation is rolled back alone). After the COMMIT the batch waits for
 * the fsync of the WAL (`sync`, by default {@link walSync}: on the thread pool, the event loop
 * carries on) and only then answers its operations, in order, and hands the events they
 * recorded to `onCommit`. While a batch syncs, the operations arriving queue up and commit
 * together once it is done (sooner only when `maxBatch` are waiting): one transaction and one
 * fsync per sync round, however many calls are in flight, rather than several small commits
 * all waiting for the same next fsync. When idle an operation commits at once. A batch whose transaction cannot begin or commit fails every operation in it
 * (nothing of it is written); a batch whose sync fails fails every operation in it too. The
 * IMMEDIATE lock serialises writers across processes sharing the database.
 */
export class GroupCommitter<E> {
  private queue: Pending<E>[] = [];
  private scheduled = false;
  private closed = false;
  private readonly sinks = new AsyncLocalStorage<E[]>();
  /** Batches committed and waiting for their sync, so that close() can wait for them. */
  private syncing = new Set<Promise<void>>();
  private readonly sync: Syncer;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly onCommit: (events: E[]) => void,
    private readonly maxBatch = 512,
    private readonly onBatch?: (ops: number, seconds: number) => void,
    private readonly options: GroupCommitterOptions<E> = {},
  ) {
    const wal = walSync(db);
    this.sync = options.sync ?? (() => wal.sync());
  }

  run<T>(op: (tx: TxContext<E>) => T, opts: RunOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new Error('ipam database closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (v: unknown) => void, reject, sink: this.sinks.getStore(), durable: opts.durable ?? true });
      // While a batch syncs, the next one gathers (see the class comment).
      if (this.syncing.size === 0 || this.queue.length >= this.maxBatch) this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Runs `fn`; the events of every operation that `fn` (or anything it starts) runs through
   * {@link run} are appended to `sink` once committed, before that operation's promise resolves.
   */
  collecting<T>(sink: E[], fn: () => Promise<T>): Promise<T> {
    return this.sinks.run(sink, fn);
  }

  /** Commits the queued operations now (they are answered once synced). */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.commitBatch(batch);
    }
  }

  /** Commits what is queued, waits until every committed batch is synced and answered, and refuses further operations. */
  async close(): Promise<void> {
    this.flush();
    this.closed = true;
    await Promise.all([...this.syncing]);
  }

  private commitBatch(batch: Pending<E>[]): void {
    const started = performance.now();
    const results: { ok: boolean; value: unknown; events: E[] }[] = [];
    const events: E[] = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      this.logger.error({ err, ops: batch.length }, 'cannot begin an ipam transaction; every call of the batch fails');
      const failure = batchFailure('cannot begin a transaction', err);
      for (const p of batch) p.reject(failure);
      return;
    }
    for (const p of batch) {
      const tx: TxContext<E> = { events: [] };
      this.db.exec('SAVEPOINT op');
      try {
        const value = p.op(tx);
        this.db.exec('RELEASE op');
        results.push({ ok: true, value, events: tx.events });
        events.push(...tx.events);
      } catch (err) {
        this.db.exec('ROLLBACK TO op');
        this.db.exec('RELEASE op');
        results.push({ ok: false, value: err, events: [] });
      }
    }
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      this.logger.error({ err, ops: batch.length }, 'ipam commit failed; nothing of this batch was applied');
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // already rolled back
      }
      const failure = batchFailure('the commit failed', err);
      for (const p of batch) p.reject(failure);
      return;
    }
    if (events.length > 0 && this.options.onCommitted) {
      try {
        this.options.onCommitted(events);
      } catch (err) {
        this.logger.error({ err }, 'commit listener failed');
      }
    }
    // Answered as soon as committed: those that need not wait for the sync (and failures, which wrote nothing).
    const answer = (i: number): void => {
      const p = batch[i];
      const r = results[i];
      p.sink?.push(...r.events);
      if (r.ok) p.resolve(r.value);
      else p.reject(r.value);
    };
    batch.forEach((p, i) => {
      if (!p.durable || !results[i].ok) answer(i);
    });
    const synced = this.sync().then(
      () => {
        this.onBatch?.(batch.length, (performance.now() - started) / 1000);
        batch.forEach((p, i) => {
          if (p.durable && results[i].ok) answer(i);
        });
        if (events.length > 0) {
          try {
            this.onCommit(events);
          } catch (err) {
            this.logger.error({ err }, 'commit listener failed');
          }
        }
      },
      (err: unknown) => {
        this.logger.error({ err, ops: batch.length }, 'ipam commit could not be synced to disk; every call of the batch fails');
        const failure = new ServiceError('unavailable', err instanceof Error ? err.message : String(err));
        batch.forEach((p, i) => {
          if (p.durable && results[i].ok) p.reject(failure);
        });
      },
    );
    this.syncing.add(synced);
    void synced.finally(() => {
      this.syncing.delete(synced);
      // What gathered while this batch synced commits now, as one batch.
      if (this.syncing.size === 0 && this.queue.length > 0) this.schedule();
    });
  }
}

/** The error every call of a batch that could not be committed gets: nothing of it was written. */
function batchFailure(what: string, err: unknown): ServiceError {
  const text = err instanceof Error ? err.message : String(err);
  const busy = (err as { code?: unknown }).code === 'SQLITE_BUSY';
  return new ServiceError(
    busy ? 'unavailable' : 'internal',
    `ipam database: ${what} (${busy ? 'another process holds the write lock' : text}); nothing of this call was written${busy ? ', retry' : ''}`,
    { cause: err },
  );
}
