import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '@tabby/runtime';
import type { Db } from './database.js';

/** What one operation may record while it runs; discarded if the operation fails. */
export interface TxContext<E> {
  readonly events: E[];
}

interface Pending<E> {
  readonly op: (tx: TxContext<E>) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  /** Where the caller collects the events of its committed operations ({@link GroupCommitter.collecting}). */
  readonly sink: E[] | undefined;
}

/**
 * Group commit: operations queued in the same turn of the event loop run in one IMMEDIATE
 * transaction, each inside its own savepoint (a failing operation is rolled back alone),
 * and are answered only after the COMMIT (synchronous=FULL: durable). The IMMEDIATE lock
 * serialises writers across processes sharing the database. Events the operations record
 * are handed to `onCommit` after the commit, in order.
 */
export class GroupCommitter<E> {
  private queue: Pending<E>[] = [];
  private scheduled = false;
  private closed = false;
  private lastCommitAt = -Infinity;
  private readonly sinks = new AsyncLocalStorage<E[]>();

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly onCommit: (events: E[]) => void,
    private readonly maxBatch = 512,
    private readonly onBatch?: (ops: number, seconds: number) => void,
  ) {}

  run<T>(op: (tx: TxContext<E>) => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('ipam database closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (v: unknown) => void, reject, sink: this.sinks.getStore() });
      if (!this.scheduled) {
        this.scheduled = true;
        // Under load (a commit finished moments ago), wait a millisecond so that the calls
        // already on their way share the next transaction and its fsync; when idle, go now.
        if (performance.now() - this.lastCommitAt < 2) setTimeout(() => this.flush(), 1);
        else setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Runs `fn`; the events of every operation that `fn` (or anything it starts) runs through
   * {@link run} are appended to `sink` once committed, before that operation's promise resolves.
   */
  collecting<T>(sink: E[], fn: () => Promise<T>): Promise<T> {
    return this.sinks.run(sink, fn);
  }

  /** Runs queued operations now (used on shutdown). */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.commitBatch(batch);
    }
  }

  close(): void {
    this.flush();
    this.closed = true;
  }

  private commitBatch(batch: Pending<E>[]): void {
    const started = performance.now();
    const results: { ok: boolean; value: unknown; events: E[] }[] = [];
    const events: E[] = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      this.logger.error({ err }, 'cannot begin an ipam transaction');
      for (const p of batch) p.reject(err);
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
      this.logger.error({ err }, 'ipam commit failed; nothing of this batch was applied');
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // already rolled back
      }
      for (const p of batch) p.reject(err);
      return;
    }
    this.lastCommitAt = performance.now();
    this.onBatch?.(batch.length, (performance.now() - started) / 1000);
    batch.forEach((p, i) => {
      const r = results[i];
      p.sink?.push(...r.events);
      if (r.ok) p.resolve(r.value);
      else p.reject(r.value);
    });
    if (events.length > 0) {
      try {
        this.onCommit(events);
      } catch (err) {
        this.logger.error({ err }, 'commit listener failed');
      }
    }
  }
}
