import type { StoreFollower } from '@tabby/client';
import { BlockEventType, type ResourceStoreClient } from '@tabby/proto';
import { status } from '@grpc/grpc-js';
import { IPAM_ALLOCATIONS_FINALIZER, metaOf, parseCIDR } from '@tabby/api';
import { callUnary, isGrpcError, type Logger } from '@tabby/runtime';
import type { BlockChange, IpamEngine } from './engine.js';

const STORE_TIMEOUT_MS = 5_000;

export interface PoolFinalizersOptions {
  readonly follower: StoreFollower;
  readonly engine: IpamEngine;
  readonly store: ResourceStoreClient;
  readonly logger: Logger;
}

interface Queued {
  /** Call the store, when the pool has at most one block, even if the followed pool already looks right. */
  always: boolean;
  readonly done: Promise<void>;
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
 */
export class PoolFinalizers {
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, Queued>();
  /** What this process last wrote per pool, newer than the followed copy until its event arrives. */
  private readonly written = new Map<string, { revision: number; present: boolean }>();

  constructor(private readonly opts: PoolFinalizersOptions) {}

  /** After a commit: the pools whose first block was claimed or last block released are synced now. */
  blocksChanged(changes: readonly BlockChange[]): void {
    const cidrs = new Set<string>();
    for (const c of changes) {
      if (c.type === BlockEventType.BLOCK_EVENT_TYPE_CLAIMED || c.type === BlockEventType.BLOCK_EVENT_TYPE_RELEASED) cidrs.add(c.block.poolCidr);
    }
    if (cidrs.size === 0) return;
    for (const r of this.opts.follower.list('IPPool')) {
      if (cidrs.has(poolCidrOf(r) ?? '')) this.enqueue(metaOf(r).name, true);
    }
  }

  /** Every pool against the followed store: writes only where the finalizer is missing or extra. */
  reconcileAll(): void {
    for (const r of this.opts.follower.list('IPPool')) this.enqueue(metaOf(r).name, false);
  }

  /** Resolves once every sync started before the call has finished (failures are logged, not thrown). */
  async settled(): Promise<void> {
    await Promise.all([...this.running.values(), ...[...this.queued.values()].map((q) => q.done)]);
  }

  private enqueue(name: string, always: boolean): void {
    const waiting = this.queued.get(name);
    if (waiting) {
      waiting.always ||= always;
      return;
    }
    const before = this.running.get(name) ?? Promise.resolve();
    const entry: Queued = {
      always,
      done: before.then(async () => {
        this.queued.delete(name);
        this.running.set(name, entry.done);
        try {
          await this.sync(name, entry.always);
        } catch (err) {
          this.opts.logger.warn({ err, pool: name }, 'cannot update the finalizer of a pool; retrying at the next reconcile');
        } finally {
          if (this.running.get(name) === entry.done) this.running.delete(name);
        }
      }),
    };
    this.queued.set(name, entry);
  }

  private async sync(name: string, always: boolean): Promise<void> {
    const pool = this.opts.follower.get('IPPool', '', name);
    if (!pool) return;
    const cidr = poolCidrOf(pool);
    if (!cidr) return;
    const blocks = this.opts.engine.poolCounts(cidr).blocks;
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
      if (isGrpcError(err) && err.code === status.NOT_FOUND) return;
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
