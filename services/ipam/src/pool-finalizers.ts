import type { StoreFollower } from '@tabby/client';
import { BlockEventType, type ResourceStoreClient } from '@tabby/proto';
import { status } from '@grpc/grpc-js';
import { IPAM_ALLOCATIONS_FINALIZER, metaOf, parseCIDR } from '@tabby/api';
import { callUnary, isGrpcError, type Logger } from '@tabby/runtime';
import type { BlockChange } from './engine.js';
import type { IpamStorage } from './storage.js';

const STORE_TIMEOUT_MS = 5_000;
/** How long a call that claimed a pool's first block (or released its last) waits for the finalizer write. */
const CALL_WAIT_MS = 2_000;

export interface PoolFinalizersOptions {
  readonly follower: StoreFollower;
  /** Where block counts are read. */
  readonly storage: Pick<IpamStorage, 'poolBlocks'>;
  readonly store: ResourceStoreClient;
  readonly logger: Logger;
  /** Bound of {@link PoolFinalizers.awaitEdges}; default 2 s. */
  readonly callWaitMs?: number;
}

interface Queued {
  /** Call the store, when the pool has at most one block, even if the followed pool already looks right. */
  always: boolean;
  /** True once the store has the finalizer as wanted (or the pool is gone); false if the write failed. */
  readonly done: Promise<boolean>;
}

/**
 * Keeps {@link IPAM_ALLOCATIONS_FINALIZER} on exactly the IPPools that have blocks (a block
 * exists while it holds addresses), so the store refuses to delete a pool in use without
 * ever asking IPAM. The finalizer is written after the commit that claimed the pool's first
 * block and removed after the commit that released its last one, through the store's
 * AddFinalizer / RemoveFinalizer (no read-modify-write of the pool, so a user's concurrent
 * edit is never lost). Every pool is also reconciled at start, after a resync, when a pool
 * changes and periodically: a crash between a block claim and the finalizer write, a store
 * that was unreachable, or a user who removed the finalizer by hand is put right then.
 * Syncs of one pool run one at a time and coalesce; each reads the block count when it runs.
 * A call waits (boundedly, {@link awaitEdges}) only for the syncs its own commits made
 * necessary: those of the pools whose first block it claimed or last block it released.
 */
export class PoolFinalizers {
  private readonly running = new Map<string, Promise<boolean>>();
  private readonly queued = new Map<string, Queued>();
  /** What this process last wrote per pool, newer than the followed copy until its event arrives. */
  private readonly written = new Map<string, { revision: number; present: boolean }>();
  private closed = false;
  /** A change that claimed its pool's first block or released its last → the sync writing that pool's finalizer. */
  private readonly edges = new WeakMap<BlockChange, { readonly pool: string; readonly done: Promise<boolean> }>();

  constructor(private readonly opts: PoolFinalizersOptions) {}

  /**
   * After a commit (all its changes, in order): the pools where a block was claimed or released
   * are synced now; the changes that claimed a pool's first block or released its last are
   * remembered for {@link awaitEdges}.
   */
  blocksChanged(changes: readonly BlockChange[]): void {
    const byPool = new Map<string, BlockChange[]>();
    for (const c of changes) {
      if (c.type !== BlockEventType.BLOCK_EVENT_TYPE_CLAIMED && c.type !== BlockEventType.BLOCK_EVENT_TYPE_RELEASED) continue;
      const list = byPool.get(c.block.poolCidr);
      if (list) list.push(c);
      else byPool.set(c.block.poolCidr, [c]);
    }
    if (byPool.size === 0) return;
    for (const r of this.opts.follower.list('IPPool')) {
      const cidr = poolCidrOf(r);
      const list = cidr === undefined ? undefined : byPool.get(cidr);
      if (!cidr || !list) continue;
      const name = metaOf(r).name;
      const done = this.enqueue(name, true);
      // A claim adds a block, a release removes one: walk from the count before this commit. A
      // count capped at list.length + 2 is exact wherever an edge (0 or 1 block) can be reached.
      const claims = list.filter((c) => c.type === BlockEventType.BLOCK_EVENT_TYPE_CLAIMED).length;
      let blocks = Math.max(0, this.opts.storage.poolBlocks(cidr, list.length + 2) - claims + (list.length - claims));
      for (const c of list) {
        const claimed = c.type === BlockEventType.BLOCK_EVENT_TYPE_CLAIMED;
        const edge = claimed ? blocks === 0 : blocks === 1;
        blocks = Math.max(0, blocks + (claimed ? 1 : -1));
        if (edge) this.edges.set(c, { pool: name, done });
      }
    }
  }

  /**
   * Waits for the finalizer writes of the pools whose first block `changes` claimed or whose
   * last block they released (usually none), at most `callWaitMs`. A write that fails or is not
   * done by then is logged and left to the periodic reconcile: the caller answers anyway.
   */
  async awaitEdges(changes: readonly BlockChange[]): Promise<void> {
    const waits = new Map<string, Promise<boolean>>();
    for (const c of changes) {
      const e = this.edges.get(c);
      if (e) waits.set(e.pool, e.done);
    }
    if (waits.size === 0) return;
    const late = new Set(waits.keys());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.opts.callWaitMs ?? CALL_WAIT_MS);
    });
    const all = Promise.all(
      [...waits].map(async ([pool, done]) => {
        if (await done) late.delete(pool);
      }),
    );
    try {
      await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (late.size > 0) {
      this.opts.logger.warn(
        { pools: [...late], finalizer: IPAM_ALLOCATIONS_FINALIZER },
        'answering before the pool finalizer is written (the store is unreachable or slow); the periodic reconcile writes it',
      );
    }
  }

  /** Every pool against the followed store: writes only where the finalizer is missing or extra. */
  reconcileAll(): void {
    const names = new Set(this.opts.follower.list('IPPool').map((r) => metaOf(r).name));
    // What we wrote to pools deleted since is of no use any more.
    for (const name of this.written.keys()) if (!names.has(name)) this.written.delete(name);
    for (const name of names) void this.enqueue(name, false); // failures are logged by the sync
  }

  /** Resolves once every sync started before the call has finished (failures are logged, not thrown). */
  async settled(): Promise<void> {
    await Promise.all([...this.running.values(), ...[...this.queued.values()].map((q) => q.done)]);
  }

  /**
   * For shutdown, after the last commit (so the syncs it started are queued) and before the
   * store client closes: starts no sync any more and resolves once those queued have run.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
  }

  /** Queues a sync of the pool (joining one already queued); resolves as that sync's `done`. */
  private enqueue(name: string, always: boolean): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const waiting = this.queued.get(name);
    if (waiting) {
      waiting.always ||= always;
      return waiting.done;
    }
    const before = this.running.get(name) ?? Promise.resolve(true);
    const entry: Queued = {
      always,
      done: before.then(async () => {
        this.queued.delete(name);
        this.running.set(name, entry.done);
        try {
          await this.sync(name, entry.always);
          return true;
        } catch (err) {
          this.opts.logger.warn({ err, pool: name }, 'cannot update the finalizer of a pool; retrying at the next reconcile');
          return false;
        } finally {
          if (this.running.get(name) === entry.done) this.running.delete(name);
        }
      }),
    };
    this.queued.set(name, entry);
    return entry.done;
  }

  private async sync(name: string, always: boolean): Promise<void> {
    const pool = this.opts.follower.get('IPPool', '', name);
    if (!pool) {
      this.written.delete(name);
      return;
    }
    const cidr = poolCidrOf(pool);
    if (!cidr) return;
    // Whether it has none, one, or more (a cost that does not grow with the pool).
    const blocks = this.opts.storage.poolBlocks(cidr, 2);
    const want = blocks > 0;
    const meta = metaOf(pool);
    let has = meta.finalizers.includes(IPAM_ALLOCATIONS_FINALIZER);
    const mine = this.written.get(name);
    if (mine && mine.revision > Number(meta.resourceVersion)) has = mine.present;
    // At the edge (first block claimed, last released) ask the store even when the followed
    // copy looks right: it may not show yet what another writer (or ipam process) just did.
    if (has === want && !(always && blocks <= 1)) return;
    const store = this.opts.store;
    const req = { kind: 'IPPool', namespace: '', name, finalizer: IPAM_ALLOCATIONS_FINALIZER };
    let r;
    try {
      r = want
        ? await callUnary(store.addFinalizer.bind(store), req, { timeoutMs: STORE_TIMEOUT_MS })
        : await callUnary(store.removeFinalizer.bind(store), req, { timeoutMs: STORE_TIMEOUT_MS });
    } catch (err) {
      // Deleted meanwhile (forced, or it had no finalizer yet): nothing left to mark.
      if (isGrpcError(err) && err.code === status.NOT_FOUND) {
        this.written.delete(name);
        return;
      }
      throw err;
    }
    if (r.resource) this.written.set(name, { revision: Number(metaOf(r.resource).resourceVersion), present: want });
    if (r.changed) {
      this.opts.logger.info(
        { pool: name, finalizer: IPAM_ALLOCATIONS_FINALIZER },
        want ? 'pool finalizer added: the pool holds addresses' : 'pool finalizer removed: the pool holds no addresses',
      );
    }
  }
}

function poolCidrOf(r: ReturnType<StoreFollower['list']>[number]): string | undefined {
  if (r.kind?.$case !== 'ipPool') return undefined;
  return parseCIDR(r.kind.value.spec?.cidr ?? '')?.canonical;
}
