import { status } from '@grpc/grpc-js';
import type { Block, IpamClient, WatchBlocksResponse } from '@tabby/proto';
import { dialFailureHint, isGrpcError, type Logger } from '@tabby/runtime';
import { Backoff, sleep, type BackoffOptions } from './backoff.js';

/** One block that changed: `block` undefined when it no longer exists. */
export interface BlockChange {
  readonly cidr: string;
  readonly block: Block | undefined;
  readonly previous: Block | undefined;
}

/** Called with each batch of block changes and the block revision they bring the view to. */
export type BlockListener = (changes: readonly BlockChange[], revision: number) => void;

/** The one Ipam call the follower makes. */
export type BlockWatcher = Pick<IpamClient, 'watchBlocks'>;

export interface BlockFollowerOptions {
  readonly client: BlockWatcher;
  readonly logger: Logger;
  /** Pauses between reconnect attempts (exponential with jitter). */
  readonly backoff?: BackoffOptions;
  /** Bookmark interval asked of IPAM (s); a stream silent for three of them (+5 s) is taken for dead. */
  readonly bookmarkIntervalS?: number;
  /** When set, the follower starts over with a snapshot this often (ms): a safety net, not needed for correctness. */
  readonly resyncIntervalMs?: number;
}

/** The part of a block followers act on: its affinity and pool. */
function sameBlock(a: Block, b: Block): boolean {
  return a.node === b.node && a.pool === b.pool;
}

type Outcome = 'out-of-range' | 'broken' | 'resync';

/**
 * Keeps the IPAM blocks (CIDR, affine node, pool) in memory by following `WatchBlocks`: a
 * snapshot, then every change any IPAM replica commits. A broken stream (IPAM restarted, a
 * replica gone, a silent stream) is re-opened with backoff from the revision the view reached,
 * on whichever replica the client's channel picks; when that replica cannot resume from it
 * (OUT_OF_RANGE) the follower takes a new snapshot and delivers the difference. While IPAM is
 * unreachable the last view stays.
 */
export class BlockFollower {
  private readonly blocks = new Map<string, Block>();
  private readonly listeners = new Set<BlockListener>();
  private revisionValue = 0;
  private syncedOnce = false;
  private stopped = false;
  private stream: { cancel(): void } | undefined;
  private loop: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resyncDue = false;
  private readonly stopController = new AbortController();

  constructor(private readonly opts: BlockFollowerOptions) {}

  /** The block revision of the view. */
  get revision(): number {
    return this.revisionValue;
  }

  /** True once the first snapshot arrived. */
  get synced(): boolean {
    return this.syncedOnce;
  }

  onChange(listener: BlockListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every block. */
  list(): Block[] {
    return [...this.blocks.values()];
  }

  /** Starts following; resolves once the first snapshot has been applied (retrying meanwhile). */
  start(): Promise<void> {
    let first!: () => void;
    const firstSnapshot = new Promise<void>((resolve) => (first = resolve));
    this.loop = this.follow(first);
    if (this.opts.resyncIntervalMs) {
      this.resyncTimer = setInterval(() => {
        this.resyncDue = true;
        this.stream?.cancel();
      }, this.opts.resyncIntervalMs);
      this.resyncTimer.unref();
    }
    return Promise.race([firstSnapshot, this.loop]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.stopController.abort();
    this.stream?.cancel();
    await this.loop;
  }

  private emit(changes: BlockChange[]): void {
    if (changes.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(changes, this.revisionValue);
      } catch (err) {
        this.opts.logger.error({ err }, 'block listener failed');
      }
    }
  }

  private async follow(first: () => void): Promise<void> {
    const log = this.opts.logger;
    const backoff = new Backoff(this.opts.backoff);
    let resume = false;
    while (!this.stopped) {
      const outcome = await this.watchOnce(resume ? this.revisionValue : undefined, first, () => backoff.reset());
      if (this.stopped) break;
      if (outcome === 'resync') {
        resume = false;
        continue;
      }
      if (outcome === 'out-of-range') {
        log.info({ revision: this.revisionValue }, 'IPAM cannot resume from our block revision; taking a new snapshot');
        resume = false;
        // Without a pause only the first time: a replica that keeps refusing is not hammered.
        if (backoff.failures === 0) {
          backoff.next();
          continue;
        }
      } else {
        resume = this.syncedOnce;
      }
      await sleep(backoff.next(), this.stopController.signal);
    }
  }

  /** One WatchBlocks stream, from `from` (a snapshot when undefined); resolves when it ends. */
  private watchOnce(from: number | undefined, first: () => void, onData: () => void): Promise<Outcome> {
    const log = this.opts.logger;
    const bookmarkS = this.opts.bookmarkIntervalS ?? 10;
    const silentMs = bookmarkS * 3_000 + 5_000;
    return new Promise((resolve) => {
      const stream = this.opts.client.watchBlocks({ fromRevision: from, bookmarkIntervalSeconds: bookmarkS });
      this.stream = stream;
      let settled = false;
      let staging: Map<string, Block> | undefined;
      let silence: NodeJS.Timeout | undefined;
      let silent = false;
      const arm = (): void => {
        clearTimeout(silence);
        silence = setTimeout(() => {
          silent = true;
          log.warn({ seconds: silentMs / 1000 }, 'IPAM block watch went silent; reconnecting');
          stream.cancel();
        }, silentMs);
        silence.unref();
      };
      arm();
      const done = (outcome: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(silence);
        this.stream = undefined;
        resolve(outcome);
      };
      stream.on('data', (m: WatchBlocksResponse) => {
        arm();
        if (m.reset) staging = new Map();
        if (staging) {
          for (const u of m.updates) if (u.block && !u.deleted) staging.set(u.block.cidr, u.block);
          if (m.moreSnapshot) return;
          this.applySnapshot(staging, m.revision);
          staging = undefined;
          if (!this.syncedOnce) {
            this.syncedOnce = true;
            first();
          }
        } else {
          this.applyUpdates(m);
        }
        onData();
      });
      stream.on('error', (err: unknown) => {
        if (isGrpcError(err) && err.code === status.OUT_OF_RANGE) {
          log.info({ err: err.details }, 'block watch out of range');
          return done('out-of-range');
        }
        if (isGrpcError(err) && err.code === status.CANCELLED && (this.stopped || this.resyncDue || silent)) {
          if (this.resyncDue && !this.stopped) {
            this.resyncDue = false;
            return done('resync');
          }
          return done('broken');
        }
        const details = isGrpcError(err) ? err.details : String(err);
        log.warn({ err: details, hint: dialFailureHint(details), revision: this.revisionValue }, 'IPAM block watch broken; reconnecting');
        done('broken');
      });
      stream.on('end', () => done('broken'));
    });
  }

  private applyUpdates(m: WatchBlocksResponse): void {
    const changes: BlockChange[] = [];
    for (const u of m.updates) {
      const b = u.block;
      if (!b) continue;
      const previous = this.blocks.get(b.cidr);
      if (u.deleted) {
        if (!previous) continue;
        this.blocks.delete(b.cidr);
        changes.push({ cidr: b.cidr, block: undefined, previous });
        continue;
      }
      this.blocks.set(b.cidr, b);
      if (previous && sameBlock(previous, b)) continue;
      changes.push({ cidr: b.cidr, block: b, previous });
    }
    this.revisionValue = m.revision;
    this.emit(changes);
  }

  private applySnapshot(snapshot: Map<string, Block>, revision: number): void {
    if (this.syncedOnce && revision < this.revisionValue) {
      this.opts.logger.warn({ have: this.revisionValue, snapshot: revision }, 'IPAM block revision went backwards (a lagging replica, or its datastore was replaced); taking its snapshot');
    }
    const changes: BlockChange[] = [];
    for (const [cidr, b] of snapshot) {
      const previous = this.blocks.get(cidr);
      this.blocks.set(cidr, b);
      if (previous && sameBlock(previous, b)) continue;
      changes.push({ cidr, block: b, previous });
    }
    for (const [cidr, previous] of this.blocks) {
      if (snapshot.has(cidr)) continue;
      this.blocks.delete(cidr);
      changes.push({ cidr, block: undefined, previous });
    }
    this.revisionValue = revision;
    this.emit(changes);
  }
}
