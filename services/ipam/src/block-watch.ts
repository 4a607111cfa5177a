import { once } from 'node:events';
import type { Block, BlockUpdate, WatchBlocksRequest, WatchBlocksResponse } from '@tabby/proto';
import { ServiceError, type Logger } from '@tabby/runtime';

/** Every block and the block revision they are at, read together (one consistent view). */
export interface BlockSnapshot {
  readonly revision: number;
  readonly blocks: readonly Block[];
}

export interface BlockLogOptions {
  /** Reads the datastore's blocks and block revision consistently (one transaction). */
  readonly snapshot: () => BlockSnapshot;
  /** The block revision alone (cheap): the log reads a snapshot only when it moved. */
  readonly revision: () => number;
  readonly logger: Logger;
  /** How often the log looks for commits of other replicas (ms). */
  readonly pollMs?: number;
  /** Deleted blocks remembered for resuming watchers; older ones raise the oldest resumable revision. */
  readonly maxTombstones?: number;
  /** How long a watcher resuming from a revision this replica has not reached yet waits for it (ms). */
  readonly catchUpMs?: number;
}

interface Entry {
  readonly block: Block;
  readonly deleted: boolean;
  /** Revision at which the log saw the block reach this state. */
  readonly revision: number;
}

type Watcher = (updates: readonly BlockUpdate[], revision: number) => void;

const SNAPSHOT_CHUNK = 2000;

/** The part of a block a watcher follows: a change of use alone is no change. */
function sameBlock(a: Block, b: Block): boolean {
  return a.node === b.node && a.pool === b.pool && a.size === b.size;
}

function updateOf(cidr: string, e: Entry): BlockUpdate {
  return { block: e.deleted ? { cidr, node: '', pool: '', size: 0, inUse: 0, borrowed: 0 } : e.block, deleted: e.deleted, revision: e.revision };
}

/**
 * What WatchBlocks serves: the blocks of the datastore, each with the block revision at which
 * this replica saw it change, and the blocks deleted lately (tombstones). The log learns changes
 * by comparing consistent snapshots of the datastore: right after this replica commits, and every
 * `pollMs` for the commits of other replicas sharing the datastore (SQLite: the file; etcd: the
 * copy its watch keeps). So every replica serves every commit, whoever made it. Revisions are
 * the datastore's (shared by replicas), so a watcher may resume on another replica.
 */
export class BlockLog {
  private readonly entries = new Map<string, Entry>();
  /** Deleted blocks in the order they went (revision ascending). */
  private tombstones: string[] = [];
  private revisionValue = 0;
  /** The oldest revision a watcher may resume from. */
  private floor = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly resets = new Set<(err: ServiceError) => void>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(private readonly opts: BlockLogOptions) {}

  get revision(): number {
    return this.revisionValue;
  }

  /** Reads the first snapshot and starts looking for other replicas' commits. */
  start(): void {
    const s = this.opts.snapshot();
    for (const b of s.blocks) this.entries.set(b.cidr, { block: b, deleted: false, revision: s.revision });
    this.revisionValue = s.revision;
    this.floor = s.revision;
    this.started = true;
    this.timer = setInterval(() => this.refresh(), this.opts.pollMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    this.started = false;
    clearInterval(this.timer);
    const err = new ServiceError('unavailable', 'tabby-ipam is shutting down; watch another replica');
    for (const r of this.resets) r(err);
  }

  /**
   * Compares the datastore with the log and tells watchers what changed. Without `force` it reads
   * the blocks only when the block revision moved; `force` after pools changed (a block's pool
   * name is the pool's that contains it now).
   */
  refresh(force = false): void {
    if (!this.started || (!force && this.opts.revision() === this.revisionValue)) return;
    let s: BlockSnapshot;
    try {
      s = this.opts.snapshot();
    } catch (err) {
      this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'cannot read blocks for watchers');
      return;
    }
    if (s.revision < this.revisionValue) {
      // The datastore was replaced: watchers cannot resume across that; they list again.
      this.opts.logger.warn({ had: this.revisionValue, now: s.revision }, 'block revision went backwards; watchers start over');
      const err = new ServiceError('out-of-range', `IPAM's block revision went back from ${this.revisionValue} to ${s.revision} (datastore replaced); watch again without a revision`);
      for (const r of [...this.resets]) r(err);
      this.entries.clear();
      this.tombstones = [];
      for (const b of s.blocks) this.entries.set(b.cidr, { block: b, deleted: false, revision: s.revision });
      this.revisionValue = s.revision;
      this.floor = s.revision;
      return;
    }
    const updates: BlockUpdate[] = [];
    const seen = new Set<string>();
    for (const b of s.blocks) {
      seen.add(b.cidr);
      const had = this.entries.get(b.cidr);
      if (had && !had.deleted && sameBlock(had.block, b)) continue;
      const e = { block: b, deleted: false, revision: s.revision };
      this.entries.set(b.cidr, e);
      updates.push(updateOf(b.cidr, e));
    }
    for (const [cidr, had] of this.entries) {
      if (seen.has(cidr) || had.deleted) continue;
      const e = { block: had.block, deleted: true, revision: s.revision };
      this.entries.set(cidr, e);
      this.tombstones.push(cidr);
      updates.push(updateOf(cidr, e));
    }
    this.dropOldTombstones();
    this.revisionValue = s.revision;
    if (updates.length === 0 && !force) return;
    for (const w of this.watchers) w(updates, s.revision);
  }

  /**
   * What this replica just committed, in revision order (`deleted`: the block was released). When
   * the changes follow on from the log's revision without a gap, they are applied as they are:
   * the cost is that of the changes, not of every block (with 1M addresses live, a refresh reads
   * some 16k blocks). Otherwise another replica committed in between: a full {@link refresh}.
   * Changes at or below the log's revision are ignored (it may be told a commit twice).
   */
  applyCommitted(all: readonly { readonly block: Block; readonly deleted: boolean; readonly revision: number }[]): void {
    // Revisions the log has reached already (told before, or read in a snapshot) are no news.
    const changes = all.filter((c) => c.revision > this.revisionValue);
    if (!this.started || changes.length === 0) return;
    const contiguous = changes.every((c, i) => c.revision === this.revisionValue + i + 1);
    if (!contiguous) {
      this.refresh();
      return;
    }
    const updates: BlockUpdate[] = [];
    for (const c of changes) {
      const cidr = c.block.cidr;
      const had = this.entries.get(cidr);
      if (c.deleted) {
        if (!had || had.deleted) continue;
        const e = { block: had.block, deleted: true, revision: c.revision };
        this.entries.set(cidr, e);
        this.tombstones.push(cidr);
        updates.push(updateOf(cidr, e));
      } else {
        if (had && !had.deleted && sameBlock(had.block, c.block)) continue;
        const e = { block: c.block, deleted: false, revision: c.revision };
        this.entries.set(cidr, e);
        updates.push(updateOf(cidr, e));
      }
    }
    this.dropOldTombstones();
    this.revisionValue = changes[changes.length - 1].revision;
    if (updates.length === 0) return;
    for (const w of this.watchers) w(updates, this.revisionValue);
  }

  private dropOldTombstones(): void {
    const max = this.opts.maxTombstones ?? 10_000;
    if (this.tombstones.length <= max) return;
    const drop = this.tombstones.splice(0, this.tombstones.length - max);
    for (const cidr of drop) {
      const e = this.entries.get(cidr);
      // Revived since: not a tombstone any more.
      if (!e?.deleted) continue;
      this.entries.delete(cidr);
      if (e.revision > this.floor) this.floor = e.revision;
    }
  }

  /** Streams a snapshot (or what changed since `from_revision`), then every change, until `signal` aborts. */
  async serve(req: WatchBlocksRequest, sink: WatchBlocksSink, signal: AbortSignal): Promise<void> {
    const from = req.fromRevision;
    if (from !== undefined && from < 0) throw new ServiceError('invalid-argument', `fromRevision ${from} must not be negative`);
    this.refresh();
    if (from !== undefined && from > this.revisionValue) await this.catchUp(from, signal);
    if (from !== undefined && (from < this.floor || from > this.revisionValue)) {
      throw new ServiceError(
        'out-of-range',
        from < this.floor
          ? `block revision ${from} is too old for this tabby-ipam replica (it can resume from revision ${this.floor}); watch again without a revision`
          : `block revision ${from} is ahead of this tabby-ipam replica (at ${this.revisionValue}); watch again without a revision`,
      );
    }
    const send = sendWithBackpressure(sink, signal);
    // Live changes queue up from now on; those for one block coalesce (the last state wins).
    let pending = new Map<string, BlockUpdate>();
    let pendingRevision = this.revisionValue;
    let failure: ServiceError | undefined;
    let wake: (() => void) | undefined;
    const watcher: Watcher = (updates, revision) => {
      for (const u of updates) pending.set(u.block?.cidr ?? '', u);
      pendingRevision = revision;
      wake?.();
    };
    const reset = (err: ServiceError): void => {
      failure = err;
      wake?.();
    };
    this.watchers.add(watcher);
    this.resets.add(reset);
    try {
      const start = this.revisionValue;
      const first: BlockUpdate[] = [];
      for (const [cidr, e] of this.entries) {
        if (from === undefined ? !e.deleted : e.revision >= from) first.push(updateOf(cidr, e));
      }
      first.sort((a, b) => a.revision - b.revision);
      if (from === undefined) {
        for (let i = 0; i === 0 || i < first.length; i += SNAPSHOT_CHUNK) {
          const more = i + SNAPSHOT_CHUNK < first.length;
          await send({ reset: i === 0, updates: first.slice(i, i + SNAPSHOT_CHUNK), revision: start, moreSnapshot: more });
        }
      } else {
        await send({ reset: false, updates: first, revision: start, moreSnapshot: false });
      }
      let sent = start;
      const bookmarkMs = req.bookmarkIntervalSeconds > 0 ? req.bookmarkIntervalSeconds * 1000 : 0;
      while (!signal.aborted) {
        if (failure) throw failure;
        if (pending.size > 0 || pendingRevision > sent) {
          const updates = [...pending.values()].sort((a, b) => a.revision - b.revision);
          const revision = pendingRevision;
          pending = new Map();
          await send({ reset: false, updates, revision, moreSnapshot: false });
          sent = revision;
          continue;
        }
        const timedOut = await new Promise<boolean>((resolve) => {
          const finish = (value: boolean): void => {
            clearTimeout(t);
            wake = undefined;
            signal.removeEventListener('abort', onAbort);
            resolve(value);
          };
          const onAbort = (): void => finish(false);
          const t = bookmarkMs > 0 ? setTimeout(() => finish(true), bookmarkMs) : undefined;
          wake = () => finish(false);
          signal.addEventListener('abort', onAbort, { once: true });
        });
        if (timedOut) {
          await send({ reset: false, updates: [], revision: sent, moreSnapshot: false });
        }
      }
    } finally {
      this.watchers.delete(watcher);
      this.resets.delete(reset);
    }
  }

  /** Waits (boundedly) until this replica has seen revision `from`: another replica may be a little ahead. */
  private async catchUp(from: number, signal: AbortSignal): Promise<void> {
    const until = Date.now() + (this.opts.catchUpMs ?? 2_000);
    while (this.revisionValue < from && Date.now() < until && !signal.aborted) {
      await new Promise((r) => setTimeout(r, 50));
      this.refresh();
    }
  }
}

/** Where a WatchBlocks stream writes (a grpc-js server stream in production). */
export interface WatchBlocksSink {
  /** Returns false when the transport buffer is full; wait for 'drain'. */
  write(message: WatchBlocksResponse): boolean;
}

function sendWithBackpressure(sink: WatchBlocksSink, signal: AbortSignal): (message: WatchBlocksResponse) => Promise<void> {
  return async (message) => {
    if (sink.write(message)) return;
    await once(sink as unknown as NodeJS.EventEmitter, 'drain', { signal }).catch(() => undefined);
  };
}
